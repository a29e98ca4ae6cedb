/* redis_client.c - connect, authenticate, time out and reconnect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/async.h>
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/redact.h"
#include "io/redis_client.h"
#include "lib/redis_url.h"
#include "io/redis_uv.h"
#include "io/redis_sentinel.h"
#include "io/redis_cluster.h"
#include "lib/xalloc.h"

enum redis_state { REDIS_IDLE, REDIS_RESOLVING, REDIS_CONNECTING, REDIS_UP, REDIS_CLOSED };

struct redis_op {
    redis_reply_fn *cb;
    void *data;
    uint64_t deadline;
    uint64_t sent;
    struct redis_client *rc;
    struct redis_op *prev, *next;
};

struct redis_client {
    uv_loop_t *loop;
    struct redis_url url;
    struct redis_options opts;
    char prefix[128];
    redisAsyncContext *ac;
    enum redis_state state;
    uv_getaddrinfo_t resolver;
    int resolving;
    uv_timer_t retry_timer;      /* reconnect backoff and connect timeout */
    uv_timer_t op_timer;         /* oldest command's deadline */
    long backoff_ms;
    int failures;
    int setup_pending;           /* AUTH/SELECT replies still due on this connection */
    struct redis_op *ops, *ops_tail;
    char last_error[640];
    double latency_ms;
    int handles_open;
    void (*on_ready)(void);
    void (*on_change)(void *data, int up);   /* redis_tracking.c's hook */
    void *change_data;
    /* Sentinel mode (NULL with a plain URL): where to connect comes from here. */
    struct redis_sentinel *sentinel;
    int discovering;
    void (*on_ready_data)(void *);
    void *ready_data;
    struct redis_cluster *cluster;   /* cluster mode: everything goes through it */
};

static void redis_connect_start(struct redis_client *rc);
static void redis_drop(struct redis_client *rc, const char *why);
static void on_op_timeout(uv_timer_t *t);
static void on_handle_closed(uv_handle_t *h);
static void resolve_and_connect(struct redis_client *rc);
static void became_up(struct redis_client *rc);
static void on_connect_timeout(uv_timer_t *t);

void redis_options_from_json(struct redis_options *o, const json_t *opts) {
    json_t *v;
    o->prefix = "chorus:";
    o->sentinel = NULL;
    o->timeout_ms = 2000;
    o->connect_timeout_ms = 2000;
    o->reconnect_min_ms = 100;
    o->reconnect_max_ms = 5000;
    o->cluster = NULL;
    o->cluster_retry_ms = 100;
    o->cluster_retries = 10;
    if (!opts) return;
    if ((v = json_object_get(opts, "prefix")) && json_is_string(v)) o->prefix = json_string_value(v);
    if ((v = json_object_get(opts, "timeout_ms")) && json_is_integer(v)) o->timeout_ms = (long)json_integer_value(v);
    if ((v = json_object_get(opts, "connect_timeout_ms")) && json_is_integer(v)) o->connect_timeout_ms = (long)json_integer_value(v);
    if ((v = json_object_get(opts, "reconnect_min_ms")) && json_is_integer(v)) o->reconnect_min_ms = (long)json_integer_value(v);
    if ((v = json_object_get(opts, "reconnect_max_ms")) && json_is_integer(v)) o->reconnect_max_ms = (long)json_integer_value(v);
    if (json_object_get(opts, "sentinels")) o->sentinel = opts;
    /* cluster mode */
    o->cluster = NULL;
    o->cluster_retry_ms = 100;
    o->cluster_retries = 10;
    /* a list of "host:port", one such string, or {} (the URL's node alone) */
    if ((v = json_object_get(opts, "cluster")) &&
        (json_is_array(v) || json_is_string(v) || (json_is_object(v) && json_object_size(v) == 0)))
        o->cluster = v;
    if ((v = json_object_get(opts, "cluster_retry_ms")) && json_is_integer(v)) o->cluster_retry_ms = (long)json_integer_value(v);
    if ((v = json_object_get(opts, "cluster_retries")) && json_is_integer(v)) o->cluster_retries = (int)json_integer_value(v);
}

