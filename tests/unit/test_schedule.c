/* test_schedule.c - unit tests for src/schedule.c.
 *
 * The story: plugin authors write timers as "every 5m", as cron lines or
 * as @daily, sometimes with mistakes. Good specs must fire exactly when
 * cron would, across minute, hour, day, month and year boundaries and on
 * leap days; bad ones are refused with a sentence that names the field.
 * Expected times come from timegm(), not from the code under test, and a
 * last check compares 200 random cron specs against a plain minute-by-
 * minute scan. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "tap.h"
#include "lib/schedule.h"

/* Unix time of a UTC calendar time, via the C library as an independent
 * oracle. */
static long long utc(int y, int mon, int d, int h, int mi, int s) {
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (long long)timegm(&tm);
}

/* Render a unix time for failure diagnostics. */
static const char *show(long long t, char *buf, size_t len) {
    struct tm tm;
    time_t tt = (time_t)t;

    if (t == -1) snprintf(buf, len, "-1 (never)");
    else if (gmtime_r(&tt, &tm) == NULL) snprintf(buf, len, "%lld", t);
    else strftime(buf, len, "%Y-%m-%d %H:%M:%S %a", &tm);
    return buf;
}

/* Parse SPEC expecting success. */
static int parse_ok(const char *spec, struct schedule *s) {
    char err[256] = "";
    int rc = schedule_parse(spec, s, err, sizeof err);

    if (!is_int(rc, 0, "'%s' parses", spec)) printf("# error: %s\n", err);
    return rc == 0;
}

/* Parse SPEC expecting the exact refusal MESSAGE. */
static void parse_refused(const char *spec, const char *message) {
    struct schedule s;
    char err[256] = "";
    int rc = schedule_parse(spec, &s, err, sizeof err);

    is_int(rc, -1, "'%s' is refused", spec ? spec : "(null)");
    is_str(err, message, "  with the message");
}

/* Check that SPEC, fed AFTER, fires next at WANT. */
static void next_is(const char *spec, long long after, long long want) {
    struct schedule s;
    char err[256] = "", b1[64], b2[64], b3[64];
    long long got;

    if (schedule_parse(spec, &s, err, sizeof err) != 0) {
        ok(0, "'%s' parses: %s", spec, err);
        return;
    }
    got = schedule_next(&s, after);
    if (!is_int(got, want, "'%s' after %s -> %s", spec, show(after, b1, sizeof b1),
                show(want, b2, sizeof b2)))
        printf("# got %s\n", show(got, b3, sizeof b3));
}

/* Two parsed schedules are the same when every field agrees. */
static int same_schedule(const struct schedule *a, const struct schedule *b) {
    return a->kind == b->kind && a->every == b->every && a->anchor == b->anchor &&
           a->minutes == b->minutes && a->hours == b->hours && a->doms == b->doms &&
           a->months == b->months && a->dows == b->dows &&
           a->dom_star == b->dom_star && a->dow_star == b->dow_star;
}

/* Bits from a list of numbers ending in -1, for readable expectations. */
static uint64_t bits_of(const int *v) {
    uint64_t b = 0;

    for (; *v >= 0; v++) b |= (uint64_t)1 << *v;
    return b;
}

static void test_every(void) {
    struct schedule s, s2;

    if (parse_ok("every 90s", &s)) {
        is_int(s.kind, SCHEDULE_EVERY, "  is an interval");
        is_int(s.every, 90, "  of 90 seconds");
        is_int(s.anchor, 0, "  anchored at the epoch");
    }
    if (parse_ok("every 5m", &s)) is_int(s.every, 300, "  5m is 300 seconds");
    if (parse_ok("every 2h", &s)) is_int(s.every, 7200, "  2h is 7200 seconds");
    if (parse_ok("every 1d", &s)) is_int(s.every, 86400, "  1d is 86400 seconds");
    if (parse_ok("  Every 10s\t", &s)) is_int(s.every, 10, "  case and surrounding blanks do not matter");
    if (parse_ok("every 3650d", &s)) is_int(s.every, 3650LL * 86400, "  the longest interval is 3650 days");

    next_is("every 90s", 0, 90);
    next_is("every 90s", 89, 90);
    next_is("every 90s", 90, 180);
    next_is("every 90s", -1, 0);
    next_is("every 90s", -90, 0);
    next_is("every 90s", -91, -90);
    next_is("every 5m", 1700000000, 1700000100);
    next_is("every 1d", utc(2024, 2, 28, 13, 0, 0), utc(2024, 2, 29, 0, 0, 0));

    /* A restarted process parses the same text and gets the same answer. */
    if (parse_ok("every 7m", &s) && parse_ok("every 7m", &s2))
        is_int(schedule_next(&s, 1712345678), schedule_next(&s2, 1712345678),
               "  two parses of one spec agree on the next fire");
}

