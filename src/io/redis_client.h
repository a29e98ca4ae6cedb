/* redis_client.h - one async Redis connection that heals itself.
 *
 * It resolves the host off the loop, connects, reconnects with exponential
 * backoff and jitter, and fails any command not answered in time (hiredis
 * 0.14 has no timeouts). While it is down, redis_command() returns -1 at
 * once so callers can carry on without memory.
 *
 * With Sentinel (io/redis_sentinel.h) it asks the sentinels where the
 * master is before every connection, checks ROLE before using it, and
 * leaves it when a sentinel announces +switch-master or when a command
 * says READONLY/MASTERDOWN. A command in flight then fails with an error
 * (never silently): the caller decides whether to retry. */
#ifndef CHORUS_REDIS_CLIENT_H
#define CHORUS_REDIS_CLIENT_H
#include <stddef.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <jansson.h>
#include <uv.h>

struct redis_client;

/* REPLY is NULL when ERR is set; a Redis error reply comes as a reply of
 * type REDIS_REPLY_ERROR with ERR NULL. */
typedef void redis_reply_fn(redisReply *reply, const char *err, void *data);

struct redis_options {
    const char *prefix;          /* default "chorus:" */
    long timeout_ms;             /* per command, default 2000 */
    long connect_timeout_ms;     /* default 2000 */
    long reconnect_min_ms;       /* default 100 */
    long reconnect_max_ms;       /* default 5000 */
    /* The `redis { sentinels = ..., master = ... }` table (borrowed), or
     * NULL: the URL names the server. With it the URL is not used. */
    const json_t *sentinel;
    /* Redis Cluster (io/redis_cluster.c): extra "host:port" seed nodes, or NULL. */
    const json_t *cluster;
    long cluster_retry_ms;       /* wait after TRYAGAIN/CLUSTERDOWN, times the attempt, default 100 */
    int cluster_retries;         /* such retries per command, default 10 */
};

/* Returns NULL with err set when the URL is unusable. Connecting starts at once. */
struct redis_client *redis_client_new(uv_loop_t *loop, const char *url,
                                      const struct redis_options *opts, char *err, size_t errlen);
/* Fail pending commands (their callbacks run with an error) and free. */
void redis_client_free(struct redis_client *rc);
int redis_client_ready(const struct redis_client *rc);
/* 1 when this client routes over a Redis Cluster (scripts must stay in one slot). */
int redis_client_cluster(const struct redis_client *rc);
const char *redis_client_prefix(const struct redis_client *rc);
/* Last connection problem, for /readyz and status; "" when healthy. */
const char *redis_client_error(const struct redis_client *rc);
/* Milliseconds of the last command round trip (for status and metrics). */
double redis_client_latency_ms(const struct redis_client *rc);

/* Send a command. Returns 0 (the callback will run exactly once, later) or
 * -1 when Redis is not connected (the callback will not run). */
/* ARGC arguments (LENS bytes each, or strlen when LENS is NULL) as one RESP
 * command, byte for byte what redisFormatCommandArgv writes; malloc'd, its
 * length in *LEN; NULL when out of memory. */
char *redis_format_command(int argc, const char **argv, const size_t *lens, size_t *len);

int redis_command(struct redis_client *rc, redis_reply_fn *cb, void *data,
                  int argc, const char **argv, const size_t *lens);

/* Call FN each time the connection comes up (after start or a reconnect),
 * e.g. to put back state that lives in Redis. */
void redis_client_on_ready(struct redis_client *rc, void (*fn)(void));
/* The same with a DATA pointer (the cluster router watches its nodes). */
void redis_client_on_ready_data(struct redis_client *rc, void (*fn)(void *), void *data);

/* A command without keys (CLIENT ID, CLIENT UNBLOCK) for the server that
 * holds KEY: in a cluster, the master of KEY's slot; else redis_command. */
int redis_command_near(struct redis_client *rc, const char *key, redis_reply_fn *cb, void *data,
                       int argc, const char **argv, const size_t *lens);

/* Call FN(DATA, 1) each time the connection comes up (after the on_ready
 * function) and FN(DATA, 0) each time it goes down (redis_tracking.c). */
void redis_client_on_change(struct redis_client *rc, void (*fn)(void *data, int up), void *data);
/* SUBSCRIBE to CHANNEL on this connection, which then takes no other
 * command: FN runs for the confirmation and for every message, with no
 * timeout, and with a NULL reply when the connection goes. 0, or -1 when down. */
int redis_client_subscribe(struct redis_client *rc, const char *channel, redisCallbackFn *fn, void *data);

/* A deep copy of a reply that outlives its callback (free with freeReplyObject). */
redisReply *redis_reply_copy(const redisReply *rep);
/* The value after field NAME in a flat field list (HGETALL, a stream
 * entry), or NULL. */
const redisReply *redis_reply_field(const redisReply *fields, const char *name);
/* The same as a string, or NULL when absent or not a string. */
const char *redis_reply_str(const redisReply *fields, const char *name);

/* Options from a `redis "url" { ... }` table (NULL: all defaults). */
void redis_options_from_json(struct redis_options *o, const json_t *opts);

#endif
