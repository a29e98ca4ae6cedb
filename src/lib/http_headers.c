/* http_headers.c - retry waits from response headers (see http_headers.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "lib/http_headers.h"

void retry_hints_init(struct retry_hints *h) {
    h->retry_after_ms = -1;
    h->reset_ms = -1;
}

long retry_hints_ms(const struct retry_hints *h) {
    return h->retry_after_ms >= 0 ? h->retry_after_ms : h->reset_ms;
}

/* Seconds as ms, rounded up, saturating so a silly value cannot overflow. */
static long secs_to_ms(double secs) {
    if (secs < 0 || isnan(secs)) return -1;
    if (secs > 86400.0 * 365) secs = 86400.0 * 365;
    return (long)ceil(secs * 1000.0 - 1e-9);
}

long http_duration_ms(const char *s, size_t len) {
    char tmp[64];
    if (len == 0 || len >= sizeof(tmp)) return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *p = tmp, *end;
    double secs = 0;
    int parts = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.') return -1;
        double v = strtod(p, &end);
        if (end == p) return -1;
        p = end;
        double unit;
        if (!*p) unit = parts ? -1 : 1;                /* a bare number: seconds */
        else if (!strncmp(p, "ms", 2)) unit = 1e-3, p += 2;
        else if (!strncmp(p, "us", 2) || !strncmp(p, "\xC2\xB5s", 3)) unit = 1e-6, p += *p == 'u' ? 2 : 3;
        else if (!strncmp(p, "ns", 2)) unit = 1e-9, p += 2;
        else if (*p == 'h') unit = 3600, p++;
        else if (*p == 'm') unit = 60, p++;
        else if (*p == 's') unit = 1, p++;
        else return -1;
        if (unit < 0) return -1;
        secs += v * unit;
        parts++;
    }
    return parts ? secs_to_ms(secs) : -1;
}

long http_rfc3339_ms(const char *s, size_t len, time_t now) {
    char tmp[64];
    if (len < 19 || len >= sizeof(tmp)) return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    struct tm tm = { 0 };
    const char *p = strptime(tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return -1;
    double frac = 0;
    if (*p == '.') {
        char *end;
        frac = strtod(p, &end);
        p = end;
    }
    long offset = 0;
    if (*p == '+' || *p == '-') {
        int hh, mm;
        if (strlen(p) != 6 || sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return -1;
        offset = (*p == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
        p += 6;
    } else if (*p == 'Z' || *p == 'z') {
        p++;
    }
    if (*p) return -1;
    double at = (double)timegm(&tm) - (double)offset + frac;
    double wait = at - (double)now;
    return secs_to_ms(wait > 0 ? wait : 0);
}

/* Retry-After: delta seconds, or an HTTP date. */
static long retry_after_value(const char *v, size_t len, time_t now) {
    char tmp[64];
    if (len == 0 || len >= sizeof(tmp)) return -1;
    memcpy(tmp, v, len);
    tmp[len] = '\0';
    char *end;
    double secs = strtod(tmp, &end);
    if (end != tmp && !*end) return secs_to_ms(secs);
    struct tm tm = { 0 };
    const char *p = strptime(tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!p || *p) return -1;
    double wait = (double)timegm(&tm) - (double)now;
    return secs_to_ms(wait > 0 ? wait : 0);
}

/* Keep the later of two reset waits: after it, every limit has reset. */
static void take_reset(struct retry_hints *h, long ms) {
    if (ms >= 0 && ms > h->reset_ms) h->reset_ms = ms;
}

void retry_hints_header(struct retry_hints *h, const char *line, size_t len, time_t now) {
    const char *colon = memchr(line, ':', len);
    if (!colon) return;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1, *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t')) v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) e--;
    size_t vlen = (size_t)(e - v);
#define NAME_IS(s) (nlen == sizeof(s) - 1 && !strncasecmp(line, s, nlen))
    if (NAME_IS("retry-after-ms")) {
        char tmp[32], *end;
        if (vlen == 0 || vlen >= sizeof(tmp)) return;
        memcpy(tmp, v, vlen);
        tmp[vlen] = '\0';
        double ms = strtod(tmp, &end);
        if (end != tmp && !*end && ms >= 0) h->retry_after_ms = secs_to_ms(ms / 1000.0);
    } else if (NAME_IS("retry-after")) {
        long ms = retry_after_value(v, vlen, now);
        if (ms >= 0 && h->retry_after_ms < 0) h->retry_after_ms = ms;
    } else if (NAME_IS("x-ratelimit-reset-requests") || NAME_IS("x-ratelimit-reset-tokens")) {
        take_reset(h, http_duration_ms(v, vlen));
    } else if (nlen > 20 && !strncasecmp(line, "anthropic-ratelimit-", 20) && nlen > 26 &&
               !strncasecmp(line + nlen - 6, "-reset", 6)) {
        take_reset(h, http_rfc3339_ms(v, vlen, now));
    }
#undef NAME_IS
}