static void test_cron_forms(void) {
    struct schedule s, e;
    static const int q15[] = { 0, 15, 30, 45, -1 };
    static const int r10_50_5[] = { 10, 15, 20, 25, 30, 35, 40, 45, 50, -1 };
    static const int list[] = { 1, 2, 3, -1 };
    static const int from5[] = { 5, 20, 35, 50, -1 };
    static const int mix[] = { 0, 7, 20, 22, 24, 59, -1 };
    static const int q1[] = { 1, 2, 3, -1 };
    static const int weekdays[] = { 1, 2, 3, 4, 5, -1 };
    static const int weekend[] = { 0, 5, 6, -1 };
    static const int sunday[] = { 0, -1 };
    static const int odd_days[] = { 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, -1 };

    if (parse_ok("*/15 * * * *", &s)) {
        is_int(s.kind, SCHEDULE_CRON, "  is cron");
        ok(s.minutes == bits_of(q15), "  minutes 0,15,30,45");
        ok(s.hours == 0xFFFFFF, "  every hour");
        ok(s.doms == 0xFFFFFFFEu, "  every day of the month");
        ok(s.months == 0x1FFE, "  every month");
        ok(s.dows == 0x7F, "  every day of the week");
        ok(s.dom_star && s.dow_star, "  both day fields are stars");
    }
    if (parse_ok("10-50/5 * * * *", &s)) ok(s.minutes == bits_of(r10_50_5), "  a range with a step");
    if (parse_ok("1,2,3 * * * *", &s)) ok(s.minutes == bits_of(list), "  a list");
    if (parse_ok("5/15 * * * *", &s)) ok(s.minutes == bits_of(from5), "  5/15 runs from 5 to 59");
    if (parse_ok("0,7,20-24/2,59 * * * *", &s)) ok(s.minutes == bits_of(mix), "  a list mixing forms");
    if (parse_ok("0 0 * jan-MAR *", &s)) ok(s.months == bits_of(q1), "  month names, any case");
    if (parse_ok("0 0 * * MON-fri", &s)) ok(s.dows == bits_of(weekdays), "  day names, any case");
    if (parse_ok("0 0 * * fri-sun", &s)) ok(s.dows == bits_of(weekend), "  fri-sun wraps to Sunday");
    if (parse_ok("0 0 * * 5-7", &s)) ok(s.dows == bits_of(weekend), "  5-7 is Friday to Sunday");
    if (parse_ok("0 0 * * 7", &s)) ok(s.dows == bits_of(sunday), "  7 is Sunday");
    if (parse_ok("0 0 * * Sun", &s)) ok(s.dows == bits_of(sunday), "  Sun is Sunday");
    if (parse_ok("0 0 * * 0,7", &s)) ok(s.dows == bits_of(sunday), "  0 and 7 are the same day");
    if (parse_ok("0 0 */2 * *", &s)) {
        ok(s.doms == bits_of(odd_days), "  */2 days are the odd days");
        ok(s.dom_star, "  and count as a star field, as in Vixie cron");
    }
    if (parse_ok("0 0 1-31 * 1", &s)) ok(!s.dom_star && !s.dow_star, "  1-31 is a restriction, not a star");
    if (parse_ok("  0\t0  *  *   *  ", &s)) ok(s.minutes == 1 && s.hours == 1, "  any blanks separate fields");

    if (parse_ok("@hourly", &s) && parse_ok("0 * * * *", &e)) ok(same_schedule(&s, &e), "  @hourly is 0 * * * *");
    if (parse_ok("@daily", &s) && parse_ok("0 0 * * *", &e)) ok(same_schedule(&s, &e), "  @daily is 0 0 * * *");
    if (parse_ok("@midnight", &s) && parse_ok("0 0 * * *", &e)) ok(same_schedule(&s, &e), "  @midnight is 0 0 * * *");
    if (parse_ok("@weekly", &s) && parse_ok("0 0 * * 0", &e)) ok(same_schedule(&s, &e), "  @weekly is 0 0 * * 0");
    if (parse_ok("@monthly", &s) && parse_ok("0 0 1 * *", &e)) ok(same_schedule(&s, &e), "  @monthly is 0 0 1 * *");
    if (parse_ok("@yearly", &s) && parse_ok("0 0 1 1 *", &e)) ok(same_schedule(&s, &e), "  @yearly is 0 0 1 1 *");
    if (parse_ok("@annually", &s) && parse_ok("0 0 1 1 *", &e)) ok(same_schedule(&s, &e), "  @annually is 0 0 1 1 *");
    if (parse_ok(" @DAILY ", &s) && parse_ok("0 0 * * *", &e)) ok(same_schedule(&s, &e), "  macros ignore case and blanks");
}

