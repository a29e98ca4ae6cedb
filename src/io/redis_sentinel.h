/* redis_sentinel.h - find the Redis master through Sentinel and follow it.
 *
 * Discovery asks the sentinels in order (`SENTINEL get-master-addr-by-name`),
 * each on a short async connection; the one that answers goes first next
 * time. A second connection stays subscribed to `+switch-master` on one
 * sentinel, moving to the next when it drops, so a failover is heard at
 * once. Nothing blocks the loop: names resolve on libuv's thread pool and
 * every connection is a hiredis async context on our adapter. */
#ifndef CHORUS_REDIS_SENTINEL_H
#define CHORUS_REDIS_SENTINEL_H
#include <stddef.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <uv.h>

/* What `redis { sentinels = {...}, master = "name", ... }` says. */
struct redis_sentinel_conf {
    int n;                    /* number of sentinels */
    char **hosts;             /* without brackets for IPv6 */
    int *ports;
    char *master;             /* the master's name in the sentinels' config */
    char *user;               /* the master's ACL user, or NULL */
    char *password;           /* the master's, or NULL */
    char *sentinel_password;  /* the sentinels', or NULL */
    int db;
};

/* Read the sentinel keys of a redis options table. Returns 1 (C filled),
 * 0 (no sentinels: a plain URL), or -1 with a plain sentence in ERR that
 * never holds a password. */
int redis_sentinel_conf_parse(const json_t *opts, struct redis_sentinel_conf *c, char *err, size_t errlen);
void redis_sentinel_conf_free(struct redis_sentinel_conf *c);

/* "host:port" or "[v6]:port" into a malloc'd host and a port; 0 or -1 with ERR. */
int redis_sentinel_parse_addr(const char *s, char **host, int *port, char *err, size_t errlen);

/* The reply to SENTINEL get-master-addr-by-name: 0 with HOST and PORT, or
 * -1 with ERR (nil: the sentinel does not know the master). */
int redis_sentinel_master_reply(const redisReply *r, char *host, size_t hostlen, int *port,
                                char *err, size_t errlen);

/* A +switch-master payload, "name old-ip old-port new-ip new-port": 0 with
 * the new address when it is about MASTER, -1 otherwise. */
int redis_sentinel_switch_message(const char *msg, const char *master, char *host, size_t hostlen, int *port);

/* The reply to ROLE: 1 when it says master, else 0 (ROLE, when not NULL,
 * gets the role it said, e.g. "slave"). */
int redis_sentinel_role_is_master(const redisReply *r, char *role, size_t rolelen);

/* Does this error reply mean we are talking to a server that is no longer
 * the master (READONLY, MASTERDOWN)? */
int redis_sentinel_error_means_moved(const redisReply *r);

struct redis_sentinel;
typedef void redis_sentinel_found_fn(const char *host, int port, const char *err, void *data);
typedef void redis_sentinel_switch_fn(const char *host, int port, void *data);

/* Takes CONF (zeroed on return). TIMEOUT_MS bounds each sentinel's answer;
 * the watch reconnects with a backoff between BACKOFF_MIN_MS and _MAX_MS.
 * ON_SWITCH runs when a sentinel announces a new address for our master. */
struct redis_sentinel *redis_sentinel_new(uv_loop_t *loop, struct redis_sentinel_conf *conf,
                                          long timeout_ms, long backoff_min_ms, long backoff_max_ms,
                                          redis_sentinel_switch_fn *on_switch, void *data);
/* Ask the sentinels where the master is; CB runs once, later (never after
 * redis_sentinel_free). A discovery already running is given the new CB. */
void redis_sentinel_discover(struct redis_sentinel *s, redis_sentinel_found_fn *cb, void *data);
/* The last answer led to a server that is not the master (a stale
 * sentinel): ask the next sentinel first from now on. */
void redis_sentinel_distrust(struct redis_sentinel *s);
const struct redis_sentinel_conf *redis_sentinel_config(const struct redis_sentinel *s);
void redis_sentinel_free(struct redis_sentinel *s);

#endif
