/* schedule.c - parsing schedule specs and finding the next fire time.
 *
 * A cron expression becomes one bitmask per field, so matching a minute is
 * a handful of bit tests. schedule_next() walks forward a day at a time and
 * only looks at hours and minutes on days that match, which keeps the worst
 * case (nothing matches for 5 years) at under two thousand steps. Calendar
 * arithmetic is done here on day numbers, so there is no dependence on the
 * process time zone or on the width of time_t. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "lib/schedule.h"

#define MAX_EVERY (3650LL * 86400)      /* longest "every" interval */
#define HORIZON_DAYS 1830               /* how far schedule_next() looks */
#define MIN_TIME (-62167219200LL)       /* 0000-01-01T00:00:00Z */
#define MAX_TIME 253402300799LL         /* 9999-12-31T23:59:59Z */

struct field {
    const char *name;                   /* as it appears in error messages */
    int low, high;                      /* allowed numeric values */
    const char *const *names;           /* three-letter names, or NULL */
    int name_base;                      /* the value of names[0] */
};

static const char *const month_names[] = {
    "jan", "feb", "mar", "apr", "may", "jun",
    "jul", "aug", "sep", "oct", "nov", "dec", NULL
};

static const char *const day_names[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, NFIELDS };

static const struct field fields[NFIELDS] = {
    { "minute", 0, 59, NULL, 0 },
    { "hour", 0, 23, NULL, 0 },
    { "day-of-month", 1, 31, NULL, 0 },
    { "month", 1, 12, month_names, 1 },
    { "day-of-week", 0, 7, day_names, 0 },  /* 7 is Sunday again */
};

static const struct {
    const char *name;
    const char *cron;
} macros[] = {
    { "@hourly", "0 * * * *" },
    { "@daily", "0 0 * * *" },
    { "@midnight", "0 0 * * *" },
    { "@weekly", "0 0 * * 0" },
    { "@monthly", "0 0 1 * *" },
    { "@yearly", "0 0 1 1 *" },
    { "@annually", "0 0 1 1 *" },
};

/* Fill err when the caller gave room for it; every failure path uses this
 * so a NULL err is always safe. */