static void test_errors(void) {
    struct schedule s;

    parse_refused(NULL, "the schedule is empty");
    parse_refused("", "the schedule is empty");
    parse_refused("  \t ", "the schedule is empty");

    /* wrong field count */
    parse_refused("* * * *", "a cron expression needs 5 fields "
                  "(minute hour day-of-month month day-of-week), not 4");
    parse_refused("0 0 * * * 2024", "a cron expression needs 5 fields "
                  "(minute hour day-of-month month day-of-week), not 6");

    /* out of range, one per field */
    parse_refused("60 * * * *", "cron field 'minute' value 60 is out of range 0-59");
    parse_refused("0 24 * * *", "cron field 'hour' value 24 is out of range 0-23");
    parse_refused("0 0 0 * *", "cron field 'day-of-month' value 0 is out of range 1-31");
    parse_refused("0 0 32 * *", "cron field 'day-of-month' value 32 is out of range 1-31");
    parse_refused("0 0 * 13 *", "cron field 'month' value 13 is out of range 1-12");
    parse_refused("0 0 * 0 *", "cron field 'month' value 0 is out of range 1-12");
    parse_refused("0 0 * * 8", "cron field 'day-of-week' value 8 is out of range 0-7");
    parse_refused("0 1-99999999999 * * *", "cron field 'hour' value 99999999999 is out of range 0-23");
    parse_refused("0 0 * * 1-9", "cron field 'day-of-week' value 9 is out of range 0-7");

    /* bad steps */
    parse_refused("*/0 * * * *", "cron field 'minute' step 0 is out of range 1-59");
    parse_refused("0 */24 * * *", "cron field 'hour' step 24 is out of range 1-23");
    parse_refused("*/x * * * *", "cron field 'minute' has a bad step 'x' in '*/x'");
    parse_refused("*/ * * * *", "cron field 'minute' has a bad step '' in '*/'");
    parse_refused("1-5/2/3 * * * *", "cron field 'minute' has a bad step '2/3' in '1-5/2/3'");
    parse_refused("0 0 * * 1-5/-1", "cron field 'day-of-week' has a bad step '-1' in '1-5/-1'");

    /* bad names */
    parse_refused("0 0 * foo *", "cron field 'month' has an unknown name 'foo'");
    parse_refused("0 0 * * monday", "cron field 'day-of-week' has an unknown name 'monday'");
    parse_refused("0 0 * mon *", "cron field 'month' has an unknown name 'mon'");
    parse_refused("0 0 * * jan", "cron field 'day-of-week' has an unknown name 'jan'");
    parse_refused("0 0 jan * *", "cron field 'day-of-month' takes numbers, not names like 'jan'");
    parse_refused("abc * * * *", "cron field 'minute' takes numbers, not names like 'abc'");

    /* empty list items */
    parse_refused("1,,2 * * * *", "cron field 'minute' has an empty list item");
    parse_refused("0 1, * * *", "cron field 'hour' has an empty list item");
    parse_refused("0 0 ,1 * *", "cron field 'day-of-month' has an empty list item");

    /* ranges and garbage */
    parse_refused("5-1 * * * *", "cron field 'minute' range 5-1 runs backwards");
    parse_refused("0 0 * dec-jan *", "cron field 'month' range dec-jan runs backwards");
    parse_refused("5- * * * *", "cron field 'minute' is missing a value in '5-'");
    parse_refused("-5 * * * *", "cron field 'minute' has unexpected text in '-5'");
    parse_refused("1-2-3 * * * *", "cron field 'minute' has unexpected text in '1-2-3'");
    parse_refused("** * * * *", "cron field 'minute' has unexpected text in '**'");
    parse_refused("0 0 ? * *", "cron field 'day-of-month' has unexpected text in '?'");
    parse_refused("5x * * * *", "cron field 'minute' has unexpected text in '5x'");
    parse_refused("hello", "'hello' is not a schedule; use 'every <N><unit>' (s, m, h or d), "
                  "a 5-field cron expression or a macro like @daily");
    parse_refused("everyday", "'everyday' is not a schedule; use 'every <N><unit>' (s, m, h or d), "
                  "a 5-field cron expression or a macro like @daily");

    /* macros */
    parse_refused("@reboot", "unknown schedule macro '@reboot'; use @hourly, @daily, "
                  "@midnight, @weekly, @monthly, @yearly or @annually");
    parse_refused("@daily at noon", "unexpected text after '@daily' in '@daily at noon'");

    /* intervals */
    parse_refused("every", "'every' needs a whole number and a unit, like 'every 5m'");
    parse_refused("every -5m", "'every -5m' needs a whole number and a unit, like 'every 5m'");
    parse_refused("every 5", "the interval in 'every 5' needs a unit (s, m, h or d) right after the number");
    parse_refused("every 5 m", "the interval in 'every 5 m' needs a unit (s, m, h or d) right after the number");
    parse_refused("every 5x", "the interval in 'every 5x' has an unknown unit 'x'; use s, m, h or d");
    parse_refused("every 5M", "the interval in 'every 5M' has an unknown unit 'M'; use s, m, h or d");
    parse_refused("every 5mins", "unexpected text after the interval in 'every 5mins'");
    parse_refused("every 5m 10s", "unexpected text after the interval in 'every 5m 10s'");
    parse_refused("every 0s", "the interval in 'every 0s' must be at least 1 second");
    parse_refused("every 3651d", "the interval in 'every 3651d' is longer than 3650 days");
    parse_refused("every 99999999999999999999h",
                  "the interval in 'every 99999999999999999999h' is longer than 3650 days");

    /* a NULL or tiny err buffer is safe, and a refused parse leaves nothing usable */
    is_int(schedule_parse("61 * * * *", &s, NULL, 0), -1, "a NULL err buffer is allowed");
    is_int(schedule_next(&s, 0), -1, "  and the refused schedule never fires");
    {
        char tiny[8];
        is_int(schedule_parse("61 * * * *", &s, tiny, sizeof tiny), -1, "a short err buffer is allowed");
        is_str(tiny, "cron fi", "  and the message is cut, still terminated");
    }
}

