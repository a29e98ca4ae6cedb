/* test_sse.c - unit tests for src/sse.c: sample streams fed whole, byte by
 * byte, and split in two and in three at every possible point. */
#include <stdlib.h>
#include <string.h>
#include "lib/sse.h"
#include "tap.h"

/* Events seen so far, as "name|data;" in order. */
struct seen {
    char out[4096];
    size_t len;
    int stop_after;                /* stop (return 7) after this many events; 0: never */
    int count;
};

static int on_event(const char *event, const char *data, size_t len, void *ud) {
    struct seen *s = ud;
    if (strlen(data) != len) return 99;                 /* data must be NUL-terminated at len */
    s->len += (size_t)snprintf(s->out + s->len, sizeof(s->out) - s->len, "%s|%.*s;", event, (int)len, data);
    s->count++;
    return s->stop_after && s->count >= s->stop_after ? 7 : 0;
}

/* Feed STREAM in the pieces the cut points say; return the feed result. */
static int run(const char *stream, size_t n, const size_t *cuts, int ncuts, struct seen *s, int *pending) {
    struct sse_parser p;
    sse_init(&p, 256, on_event, s);
    size_t at = 0;
    int rc = 0;
    for (int i = 0; i <= ncuts && !rc; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        rc = sse_feed(&p, stream + at, end - at);
        at = end;
    }
    if (pending) *pending = sse_pending(&p);
    sse_free(&p);
    return rc;
}

/* Every way of cutting STREAM into one, two or three pieces, and byte by
 * byte, must give the same events. */
static void every_split(const char *name, const char *stream, size_t n, const char *expected, int exp_pending) {
    int bad = 0, cases = 0;
    char first_bad[256] = "";
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            size_t cuts[2] = { a, b };
            struct seen s = { .len = 0 };
            int pending;
            int rc = run(stream, n, cuts, 2, &s, &pending);
            cases++;
            if (rc || strcmp(s.out, expected) || pending != exp_pending) {
                if (!bad++) snprintf(first_bad, sizeof(first_bad), "cut at %zu,%zu: rc %d got '%.150s'", a, b, rc, s.out);
            }
        }
    }
    size_t bytes[4096];
    for (size_t i = 0; i < n && i < 4096; i++) bytes[i] = i;
    struct seen s = { .len = 0 };
    int pending;
    int rc = run(stream, n, bytes, (int)n, &s, &pending);
    if (rc || strcmp(s.out, expected) || pending != exp_pending) {
        if (!bad++) snprintf(first_bad, sizeof(first_bad), "byte by byte: rc %d got '%.150s'", rc, s.out);
    }
    ok(bad == 0, "%s: %d splits give the same events%s%s", name, cases + 1, bad ? " - first failure " : "", first_bad);
}

#define SPLIT(name, stream, expected, pending) every_split(name, stream, sizeof(stream) - 1, expected, pending)

