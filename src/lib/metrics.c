/* metrics.c - a fixed registry of metric families with labelled series. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/metrics.h"
#include "lib/xalloc.h"

#define MAX_SERIES 64
#define NBUCKETS 12

static const double bucket_bounds[NBUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};

struct family {
    const char *name;
    const char *help;
    const char *label;     /* label name */
    int histogram;
};

static const struct family families[METRIC_COUNT] = {
    [METRIC_MESSAGES_IN] = { "chorus_messages_in_total", "Messages received, per platform.", "platform", 0 },
    [METRIC_MESSAGES_OUT] = { "chorus_messages_out_total", "Messages sent, per platform.", "platform", 0 },
    [METRIC_BAD_FRAMES] = { "chorus_bad_frames_total", "Frames refused, per error code.", "error", 0 },
    [METRIC_SKILL_ERRORS] = { "chorus_skill_errors_total", "Skill failures.", "where", 0 },
    [METRIC_MODEL_CALLS] = { "chorus_model_calls_total", "Model calls, per model.", "model", 0 },
    [METRIC_MODEL_ERRORS] = { "chorus_model_errors_total", "Failed model calls, per model.", "model", 0 },
    [METRIC_REDIS_ERRORS] = { "chorus_redis_errors_total", "Failed Redis operations.", "op", 0 },
    [METRIC_REPLY_SECONDS] = { "chorus_reply_seconds", "Time from dequeue to finished reply.", "platform", 1 },
    [METRIC_MODEL_SECONDS] = { "chorus_model_seconds", "Model call latency.", "model", 1 },
    [METRIC_BUDGET_REFUSALS] = { "chorus_budget_refusals_total", "Model calls refused by a budget.", "kind", 0 },
    [METRIC_MODEL_TOKENS] = { "chorus_model_tokens_total", "Tokens in and out, per model.", "model", 0 },
    [METRIC_MODEL_COST] = { "chorus_model_cost_micro_total", "Model spend in micro-units of its currency.", "model", 0 },
    [METRIC_FLOOD_DROPPED] = { "chorus_flood_dropped_total", "Messages over a flood limit (warned once, then dropped).", "what", 0 },
    [METRIC_REDIS_COMMANDS] = { "chorus_redis_commands_total", "Commands chorusd sent to Redis (a script counts once).", "redis", 0 },
    [METRIC_SKILL_RUNS] = { "chorus_skill_runs_total", "Handler runs, per plugin.", "plugin", 0 },
    [METRIC_SKILL_SECONDS] = { "chorus_skill_seconds", "Handler run time (waits included), per plugin.", "plugin", 1 },
    [METRIC_PERSONA_TURNS] = { "chorus_persona_turns_total", "Conversation turns, per persona.", "persona", 0 },
    [METRIC_PERSONA_SESSIONS] = { "chorus_persona_sessions_total", "Conversation sessions, per persona (CPS = turns / sessions).", "persona", 0 },
    [METRIC_LIMIT_REFUSALS] = { "chorus_limit_refusals_total", "Jobs and model calls refused by a per-connection or per-user limit.", "limit", 0 },
    [METRIC_QUEUE_OVERFLOW] = { "chorus_queue_overflow_total", "Messages refused because their channel's queue was full, per platform.", "platform", 0 },
    [METRIC_PROACTIVE] = { "chorus_proactive_messages_total", "Messages a persona said first (after a silence or on a schedule), per platform.", "platform", 0 },
    [METRIC_MANNERS] = { "chorus_manners_decisions_total", "Group-chat manners: why a persona joined in or stayed quiet (or skipped speaking first).", "why", 0 },
    [METRIC_MESSAGES_DROPPED] = { "chorus_messages_dropped_total", "Messages a chorus.before middleware dropped (returned false), per plugin.", "plugin", 0 },
    [METRIC_QUEUE_DEPTH] = { "chorus_queue_depth", "Messages waiting for their channel.", "queue", 2 },
    [METRIC_JOBS_IN_FLIGHT] = { "chorus_jobs_in_flight", "Messages being answered.", "queue", 2 },
    [METRIC_MODEL_IN_FLIGHT] = { "chorus_http_in_flight", "HTTP requests in flight (models, plugins, platforms).", "client", 2 },
    [METRIC_REDIS_UP] = { "chorus_redis_up", "1 when Redis is connected.", "redis", 2 },
    [METRIC_REDIS_LATENCY] = { "chorus_redis_latency_seconds", "Last Redis round trip.", "redis", 2 },
    [METRIC_PLATFORM_READY] = { "chorus_platform_ready", "1 when a platform is ready.", "platform", 2 },
    [METRIC_PLATFORM_CONNECTIONS] = { "chorus_platform_connections", "Open connections per platform.", "platform", 2 },
    [METRIC_BUS_ROLE] = { "chorus_bus_role", "1 for the role this process runs (all, gateway or worker).", "role", 2 },
    [METRIC_BUS_PARTITIONS] = { "chorus_bus_partitions_held", "Ingress partitions this worker holds the lease of.", "worker", 2 },
    [METRIC_BUS_LAG] = { "chorus_bus_stream_lag", "Entries of a stream not yet delivered to its consumer group.", "stream", 2 },
    [METRIC_BUS_PENDING] = { "chorus_bus_stream_pending", "Entries of a stream delivered but not acknowledged.", "stream", 2 },
    [METRIC_BUS_EVENTS] = { "chorus_bus_events_total", "Stream bus events (published, acked, duplicates, claimed, replies deduplicated, failures).", "event", 0 },
    [METRIC_PLATFORM_EVENTS] = { "chorus_platform_events_total", "Connection events of platform adapters (reconnects, resumes, fatal closes, 429s).", "event", 0 },
};