static void test_boundaries(void) {
    /* strictly after, and seconds round up to the next minute */
    next_is("* * * * *", utc(2024, 1, 1, 0, 0, 0), utc(2024, 1, 1, 0, 1, 0));
    next_is("* * * * *", utc(2024, 1, 1, 0, 0, 30), utc(2024, 1, 1, 0, 1, 0));
    next_is("* * * * *", utc(2024, 1, 1, 0, 0, 59), utc(2024, 1, 1, 0, 1, 0));
    next_is("30 * * * *", utc(2024, 1, 1, 10, 29, 59), utc(2024, 1, 1, 10, 30, 0));
    next_is("30 * * * *", utc(2024, 1, 1, 10, 30, 0), utc(2024, 1, 1, 11, 30, 0));
    next_is("*/15 * * * *", utc(2024, 1, 1, 10, 46, 0), utc(2024, 1, 1, 11, 0, 0));

    /* hour, day, month and year boundaries */
    next_is("0 * * * *", utc(2023, 12, 31, 23, 0, 0), utc(2024, 1, 1, 0, 0, 0));
    next_is("15 3 * * *", utc(2024, 3, 10, 3, 15, 0), utc(2024, 3, 11, 3, 15, 0));
    next_is("59 23 * * *", utc(2024, 3, 10, 23, 59, 1), utc(2024, 3, 11, 23, 59, 0));
    next_is("0 0 1 * *", utc(2024, 1, 31, 12, 0, 0), utc(2024, 2, 1, 0, 0, 0));
    next_is("0 0 31 * *", utc(2024, 4, 1, 0, 0, 0), utc(2024, 5, 31, 0, 0, 0));
    next_is("0 0 1 1 *", utc(2024, 6, 1, 0, 0, 0), utc(2025, 1, 1, 0, 0, 0));
    next_is("@yearly", utc(2024, 12, 31, 23, 59, 59), utc(2025, 1, 1, 0, 0, 0));
    next_is("0 12 * feb *", utc(2024, 3, 1, 0, 0, 0), utc(2025, 2, 1, 12, 0, 0));
    next_is("0 9-17/4 * * *", utc(2024, 7, 4, 17, 0, 0), utc(2024, 7, 5, 9, 0, 0));
    next_is("@monthly", utc(2024, 12, 15, 0, 0, 0), utc(2025, 1, 1, 0, 0, 0));
    next_is("@weekly", utc(2024, 5, 13, 8, 0, 0), utc(2024, 5, 19, 0, 0, 0));

    /* leap years: every 4, not every 100, yes every 400 */
    next_is("0 0 29 2 *", utc(2023, 1, 1, 0, 0, 0), utc(2024, 2, 29, 0, 0, 0));
    next_is("0 0 29 2 *", utc(2024, 3, 1, 0, 0, 0), utc(2028, 2, 29, 0, 0, 0));
    next_is("0 0 29 2 *", utc(2024, 2, 29, 0, 0, 0), utc(2028, 2, 29, 0, 0, 0));
    next_is("0 0 29 2 *", utc(1999, 1, 1, 0, 0, 0), utc(2000, 2, 29, 0, 0, 0));
    next_is("0 0 29 2 *", utc(1900, 1, 1, 0, 0, 0), utc(1904, 2, 29, 0, 0, 0));
    next_is("0 0 29 2 *", utc(2097, 1, 1, 0, 0, 0), -1);  /* 2100 is not leap; 2104 is too far */
    next_is("0 0 28 2 *", utc(2023, 2, 28, 0, 0, 0), utc(2024, 2, 28, 0, 0, 0));
    next_is("0 0 1 3 *", utc(2024, 2, 28, 0, 0, 0), utc(2024, 3, 1, 0, 0, 0));
    next_is("0 0 * * *", utc(2024, 2, 28, 0, 0, 0), utc(2024, 2, 29, 0, 0, 0));
    next_is("0 0 * * *", utc(2100, 2, 28, 0, 0, 0), utc(2100, 3, 1, 0, 0, 0));

    /* day of month OR day of week when both are restricted */
    next_is("0 12 15 * sun", utc(2024, 5, 13, 0, 0, 0), utc(2024, 5, 15, 12, 0, 0));
    next_is("0 12 15 * sun", utc(2024, 5, 15, 12, 0, 0), utc(2024, 5, 19, 12, 0, 0));
    next_is("0 12 15 * sun", utc(2024, 5, 26, 12, 0, 0), utc(2024, 6, 2, 12, 0, 0));
    next_is("0 0 13 * 5", utc(2024, 9, 1, 0, 0, 0), utc(2024, 9, 6, 0, 0, 0));
    next_is("0 0 31 2 mon", utc(2024, 1, 31, 0, 0, 0), utc(2024, 2, 5, 0, 0, 0));
    /* ... but AND when either starts with a star, as in Vixie cron: a
     * day-of-month of every-2nd-day with Monday means odd-dated Mondays. */
    next_is("0 0 * * 1", utc(2024, 5, 13, 0, 0, 0), utc(2024, 5, 20, 0, 0, 0));
    next_is("0 0 13 * *", utc(2024, 5, 13, 0, 0, 0), utc(2024, 6, 13, 0, 0, 0));
    next_is("0 0 */2 * 1", utc(2024, 5, 1, 0, 0, 0), utc(2024, 5, 13, 0, 0, 0));
    next_is("0 0 * * 7", utc(2024, 5, 13, 0, 0, 0), utc(2024, 5, 19, 0, 0, 0));
    next_is("0 0 * * fri-sun", utc(2024, 5, 19, 0, 0, 0), utc(2024, 5, 24, 0, 0, 0));

    /* impossible dates */
    next_is("0 0 31 2 *", utc(2024, 1, 1, 0, 0, 0), -1);
    next_is("0 0 30 2 *", utc(2024, 1, 1, 0, 0, 0), -1);
    next_is("0 0 31 4,6,9,11 *", utc(2024, 1, 1, 0, 0, 0), -1);

    /* before 1970 and at the edges of the supported range */
    next_is("0 0 1 1 *", utc(1969, 6, 1, 0, 0, 0), 0);
    next_is("@daily", -1, 0);
    next_is("@daily", utc(9999, 12, 30, 12, 0, 0), utc(9999, 12, 31, 0, 0, 0));
    next_is("@daily", utc(9999, 12, 31, 23, 59, 59) + 1, -1);
    next_is("every 1s", -62167219200LL - 1, -1);
    {
        struct schedule zero;
        memset(&zero, 0, sizeof zero);
        is_int(schedule_next(&zero, 0), -1, "an unparsed (zeroed) schedule never fires");
    }
}