/* Where we are connecting, without credentials, for log lines. */
static void describe(const struct redis_client *rc, char *buf, size_t len) {
    if (rc->sentinel && rc->url.host)
        snprintf(buf, len, "%s:%d (master \"%s\")", rc->url.host, rc->url.port, redis_sentinel_config(rc->sentinel)->master);
    else if (rc->sentinel) snprintf(buf, len, "master \"%s\"", redis_sentinel_config(rc->sentinel)->master);
    else if (rc->url.unix_path) snprintf(buf, len, "unix:%s", rc->url.unix_path);
    else snprintf(buf, len, "%s:%d", rc->url.host, rc->url.port);
}

/* The backoff delay is over: try again. */
static void on_retry(uv_timer_t *t) {
    redis_connect_start(t->data);
}

/* Schedule the next connection attempt with exponential backoff and jitter. */
static void schedule_reconnect(struct redis_client *rc) {
    if (rc->state == REDIS_CLOSED) return;
    int was_up = rc->state == REDIS_UP;
    rc->state = REDIS_IDLE;
    if (was_up && rc->on_change) rc->on_change(rc->change_data, 0);
    long base = rc->backoff_ms ? rc->backoff_ms * 2 : rc->opts.reconnect_min_ms;
    if (base > rc->opts.reconnect_max_ms) base = rc->opts.reconnect_max_ms;
    rc->backoff_ms = base;
    long delay = base / 2 + (long)(rand() % (int)(base / 2 + 1));
    rc->failures++;
    uv_timer_start(&rc->retry_timer, on_retry, (uint64_t)delay, 0);
}

/* Re-arm the command timer for the oldest pending command. */
static void arm_op_timer(struct redis_client *rc) {
    if (!rc->ops) {
        uv_timer_stop(&rc->op_timer);
        return;
    }
    uint64_t now = uv_now(rc->loop);
    uint64_t due = rc->ops->deadline > now ? rc->ops->deadline - now : 0;
    uv_timer_start(&rc->op_timer, on_op_timeout, due, 0);
}

static void unlink_op(struct redis_client *rc, struct redis_op *op) {
    if (op->prev) op->prev->next = op->next;
    else rc->ops = op->next;
    if (op->next) op->next->prev = op->prev;
    else rc->ops_tail = op->prev;
}

/* A reply (or NULL when the connection went away) for one command. */
static void on_reply(redisAsyncContext *ac, void *r, void *privdata) {
    struct redis_op *op = privdata;
    struct redis_client *rc = op->rc;
    unlink_op(rc, op);
    arm_op_timer(rc);
    if (r) {
        rc->latency_ms = (double)(uv_now(rc->loop) - op->sent);
        op->cb(r, NULL, op->data);
        /* Sentinel: READONLY or MASTERDOWN means this server is no longer
         * the master. The caller saw the error; find the master again. */
        if (rc->sentinel && ac == rc->ac && redis_sentinel_error_means_moved(r)) {
            char why[300];
            snprintf(why, sizeof(why), "the server stopped being the master (%.200s)", ((redisReply *)r)->str);
            redis_drop(rc, why);
        }
    } else {
        op->cb(NULL, rc->last_error[0] ? rc->last_error : "the Redis connection was lost", op->data);
    }
    free(op);
}

/* The oldest command is overdue: the connection is unhealthy, reset it. */
static void on_op_timeout(uv_timer_t *t) {
    struct redis_client *rc = t->data;
    if (!rc->ops || rc->ops->deadline > uv_now(rc->loop)) {
        arm_op_timer(rc);
        return;
    }
    char why[200];
    snprintf(why, sizeof(why), "a Redis command got no answer in %ld ms", rc->opts.timeout_ms);
    redis_drop(rc, why);
}