struct series {
    char label[64];
    double value;                 /* counter value, or histogram sum */
    unsigned long count;          /* histogram observations */
    unsigned long buckets[NBUCKETS];
};

static struct series table[METRIC_COUNT][MAX_SERIES];
static int nseries[METRIC_COUNT];

/* LABEL (NULL: "") cut to the length the table keeps; a plain copy, as
 * this runs several times for every message. */
static void copy_label(char *out, size_t outlen, const char *label) {
    if (!label) label = "";
    size_t n = strnlen(label, outlen - 1);
    memcpy(out, label, n);
    out[n] = '\0';
}

/* Find or create the series of ID with LABEL; NULL when the family is full. */
static struct series *series_of(enum metric_id id, const char *label) {
    char key[sizeof(table[0][0].label)];
    copy_label(key, sizeof(key), label);   /* labels are kept truncated */
    for (int i = 0; i < nseries[id]; i++)
        if (strcmp(table[id][i].label, key) == 0) return &table[id][i];
    if (nseries[id] == MAX_SERIES) return NULL;
    struct series *s = &table[id][nseries[id]++];
    memcpy(s->label, key, strlen(key) + 1);
    return s;
}

void metrics_inc(enum metric_id id, const char *label, double by) {
    struct series *s = series_of(id, label);
    if (s) s->value += by;
}

void metrics_set(enum metric_id id, const char *label, double value) {
    struct series *s = series_of(id, label);
    if (s) s->value = value;
}

void metrics_observe(enum metric_id id, const char *label, double value) {
    struct series *s = series_of(id, label);
    if (!s) return;
    s->value += value;
    s->count++;
    for (int i = 0; i < NBUCKETS; i++)
        if (value <= bucket_bounds[i]) s->buckets[i]++;
}

double metrics_get(enum metric_id id, const char *label) {
    char key[sizeof(table[0][0].label)];
    copy_label(key, sizeof(key), label);
    for (int i = 0; i < nseries[id]; i++)
        if (strcmp(table[id][i].label, key) == 0) return table[id][i].value;
    return 0;
}

double metrics_sum(enum metric_id id) {
    double sum = 0;
    for (int i = 0; i < nseries[id]; i++) sum += table[id][i].value;
    return sum;
}

void metrics_reset(void) {
    memset(table, 0, sizeof(table));
    memset(nseries, 0, sizeof(nseries));
}

/* Append formatted text to a growing buffer. */
static void emit(char **buf, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void emit(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        *cap *= 2;
        *buf = xrealloc(*buf, *cap);
    }
}

/* Label values are our own names, but escape them anyway. */
static void escape_label(const char *in, char *out, size_t outlen) {
    size_t j = 0;
    for (; *in && j + 3 < outlen; in++) {
        if (*in == '"' || *in == '\\') out[j++] = '\\';
        if (*in == '\n') {
            out[j++] = '\\';
            out[j++] = 'n';
            continue;
        }
        out[j++] = *in;
    }
    out[j] = '\0';
}

char *metrics_render(size_t *outlen) {
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    buf[0] = '\0';
    for (int id = 0; id < METRIC_COUNT; id++) {
        const struct family *f = &families[id];
        emit(&buf, &len, &cap, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
             f->histogram == 1 ? "histogram" : f->histogram == 2 ? "gauge" : "counter");
        for (int i = 0; i < nseries[id]; i++) {
            struct series *s = &table[id][i];
            char lv[160];
            escape_label(s->label, lv, sizeof(lv));
            if (f->histogram != 1) {
                emit(&buf, &len, &cap, "%s{%s=\"%s\"} %.17g\n", f->name, f->label, lv, s->value);
                continue;
            }
            for (int b = 0; b < NBUCKETS; b++)
                emit(&buf, &len, &cap, "%s_bucket{%s=\"%s\",le=\"%g\"} %lu\n", f->name, f->label, lv,
                     bucket_bounds[b], s->buckets[b]);
            emit(&buf, &len, &cap, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %lu\n", f->name, f->label, lv, s->count);
            emit(&buf, &len, &cap, "%s_sum{%s=\"%s\"} %.17g\n", f->name, f->label, lv, s->value);
            emit(&buf, &len, &cap, "%s_count{%s=\"%s\"} %lu\n", f->name, f->label, lv, s->count);
        }
    }
    *outlen = len;
    return buf;
}
