/* limits.c - count jobs and model calls per connection and per user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "core/limits.h"
#include "core/message.h"
#include "core/runtime.h"
#include "core/server.h"
#include "lib/dict.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

struct count {
    long jobs;
    long calls;                 /* model calls in flight */
    long in_minute;             /* model calls started in the current minute */
    uint64_t minute;            /* which minute (uv_now / 60000) */
};

static struct dict *counts;
static uint64_t last_warn_ms;
static long warn_suppressed;

void limits_current(struct limits *out) {
    struct config_block *b = server.rt ? config_first(server.rt->cfg, "limits") : NULL;
    out->jobs_per_connection = config_int(b, "jobs_per_connection", 100);
    out->jobs_per_user = config_int(b, "jobs_per_user", 100);
    out->model_calls_per_user = config_int(b, "model_calls_per_user", 100);
    out->model_calls_per_user_per_minute = config_int(b, "model_calls_per_user_per_minute", 600);
    out->channel_queue = config_int(b, "channel_queue", 1000);
    out->channel_queue_bytes = config_int(b, "channel_queue_bytes", 4L << 20);
}

/* Append at most MAX bytes of S (NULL: nothing) to the key at *P. */
static void key_part(char **p, const char *s, size_t max) {
    size_t n = s ? strnlen(s, max) : 0;
    memcpy(*p, s ? s : "", n);
    *p += n;
}

/* KIND, A and B joined by unit separators into KEY (600 bytes), as
 * "%s\x1f%.200s\x1f%.300s" would print them: on every job, twice, where
 * snprintf cost more than the lookup. */
static void count_key(char *key, const char *kind, const char *a, const char *b) {
    char *p = key;
    key_part(&p, kind, 90);
    *p++ = '\x1f';
    key_part(&p, a, 200);
    *p++ = '\x1f';
    key_part(&p, b, 300);
    *p = '\0';
}

/* The count under KIND:A:B, made on first use. */
static struct count *count_of(const char *kind, const char *a, const char *b, int create) {
    char key[600];
    count_key(key, kind, a, b);
    if (!counts) counts = dict_new();
    struct count *c = dict_get(counts, key);
    if (!c && create) {
        c = xcalloc(1, sizeof(*c));
        dict_set(counts, key, c);
    }
    return c;
}

/* Forget a count nobody holds any more. */
static void count_drop_idle(const char *kind, const char *a, const char *b) {
    char key[600];
    count_key(key, kind, a, b);
    struct count *c = dict_get(counts, key);
    if (c && c->jobs <= 0 && c->calls <= 0 && c->minute != uv_now(server.loop) / 60000) {
        dict_del(counts, key);
        free(c);
    }
}

static void sweep_idle(void);

/* Count a refusal; warn at most every 10 s, with how many were not logged. */
static void refused(const char *limit, const char *platform, const char *who) {
    uint64_t now = uv_now(server.loop);
    metrics_inc(METRIC_LIMIT_REFUSALS, limit, 1);
    if (last_warn_ms && now - last_warn_ms < 10000) {
        warn_suppressed++;
        return;
    }
    log_warn("limits: %s:%s is over %s; refused (%ld more refusals since the last warning)", platform,
             who ? who : "-", limit, warn_suppressed);
    last_warn_ms = now;
    warn_suppressed = 0;
}

int limits_job_take(const struct chat_message *m) {
    struct limits lim;
    limits_current(&lim);
    sweep_idle();
    struct count *conn = m->connection ? count_of("conn", m->platform, m->connection, 1) : NULL;
    struct count *user = m->author.id ? count_of("user", m->platform, m->author.id, 1) : NULL;
    if (conn && conn->jobs >= lim.jobs_per_connection) {
        refused("jobs_per_connection", m->platform, m->connection);
        return -1;
    }
    if (user && user->jobs >= lim.jobs_per_user) {
        refused("jobs_per_user", m->platform, m->author.id);
        return -1;
    }
    if (conn) conn->jobs++;
    if (user) user->jobs++;
    return 0;
}

void limits_job_release(const struct chat_message *m) {
    struct count *c;
    if (m->connection && (c = count_of("conn", m->platform, m->connection, 0))) {
        c->jobs--;
        count_drop_idle("conn", m->platform, m->connection);
    }
    if (m->author.id && (c = count_of("user", m->platform, m->author.id, 0))) {
        c->jobs--;
        count_drop_idle("user", m->platform, m->author.id);
    }
}

int limits_model_take(const char *platform, const char *user, char *err, size_t errlen) {
    if (!user) return 0;
    struct limits lim;
    limits_current(&lim);
    struct count *c = count_of("user", platform, user, 1);
    uint64_t minute = uv_now(server.loop) / 60000;
    if (c->minute != minute) {
        c->minute = minute;
        c->in_minute = 0;
    }
    const char *over = c->calls >= lim.model_calls_per_user ? "model_calls_per_user"
                     : c->in_minute >= lim.model_calls_per_user_per_minute ? "model_calls_per_user_per_minute" : NULL;
    if (over) {
        refused(over, platform, user);
        snprintf(err, errlen, "too many model calls for this user right now (limits.%s)", over);
        return -1;
    }
    c->calls++;
    c->in_minute++;
    return 0;
}

void limits_model_release(const char *platform, const char *user) {
    struct count *c;
    if (!user || !(c = count_of("user", platform, user, 0))) return;
    c->calls--;
    count_drop_idle("user", platform, user);
}

struct sweep {
    char **keys;
    size_t n, cap;
    uint64_t minute;
};

/* Collect counts nobody holds (dict_each must not see deletions). */
static void collect_idle(const char *key, void *value, void *arg) {
    struct sweep *s = arg;
    struct count *c = value;
    if (c->jobs > 0 || c->calls > 0 || c->minute == s->minute) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->keys = xrealloc(s->keys, s->cap * sizeof(char *));
    }
    s->keys[s->n++] = xstrdup(key);
}

/* Now and then, forget users who went quiet. */
static void sweep_idle(void) {
    static unsigned long calls;
    if (!counts || ++calls % 4096) return;
    struct sweep s = { .minute = uv_now(server.loop) / 60000 };
    dict_each(counts, collect_idle, &s);
    for (size_t i = 0; i < s.n; i++) {
        free(dict_del(counts, s.keys[i]));
        free(s.keys[i]);
    }
    free(s.keys);
}

static void free_count(const char *key, void *value, void *arg) {
    (void)key;
    (void)arg;
    free(value);
}

void limits_reset(void) {
    if (!counts) return;
    dict_each(counts, free_count, NULL);
    dict_free(counts);
    counts = NULL;
}
