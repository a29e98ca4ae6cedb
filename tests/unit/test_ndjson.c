/* test_ndjson.c - unit tests for src/ndjson.c: sample streams fed whole,
 * byte by byte, and split in two and three at every possible point. */
#include <stdlib.h>
#include <string.h>
#include "lib/ndjson.h"
#include "tap.h"

struct seen {
    char out[4096];
    size_t len;
};

static int on_line(const char *line, size_t len, void *ud) {
    struct seen *s = ud;
    if (strlen(line) != len) return 99;
    s->len += (size_t)snprintf(s->out + s->len, sizeof(s->out) - s->len, "%.*s;", (int)len, line);
    return 0;
}

/* Feed STREAM cut at the given points; return the feed result. */
static int run(const char *stream, size_t n, const size_t *cuts, int ncuts, struct seen *s, size_t *pending) {
    struct ndjson_splitter sp;
    ndjson_init(&sp, 128, on_line, s);
    size_t at = 0;
    int rc = 0;
    for (int i = 0; i <= ncuts && !rc; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        rc = ndjson_feed(&sp, stream + at, end - at);
        at = end;
    }
    *pending = ndjson_pending(&sp);
    ndjson_free(&sp);
    return rc;
}

/* Every split into up to three pieces, and byte by byte, gives the same lines. */
static void every_split(const char *name, const char *stream, size_t n, const char *expected, size_t exp_pending) {
    int bad = 0, cases = 0;
    char first_bad[256] = "";
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            size_t cuts[2] = { a, b }, pending;
            struct seen s = { .len = 0 };
            int rc = run(stream, n, cuts, 2, &s, &pending);
            cases++;
            if ((rc || strcmp(s.out, expected) || pending != exp_pending) && !bad++)
                snprintf(first_bad, sizeof(first_bad), "cut at %zu,%zu: rc %d got '%.150s' pending %zu", a, b, rc, s.out, pending);
        }
    }
    size_t bytes[2048], pending;
    for (size_t i = 0; i < n && i < 2048; i++) bytes[i] = i;
    struct seen s = { .len = 0 };
    int rc = run(stream, n, bytes, (int)n, &s, &pending);
    if ((rc || strcmp(s.out, expected) || pending != exp_pending) && !bad++)
        snprintf(first_bad, sizeof(first_bad), "byte by byte: rc %d got '%.150s'", rc, s.out);
    ok(bad == 0, "%s: %d splits give the same lines%s%s", name, cases + 1, bad ? " - first failure " : "", first_bad);
}

#define SPLIT(name, stream, expected, pending) every_split(name, stream, sizeof(stream) - 1, expected, pending)

int main(void) {
    SPLIT("Ollama chat stream",
          "{\"message\":{\"content\":\"Hi\"},\"done\":false}\n{\"done\":true,\"eval_count\":2}\n",
          "{\"message\":{\"content\":\"Hi\"},\"done\":false};{\"done\":true,\"eval_count\":2};", 0);
    SPLIT("CRLF endings", "{\"a\":1}\r\n{\"b\":2}\r\n", "{\"a\":1};{\"b\":2};", 0);
    SPLIT("blank lines are skipped", "\n{\"a\":1}\n\n \r\n{\"b\":2}\n", "{\"a\":1};{\"b\":2};", 0);
    SPLIT("UTF-8 split anywhere", "{\"t\":\"\xC3\xA9\xF0\x9F\x98\x80\"}\n", "{\"t\":\"\xC3\xA9\xF0\x9F\x98\x80\"};", 0);
    SPLIT("an unterminated last line is pending", "{\"a\":1}\n{\"b\":", "{\"a\":1};", 5);
    SPLIT("trailing blanks are not pending", "{\"a\":1}\n  ", "{\"a\":1};", 0);

    char big[300];
    memset(big, 'x', sizeof(big));
    struct ndjson_splitter sp;
    struct seen s = { .len = 0 };
    ndjson_init(&sp, 128, on_line, &s);
    int rc = 0;
    for (size_t i = 0; i < sizeof(big) && !rc; i += 10) rc = ndjson_feed(&sp, big + i, 10);
    is_int(rc, NDJSON_ERR_LINE, "a line over the cap is an error, even fed in pieces");
    ndjson_free(&sp);
    char exact[130];
    memset(exact, 'y', 128);
    exact[128] = '\r';
    exact[129] = '\n';
    ndjson_init(&sp, 128, on_line, &s);
    is_int(ndjson_feed(&sp, exact, 129), 0, "a line of exactly the cap, its \\r in one feed");
    is_int(ndjson_feed(&sp, exact + 129, 1), 0, "and its \\n in the next, is accepted");
    ndjson_free(&sp);
    return done_testing();
}
