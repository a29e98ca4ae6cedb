/* discord_shards.h - one bot's shards shared by several gateway processes
 * through leases in Redis.
 *
 * Every heartbeat (lease_ms / 3) one script registers this process in the
 * bot's set of live gateways, renews the leases it holds (storing each
 * shard's last seq beside it), and takes free or expired leases up to its
 * share, ceil(shards / live gateways). A taken shard comes with the session
 * its last holder stored (id, resume URL, seq), so it RESUMEs. A process
 * holding more than its share (another gateway joined) gives the excess
 * back. Identify slots (max_concurrency buckets) are leases too. Every key
 * carries the hash tag {discord:<bot>} (docs/scaling.md). */
#ifndef CHORUS_DISCORD_SHARDS_H
#define CHORUS_DISCORD_SHARDS_H
#include <uv.h>

struct redis_client;
struct discord_shards;

struct discord_shards_callbacks {
    /* The lease of SHARD is ours: start it (resuming SESSION_ID at SEQ when not NULL). */
    void (*take)(int shard, const char *session_id, const char *resume_url, long seq, void *data);
    /* Stop SHARD: LOST when another process holds it now (its session is
     * not ours to store), else given back for balance (store first). */
    void (*drop)(int shard, int lost, void *data);
    /* SHARD's last dispatched seq, or -1 when it has no session. */
    long (*seq)(int shard, void *data);
};

struct discord_shards_options {
    const char *bot;               /* the bot's id (or a stand-in): the hash tag */
    const char *me;                /* this process, unique among the gateways */
    const int *ids;                /* the shards to share */
    int nids;
    long lease_ms;
    const struct discord_shards_callbacks *cb;
    void *data;
};

struct discord_shards *discord_shards_new(uv_loop_t *loop, struct redis_client *(*redis)(void),
                                          const struct discord_shards_options *o);
/* A READY gave SHARD a new session: store it now (a takeover resumes it). */
void discord_shards_session(struct discord_shards *ds, int shard, const char *session_id, const char *resume_url,
                            long seq);
/* Ask for the identify slot of BUCKET for WINDOW_MS on behalf of SHARD;
 * ANSWER(shard, wait_ms, data) gets 0 (identify now) or how long another
 * process holds it. Not called once DS is freed. Returns 0 (ANSWER will
 * be called), or -1 when Redis cannot be asked (identify on local pacing). */
int discord_shards_identify(struct discord_shards *ds, int shard, int bucket, long window_ms,
                             void (*answer)(int shard, long wait_ms, void *data), void *data);
/* Joined the live set at least once (a gateway with no shard is still ready). */
int discord_shards_joined(const struct discord_shards *ds);
/* The key prefix "<redis prefix>{discord:<bot>}:" (for other shared state). */
const char *discord_shards_key_base(struct discord_shards *ds);
/* Store every held shard's seq, give the leases back and leave the live
 * set (SEQ must still answer); then free. Safe with NULL. */
void discord_shards_free(struct discord_shards *ds);
#endif
