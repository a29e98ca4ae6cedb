/* fuzz_http_chunked.c - request bodies sent with Transfer-Encoding: chunked
 * (lib/http_chunked.c), which anyone who can reach the listener writes:
 * fed whole or in pieces, the decoder gives the same answer, reads the same
 * bytes and writes the same body, never longer than what was sent nor
 * over the cap. Input: cap byte (the body limit / 4), seed byte, body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/http_chunked.h"
#include "fuzz_input.h"

struct body {
    char *buf;
    size_t len, cap, limit;
};

static int on_data(void *arg, const char *data, size_t len) {
    struct body *b = arg;
    if (len == 0) abort();
    if (b->len + len > b->limit) return -1;
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->buf = realloc(b->buf, b->cap);
        if (!b->buf) abort();
    }
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    size_t limit = (size_t)fuzz_byte(&in) * 4;
    unsigned seed = fuzz_byte(&in);
    size_t len;
    const char *buf = (const char *)fuzz_rest(&in, &len);

    struct chunked c;
    struct body whole = { .limit = limit }, parts = whole;
    size_t used1 = 0;
    chunked_init(&c);
    int rc1 = chunked_feed(&c, buf, len, &used1, on_data, &whole);
    if (used1 > len) abort();

    chunked_init(&c);
    int rc2 = CHUNKED_MORE;
    size_t used2 = 0;
    for (size_t i = 0; i < len && rc2 == CHUNKED_MORE;) {
        size_t n = 1 + (seed * 13 + i * 7) % 9, u = 0;
        if (n > len - i) n = len - i;
        rc2 = chunked_feed(&c, buf + i, n, &u, on_data, &parts);
        if (u > n) abort();
        used2 = i + u;
        i += n;
    }

    /* Refused, the pieces may have got further than the whole: a body
     * over the cap is refused, not compared. */
    int same_body = rc1 == CHUNKED_REFUSED ||
                    (whole.len == parts.len && (!whole.len || memcmp(whole.buf, parts.buf, whole.len) == 0));
    if (rc1 != rc2 || !same_body || whole.len > len || parts.len > limit ||
        (rc1 == CHUNKED_DONE && used1 != used2)) {
        fprintf(stderr, "whole: rc %d, %zu read, %zu out; in pieces: rc %d, %zu read, %zu out\n",
                rc1, used1, whole.len, rc2, used2, parts.len);
        abort();
    }
    free(whole.buf);
    free(parts.buf);
    return 0;
}