/* A fixed-seed generator so the random specs are the same on every run. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

struct gen_field {
    int low, high;
    const char *const *names;   /* lower-case names, names[0] is value name_base */
    int name_base;
};

static const char *const gen_months[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const gen_days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static const struct gen_field gen_fields[5] = {
    { 0, 59, NULL, 0 }, { 0, 23, NULL, 0 }, { 1, 31, NULL, 0 },
    { 1, 12, gen_months, 1 }, { 0, 7, gen_days, 0 },
};

/* Append value V of field F to BUF, sometimes as a name in a random case.
 * Day 7 may be written "sun" only where that cannot change the meaning
 * (SUN7 set): alone, or as the end of a range that starts after Sunday. */
static void gen_value(const struct gen_field *f, int v, int sun7, char *buf, size_t len) {
    size_t n = strlen(buf);
    int idx = v - f->name_base;

    if (f->names && rnd(3) == 0 && (v != 7 || sun7)) {
        int nnames = f->low == 1 ? 12 : 7;
        const char *name = f->names[idx % nnames];   /* 7 is written "sun" */
        char word[4];

        for (int i = 0; i < 3; i++) {
            word[i] = name[i];
            if (rnd(2)) word[i] = (char)(word[i] - 'a' + 'A');
        }
        word[3] = '\0';
        snprintf(buf + n, len - n, "%s", word);
    } else {
        snprintf(buf + n, len - n, "%d", v);
    }
}

/* Append one random field of kind F to BUF and mark its values in SET. The
 * set is computed here, independently of the parser. Returns 1 if the
 * field text starts with '*'. */
static int gen_field_text(const struct gen_field *f, int dense, char *buf, size_t len, char *set) {
    int items = 1 + (int)rnd(3), star = 0;

    memset(set, 0, 64);
    if (dense && rnd(3) != 0) items = 0;
    if (items == 0) {
        strncat(buf, "*", len - strlen(buf) - 1);
        for (int v = f->low; v <= f->high; v++) set[v] = 1;
        star = 1;
    }
    for (int i = 0; i < items; i++) {
        int form = (int)rnd(6), lo, hi, step = 1, span = f->high - f->low;

        if (i > 0) strncat(buf, ",", len - strlen(buf) - 1);
        if (form == 0) {                        /* star with a step */
            if (i == 0) star = 1;
            lo = f->low;
            hi = f->high;
            step = 1 + (int)rnd((uint32_t)span);
            snprintf(buf + strlen(buf), len - strlen(buf), "*/%d", step);
        } else if (form <= 2) {                 /* single value */
            lo = hi = f->low + (int)rnd((uint32_t)span + 1);
            gen_value(f, lo, 1, buf, len);
        } else {                                /* range, or start/step */
            lo = f->low + (int)rnd((uint32_t)span + 1);
            hi = lo + (int)rnd((uint32_t)(f->high - lo) + 1);
            if (form == 5) {
                hi = f->high;
                step = 1 + (int)rnd((uint32_t)span);
                gen_value(f, lo, 0, buf, len);
                snprintf(buf + strlen(buf), len - strlen(buf), "/%d", step);
            } else {
                gen_value(f, lo, 0, buf, len);
                strncat(buf, "-", len - strlen(buf) - 1);
                gen_value(f, hi, lo > 0, buf, len);
                if (form == 4) {
                    step = 1 + (int)rnd((uint32_t)span);
                    snprintf(buf + strlen(buf), len - strlen(buf), "/%d", step);
                }
            }
        }
        for (int v = lo; v <= hi; v += step) set[v == 7 && f->low == 0 && f->high == 7 ? 0 : v] = 1;
    }
    return star;
}

/* The slow, obvious answer: try each minute in turn with gmtime_r(). */
static long long naive_next(char set[5][64], int dom_star, int dow_star,
                            long long after, long long limit) {
    long long t = (after / 60 + 1) * 60;        /* after is positive here */

    for (; t <= limit; t += 60) {
        time_t tt = (time_t)t;
        struct tm tm;
        int dom_ok, dow_ok, day_ok;

        gmtime_r(&tt, &tm);
        if (!set[0][tm.tm_min] || !set[1][tm.tm_hour] || !set[3][tm.tm_mon + 1]) continue;
        dom_ok = set[2][tm.tm_mday];
        dow_ok = set[4][tm.tm_wday];
        day_ok = dom_star || dow_star ? dom_ok && dow_ok : dom_ok || dow_ok;
        if (day_ok) return t;
    }
    return -1;
}

static void test_random_against_scan(void) {
    const long long window = 400LL * 86400;
    int never = 0;

    for (int n = 0; n < 200; n++) {
        char spec[256] = "", err[256] = "", set[5][64], b1[64], b2[64];
        int stars[5];
        int dense = rnd(4) != 0;        /* most specs mostly stars, so they fire */
        long long after, want, got;
        struct schedule s;

        for (int f = 0; f < 5; f++) {
            if (f > 0) strncat(spec, " ", sizeof spec - strlen(spec) - 1);
            stars[f] = gen_field_text(&gen_fields[f], dense || f == 0, spec, sizeof spec, set[f]);
        }
        after = utc(2000, 1, 1, 0, 0, 0) + (long long)rnd(40u * 365 * 86400);
        if (rnd(4) == 0) after -= after % 60;
        if (schedule_parse(spec, &s, err, sizeof err) != 0) {
            ok(0, "random spec %d '%s' parses: %s", n, spec, err);
            continue;
        }
        want = naive_next(set, stars[2], stars[4], after, after + window);
        got = schedule_next(&s, after);
        if (want == -1) {
            never++;
            if (!ok(got == -1 || got > after + window,
                    "random spec %d '%s' after %lld: nothing within 400 days", n, spec, after))
                printf("# got %s\n", show(got, b1, sizeof b1));
        } else if (!is_int(got, want, "random spec %d '%s' after %lld", n, spec, after)) {
            printf("# after %s want %s\n", show(after, b1, sizeof b1), show(want, b2, sizeof b2));
        }
    }
    printf("# %d of 200 random specs had no fire time within 400 days\n", never);
}

/* Found by fuzz/fuzz_schedule.c: near the end of year 9999 the next time
 * could fall in year 10000, though asked from there the answer is -1. */
static void test_no_time_past_9999(void) {
    struct schedule s;
    char err[128];
    schedule_parse("0 1 * * *", &s, err, sizeof(err));
    is_int(schedule_next(&s, 253402300799LL - 3600), -1, "no fire time past 9999-12-31");
    schedule_parse("every 10d", &s, err, sizeof(err));
    is_int(schedule_next(&s, 253402300799LL - 60), -1, "no interval past 9999-12-31 either");
}

int main(void) {
    test_every();
    test_cron_forms();
    test_errors();
    test_boundaries();
    test_random_against_scan();
    test_no_time_past_9999();
    return done_testing();
}
