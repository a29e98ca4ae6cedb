/* tap.h - a tiny TAP producer for the C unit tests.
 *
 * Include it once per test program, call ok()/is_int()/is_str()/is_mem(),
 * and end main() with `return done_testing();`. Results go to stdout so a
 * test may redirect fd 2 freely; the plan line comes last, which TAP
 * allows. */
#ifndef CHORUS_TAP_H
#define CHORUS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

/* Print one result line; shared by every check below. Line breaks and '#'
 * in the description are escaped so the line stays one valid TAP line. */
static void tap_result(int pass, const char *fmt, va_list ap) {
    char desc[512];
    const char *p;

    tap_count++;
    if (!pass) tap_failed++;
    vsnprintf(desc, sizeof desc, fmt, ap);
    printf("%sok %d - ", pass ? "" : "not ", tap_count);
    for (p = desc; *p; p++) {
        if (*p == '\n') printf("\\n");
        else if (*p == '\r') printf("\\r");
        else if (*p == '#') printf("\\#");
        else putchar(*p);
    }
    printf("\n");
    fflush(stdout);
}

/* The basic check: passes when cond is true. Returns cond so a test can
 * skip dependent checks. */
__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...) {
    va_list ap;

    va_start(ap, fmt);
    tap_result(cond != 0, fmt, ap);
    va_end(ap);
    return cond != 0;
}

/* Compare integers and show both values when they differ. */
__attribute__((format(printf, 3, 4), unused))
static int is_int(long long got, long long expected, const char *fmt, ...) {
    va_list ap;
    int pass = got == expected;

    va_start(ap, fmt);
    tap_result(pass, fmt, ap);
    va_end(ap);
    if (!pass) printf("#      got: %lld\n# expected: %lld\n", got, expected);
    return pass;
}

/* Compare C strings (NULL allowed) and show both when they differ. */
__attribute__((format(printf, 3, 4), unused))
static int is_str(const char *got, const char *expected, const char *fmt, ...) {
    va_list ap;
    int pass;

    if (got == NULL || expected == NULL) pass = got == expected;
    else pass = strcmp(got, expected) == 0;
    va_start(ap, fmt);
    tap_result(pass, fmt, ap);
    va_end(ap);
    if (!pass) {
        printf("#      got: %s%s%s\n", got ? "'" : "", got ? got : "NULL", got ? "'" : "");
        printf("# expected: %s%s%s\n", expected ? "'" : "",
               expected ? expected : "NULL", expected ? "'" : "");
    }
    return pass;
}

/* Print bytes in hex for a failed is_mem(). */
__attribute__((unused))
static void tap_hex(const char *label, const void *buf, size_t len) {
    const unsigned char *s = buf;
    size_t i;

    printf("# %s (%zu bytes):", label, len);
    for (i = 0; i < len; i++) printf(" %02X", s[i]);
    printf("\n");
}

/* Compare byte strings exactly (they may hold NUL or invalid UTF-8). */
__attribute__((format(printf, 5, 6), unused))
static int is_mem(const void *got, size_t gotlen, const void *expected, size_t explen,
                  const char *fmt, ...) {
    va_list ap;
    int pass = got != NULL && gotlen == explen && memcmp(got, expected, explen) == 0;

    va_start(ap, fmt);
    tap_result(pass, fmt, ap);
    va_end(ap);
    if (!pass) {
        if (got) tap_hex("     got", got, gotlen);
        else printf("#      got: NULL\n");
        tap_hex("expected", expected, explen);
    }
    return pass;
}

/* Print the plan and return the exit status for main(): 0 only if at
 * least one check ran and none failed. */
__attribute__((unused))
static int done_testing(void) {
    printf("1..%d\n", tap_count);
    if (tap_failed) printf("# failed %d of %d\n", tap_failed, tap_count);
    fflush(stdout);
    return tap_failed || tap_count == 0;
}

#endif
