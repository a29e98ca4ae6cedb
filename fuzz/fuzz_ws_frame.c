/* fuzz_ws_frame.c - websocket frames from a server (lib/ws_frame.c).
 * Input: a cap byte (the largest message kept, in tens of bytes), a seed
 * byte for the cuts, then the bytes a server sent. Fed whole and fed in
 * pieces cut at random places, the decoder must give the same events and
 * the same verdict, and every message must be within the cap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/ws_frame.h"
#include "fuzz_input.h"

struct seen {
    unsigned char *log;   /* every event as kind, binary, code, length, bytes */
    size_t len, cap;
    size_t max_message;
};

static void put(struct seen *s, const void *p, size_t n) {
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2 + 64;
        s->log = realloc(s->log, s->cap);
        if (!s->log) abort();
    }
    memcpy(s->log + s->len, p, n);
    s->len += n;
}

static int on_event(const struct ws_event *ev, void *ud) {
    struct seen *s = ud;
    if (ev->kind == WS_EVENT_MESSAGE && ev->len > s->max_message) abort();
    if ((ev->kind == WS_EVENT_PING || ev->kind == WS_EVENT_PONG) && ev->len > 125) abort();
    int head[3] = { (int)ev->kind, ev->binary, ev->close_code };
    size_t len = ev->len;
    put(s, head, sizeof(head));
    put(s, &len, sizeof(len));
    if (ev->data && ev->kind != WS_EVENT_OVERSIZE) put(s, ev->data, ev->len);
    return 0;
}

/* Feed BUF to a fresh decoder in pieces (CUTS seeds their sizes; 0: whole). */
static int run(const uint8_t *buf, size_t n, size_t max_message, unsigned cuts, struct seen *s) {
    struct ws_decoder d;
    ws_decoder_init(&d, max_message);
    s->max_message = max_message;
    const char *why;
    int rc = 0;
    size_t at = 0;
    unsigned r = cuts * 2654435761u + 1;
    while (at < n && rc == 0) {
        size_t k = n - at;
        if (cuts) {
            r = r * 1103515245u + 12345u;
            k = 1 + (r >> 16) % 37;
            if (k > n - at) k = n - at;
        }
        rc = ws_decoder_feed(&d, buf + at, k, on_event, s, &why);
        if (rc < 0 && !why) abort();
        at += k;
    }
    ws_decoder_free(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    size_t max_message = 1 + fuzz_byte(&in) * 10;
    unsigned cuts = fuzz_byte(&in) | 1;
    struct seen whole = { 0 }, pieces = { 0 };
    int a = run(in.p, in.n, max_message, 0, &whole);
    int b = run(in.p, in.n, max_message, cuts, &pieces);
    if (a != b) abort();
    if (whole.len != pieces.len || (whole.len && memcmp(whole.log, pieces.log, whole.len))) abort();
    free(whole.log);
    free(pieces.log);
    return 0;
}