/* Replies to AUTH and SELECT: a failure makes the connection useless. */
static void on_setup_reply(redisReply *reply, const char *err, void *data) {
    struct redis_client *rc = data;
    if (err) return;
    if (reply->type == REDIS_REPLY_ERROR) {
        char why[300];
        snprintf(why, sizeof(why), "Redis refused the connection setup: %.200s", reply->str);
        if (rc->failures == 0 || rc->failures % 20 == 0) log_error("redis: %s", why);
        redis_drop(rc, why);
        return;
    }
    /* Only a connection Redis accepted ends the backoff: a wrong password
     * must not turn reconnecting into a tight loop. */
    if (rc->setup_pending > 0 && --rc->setup_pending == 0) {
        rc->backoff_ms = 0;
        rc->failures = 0;
    }
}

/* Write N in decimal at P; the end. */
static char *put_size(char *p, size_t n) {
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (i) *p++ = tmp[--i];
    return p;
}

/* The command in RESP, as hiredis's redisFormatSdsCommandArgv writes it
 * (*argc, then $len and the bytes of each argument), malloc'd; its length
 * in *LEN. hiredis builds it with one sdscatfmt and two sdscatlen per
 * argument, which cost more than the rest of a context EVAL. */
char *redis_format_command(int argc, const char **argv, const size_t *lens, size_t *len) {
    size_t total = 1 + 20 + 2;
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        total += 1 + 20 + 2 + n + 2;
    }
    char *cmd = xmalloc(total);
    if (!cmd) return NULL;
    char *p = cmd;
    *p++ = '*';
    p = put_size(p, (size_t)argc);
    *p++ = '\r';
    *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        *p++ = '$';
        p = put_size(p, n);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, argv[i], n);
        p += n;
        *p++ = '\r';
        *p++ = '\n';
    }
    *len = (size_t)(p - cmd);
    return cmd;
}

/* Queue a command on the live context. */
static int send_argv(struct redis_client *rc, redis_reply_fn *cb, void *data,
                     int argc, const char **argv, const size_t *lens) {
    struct redis_op *op = xcalloc(1, sizeof(*op));
    op->cb = cb;
    op->data = data;
    op->rc = rc;
    op->sent = uv_now(rc->loop);
    op->deadline = op->sent + (uint64_t)rc->opts.timeout_ms;
    size_t len;
    char *cmd = redis_format_command(argc, argv, lens, &len);
    if (!cmd || redisAsyncFormattedCommand(rc->ac, on_reply, op, cmd, len) != REDIS_OK) {
        free(cmd);
        free(op);
        return -1;
    }
    free(cmd);
    op->prev = rc->ops_tail;
    if (rc->ops_tail) rc->ops_tail->next = op;
    else rc->ops = op;
    rc->ops_tail = op;
    if (rc->ops == op) arm_op_timer(rc);
    return 0;
}

static void on_connect(const redisAsyncContext *ac, int status) {
    struct redis_client *rc = ac->data;
    if (rc->ac != ac) return;
    uv_timer_stop(&rc->retry_timer);
    char where[280];
    describe(rc, where, sizeof(where));
    if (status != REDIS_OK) {
        snprintf(rc->last_error, sizeof(rc->last_error), "cannot connect to Redis at %s: %s", where, ac->errstr);
        rc->ac = NULL;   /* hiredis frees it after this callback */
        if (rc->failures == 0 || rc->failures % 20 == 0) log_warn("redis: %s; retrying", rc->last_error);
        schedule_reconnect(rc);
        return;
    }
    if (rc->sentinel) {   /* the reply to ROLE makes it up */
        uv_timer_start(&rc->retry_timer, on_connect_timeout, (uint64_t)rc->opts.connect_timeout_ms, 0);
        return;
    }
    became_up(rc);
}

/* The connection is usable: end the backoff and tell the owner. */
static void became_up(struct redis_client *rc) {
    char where[280];
    describe(rc, where, sizeof(where));
    rc->state = REDIS_UP;
    if (rc->failures == 0) log_info("redis: connected to %s", where);
    else if (rc->failures % 20 == 0 || !rc->setup_pending) log_info("redis: connected to %s after %d failed attempts", where, rc->failures);
    if (!rc->setup_pending) {   /* else the backoff ends when AUTH/SELECT succeed */
        rc->failures = 0;
        rc->backoff_ms = 0;
    }
    rc->last_error[0] = '\0';
    if (rc->on_ready) rc->on_ready();
    if (rc->on_change) rc->on_change(rc->change_data, 1);
    if (rc->on_ready_data) rc->on_ready_data(rc->ready_data);
}