__attribute__((format(printf, 3, 4)))
static void set_error(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;

    if (err == NULL || errlen == 0) return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Blanks (spaces, tabs, line ends) separate fields; anything else is part
 * of one. */
static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Read one number or name at s (stopping at END) for field F. On success
 * stores the value and where reading stopped. ITEM..ITEM_END is the whole
 * list item, quoted in messages so the user sees the context. */
static int parse_value(const struct field *f, const char *s, const char *end,
                       const char *item, const char *item_end,
                       int *val, const char **next, char *err, size_t errlen) {
    const char *p = s;
    int v = 0;

    if (p < end && isdigit((unsigned char)*p)) {
        while (p < end && isdigit((unsigned char)*p)) {
            if (v < 10000) v = v * 10 + (*p - '0');
            p++;
        }
        if (v < f->low || v > f->high) {
            set_error(err, errlen, "cron field '%s' value %.*s is out of range %d-%d",
                      f->name, (int)(p - s), s, f->low, f->high);
            return -1;
        }
        *val = v;
        *next = p;
        return 0;
    }
    if (p < end && isalpha((unsigned char)*p)) {
        while (p < end && isalpha((unsigned char)*p)) p++;
        if (f->names == NULL) {
            set_error(err, errlen, "cron field '%s' takes numbers, not names like '%.*s'",
                      f->name, (int)(p - s), s);
            return -1;
        }
        for (int i = 0; f->names[i]; i++) {
            if (p - s == 3 && strncasecmp(s, f->names[i], 3) == 0) {
                *val = f->name_base + i;
                *next = p;
                return 0;
            }
        }
        set_error(err, errlen, "cron field '%s' has an unknown name '%.*s'",
                  f->name, (int)(p - s), s);
        return -1;
    }
    if (p == end) {
        set_error(err, errlen, "cron field '%s' is missing a value in '%.*s'",
                  f->name, (int)(item_end - item), item);
        return -1;
    }
    set_error(err, errlen, "cron field '%s' has unexpected text in '%.*s'",
              f->name, (int)(item_end - item), item);
    return -1;
}

/* Parse one list item - "*", "5", "1-5", "mon-fri", any of those with
 * "/step" - and set its bits. */
static int parse_item(const struct field *f, const char *item, const char *item_end,
                      uint64_t *bits, char *err, size_t errlen) {
    const char *slash, *base_end, *p;
    int lo, hi, step = 1;

    if (item == item_end) {
        set_error(err, errlen, "cron field '%s' has an empty list item", f->name);
        return -1;
    }
    slash = memchr(item, '/', (size_t)(item_end - item));
    base_end = slash ? slash : item_end;
    p = item;

    if (*p == '*') {
        p++;
        lo = f->low;
        hi = f->high;
    } else {
        if (parse_value(f, p, base_end, item, item_end, &lo, &p, err, errlen) != 0) return -1;
        hi = slash ? f->high : lo;      /* "5/15" runs from 5 to the top */
        if (p < base_end && *p == '-') {
            p++;
            if (parse_value(f, p, base_end, item, item_end, &hi, &p, err, errlen) != 0)
                return -1;
            /* "fri-sun" and "5-0" can only mean Friday through Sunday. */
            if (f == &fields[F_DOW] && hi == 0 && lo > 0) hi = 7;
            if (lo > hi) {
                set_error(err, errlen, "cron field '%s' range %.*s runs backwards",
                          f->name, (int)(base_end - item), item);
                return -1;
            }
        }
    }
    if (p != base_end) {
        set_error(err, errlen, "cron field '%s' has unexpected text in '%.*s'",
                  f->name, (int)(item_end - item), item);
        return -1;
    }

    if (slash) {
        const char *s = slash + 1;
        int digits = 0;

        step = 0;
        for (p = s; p < item_end && isdigit((unsigned char)*p); p++) {
            if (step < 10000) step = step * 10 + (*p - '0');
            digits++;
        }
        if (digits == 0 || p != item_end) {
            set_error(err, errlen, "cron field '%s' has a bad step '%.*s' in '%.*s'",
                      f->name, (int)(item_end - s), s, (int)(item_end - item), item);
            return -1;
        }
        if (step < 1 || step > f->high - f->low) {
            set_error(err, errlen, "cron field '%s' step %.*s is out of range 1-%d",
                      f->name, (int)(item_end - s), s, f->high - f->low);
            return -1;
        }
    }

    for (int v = lo; v <= hi; v += step) *bits |= (uint64_t)1 << v;
    return 0;
}

/* Parse a comma-separated field into a bitmask. */
static int parse_field(const struct field *f, const char *s, const char *end,
                       uint64_t *bits, char *err, size_t errlen) {
    const char *item = s;

    *bits = 0;
    for (;;) {
        const char *comma = memchr(item, ',', (size_t)(end - item));
        const char *item_end = comma ? comma : end;

        if (parse_item(f, item, item_end, bits, err, errlen) != 0) return -1;
        if (comma == NULL) break;
        item = comma + 1;
    }
    if (f == &fields[F_DOW] && (*bits & ((uint64_t)1 << 7))) {
        *bits &= ~((uint64_t)1 << 7);
        *bits |= 1;
    }
    return 0;
}

/* Parse the five fields of a cron expression in s..end. */
static int parse_cron(const char *s, const char *end, struct schedule *out,
                      char *err, size_t errlen) {
    const char *start[NFIELDS], *stop[NFIELDS];
    uint64_t bits[NFIELDS];
    const char *p = s;
    int n = 0;

    while (p < end) {
        const char *q;

        while (p < end && is_blank(*p)) p++;
        if (p == end) break;
        for (q = p; q < end && !is_blank(*q); q++) ;
        if (n < NFIELDS) {
            start[n] = p;
            stop[n] = q;
        }
        n++;
        p = q;
    }
    if (n == 1) {
        set_error(err, errlen, "'%.*s' is not a schedule; use 'every <N><unit>' "
                  "(s, m, h or d), a 5-field cron expression or a macro like @daily",
                  (int)(end - s), s);
        return -1;
    }
    if (n != NFIELDS) {
        set_error(err, errlen, "a cron expression needs 5 fields "
                  "(minute hour day-of-month month day-of-week), not %d", n);
        return -1;
    }
    for (int i = 0; i < NFIELDS; i++) {
        if (parse_field(&fields[i], start[i], stop[i], &bits[i], err, errlen) != 0)
            return -1;
    }
    out->kind = SCHEDULE_CRON;
    out->minutes = bits[F_MINUTE];
    out->hours = (uint32_t)bits[F_HOUR];
    out->doms = (uint32_t)bits[F_DOM];
    out->months = (uint32_t)bits[F_MONTH];
    out->dows = (uint32_t)bits[F_DOW];
    out->dom_star = *start[F_DOM] == '*';
    out->dow_star = *start[F_DOW] == '*';
    return 0;
}

/* Expand an @macro (the whole of s..end) into its cron expression. */
static int parse_macro(const char *s, const char *end, struct schedule *out,
                       char *err, size_t errlen) {
    const char *p = s;
    size_t len;

    while (p < end && !is_blank(*p)) p++;
    len = (size_t)(p - s);
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
        const char *cron = macros[i].cron;

        if (strlen(macros[i].name) != len || strncasecmp(s, macros[i].name, len) != 0)
            continue;
        if (p != end) {
            set_error(err, errlen, "unexpected text after '%.*s' in '%.*s'",
                      (int)len, s, (int)(end - s), s);
            return -1;
        }
        return parse_cron(cron, cron + strlen(cron), out, err, errlen);
    }
    set_error(err, errlen, "unknown schedule macro '%.*s'; use @hourly, @daily, "
              "@midnight, @weekly, @monthly, @yearly or @annually", (int)len, s);
    return -1;
}

