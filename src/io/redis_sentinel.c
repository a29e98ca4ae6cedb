/* redis_sentinel.c - master discovery and +switch-master over Sentinel. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/async.h>
#include "io/redis_sentinel.h"
#include "io/redis_uv.h"
#include "io/timer.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* A name lookup in flight; orphaned (S NULL) when its owner stops waiting. */
struct lookup {
    uv_getaddrinfo_t req;
    struct redis_sentinel *s;
    int watch;
};

struct redis_sentinel {
    uv_loop_t *loop;
    struct redis_sentinel_conf conf;
    long timeout_ms, backoff_min_ms, backoff_max_ms;
    redis_sentinel_switch_fn *on_switch;
    void *switch_data;
    int first;                     /* the sentinel asked first: the last that answered */
    /* discovery */
    redis_sentinel_found_fn *found_cb;
    void *found_data;
    int q_running;
    int q_tried;
    int q_idx;
    redisAsyncContext *q_ac;
    struct lookup *q_lookup;
    uv_timer_t *q_timer;
    char q_err[400];
    /* the +switch-master subscription */
    int w_idx;
    redisAsyncContext *w_ac;
    struct lookup *w_lookup;
    uv_timer_t *w_timer;
    long w_backoff;
    int w_subscribed;
    int w_failures;
};

/* ---- parsing (pure, unit-tested) ---------------------------------------- */

int redis_sentinel_parse_addr(const char *s, char **host, int *port, char *err, size_t errlen) {
    const char *hs = s, *he, *colon;
    *host = NULL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') goto bad;
        hs = s + 1;
        he = close;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s))) goto bad;
        he = colon;
    }
    if (he == hs) goto bad;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || p <= 0 || p > 65535) goto bad;
    *host = xstrndup(hs, (size_t)(he - hs));
    *port = (int)p;
    return 0;
bad:
    snprintf(err, errlen, "sentinel \"%.80s\" is not host:port (for example \"127.0.0.1:26379\" or \"[::1]:26379\")", s);
    return -1;
}

void redis_sentinel_conf_free(struct redis_sentinel_conf *c) {
    for (int i = 0; i < c->n; i++) free(c->hosts[i]);
    free(c->hosts);
    free(c->ports);
    free(c->master);
    free(c->user);
    free(c->password);
    free(c->sentinel_password);
    memset(c, 0, sizeof(*c));
}

/* A string option, or NULL. */
static const char *opt_string(const json_t *opts, const char *key) {
    json_t *v = json_object_get(opts, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int redis_sentinel_conf_parse(const json_t *opts, struct redis_sentinel_conf *c, char *err, size_t errlen) {
    memset(c, 0, sizeof(*c));
    json_t *list = opts ? json_object_get(opts, "sentinels") : NULL;
    const char *master = opts ? opt_string(opts, "master") : NULL;
    if (!list) {
        if (master || (opts && json_object_get(opts, "sentinel_password"))) {
            snprintf(err, errlen, "master and sentinel_password need sentinels = { \"host:port\", ... }");
            return -1;
        }
        return 0;
    }
    size_t n = json_is_string(list) ? 1 : json_is_array(list) ? json_array_size(list) : 0;
    if (n == 0) {
        snprintf(err, errlen, "sentinels is empty: list at least one \"host:port\", e.g. sentinels = { \"127.0.0.1:26379\" }");
        return -1;
    }
    if (!master || !*master) {
        snprintf(err, errlen, "sentinels need master = \"name\": the master's name in the sentinels' config (e.g. \"mymaster\")");
        return -1;
    }
    c->hosts = xcalloc(n, sizeof(char *));
    c->ports = xcalloc(n, sizeof(int));
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_string(list) ? list : json_array_get(list, i);
        if (!json_is_string(v)) {
            snprintf(err, errlen, "sentinels must be strings like \"127.0.0.1:26379\"");
            redis_sentinel_conf_free(c);
            return -1;
        }
        if (redis_sentinel_parse_addr(json_string_value(v), &c->hosts[i], &c->ports[i], err, errlen) < 0) {
            redis_sentinel_conf_free(c);
            return -1;
        }
        c->n++;
    }
    json_t *db = json_object_get(opts, "db");
    if (db && (!json_is_integer(db) || json_integer_value(db) < 0 || json_integer_value(db) > 1000000)) {
        snprintf(err, errlen, "db must be a database number, 0 or more");
        redis_sentinel_conf_free(c);
        return -1;
    }
    c->db = db ? (int)json_integer_value(db) : 0;
    c->master = xstrdup(master);
    const char *s;
    if ((s = opt_string(opts, "user")) && *s) c->user = xstrdup(s);
    if ((s = opt_string(opts, "password")) && *s) c->password = xstrdup(s);
    if ((s = opt_string(opts, "sentinel_password")) && *s) c->sentinel_password = xstrdup(s);
    return 1;
}

int redis_sentinel_master_reply(const redisReply *r, char *host, size_t hostlen, int *port,
                                char *err, size_t errlen) {
    if (r->type == REDIS_REPLY_NIL) {
        snprintf(err, errlen, "it knows no master by that name");
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "it answered %.200s", r->str);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING || r->element[0]->len == 0 || r->element[0]->len >= hostlen) {
        snprintf(err, errlen, "its answer is not [ip, port]");
        return -1;
    }
    char *end;
    errno = 0;
    long p = strtol(r->element[1]->str, &end, 10);
    if (*end || errno || p <= 0 || p > 65535) {
        snprintf(err, errlen, "its answer has a bad port");
        return -1;
    }
    memcpy(host, r->element[0]->str, r->element[0]->len);
    host[r->element[0]->len] = '\0';
    *port = (int)p;
    return 0;
}

