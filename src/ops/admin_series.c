/* admin_series.c - per-minute hashes from Redis into chart series:
 * messages per minute, reply latency p50/p99 (ms), model spend and CPS
 * (turns per conversation session) per persona. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "core/runtime.h"
#include "core/series.h"
#include "core/server.h"
#include "io/redis_client.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"
#include "ops/admin_series.h"
#include "persona/persona.h"

struct series_read {
    int minutes, pending;
    long first;                /* unix seconds of the oldest minute */
    redisReply **replies;
    admin_series_fn *cb;
    void *data;
};

struct slot {
    struct series_read *s;
    int index;
};

double admin_series_percentile(const long long *hist, double q) {
    long long total = 0, seen = 0;
    for (int i = 0; i < SERIES_LAT_BUCKETS; i++) total += hist[i];
    if (total == 0) return -1;
    double rank = q * (double)total;
    for (int i = 0; i < SERIES_LAT_BUCKETS; i++) {
        if (hist[i] && (double)(seen + hist[i]) >= rank) {
            /* Linear within the bucket, between its bounds. */
            double lo = i ? series_lat_bound(i - 1) : 0, hi = series_lat_bound(i);
            double frac = ((rank - (double)seen) / (double)hist[i]);
            if (frac < 0) frac = 0;
            return lo + (hi - lo) * frac;
        }
        seen += hist[i];
    }
    return series_lat_bound(SERIES_LAT_BUCKETS - 1);
}

/* The persona's object in PERSONAS, made with zeroed arrays of N when new. */
static json_t *persona_row(json_t *personas, const char *name, int n) {
    json_t *row = json_object_get(personas, name);
    if (row) return row;
    row = json_object();
    const char *keys[] = { "spend_micro", "turns", "sessions" };
    for (int k = 0; k < 3; k++) {
        json_t *a = json_array();
        for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(0));
        json_object_set_new(row, keys[k], a);
    }
    json_object_set_new(personas, name, row);
    return row;
}

static void add_at(json_t *row, const char *key, int i, long long n) {
    json_t *a = json_object_get(row, key);
    json_array_set_new(a, (size_t)i, json_integer(json_integer_value(json_array_get(a, (size_t)i)) + n));
}

/* Every reply is in: build the report. */
static void finish(struct series_read *s) {
    int n = s->minutes;
    json_t *minutes = json_array(), *msgs = json_array(), *p50 = json_array(), *p99 = json_array();
    json_t *personas = json_object();
    for (int p = 0; server.rt && p < server.rt->personas->count; p++) persona_row(personas, server.rt->personas->items[p].name, n);
    for (int i = 0; i < n; i++) {
        long long hist[SERIES_LAT_BUCKETS] = { 0 }, count = 0;
        redisReply *h = s->replies[i];
        for (size_t k = 0; h && h->type == REDIS_REPLY_ARRAY && k + 1 < h->elements; k += 2) {
            const char *f = h->element[k]->str;
            long long v = h->element[k + 1]->str ? strtoll(h->element[k + 1]->str, NULL, 10) : 0;
            if (!f) continue;
            if (!strcmp(f, "msgs")) count += v;
            else if (!strncmp(f, "lat:", 4)) {
                int b = atoi(f + 4);
                if (b >= 0 && b < SERIES_LAT_BUCKETS) hist[b] += v;
            } else if (!strncmp(f, "cost:", 5)) add_at(persona_row(personas, f + 5, n), "spend_micro", i, v);
            else if (!strncmp(f, "turns:", 6)) add_at(persona_row(personas, f + 6, n), "turns", i, v);
            else if (!strncmp(f, "sessions:", 9)) add_at(persona_row(personas, f + 9, n), "sessions", i, v);
        }
        json_array_append_new(minutes, json_integer(s->first + 60L * i));
        json_array_append_new(msgs, json_integer(count));
        double a = admin_series_percentile(hist, 0.5), b = admin_series_percentile(hist, 0.99);
        json_array_append_new(p50, a < 0 ? json_null() : json_real(a));
        json_array_append_new(p99, b < 0 ? json_null() : json_real(b));
    }
    /* CPS: turns per session over the window so far (null before the first session). */
    const char *name;
    json_t *row;
    json_object_foreach(personas, name, row) {
        json_t *cps = json_array();
        long long turns = 0, sessions = 0;
        for (int i = 0; i < n; i++) {
            turns += json_integer_value(json_array_get(json_object_get(row, "turns"), (size_t)i));
            sessions += json_integer_value(json_array_get(json_object_get(row, "sessions"), (size_t)i));
            json_array_append_new(cps, sessions ? json_real((double)turns / (double)sessions) : json_null());
        }
        json_object_set_new(row, "cps", cps);
    }
    struct config_block *lb = server.rt ? config_first(server.rt->cfg, "ledger") : NULL;
    json_t *cur = lb && json_is_object(lb->value) ? json_object_get(lb->value, "currency") : NULL;
    json_t *report = json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:s, s:{s:s, s:s, s:s, s:s}}", "step_s", 60, "minutes", minutes,
                               "messages", msgs, "latency_p50_ms", p50, "latency_p99_ms", p99, "personas", personas,
                               "currency", json_is_string(cur) ? json_string_value(cur) : "USD", "units",
                               "messages", "messages per minute", "latency", "ms", "spend", "micro-units of currency per minute",
                               "cps", "turns per session");
    for (int i = 0; i < n; i++)
        if (s->replies[i]) freeReplyObject(s->replies[i]);
    free(s->replies);
    s->cb(report, NULL, s->data);
    free(s);
}

static void on_hash(redisReply *r, const char *err, void *data) {
    struct slot *sl = data;
    struct series_read *s = sl->s;
    (void)err;
    s->replies[sl->index] = r ? redis_reply_copy(r) : NULL;   /* hiredis frees R; NULL: an empty minute */
    free(sl);
    if (--s->pending == 0) finish(s);
}

int admin_series_read(int minutes, admin_series_fn *cb, void *data) {
    if (minutes < 1) minutes = 1;
    if (minutes > 1440) minutes = 1440;
    if (!server.redis || !redis_client_ready(server.redis)) {
        cb(NULL, "Redis is not available", data);
        return -1;
    }
    series_flush();   /* what this process counted, ahead of the reads */
    struct series_read *s = xcalloc(1, sizeof(*s));
    s->minutes = minutes;
    s->first = (long)(vclock_now() / 60) * 60 - 60L * (minutes - 1);
    s->replies = xcalloc((size_t)minutes, sizeof(*s->replies));
    s->cb = cb;
    s->data = data;
    s->pending = 1;   /* held until every command is sent */
    for (int i = 0; i < minutes; i++) {
        char key[300];
        snprintf(key, sizeof(key), "%sseries:%ld", redis_client_prefix(server.redis), s->first + 60L * i);
        struct slot *sl = xmalloc(sizeof(*sl));
        sl->s = s;
        sl->index = i;
        const char *argv[2] = { "HGETALL", key };
        s->pending++;
        if (redis_command(server.redis, on_hash, sl, 2, argv, NULL) < 0) {
            free(sl);
            s->pending--;
        }
    }
    if (--s->pending == 0) finish(s);
    return 0;
}
