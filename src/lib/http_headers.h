/* http_headers.h - reading the response headers that say when to retry.
 *
 * Providers announce a wait in several ways: Retry-After (seconds or an
 * HTTP date), retry-after-ms, OpenAI's x-ratelimit-reset-requests and
 * x-ratelimit-reset-tokens (durations such as "1s", "6m0s", "250ms") and
 * Anthropic's anthropic-ratelimit-*-reset (RFC 3339 times). */
#ifndef CHORUS_HTTP_HEADERS_H
#define CHORUS_HTTP_HEADERS_H
#include <stddef.h>
#include <time.h>

/* What the headers of one response said about waiting, in ms; -1 if silent. */
struct retry_hints {
    long retry_after_ms;       /* Retry-After or retry-after-ms: the server's own word */
    long reset_ms;             /* the latest of the rate-limit reset headers */
};

void retry_hints_init(struct retry_hints *h);
/* Read one header line ("Name: value\r\n"); NOW is the wall clock for dates. */
void retry_hints_header(struct retry_hints *h, const char *line, size_t len, time_t now);
/* The wait to honour: the explicit one when given, else the reset; -1 if none. */
long retry_hints_ms(const struct retry_hints *h);

/* A Go-style duration ("1s", "6m0s", "1h2m3.5s", "250ms", "20us") in ms,
 * rounded up; a bare number is seconds. -1 if it is not one. */
long http_duration_ms(const char *s, size_t len);
/* An RFC 3339 time ("2024-05-01T12:00:30Z", fraction and offset allowed)
 * as ms after NOW (0 if already past); -1 if it is not one. */
long http_rfc3339_ms(const char *s, size_t len, time_t now);
#endif