int redis_sentinel_switch_message(const char *msg, const char *master, char *host, size_t hostlen, int *port) {
    const char *tok[5];
    size_t len[5];
    const char *p = msg;
    for (int i = 0; i < 5; i++) {
        while (*p == ' ') p++;
        if (!*p) return -1;
        tok[i] = p;
        while (*p && *p != ' ') p++;
        len[i] = (size_t)(p - tok[i]);
    }
    while (*p == ' ') p++;
    if (*p) return -1;
    if (len[0] != strlen(master) || memcmp(tok[0], master, len[0]) != 0) return -1;
    if (len[3] >= hostlen) return -1;
    char num[8];
    if (len[4] >= sizeof(num)) return -1;
    memcpy(num, tok[4], len[4]);
    num[len[4]] = '\0';
    char *end;
    long v = strtol(num, &end, 10);
    if (*end || v <= 0 || v > 65535) return -1;
    memcpy(host, tok[3], len[3]);
    host[len[3]] = '\0';
    *port = (int)v;
    return 0;
}

int redis_sentinel_role_is_master(const redisReply *r, char *role, size_t rolelen) {
    const char *what = "?";
    size_t n = 1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING) {
        what = r->element[0]->str;
        n = r->element[0]->len;
    } else if (r->type == REDIS_REPLY_ERROR) {
        what = r->str;
        n = r->len;
    }
    if (role && rolelen) snprintf(role, rolelen, "%.*s", (int)(n < 60 ? n : 60), what);
    return n == 6 && memcmp(what, "master", 6) == 0;
}

int redis_sentinel_error_means_moved(const redisReply *r) {
    if (!r || r->type != REDIS_REPLY_ERROR || !r->str) return 0;
    return strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0;
}

/* ---- connections ------------------------------------------------------- */

static void query_try(struct redis_sentinel *s);
static void query_connect(struct redis_sentinel *s, const char *ip);
static void watch_start(struct redis_sentinel *s);
static void watch_connect(struct redis_sentinel *s, const char *ip);
static void watch_fail(struct redis_sentinel *s, const char *why);
static void query_fail(struct redis_sentinel *s, const char *why);

/* A libuv name lookup is done: connect, or fail this attempt. */
static void on_lookup(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct lookup *lk = req->data;
    struct redis_sentinel *s = lk->s;
    char ip[64] = "";
    if (status == 0 && res) {
        if (res->ai_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, ip, sizeof(ip));
        else uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof(ip));
    }
    uv_freeaddrinfo(res);
    int watch = lk->watch;
    free(lk);
    if (!s) return;
    if (watch) s->w_lookup = NULL;
    else s->q_lookup = NULL;
    if (!ip[0]) {
        char why[160];
        snprintf(why, sizeof(why), "cannot resolve it: %s", uv_strerror(status));
        if (watch) watch_fail(s, why);
        else query_fail(s, why);
        return;
    }
    if (watch) watch_connect(s, ip);
    else query_connect(s, ip);
}

