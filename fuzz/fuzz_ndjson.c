/* fuzz_ndjson.c - newline-delimited JSON streams from model APIs
 * (lib/ndjson.c): fed whole or in pieces, the same lines come out, each
 * without "\n", none blank, none over the cap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/ndjson.h"
#include "fuzz_input.h"

struct seen {
    char *log;
    size_t len, cap, max_line;
    int count, stop_at;
};

static int on_line(const char *line, size_t len, void *ud) {
    struct seen *s = ud;
    if (line[len] != '\0' || len == 0 || len > s->max_line || memchr(line, '\n', len)) abort();
    if (s->len + len + 1 > s->cap) {
        s->cap = (s->len + len + 1) * 2;
        s->log = realloc(s->log, s->cap);
        if (!s->log) abort();
    }
    memcpy(s->log + s->len, line, len + 1);
    s->len += len + 1;
    s->count++;
    return s->stop_at && s->count == s->stop_at ? 9 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    size_t max_line = 1 + fuzz_byte(&in) * 2;
    unsigned seed = fuzz_byte(&in);
    int stop_at = (int)(fuzz_byte(&in) % 6);
    size_t len;
    const char *buf = (const char *)fuzz_rest(&in, &len);

    struct seen whole = { .max_line = max_line, .stop_at = stop_at }, parts = whole;
    struct ndjson_splitter s;
    ndjson_init(&s, max_line, on_line, &whole);
    int rc1 = ndjson_feed(&s, buf, len);
    size_t pend1 = rc1 == 0 ? ndjson_pending(&s) : 0;
    ndjson_free(&s);

    ndjson_init(&s, max_line, on_line, &parts);
    int rc2 = 0;
    for (size_t i = 0; i < len && rc2 == 0;) {
        size_t n = 1 + (seed * 17 + i * 5) % 11;
        if (n > len - i) n = len - i;
        rc2 = ndjson_feed(&s, buf + i, n);
        i += n;
    }
    size_t pend2 = rc2 == 0 ? ndjson_pending(&s) : 0;
    ndjson_free(&s);

    if (rc1 != rc2 || pend1 != pend2 || whole.count != parts.count || whole.len != parts.len ||
        (whole.len && memcmp(whole.log, parts.log, whole.len) != 0)) {
        fprintf(stderr, "whole: rc %d, %d lines, %zu pending; in pieces: rc %d, %d lines, %zu pending\n",
                rc1, whole.count, pend1, rc2, parts.count, pend2);
        abort();
    }
    free(whole.log);
    free(parts.log);
    return 0;
}
