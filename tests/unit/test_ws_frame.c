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

/* Count the messages. */
static int count_messages(const struct ws_event *ev, void *arg) {
    if (ev->kind == WS_EVENT_MESSAGE) (*(int *)arg)++;
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
    int rc;

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

    /* Each of those fails the connection as a protocol error (1002). */
    ws_decoder_init(&d, 0);
    ws_decoder_feed(&d, masked, sizeof(masked), record, &s, &why);
    is_int(d.fail_code, 1002, "a protocol error closes with 1002");
    ws_decoder_free(&d);

    /* More frames no server may send, as Autobahn's cases 4 and 5 send them. */
    unsigned char frag_ping[8], long_close[200], text_in_text[32], top_bit[16];
    size_t frag_ping_n = server_frame(frag_ping, 0, WS_OP_PING, "p", 1);
    size_t long_close_n = server_frame(long_close, 1, WS_OP_CLOSE, big, 126);
    size_t text_in_text_n = server_frame(text_in_text, 0, WS_OP_TEXT, "one", 3);
    text_in_text_n += server_frame(text_in_text + text_in_text_n, 1, WS_OP_TEXT, "two", 3);
    const unsigned char top[] = { 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1 };
    memcpy(top_bit, top, sizeof(top));
    const unsigned char op11[] = { 0x8B, 0x00 };
    const unsigned char rsv1_cont[] = { 0x01, 0x01, 'a', 0xC0, 0x01, 'b' };
    const struct { const unsigned char *b; size_t n; const char *what; } bad2[] = {
        { frag_ping, frag_ping_n, "a fragmented ping" },
        { long_close, long_close_n, "a 126-byte close" },
        { text_in_text, text_in_text_n, "a new text frame inside a fragmented message" },
        { top_bit, sizeof(top), "a 64-bit length with its top bit set" },
        { op11, sizeof(op11), "control opcode 0xB" },
        { rsv1_cont, sizeof(rsv1_cont), "RSV1 on a continuation frame" },
    };
    for (size_t i = 0; i < sizeof(bad2) / sizeof(bad2[0]); i++) {
        ws_decoder_init(&d, 0);
        memset(&s, 0, sizeof(s));
        rc = 0;
        for (size_t k = 0; k < bad2[i].n && rc == 0; k++) rc = ws_decoder_feed(&d, bad2[i].b + k, 1, record, &s, &why);
        is_int(rc, -1, "%s is refused, even a byte at a time", bad2[i].what);
        is_int(d.fail_code, 1002, "with 1002 (%s)", why ? why : "no reason");
        ws_decoder_free(&d);
    }

    /* A ping with the longest payload a control frame may carry comes out
     * whole; so does a pong nobody asked for. */
    ws_decoder_init(&d, 0);
    memset(&s, 0, sizeof(s));
    char p125[125];
    for (int i = 0; i < 125; i++) p125[i] = (char)('a' + i % 26);
    m = server_frame(buf, 1, WS_OP_PING, p125, 125);
    m += server_frame(buf + m, 1, WS_OP_PONG, "unasked", 7);
    for (size_t i = 0; i < m; i++) ws_decoder_feed(&d, buf + i, 1, record, &s, &why);
    is_int(s.n, 2, "a 125-byte ping and a pong, a byte at a time");
    is_int(s.kind[0], WS_EVENT_PING, "the ping");
    is_int((int)s.len[0], 125, "all 125 bytes of it");
    ok(memcmp(s.text[0], p125, 125) == 0, "byte for byte");
    is_int(s.kind[1], WS_EVENT_PONG, "the unsolicited pong is an event, not an error");

    /* Zero-length fragments, a ping and a pong between them, and a 16-bit
     * length: one message, whatever the reads. */
    char mid[300];
    memset(mid, 'm', sizeof(mid));
    m = server_frame(buf, 0, WS_OP_TEXT, "", 0);
    m += server_frame(buf + m, 0, WS_OP_CONTINUATION, "ab", 2);
    m += server_frame(buf + m, 1, WS_OP_PING, "", 0);
    m += server_frame(buf + m, 0, WS_OP_CONTINUATION, "", 0);
    m += server_frame(buf + m, 1, WS_OP_PONG, "x", 1);
    m += server_frame(buf + m, 0, WS_OP_CONTINUATION, mid, 300);
    m += server_frame(buf + m, 1, WS_OP_CONTINUATION, "", 0);
    for (size_t step = 1; step <= m; step = step * 3 + 1) {
        memset(&s, 0, sizeof(s));
        for (size_t i = 0; i < m; i += step) ws_decoder_feed(&d, buf + i, m - i < step ? m - i : step, record, &s, &why);
        is_int(s.n, 3, "read %zu bytes at a time: a ping, a pong, a message", step);
        is_int(s.kind[2], WS_EVENT_MESSAGE, "the message last");
        is_int((int)s.len[2], 302, "2 + 300 bytes, the empty fragments adding nothing");
    }
    memset(&s, 0, sizeof(s));
    m = server_frame(buf, 0, WS_OP_TEXT, "", 0);
    m += server_frame(buf + m, 1, WS_OP_CONTINUATION, "", 0);
    ws_decoder_feed(&d, buf, m, record, &s, &why);
    ok(s.n == 1 && s.kind[0] == WS_EVENT_MESSAGE && s.len[0] == 0, "a message of empty fragments is an empty message");
    ws_decoder_free(&d);

    /* Two hundred small frames in one read are two hundred messages. */
    ws_decoder_init(&d, 0);
    m = 0;
    for (int i = 0; i < 200; i++) m += server_frame(buf + m, 1, WS_OP_TEXT, "{\"n\":1}", 7);
    int count = 0;
    is_int(ws_decoder_feed(&d, buf, m, count_messages, &count, &why), 0, "200 frames in one read");
    is_int(count, 200, "are 200 messages");
    ws_decoder_free(&d);

    /* Text must be UTF-8: a bad byte in a one-frame message, in a
     * fragment, or in a close reason fails the connection with 1007; a
     * character split between fragments is fine, and binary is not text. */
    const char *bad_text[] = { "caf\xc3", "\xff", "\xed\xa0\x80", "\xc0\xaf" };
    for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
        ws_decoder_init(&d, 0);
        memset(&s, 0, sizeof(s));
        m = server_frame(buf, 1, WS_OP_TEXT, bad_text[i], strlen(bad_text[i]));
        is_int(ws_decoder_feed(&d, buf, m, record, &s, &why), -1, "text %zu that is not UTF-8 is refused in one read", i);
        is_int(d.fail_code, 1007, "with 1007");
        is_int(s.n, 0, "and never handed out");
        ws_decoder_free(&d);
    }
    ws_decoder_init(&d, 0);
    memset(&s, 0, sizeof(s));
    m = server_frame(buf, 0, WS_OP_TEXT, "ok ", 3);
    m += server_frame(buf + m, 1, WS_OP_CONTINUATION, "\xfe", 1);
    rc = 0;
    for (size_t i = 0; i < m && rc == 0; i++) rc = ws_decoder_feed(&d, buf + i, 1, record, &s, &why);
    ok(rc == -1 && d.fail_code == 1007 && s.n == 0, "a bad fragment, a byte at a time, fails with 1007 too");
    ws_decoder_free(&d);
    ws_decoder_init(&d, 0);
    memset(&s, 0, sizeof(s));
    m = server_frame(buf, 0, WS_OP_TEXT, "caf\xc3", 4);
    m += server_frame(buf + m, 1, WS_OP_CONTINUATION, "\xa9!", 2);
    m += server_frame(buf + m, 1, WS_OP_BINARY, "\xff\xfe", 2);
    is_int(ws_decoder_feed(&d, buf, m, record, &s, &why), 0, "an e-acute split between fragments, then binary bytes");
    is_str(s.text[0], "caf\xc3\xa9!", "the text is whole");
    is_int(s.binary[1], 1, "the binary message is not checked as text");
    memset(&s, 0, sizeof(s));
    m = server_frame(buf, 1, WS_OP_CLOSE, "\x03\xe8\xff", 3);
    ok(ws_decoder_feed(&d, buf, m, record, &s, &why) == -1 && d.fail_code == 1007, "a close reason that is not UTF-8: 1007");
    ws_decoder_free(&d);

    /* Close codes: what RFC 6455 7.4 lets a peer send comes out; the rest
     * (1005 and 1006 are never on the wire) is a protocol error. */
    const int good_codes[] = { 1000, 1001, 1011, 1012, 3000, 4004, 4999 };
    const int bad_codes[] = { 0, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000, 65535 };
    for (size_t i = 0; i < sizeof(good_codes) / sizeof(good_codes[0]); i++) {
        unsigned char c[2] = { (unsigned char)(good_codes[i] >> 8), (unsigned char)good_codes[i] };
        ws_decoder_init(&d, 0);
        memset(&s, 0, sizeof(s));
        m = server_frame(buf, 1, WS_OP_CLOSE, (const char *)c, 2);
        ws_decoder_feed(&d, buf, m, record, &s, &why);
        ok(s.n == 1 && s.code[0] == good_codes[i], "close code %d is read", good_codes[i]);
        ws_decoder_free(&d);
    }
    for (size_t i = 0; i < sizeof(bad_codes) / sizeof(bad_codes[0]); i++) {
        unsigned char c[2] = { (unsigned char)(bad_codes[i] >> 8), (unsigned char)bad_codes[i] };
        ws_decoder_init(&d, 0);
        memset(&s, 0, sizeof(s));
        m = server_frame(buf, 1, WS_OP_CLOSE, (const char *)c, 2);
        rc = ws_decoder_feed(&d, buf, m, record, &s, &why);
        ok(rc == -1 && d.fail_code == 1002 && s.n == 0, "close code %d is a protocol error", bad_codes[i]);
        ws_decoder_free(&d);
    }
    ws_decoder_init(&d, 0);
    memset(&s, 0, sizeof(s));
    m = server_frame(buf, 1, WS_OP_CLOSE, "", 0);
    ws_decoder_feed(&d, buf, m, record, &s, &why);
    ok(s.n == 1 && s.code[0] == 1005, "an empty close reads as 1005, no code given");
    ws_decoder_free(&d);

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
