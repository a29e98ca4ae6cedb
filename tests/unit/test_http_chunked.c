/* test_http_chunked.c - unit tests for src/lib/http_chunked.c: bodies as
 * proxies send them (RFC 9112 section 7.1), fed whole and a byte at a
 * time, and framings that must be refused. */
#include <string.h>
#include "lib/http_chunked.h"
#include "tap.h"

struct sink {
    char buf[256];
    size_t len;
    size_t limit;
};

static int collect(void *arg, const char *data, size_t len) {
    struct sink *s = arg;
    if (s->len + len > s->limit || s->len + len > sizeof(s->buf)) return -1;
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return 0;
}

/* Decode WIRE in pieces of STEP bytes (0: whole); the body lands in S.
 * Returns the last status and sets *USED to the bytes read in all. */
static int decode(const char *wire, size_t step, struct sink *s, size_t *used) {
    struct chunked c;
    size_t len = strlen(wire), at = 0;
    int st = CHUNKED_MORE;
    chunked_init(&c);
    memset(s->buf, 0, sizeof(s->buf));
    s->len = 0;
    if (!s->limit) s->limit = sizeof(s->buf);
    while (at < len && st == CHUNKED_MORE) {
        size_t n = step && step < len - at ? step : len - at, u = 0;
        st = chunked_feed(&c, wire + at, n, &u, collect, s);
        at += u;
    }
    *used = at;
    return st;
}

/* A whole body and the same body a byte at a time give the same result. */
static void good(const char *wire, const char *body, const char *what) {
    struct sink s = { .limit = 0 };
    size_t used;
    for (size_t step = 0; step < 2; step++) {
        int st = decode(wire, step, &s, &used);
        is_int(st, CHUNKED_DONE, "%s (%s): ends", what, step ? "a byte at a time" : "whole");
        is_str(s.buf, body, "%s (%s): body", what, step ? "a byte at a time" : "whole");
    }
}

static void bad(const char *wire, const char *what) {
    struct sink s = { .limit = 0 };
    size_t used;
    is_int(decode(wire, 0, &s, &used), CHUNKED_BAD, "refused: %s", what);
    is_int(decode(wire, 1, &s, &used), CHUNKED_BAD, "refused a byte at a time: %s", what);
}

int main(void) {
    good("7\r\n{\"a\":1}\r\n0\r\n\r\n", "{\"a\":1}", "one chunk");
    good("3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n", "{\"a\":1}", "two chunks");
    good("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij", "hex sizes in either case");
    good("0007\r\n{\"b\":2}\r\n000\r\n\r\n", "{\"b\":2}", "leading zeros");
    good("7;name=value;x\r\n{\"c\":3}\r\n0;last\r\n\r\n", "{\"c\":3}", "chunk extensions are passed over");
    good("7 ; q=\"quoted\"\r\n{\"d\":4}\r\n0\r\n\r\n", "{\"d\":4}", "whitespace before an extension");
    good("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n", "hello", "a trailer section is passed over");
    good("0\r\n\r\n", "", "an empty body");

    struct sink s = { .limit = 0 };
    size_t used;
    const char *piped = "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    is_int(decode(piped, 0, &s, &used), CHUNKED_DONE, "a body followed by the next request ends");
    is_int((long long)used, 12, "and only its own bytes are read");

    is_int(decode("5\r\nhel", 0, &s, &used), CHUNKED_MORE, "a body cut short wants more");
    is_int((long long)used, 6, "having read all it was given");

    bad("\r\n", "no size");
    bad("x\r\nhello\r\n0\r\n\r\n", "a size that is not hex");
    bad("-5\r\nhello\r\n0\r\n\r\n", "a negative size");
    bad("5\nhello\r\n0\r\n\r\n", "a size line ended by a lone LF");
    bad("5\r\nhelloX\r\n0\r\n\r\n", "data longer than its size");
    bad("5\r\nhello\n0\r\n\r\n", "data ended by a lone LF");
    bad("5;ext\nhello\r\n0\r\n\r\n", "an extension ended by a lone LF");
    bad("10000000000000000\r\n", "a size past 64 bits");
    bad("0\r\nX-A: 1\n\r\n", "a trailer ended by a lone LF");
    bad("0\r\n\rX", "a final CR without LF");

    char longline[6000];
    memset(longline, ';', sizeof(longline) - 1);
    longline[0] = '1';
    longline[sizeof(longline) - 1] = '\0';
    bad(longline, "a size line of endless extensions");

    s.limit = 8;
    is_int(decode("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 0, &s, &used), CHUNKED_REFUSED,
           "a body its reader refuses as too large stops");
    is_str(s.buf, "hello", "after the part that fit");
    s.limit = 0;

    struct chunked c;
    chunked_init(&c);
    is_int(chunked_feed(&c, "zz", 2, NULL, collect, &s), CHUNKED_BAD, "a failed decoder");
    is_int(chunked_feed(&c, "0\r\n\r\n", 5, NULL, collect, &s), CHUNKED_BAD, "stays failed");
    return done_testing();
}
