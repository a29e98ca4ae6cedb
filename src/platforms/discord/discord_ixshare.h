/* discord_ixshare.h - slash-command interactions shared with the other
 * gateways of the same bot through Redis.
 *
 * Gateways started from one config share one egress stream, so the reply to
 * an interaction one gateway deferred may be taken by another, which holds
 * no token for it. The deferring gateway writes the interaction (its
 * application id, token, channel, when it came and whether the deferral
 * went through) to "<base>ix:<id>" for the token's 15 minutes. A gateway
 * handed a reply it knows nothing about asks there before posting, and
 * whoever sends an interaction's first answer claims the deferred response
 * (@original) with HSETNX, so that message is edited once. The token is a
 * secret: it is never logged, and Redis drops it with the key. */
#ifndef CHORUS_DISCORD_IXSHARE_H
#define CHORUS_DISCORD_IXSHARE_H
#include <stdint.h>

struct redis_client;
struct discord_ixshare;

/* An interaction as another gateway recorded it. */
struct discord_ixshare_record {
    const char *app_id;
    const char *token;
    const char *channel;
    int64_t at_ms;           /* when it came, unix ms */
    int acked;               /* 0 the deferral is in flight, 1 done, -1 failed */
    int original_taken;      /* someone has claimed @original (or a button: never used) */
};

/* The answer to discord_ixshare_get: REC is NULL when no gateway recorded
 * ID (a plain message), or Redis could not say (ERR set). */
typedef void discord_ixshare_get_fn(const struct discord_ixshare_record *rec, const char *err, void *data);
/* The answer to a claim of @original: WON is 1 when this gateway edits it. */
typedef void discord_ixshare_claim_fn(int won, void *data);

/* Share under BASE ("<prefix>{discord:<bot>}:") as ME, over REDIS's connection. */
struct discord_ixshare *discord_ixshare_new(struct redis_client *(*redis)(void), const char *base, const char *me);
/* Stop: answers still to come are dropped, their callbacks never called. Safe with NULL. */
void discord_ixshare_free(struct discord_ixshare *sh);
/* Record interaction ID (deferral in flight); a button press (COMPONENT)
 * has no @original to claim. 0, or -1 when Redis is down. */
int discord_ixshare_put(struct discord_ixshare *sh, const char *id, const char *app_id, const char *token,
                        const char *channel, int component);
/* The deferral of ID answered: OK 1 or -1. */
void discord_ixshare_acked(struct discord_ixshare *sh, const char *id, int ok);
/* Look ID up; FN is called once (0), or never when -1 is returned (Redis down). */
int discord_ixshare_get(struct discord_ixshare *sh, const char *id, discord_ixshare_get_fn *fn, void *data);
/* Claim ID's @original; FN is called once (0), or never when -1 is returned. */
int discord_ixshare_claim(struct discord_ixshare *sh, const char *id, discord_ixshare_claim_fn *fn, void *data);
#endif