/* Resolve sentinel IDX off the loop (at once when it is an IP address). */
static void resolve(struct redis_sentinel *s, int idx, int watch) {
    const char *host = s->conf.hosts[idx];
    unsigned char buf[sizeof(struct in6_addr)];
    if (uv_inet_pton(AF_INET, host, buf) == 0 || uv_inet_pton(AF_INET6, host, buf) == 0) {
        if (watch) watch_connect(s, host);
        else query_connect(s, host);
        return;
    }
    struct lookup *lk = xcalloc(1, sizeof(*lk));
    lk->s = s;
    lk->watch = watch;
    lk->req.data = lk;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    if (uv_getaddrinfo(s->loop, &lk->req, on_lookup, host, NULL, &hints) < 0) {
        free(lk);
        if (watch) watch_fail(s, "cannot start resolving it");
        else query_fail(s, "cannot start resolving it");
        return;
    }
    if (watch) s->w_lookup = lk;
    else s->q_lookup = lk;
}

/* An async context to IP:PORT on our loop, or NULL with WHY. */
static redisAsyncContext *open_ctx(struct redis_sentinel *s, const char *ip, int port,
                                   char *why, size_t whylen) {
    redisAsyncContext *ac = redisAsyncConnect(ip, port);
    if (!ac || ac->err) {
        snprintf(why, whylen, "cannot connect: %s", ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        return NULL;
    }
    if (redis_uv_attach(s->loop, ac) < 0) {
        redisAsyncFree(ac);
        snprintf(why, whylen, "cannot watch its socket");
        return NULL;
    }
    ac->data = s;
    return ac;
}

/* Free a context we still own (hiredis defers it when inside a callback). */
static void close_ctx(redisAsyncContext **acp) {
    redisAsyncContext *ac = *acp;
    *acp = NULL;
    if (ac) redisAsyncFree(ac);
}

/* ---- discovery --------------------------------------------------------- */

/* The round is over: hand the answer (or the last error) to the caller. */
static void query_done(struct redis_sentinel *s, const char *host, int port, const char *err) {
    uv_timer_stop(s->q_timer);
    close_ctx(&s->q_ac);
    s->q_running = 0;
    redis_sentinel_found_fn *cb = s->found_cb;
    s->found_cb = NULL;
    if (!err) s->first = s->q_idx;
    if (cb) cb(host, port, err, s->found_data);
}

/* This sentinel could not tell: note why and ask the next one. */
static void query_fail(struct redis_sentinel *s, const char *why) {
    uv_timer_stop(s->q_timer);
    close_ctx(&s->q_ac);
    if (s->q_lookup) {
        s->q_lookup->s = NULL;
        s->q_lookup = NULL;
    }
    snprintf(s->q_err, sizeof(s->q_err), "sentinel %s:%d: %s", s->conf.hosts[s->q_idx], s->conf.ports[s->q_idx], why);
    log_debug("redis: %s", s->q_err);
    s->q_tried++;
    query_try(s);
}

static void on_query_timeout(uv_timer_t *t) {
    struct redis_sentinel *s = t->data;
    char why[100];
    snprintf(why, sizeof(why), "no answer in %ld ms", s->timeout_ms);
    query_fail(s, why);
}

static void q_on_connect(const redisAsyncContext *ac, int status) {
    struct redis_sentinel *s = ac->data;
    if (ac != s->q_ac || status == REDIS_OK) return;
    char why[200];
    snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
    s->q_ac = NULL;   /* hiredis frees it after this callback */
    query_fail(s, why);
}

static void q_on_disconnect(const redisAsyncContext *ac, int status) {
    struct redis_sentinel *s = ac->data;
    (void)status;
    if (ac != s->q_ac) return;
    s->q_ac = NULL;
    query_fail(s, "the connection closed");
}

/* The sentinel refused our password. */
static void q_on_auth(redisAsyncContext *ac, void *reply, void *data) {
    struct redis_sentinel *s = data;
    redisReply *r = reply;
    if (ac != s->q_ac || !r || r->type != REDIS_REPLY_ERROR) return;
    char why[300];
    snprintf(why, sizeof(why), "it refused sentinel_password: %.200s", r->str);
    query_fail(s, why);
}

static void q_on_reply(redisAsyncContext *ac, void *reply, void *data) {
    struct redis_sentinel *s = data;
    if (ac != s->q_ac || !reply) return;
    char host[256], why[300];
    int port;
    if (redis_sentinel_master_reply(reply, host, sizeof(host), &port, why, sizeof(why)) < 0) {
        query_fail(s, why);
        return;
    }
    query_done(s, host, port, NULL);
}

/* Ask the current sentinel: AUTH if configured, then where the master is. */
static void query_connect(struct redis_sentinel *s, const char *ip) {
    char why[300];
    redisAsyncContext *ac = open_ctx(s, ip, s->conf.ports[s->q_idx], why, sizeof(why));
    if (!ac) {
        query_fail(s, why);
        return;
    }
    s->q_ac = ac;
    redisAsyncSetConnectCallback(ac, q_on_connect);
    redisAsyncSetDisconnectCallback(ac, q_on_disconnect);
    if (s->conf.sentinel_password) {
        const char *argv[2] = { "AUTH", s->conf.sentinel_password };
        redisAsyncCommandArgv(ac, q_on_auth, s, 2, argv, NULL);
    }
    const char *argv[3] = { "SENTINEL", "get-master-addr-by-name", s->conf.master };
    redisAsyncCommandArgv(ac, q_on_reply, s, 3, argv, NULL);
}

/* Ask the next sentinel of this round, or end the round with the last error. */
static void query_try(struct redis_sentinel *s) {
    if (s->q_tried >= s->conf.n) {
        char err[600];
        snprintf(err, sizeof(err), "no sentinel told where master \"%s\" is (%s)", s->conf.master, s->q_err);
        query_done(s, NULL, 0, err);
        return;
    }
    s->q_idx = (s->first + s->q_tried) % s->conf.n;
    uv_timer_start(s->q_timer, on_query_timeout, (uint64_t)s->timeout_ms, 0);
    resolve(s, s->q_idx, 0);
}

void redis_sentinel_discover(struct redis_sentinel *s, redis_sentinel_found_fn *cb, void *data) {
    s->found_cb = cb;
    s->found_data = data;
    if (s->q_running) return;
    s->q_running = 1;
    s->q_tried = 0;
    s->q_err[0] = '\0';
    query_try(s);
}

/* ---- +switch-master ---------------------------------------------------- */

static void on_watch_retry(uv_timer_t *t) {
    watch_start(t->data);
}

/* The subscription is gone or never came: try the next sentinel after a backoff. */
static void watch_fail(struct redis_sentinel *s, const char *why) {
    close_ctx(&s->w_ac);
    if (s->w_lookup) {
        s->w_lookup->s = NULL;
        s->w_lookup = NULL;
    }
    if (s->w_subscribed || s->w_failures % 20 == 0)
        log_warn("redis: lost the +switch-master subscription on sentinel %s:%d (%s); trying the next one",
                 s->conf.hosts[s->w_idx], s->conf.ports[s->w_idx], why);
    s->w_subscribed = 0;
    s->w_failures++;
    s->w_idx = (s->w_idx + 1) % s->conf.n;
    long base = s->w_backoff ? s->w_backoff * 2 : s->backoff_min_ms;
    if (base > s->backoff_max_ms) base = s->backoff_max_ms;
    s->w_backoff = base;
    long delay = base / 2 + (long)(rand() % (int)(base / 2 + 1));
    uv_timer_start(s->w_timer, on_watch_retry, (uint64_t)delay, 0);
}

static void on_watch_timeout(uv_timer_t *t) {
    struct redis_sentinel *s = t->data;
    char why[100];
    snprintf(why, sizeof(why), "no answer in %ld ms", s->timeout_ms);
    watch_fail(s, why);
}

static void w_on_connect(const redisAsyncContext *ac, int status) {
    struct redis_sentinel *s = ac->data;
    if (ac != s->w_ac || status == REDIS_OK) return;
    char why[200];
    snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
    s->w_ac = NULL;
    watch_fail(s, why);
}

static void w_on_disconnect(const redisAsyncContext *ac, int status) {
    struct redis_sentinel *s = ac->data;
    (void)status;
    if (ac != s->w_ac) return;
    s->w_ac = NULL;
    watch_fail(s, "the connection closed");
}

static void w_on_auth(redisAsyncContext *ac, void *reply, void *data) {
    struct redis_sentinel *s = data;
    redisReply *r = reply;
    if (ac != s->w_ac || !r || r->type != REDIS_REPLY_ERROR) return;
    watch_fail(s, "it refused sentinel_password");
}

/* The subscription's confirmation, then one message per announcement. */
static void w_on_message(redisAsyncContext *ac, void *reply, void *data) {
    struct redis_sentinel *s = data;
    redisReply *r = reply;
    if (ac != s->w_ac || !r) return;
    if (r->type == REDIS_REPLY_ERROR) {
        char why[300];
        snprintf(why, sizeof(why), "SUBSCRIBE failed: %.200s", r->str);
        watch_fail(s, why);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || r->element[0]->type != REDIS_REPLY_STRING) return;
    const char *kind = r->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        uv_timer_stop(s->w_timer);
        s->w_subscribed = 1;
        s->w_failures = 0;
        s->w_backoff = 0;
        log_debug("redis: watching +switch-master on sentinel %s:%d", s->conf.hosts[s->w_idx], s->conf.ports[s->w_idx]);
        return;
    }
    if (strcmp(kind, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING) return;
    char host[256];
    int port;
    if (redis_sentinel_switch_message(r->element[2]->str, s->conf.master, host, sizeof(host), &port) < 0) return;
    s->first = s->w_idx;   /* this sentinel is up to date: ask it first */
    if (s->on_switch) s->on_switch(host, port, s->switch_data);
}

static void watch_connect(struct redis_sentinel *s, const char *ip) {
    char why[300];
    redisAsyncContext *ac = open_ctx(s, ip, s->conf.ports[s->w_idx], why, sizeof(why));
    if (!ac) {
        watch_fail(s, why);
        return;
    }
    s->w_ac = ac;
    redisAsyncSetConnectCallback(ac, w_on_connect);
    redisAsyncSetDisconnectCallback(ac, w_on_disconnect);
    if (s->conf.sentinel_password) {
        const char *argv[2] = { "AUTH", s->conf.sentinel_password };
        redisAsyncCommandArgv(ac, w_on_auth, s, 2, argv, NULL);
    }
    const char *argv[2] = { "SUBSCRIBE", "+switch-master" };
    redisAsyncCommandArgv(ac, w_on_message, s, 2, argv, NULL);
}

/* Subscribe on the current watch sentinel (bounded by the timeout). */
static void watch_start(struct redis_sentinel *s) {
    uv_timer_start(s->w_timer, on_watch_timeout, (uint64_t)s->timeout_ms, 0);
    resolve(s, s->w_idx, 1);
}

/* ---- lifetime ---------------------------------------------------------- */

struct redis_sentinel *redis_sentinel_new(uv_loop_t *loop, struct redis_sentinel_conf *conf,
                                          long timeout_ms, long backoff_min_ms, long backoff_max_ms,
                                          redis_sentinel_switch_fn *on_switch, void *data) {
    struct redis_sentinel *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->conf = *conf;
    memset(conf, 0, sizeof(*conf));
    s->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    s->backoff_min_ms = backoff_min_ms > 0 ? backoff_min_ms : 100;
    s->backoff_max_ms = backoff_max_ms >= s->backoff_min_ms ? backoff_max_ms : s->backoff_min_ms;
    s->on_switch = on_switch;
    s->switch_data = data;
    s->q_timer = timer_new(loop, s);
    s->w_timer = timer_new(loop, s);
    watch_start(s);
    return s;
}

void redis_sentinel_distrust(struct redis_sentinel *s) {
    s->first = (s->first + 1) % s->conf.n;
}

const struct redis_sentinel_conf *redis_sentinel_config(const struct redis_sentinel *s) {
    return &s->conf;
}

void redis_sentinel_free(struct redis_sentinel *s) {
    if (!s) return;
    s->found_cb = NULL;
    s->on_switch = NULL;
    if (s->q_lookup) s->q_lookup->s = NULL;
    if (s->w_lookup) s->w_lookup->s = NULL;
    close_ctx(&s->q_ac);
    close_ctx(&s->w_ac);
    timer_free(&s->q_timer);
    timer_free(&s->w_timer);
    redis_sentinel_conf_free(&s->conf);
    free(s);
}