void redis_client_on_ready(struct redis_client *rc, void (*fn)(void)) {
    rc->on_ready = fn;
    if (rc->cluster) redis_cluster_on_ready(rc->cluster, fn);   /* cluster mode */
}

void redis_client_on_ready_data(struct redis_client *rc, void (*fn)(void *), void *data) {
    rc->on_ready_data = fn;
    rc->ready_data = data;
}

/* Sentinel: the reply to ROLE; only a master is used (a sentinel may be stale). */
static void on_role_reply(redisReply *reply, const char *err, void *data) {
    struct redis_client *rc = data;
    char role[64], why[480], where[280];
    if (err || rc->state != REDIS_CONNECTING) return;
    if (!redis_sentinel_role_is_master(reply, role, sizeof(role))) {
        describe(rc, where, sizeof(where));
        snprintf(why, sizeof(why), "%s says its role is %s, not master (the sentinels may not know yet)", where, role);
        if (rc->failures == 0 || rc->failures % 20 == 0) log_warn("redis: %s; asking the sentinels again", why);
        redis_sentinel_distrust(rc->sentinel);
        redis_drop(rc, why);
        return;
    }
    uv_timer_stop(&rc->retry_timer);
    became_up(rc);
}

void redis_client_on_change(struct redis_client *rc, void (*fn)(void *data, int up), void *data) {
    rc->on_change = fn;
    rc->change_data = data;
}

int redis_client_subscribe(struct redis_client *rc, const char *channel, redisCallbackFn *fn, void *data) {
    if (!redis_client_ready(rc)) return -1;
    const char *argv[2] = { "SUBSCRIBE", channel };
    return redisAsyncCommandArgv(rc->ac, fn, data, 2, argv, NULL) == REDIS_OK ? 0 : -1;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    struct redis_client *rc = ac->data;
    (void)status;
    if (rc->ac != ac) return;
    rc->ac = NULL;
    if (!rc->last_error[0]) snprintf(rc->last_error, sizeof(rc->last_error), "the Redis connection was lost");
    log_warn("redis: %s; reconnecting", rc->last_error);
    schedule_reconnect(rc);
}

/* The connection attempt took too long. */
static void on_connect_timeout(uv_timer_t *t) {
    struct redis_client *rc = t->data;
    char why[200];
    snprintf(why, sizeof(why), "connecting to Redis took over %ld ms", rc->opts.connect_timeout_ms);
    if (rc->failures == 0 || rc->failures % 20 == 0) log_warn("redis: %s; retrying", why);
    redis_drop(rc, why);
}

