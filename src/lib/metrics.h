/* metrics.h - counters and histograms, exposed at /metrics in the
 * Prometheus text format. Each metric has one label (platform, model, ...). */
#ifndef CHORUS_METRICS_H
#define CHORUS_METRICS_H
#include <stddef.h>

enum metric_id {
    METRIC_MESSAGES_IN,
    METRIC_MESSAGES_OUT,
    METRIC_BAD_FRAMES,
    METRIC_SKILL_ERRORS,
    METRIC_MODEL_CALLS,
    METRIC_MODEL_ERRORS,
    METRIC_REDIS_ERRORS,
    METRIC_REPLY_SECONDS,
    METRIC_MODEL_SECONDS,
    METRIC_BUDGET_REFUSALS,
    METRIC_MODEL_TOKENS,
    METRIC_MODEL_COST,
    METRIC_PLATFORM_EVENTS,
    METRIC_SKILL_RUNS,
    METRIC_REDIS_COMMANDS,
    METRIC_FLOOD_DROPPED,
    METRIC_SKILL_SECONDS,
    METRIC_PERSONA_TURNS,
    METRIC_PERSONA_SESSIONS,
    METRIC_LIMIT_REFUSALS,
    METRIC_QUEUE_OVERFLOW,
    METRIC_PROACTIVE,
    METRIC_MANNERS,
    METRIC_MESSAGES_DROPPED,   /* stopped by a chorus.before returning false */
    METRIC_QUEUE_DEPTH,        /* gauges: set when scraped */
    METRIC_JOBS_IN_FLIGHT,
    METRIC_MODEL_IN_FLIGHT,
    METRIC_REDIS_UP,
    METRIC_REDIS_LATENCY,
    METRIC_PLATFORM_READY,
    METRIC_PLATFORM_CONNECTIONS,
    METRIC_BUS_ROLE,
    METRIC_BUS_PARTITIONS,
    METRIC_BUS_LAG,
    METRIC_BUS_PENDING,
    METRIC_BUS_EVENTS,         /* a counter */
    METRIC_COUNT
};

void metrics_inc(enum metric_id id, const char *label, double by);
/* Set a gauge's value. */
void metrics_set(enum metric_id id, const char *label, double value);
void metrics_observe(enum metric_id id, const char *label, double value);
/* Current value of a counter series (tests and status). */
double metrics_get(enum metric_id id, const char *label);
/* The exposition text; the caller frees it. */
char *metrics_render(size_t *len);
/* The sum over every label of a counter. */
double metrics_sum(enum metric_id id);
void metrics_reset(void);
#endif
