/* schedule.h - when a plugin timer fires: "every 5m" or a cron expression.
 *
 * A schedule is plain data with no pointers, so it can be copied freely.
 * Plugins keep the spec text; after a restart it is parsed again and
 * schedule_next() gives the same answers, because "every" schedules are
 * anchored at the unix epoch rather than at process start. All times are
 * unix seconds in UTC. */
#ifndef CHORUS_SCHEDULE_H
#define CHORUS_SCHEDULE_H
#include <stddef.h>
#include <stdint.h>

enum schedule_kind {
    SCHEDULE_EVERY = 1,     /* fixed interval */
    SCHEDULE_CRON = 2       /* five-field cron expression or @macro */
};

struct schedule {
    int kind;               /* enum schedule_kind */
    long long every;        /* SCHEDULE_EVERY: interval in seconds */
    long long anchor;       /* SCHEDULE_EVERY: fires at anchor + k * every */
    uint64_t minutes;       /* SCHEDULE_CRON: bit n set = minute n (0-59) */
    uint32_t hours;         /* bits 0-23 */
    uint32_t doms;          /* bits 1-31 */
    uint32_t months;        /* bits 1-12 */
    uint32_t dows;          /* bits 0-6, Sunday = 0 */
    int dom_star;           /* day-of-month field started with '*' */
    int dow_star;           /* day-of-week field started with '*' */
};

/* Parse SPEC: "every <N><unit>" (units s, m, h, d; at most 10 years), a
 * five-field cron expression "minute hour day-of-month month day-of-week",
 * or one of @hourly @daily @midnight @weekly @monthly @yearly @annually.
 * Cron fields take a star, lists (1,2,3), ranges (1-5), steps (10-50/5; a
 * star followed by /15 for every 15th; 5/15 for 5-59/15), month names
 * jan-dec and day names sun-sat in any case, and day of week 0-7 with 0
 * and 7 both Sunday (so fri-sun works). Returns 0, or -1 with a plain
 * sentence in err naming the bad field. */
int schedule_parse(const char *spec, struct schedule *out, char *err, size_t errlen);

/* The first fire time strictly after AFTER. Cron schedules fire at second
 * 0 of each matching minute. As in Vixie cron, when neither the
 * day-of-month nor the day-of-week field starts with '*', a day matches if
 * either field matches; otherwise both must. Returns -1 if nothing matches
 * within 5 years (1830 days; e.g. "0 0 31 2 *"), or if AFTER is outside
 * the years 0000-9999. */
long long schedule_next(const struct schedule *s, long long after);
#endif
