/* fuzz_sse.c - server-sent event streams from model APIs (lib/sse.c).
 * The same bytes fed whole and fed in random pieces must give the same
 * events, each within the line cap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/sse.h"
#include "fuzz_input.h"

struct seen {
    char *log;          /* every event as "name\0data\0" */
    size_t len, cap;
    size_t max_line;
    int stop_at;        /* stop after this many events (0: never) */
    int count;
};

static int on_event(const char *event, const char *data, size_t len, void *ud) {
    struct seen *s = ud;
    size_t el = strlen(event);
    if (data[len] != '\0') abort();
    if (len > s->max_line * 2 + 16 && len > 1 << 20) abort();
    if (s->len + el + len + 2 > s->cap) {
        s->cap = (s->len + el + len + 2) * 2;
        s->log = realloc(s->log, s->cap);
        if (!s->log) abort();
    }
    memcpy(s->log + s->len, event, el + 1);
    s->len += el + 1;
    memcpy(s->log + s->len, data, len);
    s->log[s->len + len] = '\0';
    s->len += len + 1;
    s->count++;
    return s->stop_at && s->count == s->stop_at ? 7 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    size_t max_line = 1 + fuzz_byte(&in) * 4;
    unsigned seed = fuzz_byte(&in);
    int stop_at = (int)(fuzz_byte(&in) % 8);
    size_t len;
    const char *buf = (const char *)fuzz_rest(&in, &len);

    struct seen whole = { .max_line = max_line, .stop_at = stop_at }, parts = whole;
    struct sse_parser p;
    sse_init(&p, max_line, on_event, &whole);
    int rc1 = sse_feed(&p, buf, len);
    int pend1 = rc1 == 0 ? sse_pending(&p) : -1;
    sse_free(&p);

    sse_init(&p, max_line, on_event, &parts);
    int rc2 = 0;
    for (size_t i = 0; i < len && rc2 == 0;) {
        size_t n = 1 + (seed * 31 + i * 7) % 13;
        if (n > len - i) n = len - i;
        rc2 = sse_feed(&p, buf + i, n);
        i += n;
    }
    int pend2 = rc2 == 0 ? sse_pending(&p) : -1;
    sse_free(&p);

    if (rc1 != rc2 || pend1 != pend2 || whole.count != parts.count || whole.len != parts.len ||
        (whole.len && memcmp(whole.log, parts.log, whole.len) != 0)) {
        fprintf(stderr, "whole: rc %d, %d events; in pieces: rc %d, %d events\n", rc1, whole.count, rc2, parts.count);
        abort();
    }
    if (rc1 != 0 && rc1 != SSE_ERR_LINE && rc1 != 7) abort();
    free(whole.log);
    free(parts.log);
    return 0;
}