/* Open the socket to an address (already resolved) and queue AUTH/SELECT. */
static void connect_addr(struct redis_client *rc, const char *ip) {
    redisAsyncContext *ac = rc->url.unix_path ? redisAsyncConnectUnix(rc->url.unix_path)
                                              : redisAsyncConnect(ip, rc->url.port);
    char where[280];
    describe(rc, where, sizeof(where));
    if (!ac || ac->err) {
        snprintf(rc->last_error, sizeof(rc->last_error), "cannot connect to Redis at %s: %s",
                 where, ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        schedule_reconnect(rc);
        return;
    }
    if (redis_uv_attach(rc->loop, ac) < 0) {
        redisAsyncFree(ac);
        snprintf(rc->last_error, sizeof(rc->last_error), "cannot watch the Redis socket");
        schedule_reconnect(rc);
        return;
    }
    ac->data = rc;
    rc->ac = ac;
    rc->state = REDIS_CONNECTING;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    uv_timer_start(&rc->retry_timer, on_connect_timeout, (uint64_t)rc->opts.connect_timeout_ms, 0);
    rc->setup_pending = (rc->url.password ? 1 : 0) + (rc->url.db ? 1 : 0);
    if (rc->url.password) {
        const char *argv[3] = { "AUTH", rc->url.user ? rc->url.user : rc->url.password, rc->url.password };
        send_argv(rc, on_setup_reply, rc, rc->url.user ? 3 : 2, argv, NULL);
    }
    if (rc->url.db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", rc->url.db);
        const char *argv[2] = { "SELECT", db };
        send_argv(rc, on_setup_reply, rc, 2, argv, NULL);
    }
    if (rc->sentinel) {
        const char *argv[1] = { "ROLE" };
        send_argv(rc, on_role_reply, rc, 1, argv, NULL);
    }
}

/* The name resolved (on libuv's thread pool, never on the loop). */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct redis_client *rc = req->data;
    rc->resolving = 0;
    if (rc->state == REDIS_CLOSED) {
        uv_freeaddrinfo(res);
        on_handle_closed((uv_handle_t *)req);
        return;
    }
    if (status < 0 || !res) {
        snprintf(rc->last_error, sizeof(rc->last_error), "cannot resolve Redis host %s: %s",
                 rc->url.host, uv_strerror(status));
        if (rc->failures == 0 || rc->failures % 20 == 0) log_warn("redis: %s; retrying", rc->last_error);
        uv_freeaddrinfo(res);
        schedule_reconnect(rc);
        return;
    }
    char ip[64] = "";
    if (res->ai_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, ip, sizeof(ip));
    else uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof(ip));
    uv_freeaddrinfo(res);
    connect_addr(rc, ip);
}

/* Sentinel: the sentinels said where the master is (or nobody knew). */
static void on_master_found(const char *host, int port, const char *err, void *data) {
    struct redis_client *rc = data;
    rc->discovering = 0;
    if (rc->state == REDIS_CLOSED) return;
    if (err) {
        snprintf(rc->last_error, sizeof(rc->last_error), "%s", err);
        if (rc->failures == 0 || rc->failures % 20 == 0) log_warn("redis: %s; retrying", err);
        schedule_reconnect(rc);
        return;
    }
    if (!rc->url.host || strcmp(rc->url.host, host) != 0 || rc->url.port != port) {
        free(rc->url.host);
        rc->url.host = xstrdup(host);
        rc->url.port = port;
    }
    resolve_and_connect(rc);
}

/* Sentinel: a sentinel announced a new master: leave the old one now. */
static void on_switch_master(const char *host, int port, void *data) {
    struct redis_client *rc = data;
    if (rc->state == REDIS_CLOSED) return;
    if (rc->state == REDIS_UP && rc->url.host && strcmp(rc->url.host, host) == 0 && rc->url.port == port) return;
    log_info("redis: Sentinel switched master \"%s\" to %s:%d; reconnecting",
             redis_sentinel_config(rc->sentinel)->master, host, port);
    if (rc->ac) redis_drop(rc, "Sentinel switched the master");
    if (rc->state == REDIS_IDLE) {   /* waiting out a backoff: go now */
        uv_timer_stop(&rc->retry_timer);
        redis_connect_start(rc);
    }
}

/* Begin a connection attempt: ask the sentinels first when there are any. */
static void redis_connect_start(struct redis_client *rc) {
    if (rc->state == REDIS_CLOSED || rc->ac || rc->resolving || rc->discovering) return;
    if (rc->sentinel) {
        rc->state = REDIS_RESOLVING;
        rc->discovering = 1;
        redis_sentinel_discover(rc->sentinel, on_master_found, rc);
        return;
    }
    resolve_and_connect(rc);
}

