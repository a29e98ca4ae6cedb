/* ledger.c - record outcomes and report each persona's days. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "core/runtime.h"
#include "core/server.h"
#include "io/redis_client.h"
#include "lib/vclock.h"
#include "persona/ledger.h"
#include "persona/persona.h"
#include "lib/xalloc.h"

#define MAX_DAYS 92

/* Parse YYYY-MM-DD to a UTC day start; -1 if malformed. */
static long long parse_day(const char *s) {
    struct tm tm = { 0 };
    char *end = strptime(s, "%Y-%m-%d", &tm);
    if (!end || *end) return -1;
    return (long long)timegm(&tm);
}

struct report {
    ledger_done_fn *cb;
    void *data;
    int ndays, npersonas;
    long long first_day;
    const struct persona *personas[32];
    redisReply **replies;      /* 5 per (day, persona) */
    int pending, total;
    char *error;
};


/* Sum hash fields of R whose names start with PREFIX. */
static long long sum_fields(const redisReply *r, const char *prefix) {
    long long sum = 0;
    size_t n = strlen(prefix);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (!strncmp(r->element[i]->str, prefix, n)) sum += strtoll(r->element[i + 1]->str, NULL, 10);
    return sum;
}

static int compare_longs(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* The median of N sorted values. */
static double median_of(long *v, size_t n) {
    if (n == 0) return 0;
    qsort(v, n, sizeof(long), compare_longs);
    return n % 2 ? (double)v[n / 2] : (double)(v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* From the day's sessions hash ("channel|user|start" -> turns): CPS mean and
 * median per channel into CHANNELS; returns the persona's overall median. */
static double sessions_by_channel(const redisReply *h, json_t *channels) {
    size_t n = h && h->type == REDIS_REPLY_ARRAY ? h->elements / 2 : 0;
    long *all = xcalloc(n + 1, sizeof(long)), *one = xcalloc(n + 1, sizeof(long));
    for (size_t i = 0; i < n; i++) all[i] = strtol(h->element[2 * i + 1]->str, NULL, 10);
    for (size_t i = 0; i < n; i++) {
        const char *field = h->element[2 * i]->str;
        const char *bar = strchr(field, '|');
        if (!bar) continue;
        char chan[600];
        snprintf(chan, sizeof(chan), "%.*s", (int)(bar - field), field);
        if (json_object_get(channels, chan)) continue;
        size_t m = 0;
        long sum = 0;
        for (size_t j = 0; j < n; j++) {
            const char *f = h->element[2 * j]->str;
            if (!strncmp(f, chan, strlen(chan)) && f[strlen(chan)] == '|') sum += (one[m++] = all[j]);
        }
        json_object_set_new(channels, chan, json_pack("{s:I, s:I, s:f, s:f}", "sessions", (json_int_t)m, "turns",
                                                      (json_int_t)sum, "cps_mean", m ? (double)sum / (double)m : 0.0,
                                                      "cps_median", median_of(one, m)));
    }
    double med = median_of(all, n);
    free(all);
    free(one);
    return med;
}

/* Build rows and the text table from the replies. */
static void finish_report(struct report *rep) {
    struct config_block *lb = config_first(server.rt->cfg, "ledger");
    double share = lb && json_is_number(json_object_get(lb->value, "share")) ? json_number_value(json_object_get(lb->value, "share")) : 0;
    const char *currency = config_str(lb, "currency", "USD");
    json_t *rows = json_array();
    long long t_proactive = 0, t_conv = 0, t_turns = 0, t_users = 0, t_calls = 0, t_in = 0, t_out = 0, t_cost = 0, t_value = 0;
    char text[16384];
    size_t used = (size_t)snprintf(text, sizeof(text), "%-10s %-10s %5s %5s %5s %6s %6s %10s %10s %12s %12s %12s",
                                   "DAY", "PERSONA", "CONV", "TURNS", "CPS", "USERS", "CALLS", "TOKENS_IN", "TOKENS_OUT",
                                   "COST", "VALUE", "SHARE");
    for (int d = 0; d < rep->ndays; d++) {
        time_t t = (time_t)(rep->first_day + (long long)d * 86400);
        struct tm tm;
        char day[16];
        gmtime_r(&t, &tm);
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
        for (int p = 0; p < rep->npersonas; p++) {
            redisReply **r = &rep->replies[(d * rep->npersonas + p) * 5];
            long long calls = sum_fields(r[0], "calls:"), in = sum_fields(r[0], "tokens_in:"), out = sum_fields(r[0], "tokens_out:");
            long long cost = sum_fields(r[0], "cost_micro:");
            long long turns = sum_fields(r[1], "turns"), conv = sum_fields(r[1], "sessions");
            long long proactive = sum_fields(r[1], "proactive");   /* messages it said first (pipeline/group.c) */
            char vfield[32];
            snprintf(vfield, sizeof(vfield), "value_micro:%s", currency);
            long long value = sum_fields(r[2], vfield);
            long long users = r[3] ? r[3]->integer : 0;
            if (!calls && !turns && !value && !proactive) continue;
            long long shared = (long long)((double)value * share + 0.5);
            json_t *outcomes = json_object();
            for (size_t i = 0; r[2] && r[2]->type == REDIS_REPLY_ARRAY && i + 1 < r[2]->elements; i += 2)
                if (!strncmp(r[2]->element[i]->str, "count:", 6))
                    json_object_set_new(outcomes, r[2]->element[i]->str + 6, json_integer(strtoll(r[2]->element[i + 1]->str, NULL, 10)));
            json_t *channels = json_object();
            double median = sessions_by_channel(r[4], channels);
            json_array_append_new(rows, json_pack("{s:s, s:s, s:I, s:I, s:f, s:f, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o}",
                "day", day, "persona", rep->personas[p]->name, "conversations", (json_int_t)conv, "turns", (json_int_t)turns,
                "cps", conv ? (double)turns / (double)conv : 0.0, "cps_median", median, "channels", channels, "active_users", (json_int_t)users, "calls", (json_int_t)calls,
                "tokens_in", (json_int_t)in, "tokens_out", (json_int_t)out, "cost_micro", (json_int_t)cost,
                "value_micro", (json_int_t)value, "share_micro", (json_int_t)shared, "currency", currency, "outcomes", outcomes));
            json_object_set_new(json_array_get(rows, json_array_size(rows) - 1), "proactive", json_integer(proactive));
            t_proactive += proactive;
            if (used < sizeof(text) - 300)
                used += (size_t)snprintf(text + used, sizeof(text) - used,
                    "\n%-10s %-10s %5lld %5lld %5.1f %6lld %6lld %10lld %10lld %12.6f %12.2f %12.2f", day, rep->personas[p]->name,
                    conv, turns, conv ? (double)turns / (double)conv : 0.0, users, calls, in, out,
                    (double)cost / 1e6, (double)value / 1e6, (double)shared / 1e6);
            t_conv += conv, t_turns += turns, t_users += users, t_calls += calls, t_in += in, t_out += out;
            t_cost += cost, t_value += value;
        }
    }
    long long t_share = (long long)((double)t_value * share + 0.5);
    if (used < sizeof(text) - 300)
        snprintf(text + used, sizeof(text) - used,
                 "\n%-10s %-10s %5lld %5lld %5.1f %6lld %6lld %10lld %10lld %12.6f %12.2f %12.2f  (%s, share %.1f%%)",
                 "TOTAL", "", t_conv, t_turns, t_conv ? (double)t_turns / (double)t_conv : 0.0, t_users, t_calls, t_in, t_out,
                 (double)t_cost / 1e6, (double)t_value / 1e6, (double)t_share / 1e6, currency, share * 100);
    json_t *report = json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:s, s:f, s:s}", "rows", rows, "total",
        "conversations", (json_int_t)t_conv, "turns", (json_int_t)t_turns, "calls", (json_int_t)t_calls,
        "tokens_in", (json_int_t)t_in, "tokens_out", (json_int_t)t_out, "cost_micro", (json_int_t)t_cost,
        "value_micro", (json_int_t)t_value, "share_micro", (json_int_t)t_share, "currency", currency, "share", share,
        "text", text);
    json_object_set_new(json_object_get(report, "total"), "proactive", json_integer(t_proactive));
    rep->cb(report, NULL, rep->data);
    json_decref(report);
}

struct slot {
    struct report *rep;
    int index;
};

static void on_reply(redisReply *r, const char *err, void *data) {
    struct slot *s = data;
    struct report *rep = s->rep;
    if (err && !rep->error) rep->error = xstrdup(err);
    if (r) rep->replies[s->index] = redis_reply_copy(r);
    free(s);
    if (--rep->pending > 0) return;
    if (rep->error) {
        char why[300];
        snprintf(why, sizeof(why), "Redis: %s", rep->error);
        rep->cb(NULL, why, rep->data);
    } else {
        finish_report(rep);
    }
    for (int i = 0; i < rep->total; i++)
        if (rep->replies[i]) freeReplyObject(rep->replies[i]);
    free(rep->replies);
    free(rep->error);
    free(rep);
}

int ledger_report(const char *persona, const char *from, const char *to, ledger_done_fn *cb, void *data,
                  char *err, size_t errlen) {
    long long now = (long long)vclock_now();
    long long to_day = to ? parse_day(to) : now - now % 86400;
    long long from_day = from ? parse_day(from) : to_day - 6 * 86400;
    if (from_day < 0 || to_day < 0) {
        snprintf(err, errlen, "days are written YYYY-MM-DD");
        return -1;
    }
    if (to_day < from_day || (to_day - from_day) / 86400 >= MAX_DAYS) {
        snprintf(err, errlen, "the range must run forward and cover at most %d days", MAX_DAYS);
        return -1;
    }
    if (!redis_client_ready(server.redis)) {
        snprintf(err, errlen, "Redis is not available");
        return -1;
    }
    struct report *rep = xcalloc(1, sizeof(*rep));
    rep->cb = cb;
    rep->data = data;
    rep->first_day = from_day;
    rep->ndays = (int)((to_day - from_day) / 86400) + 1;
    for (int i = 0; i < server.rt->personas->count && rep->npersonas < 32; i++)
        if (!persona || !strcmp(persona, server.rt->personas->items[i].name))
            rep->personas[rep->npersonas++] = &server.rt->personas->items[i];
    rep->total = rep->ndays * rep->npersonas * 5;
    rep->replies = xcalloc((size_t)rep->total, sizeof(redisReply *));
    const char *prefix = redis_client_prefix(server.redis);
    rep->pending = rep->total;
    for (int d = 0; d < rep->ndays; d++) {
        time_t t = (time_t)(from_day + (long long)d * 86400);
        struct tm tm;
        char day[16];
        gmtime_r(&t, &tm);
        strftime(day, sizeof(day), "%Y%m%d", &tm);
        for (int p = 0; p < rep->npersonas; p++) {
            static const char *const kinds[5] = { "usage", "engagement", "ledger", "active", "sessions" };
            for (int k = 0; k < 5; k++) {
                char key[400];
                snprintf(key, sizeof(key), "%s%s:%s:%s", prefix, kinds[k], day, rep->personas[p]->name);
                const char *argv[2] = { k == 3 ? "PFCOUNT" : "HGETALL", key };
                struct slot *s = xmalloc(sizeof(*s));
                s->rep = rep;
                s->index = (d * rep->npersonas + p) * 5 + k;
                if (redis_command(server.redis, on_reply, s, 2, argv, NULL) < 0) {
                    free(s);
                    if (!rep->error) rep->error = xstrdup("Redis went away");
                    rep->pending--;
                }
            }
        }
    }
    if (rep->pending == 0) {   /* every command failed at once */
        snprintf(err, errlen, "Redis is not available");
        for (int i = 0; i < rep->total; i++)
            if (rep->replies[i]) freeReplyObject(rep->replies[i]);
        free(rep->replies);
        free(rep->error);
        free(rep);
        return -1;
    }
    return 0;
}

/* ---- recording an outcome ---- */

static void ignore(redisReply *r, const char *err, void *data) {
    (void)r;
    (void)err;
    (void)data;
}

int ledger_record(const struct ledger_outcome *o) {
    time_t now = (time_t)vclock_now();
    struct tm tm;
    char day[16], key[400], field[128], micro[32], count[128], stream[300], ts[32];
    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y%m%d", &tm);
    const char *prefix = redis_client_prefix(server.redis);
    snprintf(key, sizeof(key), "%sledger:%s:%s", prefix, day, o->persona);
    snprintf(field, sizeof(field), "value_micro:%.8s", o->currency);
    snprintf(micro, sizeof(micro), "%lld", (long long)(o->value * 1e6 + (o->value >= 0 ? 0.5 : -0.5)));
    snprintf(count, sizeof(count), "count:%.100s", o->kind);
    snprintf(stream, sizeof(stream), "%soutcomes", prefix);
    snprintf(ts, sizeof(ts), "%.3f", vclock_now());
    const char *a1[4] = { "HINCRBY", key, field, micro };
    const char *a2[4] = { "HINCRBY", key, count, "1" };
    const char *a3[3] = { "EXPIRE", key, "34560000" };
    const char *a4[] = { "XADD", stream, "MAXLEN", "~", "100000", "*", "ts", ts, "persona", o->persona,
                         "plugin", o->plugin, "kind", o->kind, "value_micro", micro, "currency", o->currency,
                         "ref", o->ref, "channel", o->channel ? o->channel : "", "user", o->user ? o->user : "" };
    if (redis_command(server.redis, ignore, NULL, 4, a1, NULL) < 0) return -1;
    redis_command(server.redis, ignore, NULL, 4, a2, NULL);
    redis_command(server.redis, ignore, NULL, 3, a3, NULL);
    redis_command(server.redis, ignore, NULL, (int)(sizeof(a4) / sizeof(a4[0])), a4, NULL);
    return 0;
}
