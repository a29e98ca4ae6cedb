/* discord_ratelimit.h - Discord's REST rate limits, shared by every request
 * of the process (all shards, all channels).
 *
 * A request is queued on its route ("POST /channels/{id}/messages") and
 * major parameter (the channel id). Each queue sends one request at a time,
 * oldest first, so replies to a channel keep their order even through a 429.
 * Limits are learned from the responses: X-RateLimit-Bucket maps routes to
 * shared buckets, Remaining/Reset-After say when a bucket is empty, and a
 * 429 pauses its bucket (or, when global, every request) for retry_after.
 * A process-wide limit of global_per_sec requests in any 1.1 s applies on top
 * (the extra 0.1 s absorbs network jitter). What is learned per major
 * parameter is forgotten once no queue uses it and its reset time passed. */
#ifndef CHORUS_DISCORD_RATELIMIT_H
#define CHORUS_DISCORD_RATELIMIT_H
#include <stddef.h>
#include <jansson.h>
#include <uv.h>

struct ratelimit;

/* The longest wait an answer can impose (a day); longer ones are cut. */
#define DISCORD_RATELIMIT_MAX_WAIT_MS 86400000.0
struct discord_ratelimit_ticket;

/* It is this request's turn: send it now, then call discord_ratelimit_done(). */
typedef void discord_ratelimit_go_fn(struct discord_ratelimit_ticket *t, void *data);

/* What a response said about the limits. */
struct discord_ratelimit_result {
    long status;               /* HTTP status; 0 for a transport error */
    const char *bucket;        /* X-RateLimit-Bucket, or NULL */
    long remaining;            /* X-RateLimit-Remaining, or -1 */
    double reset_after_s;      /* X-RateLimit-Reset-After, or -1 */
    int global;                /* a 429 with X-RateLimit-Global / "global": true */
    int shared_scope;          /* X-RateLimit-Scope: shared (not counted as invalid) */
    double retry_after_s;      /* on a 429: how long to wait */
};

/* Fill OUT from a response's headers and, on a 429, its parsed BODY (may
 * be NULL); the bucket name is copied into BUCKET (BLEN bytes). */
struct http_response;
void discord_ratelimit_read(const struct http_response *res, json_t *body, struct discord_ratelimit_result *out,
                            char *bucket, size_t blen);

/* Waits come from Discord's answers and are never scaled (time_scale only
 * shrinks the gateway's own timings). */
struct ratelimit *discord_ratelimit_new(uv_loop_t *loop, double global_per_sec);
/* Cancel everything queued (no callbacks) and release the limiter. */
void discord_ratelimit_free(struct ratelimit *rl);
/* Queue a request. GO is called (never from inside this call) when it may
 * be sent. Returns the ticket, to pass to discord_ratelimit_done or _cancel. */
struct discord_ratelimit_ticket *discord_ratelimit_enqueue(struct ratelimit *rl, const char *route, const char *major,
                                    discord_ratelimit_go_fn *go, void *data);
/* The response to T's request arrived. Returns 1 when T was a 429 and has
 * been queued again at the head of its queue (GO will be called again), or
 * 0 when T is finished and freed. */
int discord_ratelimit_done(struct ratelimit *rl, struct discord_ratelimit_ticket *t, const struct discord_ratelimit_result *r);
/* Forget T, whether it waits or is in flight; GO is not called for it. */
void discord_ratelimit_cancel(struct ratelimit *rl, struct discord_ratelimit_ticket *t);
/* Limits shared with other processes of the same bot (discord_rlshare.c):
 * LEARNED is told when a bucket runs empty (Remaining 0 with a reset, or
 * a 429) for WAIT_MS, INVALID of each refused request. Both optional. */
struct discord_ratelimit_share {
    void (*learned)(const char *route, const char *hash, const char *major, double wait_ms, int global, void *data);
    void (*invalid)(void *data);
    void *data;
};
void discord_ratelimit_set_share(struct ratelimit *rl, const struct discord_ratelimit_share *share);
/* What another process learned: ROUTE's bucket (HASH when known, else
 * NULL) on MAJOR is empty for WAIT_MS, or every request waits when GLOBAL. */
void discord_ratelimit_apply(struct ratelimit *rl, const char *route, const char *hash, const char *major,
                             double wait_ms, int global);
/* Requests that were refused (401, 403, 429) in the current 10-minute window. */
long discord_ratelimit_invalid_count(const struct ratelimit *rl);
/* 429s seen since start, for tests and metrics. */
long discord_ratelimit_429_count(const struct ratelimit *rl);
/* Buckets whose limits are tracked now (tests). Idle ones are forgotten
 * by a sweep every 10 s, or by calling discord_ratelimit_sweep(), which returns how
 * many it forgot. */
size_t discord_ratelimit_bucket_count(const struct ratelimit *rl);
size_t discord_ratelimit_sweep(struct ratelimit *rl);
#endif
