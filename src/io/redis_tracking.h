/* redis_tracking.h - channel contexts cached in process, kept fresh by
 * Redis server-assisted client-side caching (CLIENT TRACKING).
 *
 * A second connection subscribes to __redis__:invalidate; the main
 * connection turns tracking on in broadcast mode, redirected to it, for the
 * key prefixes a message's context is read from (store_job_context). Any
 * write to such a key, by any client (another chorusd, chorusctl, redis-cli,
 * this process), drops what it touched: a channel key drops that channel,
 * anything else the whole cache. The cache is dropped and unused whenever
 * either connection is down or tracking is not (yet) on again after a
 * reconnect. */
#ifndef CHORUS_REDIS_TRACKING_H
#define CHORUS_REDIS_TRACKING_H
#include <jansson.h>
#include <uv.h>

struct redis_client;
struct redis_options;
struct store_context;

/* Track keys read through MAIN, with a second connection to URL. 0, or -1. */
int redis_tracking_start(uv_loop_t *loop, struct redis_client *main, const char *url,
                         const struct redis_options *opts);
void redis_tracking_stop(void);

/* Is the cache usable for RC now (tracking on, both connections up)? */
int redis_tracking_active(const struct redis_client *rc);
/* The cache's generation: it moves on with every drop, so a context read
 * before a drop is not stored after it. */
unsigned long redis_tracking_gen(void);
/* The cached context of CHANNEL (the escaped "platform:channel") for USER, or NULL. */
const struct store_context *redis_tracking_get(const char *channel, const char *user);
/* Store CTX (copied) unless the generation moved on from GEN. */
void redis_tracking_put(unsigned long gen, const char *channel, const char *user, const struct store_context *ctx);

/* Run FN(DATA) right after this loop turn's I/O (so an invalidation read
 * in the same turn is applied first). */
void redis_tracking_defer(void (*fn)(void *data), void *data);

/* Counters, for tests and the bench: hits, misses, drops. */
void redis_tracking_counts(unsigned long *hits, unsigned long *misses, unsigned long *drops);
void redis_tracking_count(int hit);
#endif