/* Parse "every <N><unit>"; s..end is the whole trimmed spec and P points
 * just past the word "every". */
static int parse_every(const char *s, const char *p, const char *end,
                       struct schedule *out, char *err, size_t errlen) {
    long long n = 0, unit;
    int digits = 0;

    while (p < end && is_blank(*p)) p++;
    while (p < end && isdigit((unsigned char)*p)) {
        if (n <= MAX_EVERY) n = n * 10 + (*p - '0');
        digits++;
        p++;
    }
    if (digits == 0) {
        set_error(err, errlen, "'%.*s' needs a whole number and a unit, like 'every 5m'",
                  (int)(end - s), s);
        return -1;
    }
    if (p == end || !isalpha((unsigned char)*p)) {
        set_error(err, errlen, "the interval in '%.*s' needs a unit (s, m, h or d) "
                  "right after the number", (int)(end - s), s);
        return -1;
    }
    switch (*p) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default:
        set_error(err, errlen, "the interval in '%.*s' has an unknown unit '%c'; "
                  "use s, m, h or d", (int)(end - s), s, *p);
        return -1;
    }
    p++;
    while (p < end && is_blank(*p)) p++;
    if (p != end) {
        set_error(err, errlen, "unexpected text after the interval in '%.*s'",
                  (int)(end - s), s);
        return -1;
    }
    if (n == 0) {
        set_error(err, errlen, "the interval in '%.*s' must be at least 1 second",
                  (int)(end - s), s);
        return -1;
    }
    if (n > MAX_EVERY / unit) {
        set_error(err, errlen, "the interval in '%.*s' is longer than 3650 days",
                  (int)(end - s), s);
        return -1;
    }
    out->kind = SCHEDULE_EVERY;
    out->every = n * unit;
    out->anchor = 0;
    return 0;
}

