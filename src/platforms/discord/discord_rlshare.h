/* discord_rlshare.h - the REST rate limits one gateway learns, shared with
 * the other gateways of the same bot through Redis.
 *
 * Nothing is asked of Redis before a request: each process keeps its own
 * limiter (discord_ratelimit.c) as a mirror. When one learns that a bucket
 * is empty (Remaining 0 with a reset, or a 429, or a global 429) it XADDs
 * that to the bot's limit stream; every other process follows the stream
 * with a blocking XREAD on a connection of its own and holds the same
 * bucket (route, bucket hash, major parameter) for the same time, counted
 * from when it heard. Refused requests (401, 403, 429) are counted in one
 * shared key per 10-minute window, so the warning before Discord's 10,000
 * fires on the sum of every process. See docs/scaling.md. */
#ifndef CHORUS_DISCORD_RLSHARE_H
#define CHORUS_DISCORD_RLSHARE_H
#include <uv.h>

struct redis_client;
struct ratelimit;
struct discord_rlshare;

/* Share RL's limits under key prefix BASE ("<prefix>{discord:<bot>}:") as
 * ME. READER is a connection of its own for the blocking read (taken over);
 * REDIS gives the connection for writes. */
struct discord_rlshare *discord_rlshare_new(uv_loop_t *loop, struct redis_client *(*redis)(void),
                                            struct redis_client *reader, const char *base, const char *me,
                                            struct ratelimit *rl, long block_ms);
/* Stop following (before RL is freed). Safe with NULL. */
void discord_rlshare_free(struct discord_rlshare *sh);
#endif
