/* series.c - per-minute counters, kept in memory and flushed to Redis. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "conf/config.h"
#include "core/feed.h"
#include "core/runtime.h"
#include "core/series.h"
#include "core/server.h"
#include "io/redis_client.h"
#include "lib/log.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"

#define MAX_FIELDS 256

struct counter {
    long minute;            /* unix seconds of the minute's start */
    char *field;
    int64_t n;
};

static struct counter counters[MAX_FIELDS];
static int ncounters;
static uv_timer_t flush_timer;
static int timer_ready, timer_armed;

/* Bucket bounds grow by half each step from 5 ms: 5, 7.5, 11.25, ... about 3 min for the
 * last closed one (then one open bucket). */
double series_lat_bound(int i) {
    return 5.0 * pow(1.5, i);
}

int series_lat_bucket(double ms) {
    for (int i = 0; i < SERIES_LAT_BUCKETS - 1; i++)
        if (ms <= series_lat_bound(i)) return i;
    return SERIES_LAT_BUCKETS - 1;
}

static long config_long(const char *key, long dflt) {
    struct config_block *b = server.rt ? config_first(server.rt->cfg, "console") : NULL;
    json_t *v = b && json_is_object(b->value) ? json_object_get(b->value, key) : NULL;
    return json_is_number(v) && json_number_value(v) > 0 ? (long)json_number_value(v) : dflt;
}

static void on_flush_timer(uv_timer_t *t) {
    (void)t;
    timer_armed = 0;
    series_flush();
}

/* Add N to FIELD of this minute, and make sure a flush is coming. */
static void add(const char *field, int64_t n) {
    if (!feed_enabled()) return;   /* the console is off: nothing reads these */
    long minute = (long)(vclock_now() / 60) * 60;
    for (int i = 0; i < ncounters; i++)
        if (counters[i].minute == minute && !strcmp(counters[i].field, field)) {
            counters[i].n += n;
            return;
        }
    if (ncounters == MAX_FIELDS) series_flush();
    counters[ncounters].minute = minute;
    counters[ncounters].field = xstrdup(field);
    counters[ncounters].n = n;
    ncounters++;
    if (!server.loop || timer_armed) return;
    if (!timer_ready) {
        uv_timer_init(server.loop, &flush_timer);
        timer_ready = 1;
    }
    timer_armed = 1;
    uv_timer_start(&flush_timer, on_flush_timer, (uint64_t)config_long("flush_ms", 1000), 0);
}

void series_message(double latency_ms) {
    char field[16] = "lat:";
    int bucket = series_lat_bucket(latency_ms);
    add("msgs", 1);
    if (bucket >= 0 && bucket < 100) {   /* per message: no snprintf for two digits */
        int n = 4;
        if (bucket >= 10) field[n++] = (char)('0' + bucket / 10);
        field[n++] = (char)('0' + bucket % 10);
        field[n] = '\0';
    } else {
        snprintf(field, sizeof(field), "lat:%d", bucket);
    }
    add(field, 1);
}

void series_cost(const char *persona, int64_t cost) {
    char field[200];
    snprintf(field, sizeof(field), "cost:%s", persona && *persona ? persona : "-");
    add(field, cost);
}

void series_turn(const char *persona, int new_session) {
    char field[200];
    snprintf(field, sizeof(field), "turns:%s", persona);
    add(field, 1);
    if (!new_session) return;
    snprintf(field, sizeof(field), "sessions:%s", persona);
    add(field, 1);
}

static void ignore(redisReply *r, const char *err, void *data) {
    (void)r, (void)data;
    if (err) log_debug("series: %s", err);
}

void series_flush(void) {
    if (ncounters == 0) return;
    if (timer_armed) uv_timer_stop(&flush_timer);
    timer_armed = 0;
    char key[300], n[32], ttl[32];
    long last = -1;
    snprintf(ttl, sizeof(ttl), "%ld", config_long("keep_s", 172800));
    int sent = 0;
    for (int i = 0; i < ncounters; i++) {
        if (server.redis && redis_client_ready(server.redis)) {
            snprintf(key, sizeof(key), "%sseries:%ld", redis_client_prefix(server.redis), counters[i].minute);
            snprintf(n, sizeof(n), "%lld", (long long)counters[i].n);
            const char *argv[4] = { "HINCRBY", key, counters[i].field, n };
            sent += redis_command(server.redis, ignore, NULL, 4, argv, NULL) == 0;
            if (counters[i].minute != last) {
                const char *ex[3] = { "EXPIRE", key, ttl };
                redis_command(server.redis, ignore, NULL, 3, ex, NULL);
                last = counters[i].minute;
            }
        }
        free(counters[i].field);
    }
    if (sent < ncounters) log_debug("series: %d counts not recorded (Redis is down)", ncounters - sent);
    ncounters = 0;
}

void series_stop(void) {
    series_flush();
    if (timer_ready) uv_close((uv_handle_t *)&flush_timer, NULL);
    timer_ready = timer_armed = 0;
}
