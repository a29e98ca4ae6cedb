/* test_http_headers.c - unit tests for src/http_headers.c: durations,
 * RFC 3339 times and which header wins. */
#include <string.h>
#include <time.h>
#include "lib/http_headers.h"
#include "tap.h"

/* Feed header lines (NULL-terminated) and return the wait they give. */
static long hints(time_t now, const char *const *lines) {
    struct retry_hints h;
    retry_hints_init(&h);
    for (; *lines; lines++) retry_hints_header(&h, *lines, strlen(*lines), now);
    return retry_hints_ms(&h);
}

#define D(s) http_duration_ms(s, strlen(s))

int main(void) {
    is_int(D("1s"), 1000, "1s");
    is_int(D("6m0s"), 360000, "6m0s");
    is_int(D("250ms"), 250, "250ms");
    is_int(D("1h2m3.5s"), 3723500, "1h2m3.5s");
    is_int(D("20us"), 1, "20us rounds up to 1 ms");
    is_int(D("0.5"), 500, "a bare number is seconds");
    is_int(D("17ms0s"), 17, "ms then s");
    is_int(D(""), -1, "empty is not a duration");
    is_int(D("soon"), -1, "words are not durations");
    is_int(D("5x"), -1, "an unknown unit is not a duration");
    is_int(D("-1s"), -1, "negative is not a duration");

    time_t now = 1714564800;   /* 2024-05-01T12:00:00Z */
    const char *t = "2024-05-01T12:00:30Z";
    is_int(http_rfc3339_ms(t, strlen(t), now), 30000, "RFC 3339 in UTC");
    t = "2024-05-01T12:00:01.250Z";
    is_int(http_rfc3339_ms(t, strlen(t), now), 1250, "with a fraction");
    t = "2024-05-01T14:00:02+02:00";
    is_int(http_rfc3339_ms(t, strlen(t), now), 2000, "with an offset");
    t = "2024-05-01T11:00:00Z";
    is_int(http_rfc3339_ms(t, strlen(t), now), 0, "a past time is no wait");
    t = "yesterday";
    is_int(http_rfc3339_ms(t, strlen(t), now), -1, "not a time");

    is_int(hints(now, (const char *const[]){ "Content-Type: text/plain\r\n", NULL }), -1, "no hint");
    is_int(hints(now, (const char *const[]){ "Retry-After: 2\r\n", NULL }), 2000, "Retry-After seconds");
    is_int(hints(now, (const char *const[]){ "retry-after: Wed, 01 May 2024 12:00:05 GMT\r\n", NULL }), 5000, "Retry-After date");
    is_int(hints(now, (const char *const[]){ "Retry-After: 2\r\n", "retry-after-ms: 1500\r\n", NULL }), 1500, "retry-after-ms is more precise");
    is_int(hints(now, (const char *const[]){ "retry-after-ms: 1500\r\n", "Retry-After: 2\r\n", NULL }), 1500, "in either order");
    is_int(hints(now, (const char *const[]){ "x-ratelimit-reset-requests: 1s\r\n", "x-ratelimit-reset-tokens: 6m0s\r\n", NULL }), 360000,
           "OpenAI resets: the later one");
    is_int(hints(now, (const char *const[]){ "x-ratelimit-reset-tokens: 250ms\r\n", "Retry-After: 3\r\n", NULL }), 3000,
           "Retry-After wins over resets");
    is_int(hints(now, (const char *const[]){ "anthropic-ratelimit-requests-reset: 2024-05-01T12:00:04Z\r\n",
                                             "anthropic-ratelimit-tokens-reset: 2024-05-01T12:00:02Z\r\n", NULL }), 4000,
           "Anthropic resets: the later one");
    is_int(hints(now, (const char *const[]){ "anthropic-ratelimit-requests-limit: 50\r\n", NULL }), -1, "limits are not resets");
    return done_testing();
}
