/* A websocket client reads what servers send: whole messages in one read,
 * messages split across reads at every byte, fragments with pings between
 * them, oversized messages, and the frames no server may send. */
#include <stdlib.h>
#include <string.h>
#include "lib/ws_frame.h"
#include "tap.h"

struct seen {
    int n;
    int kind[16];
    char text[16][256];
    size_t len[16];
    int code[16];
    int binary[16];
};

/* Record each event. */
static int record(const struct ws_event *ev, void *arg) {
    struct seen *s = arg;
    if (s->n == 16) return 1;
    s->kind[s->n] = ev->kind;
    s->len[s->n] = ev->len;
    s->code[s->n] = ev->close_code;
    s->binary[s->n] = ev->binary;
    if (ev->data && ev->len < 256) memcpy(s->text[s->n], ev->data, ev->len);
    s->n++;
    return 0;
}

/* An unmasked server frame of OPCODE (FIN per FIN) carrying LEN bytes of DATA. */
static size_t server_frame(unsigned char *out, int fin, int opcode, const char *data, size_t len) {
    size_t n = 0;
    out[n++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        out[n++] = (unsigned char)len;
    } else if (len <= 0xffff) {
        out[n++] = 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = 127;
        for (int i = 7; i >= 0; i--) out[n++] = (unsigned char)((unsigned long long)len >> (8 * i));
    }
    memcpy(out + n, data, len);
    return n + len;
}