/* Resolve the host (off the loop), unless it is a unix socket, then connect. */
static void resolve_and_connect(struct redis_client *rc) {
    if (rc->url.unix_path) {
        connect_addr(rc, NULL);
        return;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    rc->state = REDIS_RESOLVING;
    rc->resolver.data = rc;
    rc->resolving = 1;
    if (uv_getaddrinfo(rc->loop, &rc->resolver, on_resolved, rc->url.host, NULL, &hints) < 0) {
        rc->resolving = 0;
        schedule_reconnect(rc);
    }
}

/* Throw the connection away: pending commands fail with WHY. */
static void redis_drop(struct redis_client *rc, const char *why) {
    redisAsyncContext *ac = rc->ac;
    snprintf(rc->last_error, sizeof(rc->last_error), "%s", why);
    if (!ac) return;
    int was_up = rc->state == REDIS_UP;
    rc->ac = NULL;
    uv_timer_stop(&rc->retry_timer);
    redisAsyncFree(ac);   /* runs every pending callback with a NULL reply */
    if (was_up && (rc->failures == 0 || rc->failures % 20 == 0)) log_warn("redis: %s; reconnecting", why);
    schedule_reconnect(rc);
}

/* Sentinel mode: the master's credentials and db from the sentinel keys. */
static int sentinel_setup(struct redis_client *rc, const struct redis_options *opts, char *err, size_t errlen) {
    struct redis_sentinel_conf sc;
    if (redis_sentinel_conf_parse(opts->sentinel, &sc, err, errlen) <= 0) return -1;
    if (sc.sentinel_password) redact_add_secret(sc.sentinel_password);
    rc->url.user = sc.user ? xstrdup(sc.user) : NULL;
    rc->url.password = sc.password ? xstrdup(sc.password) : NULL;
    rc->url.db = sc.db;
    rc->sentinel = redis_sentinel_new(rc->loop, &sc, opts->connect_timeout_ms, opts->reconnect_min_ms,
                                      opts->reconnect_max_ms, on_switch_master, rc);
    return 0;
}

/* Cluster mode: seeds are the URL's host:port and the `cluster` list. */
static int redis_client_start_cluster(struct redis_client *rc, const char *url, char *err, size_t errlen) {
    if (rc->url.unix_path || rc->url.db) {
        snprintf(err, errlen, "a Redis Cluster is reached over TCP (redis://host:port) and has only database 0");
        return -1;
    }
    size_t n = json_array_size(rc->opts.cluster);
    const char **seeds = xcalloc(n + 2, sizeof(char *));
    char first[300];
    if (strchr(rc->url.host, ':')) snprintf(first, sizeof(first), "[%s]:%d", rc->url.host, rc->url.port);
    else snprintf(first, sizeof(first), "%s:%d", rc->url.host, rc->url.port);
    int k = 0;
    seeds[k++] = first;
    for (size_t i = 0; i < n; i++)
        if (json_is_string(json_array_get(rc->opts.cluster, i))) seeds[k++] = json_string_value(json_array_get(rc->opts.cluster, i));
    if (json_is_string(rc->opts.cluster)) seeds[k++] = json_string_value(rc->opts.cluster);
    rc->cluster = redis_cluster_new(rc->loop, url, seeds, k, &rc->opts, err, errlen);
    free(seeds);
    rc->opts.cluster = NULL;   /* the list may not outlive the config */
    return rc->cluster ? 0 : -1;
}

struct redis_client *redis_client_new(uv_loop_t *loop, const char *url,
                                      const struct redis_options *opts, char *err, size_t errlen) {
    struct redis_client *rc = xcalloc(1, sizeof(*rc));
    rc->loop = loop;
    if (opts->sentinel ? sentinel_setup(rc, opts, err, errlen) < 0 : redis_url_parse(url, &rc->url, err, errlen) < 0) {
        redis_url_free(&rc->url);
        free(rc);
        return NULL;
    }
    if (rc->url.password) redact_add_secret(rc->url.password);
    rc->opts = *opts;
    snprintf(rc->prefix, sizeof(rc->prefix), "%s", opts->prefix ? opts->prefix : "chorus:");
    rc->opts.prefix = rc->prefix;
    uv_timer_init(loop, &rc->retry_timer);
    rc->retry_timer.data = rc;
    uv_timer_init(loop, &rc->op_timer);
    rc->op_timer.data = rc;
    rc->handles_open = 2;
    snprintf(rc->last_error, sizeof(rc->last_error), "not connected to Redis yet");
    if (opts->cluster) {   /* cluster mode: the URL is the first seed and gives the credentials */
        if (redis_client_start_cluster(rc, url, err, errlen) < 0) {
            redis_client_free(rc);
            return NULL;
        }
        return rc;
    }
    redis_connect_start(rc);
    return rc;
}

static void on_handle_closed(uv_handle_t *h) {
    struct redis_client *rc = h->data;
    if (--rc->handles_open == 0) {
        redis_url_free(&rc->url);
        free(rc);
    }
}

void redis_client_free(struct redis_client *rc) {
    if (!rc) return;
    redis_cluster_free(rc->cluster);   /* cluster mode */
    rc->cluster = NULL;
    rc->state = REDIS_CLOSED;
    snprintf(rc->last_error, sizeof(rc->last_error), "chorusd is shutting down");
    redis_sentinel_free(rc->sentinel);
    rc->sentinel = NULL;
    if (rc->resolving) {
        rc->handles_open++;   /* on_resolved still runs, with UV_ECANCELED */
        uv_cancel((uv_req_t *)&rc->resolver);
    }
    if (rc->ac) {
        redisAsyncContext *ac = rc->ac;
        rc->ac = NULL;
        redisAsyncFree(ac);
    }
    uv_timer_stop(&rc->retry_timer);
    uv_timer_stop(&rc->op_timer);
    uv_close((uv_handle_t *)&rc->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&rc->op_timer, on_handle_closed);
}

int redis_client_ready(const struct redis_client *rc) {
    if (rc && rc->cluster) return redis_cluster_ready(rc->cluster);   /* cluster mode */
    return rc && rc->state == REDIS_UP && rc->ac;
}

int redis_client_cluster(const struct redis_client *rc) {
    return rc && rc->cluster;
}

const char *redis_client_prefix(const struct redis_client *rc) {
    return rc->prefix;
}

const char *redis_client_error(const struct redis_client *rc) {
    if (rc->cluster) return redis_cluster_error(rc->cluster);   /* cluster mode */
    return rc->state == REDIS_UP ? "" : rc->last_error;
}

double redis_client_latency_ms(const struct redis_client *rc) {
    if (rc->cluster) return redis_cluster_latency_ms(rc->cluster);   /* cluster mode */
    return rc->latency_ms;
}

int redis_command(struct redis_client *rc, redis_reply_fn *cb, void *data,
                  int argc, const char **argv, const size_t *lens) {
    if (rc && rc->cluster) return redis_cluster_command(rc->cluster, NULL, cb, data, argc, argv, lens);   /* cluster mode */
    if (!redis_client_ready(rc)) return -1;
    metrics_inc(METRIC_REDIS_COMMANDS, "main", 1);
    return send_argv(rc, cb, data, argc, argv, lens);
}

int redis_command_near(struct redis_client *rc, const char *key, redis_reply_fn *cb, void *data,
                       int argc, const char **argv, const size_t *lens) {
    if (rc && rc->cluster) return redis_cluster_command(rc->cluster, key, cb, data, argc, argv, lens);   /* cluster mode */
    return redis_command(rc, cb, data, argc, argv, lens);
}

redisReply *redis_reply_copy(const redisReply *rep) {
    redisReply *c = xcalloc(1, sizeof(*c));
    c->type = rep->type;
    c->integer = rep->integer;
    if (rep->str) {
        c->str = xmalloc(rep->len + 1);
        memcpy(c->str, rep->str, rep->len);
        c->str[rep->len] = '\0';
        c->len = rep->len;
    }
    if (rep->type == REDIS_REPLY_ARRAY) {
        c->elements = rep->elements;
        c->element = xcalloc(rep->elements ? rep->elements : 1, sizeof(redisReply *));
        for (size_t i = 0; i < rep->elements; i++) c->element[i] = redis_reply_copy(rep->element[i]);
    }
    return c;
}

const redisReply *redis_reply_field(const redisReply *fields, const char *name) {
    if (!fields || fields->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING && !strcmp(fields->element[i]->str, name))
            return fields->element[i + 1];
    return NULL;
}

const char *redis_reply_str(const redisReply *fields, const char *name) {
    const redisReply *v = redis_reply_field(fields, name);
    return v && v->type == REDIS_REPLY_STRING ? v->str : NULL;
}