/* The one entry point: trim, then pick the form by its first word. */
int schedule_parse(const char *spec, struct schedule *out, char *err, size_t errlen) {
    const char *s, *end;

    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (spec == NULL) {
        set_error(err, errlen, "the schedule is empty");
        return -1;
    }
    s = spec;
    end = spec + strlen(spec);
    while (s < end && is_blank(*s)) s++;
    while (end > s && is_blank(end[-1])) end--;
    if (s == end) {
        set_error(err, errlen, "the schedule is empty");
        return -1;
    }
    if (*s == '@') return parse_macro(s, end, out, err, errlen);
    if (end - s >= 5 && strncasecmp(s, "every", 5) == 0 && (end - s == 5 || is_blank(s[5])))
        return parse_every(s, s + 5, end, out, err, errlen);
    return parse_cron(s, end, out, err, errlen);
}

/* Division rounding towards minus infinity, for times before an anchor or
 * before 1970. B must be positive. */
static long long floor_div(long long a, long long b) {
    long long q = a / b;

    if (a % b != 0 && a < 0) q--;
    return q;
}

/* Month (1-12) and day of month (1-31) of day number Z, counted from
 * 1970-01-01 in the proleptic Gregorian calendar. This is the well-known
 * era/day-of-era method: shift to a year starting in March, so the leap
 * day is the last day of the shifted year. */
static void month_day_from_days(long long z, int *month, int *mday) {
    long long era, doe, yoe, doy, mp;

    z += 719468;                        /* days from 0000-03-01 */
    era = floor_div(z, 146097);         /* 400-year cycles */
    doe = z - era * 146097;             /* day of the cycle, 0-146096 */
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);  /* 0 = March 1 */
    mp = (5 * doy + 2) / 153;           /* 0 = March ... 11 = February */
    *mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
}

/* Does day number Z match the schedule's month and day fields? */
static int day_matches(const struct schedule *s, long long z) {
    int month, mday, wday, dom_ok, dow_ok;

    month_day_from_days(z, &month, &mday);
    if (!(s->months & ((uint32_t)1 << month))) return 0;
    wday = (int)((z % 7 + 11) % 7);     /* 1970-01-01 was a Thursday (4) */
    dom_ok = (s->doms >> mday) & 1;
    dow_ok = (s->dows >> wday) & 1;
    if (s->dom_star || s->dow_star) return dom_ok && dow_ok;
    return dom_ok || dow_ok;
}

/* Next cron fire time: the first matching minute at or after AFTER + 1s,
 * rounded up to a whole minute. */
static long long next_cron(const struct schedule *s, long long after) {
    long long t = (floor_div(after, 60) + 1) * 60;
    long long day = floor_div(t, 86400);
    int hour = (int)((t - day * 86400) / 3600);
    int minute = (int)((t - day * 86400) % 3600 / 60);

    for (int i = 0; i < HORIZON_DAYS; i++, day++, hour = 0, minute = 0) {
        if (!day_matches(s, day)) continue;
        for (int h = hour; h < 24; h++) {
            if (!((s->hours >> h) & 1)) continue;
            for (int m = h == hour ? minute : 0; m < 60; m++) {
                if ((s->minutes >> m) & 1) return day * 86400 + h * 3600 + m * 60;
            }
        }
    }
    return -1;
}

/* Dispatch on the kind; out-of-range input gives -1 rather than overflow. */
long long schedule_next(const struct schedule *s, long long after) {
    if (s == NULL || after < MIN_TIME || after > MAX_TIME) return -1;
    long long next = -1;
    if (s->kind == SCHEDULE_EVERY) {
        if (s->every <= 0 || s->anchor < MIN_TIME || s->anchor > MAX_TIME) return -1;
        next = s->anchor + (floor_div(after - s->anchor, s->every) + 1) * s->every;
    } else if (s->kind == SCHEDULE_CRON) {
        next = next_cron(s, after);
    }
    /* A time past the year 9999 is no answer either: asked from there, we
     * would say -1 (found by fuzz/fuzz_schedule.c). */
    return next > MAX_TIME ? -1 : next;
}