int main(void) {
    struct ws_decoder d;
    struct seen s;
    const char *why;
    unsigned char buf[300000];

    /* A server sends one small text message. */
    ws_decoder_init(&d, 0);
    memset(&s, 0, sizeof(s));
    size_t n = server_frame(buf, 1, WS_OP_TEXT, "{\"op\":0}", 8);
    is_int(ws_decoder_feed(&d, buf, n, record, &s, &why), 0, "a whole frame reads");
    is_int(s.n, 1, "one message");
    is_int(s.kind[0], WS_EVENT_MESSAGE, "it is a message");
    is_str(s.text[0], "{\"op\":0}", "with its text");

    /* The same bytes arrive one at a time, then two messages in one read. */
    memset(&s, 0, sizeof(s));
    for (size_t i = 0; i < n; i++) ws_decoder_feed(&d, buf + i, 1, record, &s, &why);
    is_int(s.n, 1, "byte by byte, still one message");
    is_str(s.text[0], "{\"op\":0}", "with the same text");
    memset(&s, 0, sizeof(s));
    size_t m = server_frame(buf, 1, WS_OP_TEXT, "first", 5);
    m += server_frame(buf + m, 1, WS_OP_BINARY, "second", 6);
    ws_decoder_feed(&d, buf, m, record, &s, &why);
    is_int(s.n, 2, "two messages in one read");
    is_str(s.text[1], "second", "the second one whole");
    is_int(s.binary[1], 1, "and binary");

    /* A 70,000-byte message (64-bit length) split at odd places. */
    memset(&s, 0, sizeof(s));
    char *big = malloc(70000);
    memset(big, 'x', 70000);
    n = server_frame(buf, 1, WS_OP_TEXT, big, 70000);
    size_t cut[] = { 1, 5, 9, 4000, 4001, 69000, n };
    size_t at = 0;
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        ws_decoder_feed(&d, buf + at, cut[i] - at, record, &s, &why);
        at = cut[i];
    }
    is_int(s.n, 1, "a long message split at odd places is one message");
    is_int((int)s.len[0], 70000, "of its whole length");

    /* Fragments with a ping between them; the ping comes out first. */
    memset(&s, 0, sizeof(s));
    m = server_frame(buf, 0, WS_OP_TEXT, "hel", 3);
    m += server_frame(buf + m, 1, WS_OP_PING, "p", 1);
    m += server_frame(buf + m, 0, WS_OP_CONTINUATION, "lo ", 3);
    m += server_frame(buf + m, 1, WS_OP_CONTINUATION, "world", 5);
    is_int(ws_decoder_feed(&d, buf, m, record, &s, &why), 0, "fragments read");
    is_int(s.n, 2, "a ping and a message");
    is_int(s.kind[0], WS_EVENT_PING, "the ping first");
    is_str(s.text[1], "hello world", "then the message put together");

    /* An empty message and a close with a code and a reason. */
    memset(&s, 0, sizeof(s));
    m = server_frame(buf, 1, WS_OP_TEXT, "", 0);
    m += server_frame(buf + m, 1, WS_OP_CLOSE, "\x0f\xa4" "bye", 5);
    ws_decoder_feed(&d, buf, m, record, &s, &why);
    is_int(s.n, 2, "an empty message and a close");
    is_int((int)s.len[0], 0, "the empty one is empty");
    is_int(s.code[1], 4004, "the close carries its code");
    is_str(s.text[1], "bye", "and its reason");
    ws_decoder_free(&d);

    /* A message over the cap is reported by size and skipped; the next reads. */
    ws_decoder_init(&d, 100);
    memset(&s, 0, sizeof(s));
    m = server_frame(buf, 0, WS_OP_TEXT, big, 80);
    m += server_frame(buf + m, 1, WS_OP_CONTINUATION, big, 80);
    m += server_frame(buf + m, 1, WS_OP_TEXT, "next", 4);
    for (size_t i = 0; i < m; i += 7) ws_decoder_feed(&d, buf + i, m - i < 7 ? m - i : 7, record, &s, &why);
    is_int(s.n, 2, "an oversized message, then the next one");
    is_int(s.kind[0], WS_EVENT_OVERSIZE, "the big one is reported as oversized");
    is_int((int)s.len[0], 160, "with its size");
    is_str(s.text[1], "next", "the next one is read");
    ws_decoder_free(&d);

    /* Frames no server may send are protocol errors. */
    const unsigned char masked[] = { 0x81, 0x81, 1, 2, 3, 4, 'x' };
    const unsigned char rsv[] = { 0xC1, 0x01, 'x' };
    const unsigned char cont[] = { 0x80, 0x01, 'x' };
    const unsigned char bigping[] = { 0x89, 126, 0, 200 };
    const unsigned char op3[] = { 0x83, 0x00 };
    const unsigned char close1[] = { 0x88, 0x01, 3 };
    const struct { const unsigned char *b; size_t n; const char *what; } bad[] = {
        { masked, sizeof(masked), "a masked frame" },
        { rsv, sizeof(rsv), "reserved bits" },
        { cont, sizeof(cont), "a continuation of nothing" },
        { bigping, sizeof(bigping), "a 200-byte ping" },
        { op3, sizeof(op3), "opcode 3" },
        { close1, sizeof(close1), "a one-byte close" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ws_decoder_init(&d, 0);
        memset(&s, 0, sizeof(s));
        is_int(ws_decoder_feed(&d, bad[i].b, bad[i].n, record, &s, &why), -1, "%s is refused", bad[i].what);
        ok(why != NULL, "with a reason (%s)", why ? why : "none");
        ws_decoder_free(&d);
    }

    /* A client frame: masked, and unmasking gives the text back. */
    unsigned char mask[4] = { 0x12, 0x34, 0x56, 0x78 };
    unsigned char frame[200];
    size_t h = ws_frame_header(frame, WS_OP_TEXT, 13, mask);
    is_int((int)h, 6, "a short frame's header is 6 bytes");
    is_int(frame[0], 0x81, "FIN and text");
    is_int(frame[1], 0x80 | 13, "masked, length 13");
    memcpy(frame + h, "hello, world!", 13);
    ws_frame_mask(frame + h, 13, mask);
    ok(memcmp(frame + h, "hello, world!", 13) != 0, "the payload is masked");
    ws_frame_mask(frame + h, 13, mask);
    ok(memcmp(frame + h, "hello, world!", 13) == 0, "masking twice gives it back");
    is_int((int)ws_frame_header(frame, WS_OP_BINARY, 300, mask), 8, "a 300-byte frame has a 16-bit length");
    is_int((int)ws_frame_header(frame, WS_OP_BINARY, 70000, mask), 14, "a 70,000-byte one a 64-bit length");
    free(big);
    return done_testing();
}
