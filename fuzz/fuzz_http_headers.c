/* fuzz_http_headers.c - response headers from model APIs and Discord:
 * the retry hints (lib/http_headers.c) line by line as curl hands them
 * over, and http_response_header() (io/http_client.c) on the kept block. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "io/http_client.h"
#include "lib/http_headers.h"
#include "fuzz_input.h"

#define MAX_WAIT_MS (86400L * 365 * 1000)

static const char *const names[] = {
    "retry-after", "Retry-After-Ms", "x-ratelimit-reset-after", "x-ratelimit-bucket",
    "x-ratelimit-scope", "content-type", "x", ""
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    time_t now = (time_t)(fuzz_uint(&in, 5) % 8000000000ULL);
    size_t len;
    const char *block = (const char *)fuzz_rest(&in, &len);

    struct retry_hints h;
    retry_hints_init(&h);
    for (size_t i = 0; i < len;) {                     /* one header line at a time */
        const char *nl = memchr(block + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (block + i)) + 1 : len - i;
        /* A copy of exactly N bytes, so ASan sees any read past the line. */
        char *line = malloc(n ? n : 1);
        memcpy(line, block + i, n);
        retry_hints_header(&h, line, n, now);
        long d = http_duration_ms(line, n), t = http_rfc3339_ms(line, n, now);
        if (d < -1 || d > MAX_WAIT_MS || t < -1 || t > MAX_WAIT_MS) abort();
        free(line);
        i += n;
    }
    long ms = retry_hints_ms(&h);
    if (ms < -1 || ms > MAX_WAIT_MS || h.reset_ms < -1 || h.reset_ms > MAX_WAIT_MS) {
        fprintf(stderr, "a wait of %ld ms\n", ms);
        abort();
    }

    char *text = malloc(len + 1);
    memcpy(text, block, len);
    text[len] = '\0';
    struct http_response res = { .headers = text, .retry_after_ms = -1 };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char out[16];
        int n = http_response_header(&res, names[i], out, sizeof(out));
        if (n < -1 || (n >= 0 && strlen(out) > (size_t)n) || (n >= 0 && (size_t)n < sizeof(out) && strlen(out) > (size_t)n))
            abort();
        if (n > (int)len) abort();
    }
    free(text);
    return 0;
}