int main(void) {
    SPLIT("OpenAI chunks and [DONE]",
          "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n",
          "message|{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]};message|[DONE];", 0);
    SPLIT("CRLF endings, UTF-8 split anywhere",
          "data: h\xC3\xA9llo \xF0\x9F\x98\x80\r\n\r\ndata: \xE4\xB8\xAD\r\n\r\n",
          "message|h\xC3\xA9llo \xF0\x9F\x98\x80;message|\xE4\xB8\xAD;", 0);
    SPLIT("bare CR endings", "data: a\r\rdata: b\r\r", "message|a;message|b;", 0);
    SPLIT("mixed endings", "data: a\r\n\ndata: b\n\r\ndata: c\r\r\n", "message|a;message|b;message|c;", 0);
    SPLIT("multi-line data joined by newlines", "data: one\ndata: two\ndata:\ndata: four\n\n", "message|one\ntwo\n\nfour;", 0);
    SPLIT("event names, comments and pings (Anthropic)",
          ": hello\nevent: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n"
          ":keepalive\n\nevent: message_stop\ndata: {}\n\n",
          "message_start|{\"type\":\"message_start\"};ping|{\"type\": \"ping\"};message_stop|{};", 0);
    SPLIT("no space after the colon, colons in the value", "data:a:b: c\n\n", "message|a:b: c;", 0);
    SPLIT("only one space is stripped", "data:  two\n\n", "message| two;", 0);
    SPLIT("a data field without a colon is empty data", "data\n\n", "message|;", 0);
    SPLIT("id, retry and unknown fields are ignored", "id: 5\nretry: 100\nfoo: bar\ndata: x\n\n", "message|x;", 0);
    SPLIT("an event with no data is not dispatched", "event: lonely\n\ndata: y\n\n", "message|y;", 0);
    SPLIT("the event name resets after each event", "event: a\ndata: 1\n\ndata: 2\n\n", "a|1;message|2;", 0);
    SPLIT("a leading BOM is dropped", "\xEF\xBB\xBF" "data: bom\n\n", "message|bom;", 0);
    SPLIT("a partial BOM is text", "\xEF\xBB" "data: x\n\n", "", 0);
    SPLIT("an unfinished last event is dropped and reported", "data: done\n\ndata: cut", "message|done;", 1);
    SPLIT("a finished line without its blank line is pending", "data: a\n\ndata: b\n", "message|a;", 1);

    /* The cap: a long line is refused, whichever way it arrives. */
    char long_line[600];
    memset(long_line, 'x', sizeof(long_line));
    memcpy(long_line, "data: ", 6);
    struct sse_parser p;
    struct seen s = { .len = 0 };
    sse_init(&p, 256, on_event, &s);
    int rc = 0;
    for (size_t i = 0; i < sizeof(long_line) && !rc; i += 7) rc = sse_feed(&p, long_line + i, i + 7 <= sizeof(long_line) ? 7 : sizeof(long_line) - i);
    is_int(rc, SSE_ERR_LINE, "a line over the cap is an error, even fed in pieces");
    sse_free(&p);
    sse_init(&p, 256, on_event, &s);
    const char *line = "data: 0123456789012345678901234567890123456789012345678901234567890123456789\n";
    rc = 0;
    for (int i = 0; i < 10 && !rc; i++) rc = sse_feed(&p, line, strlen(line));
    is_int(rc, SSE_ERR_LINE, "an event's data over the cap is an error, though each line is short");
    sse_free(&p);

    /* Found by fuzz/fuzz_sse.c: the buffer doubles (256, 512), and once it
     * had grown the cap was no longer checked, so a 400-byte line passed a
     * 300-byte cap when it came in pieces but not when it came whole. */
    char mid_line[400];
    memset(mid_line, 'y', sizeof(mid_line));
    memcpy(mid_line, "data: ", 6);
    sse_init(&p, 300, on_event, &s);
    rc = 0;
    for (size_t i = 0; i < sizeof(mid_line) && !rc; i += 7) rc = sse_feed(&p, mid_line + i, i + 7 <= sizeof(mid_line) ? 7 : sizeof(mid_line) - i);
    is_int(rc, SSE_ERR_LINE, "a line over the cap is refused in pieces after the buffer grew past the cap");
    sse_free(&p);
    sse_init(&p, 300, on_event, &s);
    is_int(sse_feed(&p, mid_line, sizeof(mid_line)), SSE_ERR_LINE, "and whole, the same");
    sse_free(&p);

    /* A callback that stops: its value comes back and nothing more is parsed. */
    struct seen st = { .len = 0, .stop_after = 1 };
    sse_init(&p, 256, on_event, &st);
    rc = sse_feed(&p, "data: 1\n\ndata: 2\n\n", 18);
    is_int(rc, 7, "a callback's stop value is returned");
    is_str(st.out, "message|1;", "no event after the stop");
    sse_free(&p);
    return done_testing();
}
