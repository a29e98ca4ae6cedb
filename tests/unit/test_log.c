/* test_log.c - unit tests for src/log.c.
 *
 * fd 2 is pointed at a pipe drained by a reader thread, so the test sees
 * exactly the bytes the daemon would write to stderr. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tap.h"
#include "lib/log.h"
#include "lib/redact.h"
#include "lib/utf8.h"

#define SECRET "s3cr3t-token-value"
#define MAX_LINES 30000

/* What the pipe has delivered so far. */
static int saved_stderr = -1, pipe_rd = -1, reading;
static pthread_t reader;
static char *cap_buf;
static size_t cap_len, cap_size;

/* Drain the pipe into cap_buf until every write end is closed. */
static void *reader_main(void *arg) {
    char chunk[8192];
    ssize_t n;

    (void)arg;
    for (;;) {
        n = read(pipe_rd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (cap_len + (size_t)n + 1 > cap_size) {
            size_t size = (cap_len + (size_t)n + 1) * 2;
            char *grown = realloc(cap_buf, size);
            if (grown == NULL) abort();
            cap_buf = grown;
            cap_size = size;
        }
        memcpy(cap_buf + cap_len, chunk, (size_t)n);
        cap_len += (size_t)n;
    }
    return NULL;
}

/* Start draining the pipe (a test may delay this to make the pipe fill). */
static void capture_read(void) {
    if (reading) return;
    if (pthread_create(&reader, NULL, reader_main, NULL) != 0) abort();
    reading = 1;
}

/* Point fd 2 at a fresh pipe. */
static void capture_start(int start_reader) {
    int p[2];

    if (pipe(p) != 0) abort();
    saved_stderr = dup(2);
    if (saved_stderr < 0 || dup2(p[1], 2) < 0) abort();
    close(p[1]);
    pipe_rd = p[0];
    cap_len = 0;
    reading = 0;
    if (start_reader) capture_read();
}

/* Restore fd 2 and return everything captured, NUL-terminated; the caller
 * frees it. */
static char *capture_stop(void) {
    char *out;

    dup2(saved_stderr, 2);            /* closes the last write end: EOF */
    close(saved_stderr);
    capture_read();
    pthread_join(reader, NULL);
    close(pipe_rd);
    out = malloc(cap_len + 1);
    if (out == NULL) abort();
    if (cap_len) memcpy(out, cap_buf, cap_len);
    out[cap_len] = '\0';
    return out;
}

/* Split buf in place at newlines. Returns the number of lines, or -1 if
 * the output does not end with a newline (a torn line). */
static int split_lines(char *buf, char **lines, int max) {
    int n = 0;
    char *p = buf, *nl;

    while (*p) {
        nl = strchr(p, '\n');
        if (nl == NULL || n == max) return -1;
        *nl = '\0';
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

/* 1 if s starts with a UTC timestamp like 2026-11-29T17:53:49.123Z. */
static int is_timestamp(const char *s) {
    const char *pat = "dddd-dd-ddTdd:dd:dd.dddZ";
    int i;

    for (i = 0; pat[i]; i++) {
        if (pat[i] == 'd') {
            if (s[i] < '0' || s[i] > '9') return 0;
        } else if (s[i] != pat[i]) {
            return 0;
        }
    }
    return 1;
}

/* The message of a text-format line if its timestamp, program, pid and
 * level are right, else NULL. */
static const char *text_msg(const char *line, const char *level) {
    char head[64];
    size_t n;

    if (!is_timestamp(line)) return NULL;
    snprintf(head, sizeof head, " chorusd[%d] %s ", (int)getpid(), level);
    n = strlen(head);
    if (strncmp(line + 24, head, n) != 0) return NULL;
    return line + 24 + n;
}

/* What follows the timestamp of a JSON line, or NULL if the line does not
 * start with {"ts":"<timestamp>". */
static const char *json_rest(const char *line) {
    if (strncmp(line, "{\"ts\":\"", 7) != 0 || !is_timestamp(line + 7)) return NULL;
    return line + 7 + 24;
}

/* Check one JSON line's fields after the timestamp. */
static void json_case(const char *line, const char *level, const char *msg, const char *name) {
    char want[512];

    snprintf(want, sizeof want, "\",\"level\":\"%s\",\"pid\":%d,\"msg\":\"%s\"}",
             level, (int)getpid(), msg);
    is_str(line ? json_rest(line) : NULL, want, "json: %s", name);
}

/* Level names from config and command line. */
static void test_parse(void) {
    enum log_level l = LOG_LEVEL_ERROR;

    ok(log_level_parse("debug", &l) == 0 && l == LOG_LEVEL_DEBUG, "parse debug");
    ok(log_level_parse("info", &l) == 0 && l == LOG_LEVEL_INFO, "parse info");
    ok(log_level_parse("warn", &l) == 0 && l == LOG_LEVEL_WARN, "parse warn");
    ok(log_level_parse("warning", &l) == 0 && l == LOG_LEVEL_WARN, "parse warning");
    ok(log_level_parse("error", &l) == 0 && l == LOG_LEVEL_ERROR, "parse error");
    ok(log_level_parse("INFO", &l) == 0 && l == LOG_LEVEL_INFO, "parse is case-insensitive");
    l = LOG_LEVEL_DEBUG;
    is_int(log_level_parse("verbose", &l), -1, "unknown name rejected");
    is_int(l, LOG_LEVEL_DEBUG, "  and *out untouched");
    is_int(log_level_parse("", &l), -1, "empty name rejected");
    is_int(log_level_parse("inf", &l), -1, "prefix rejected");
    is_int(log_level_parse(NULL, &l), -1, "NULL rejected");
}

/* Before log_init lines go straight to stderr. */
static void test_before_init(void) {
    char *out, *lines[8];
    int n;

    log_shutdown();                            /* without init: harmless */
    is_int(log_get_level(), LOG_LEVEL_INFO, "default level is info");
    capture_start(1);
    log_debug("hidden %d", 0);
    log_info("early %d", 1);
    log_error("early %s", "error");
    out = capture_stop();
    n = split_lines(out, lines, 8);
    is_int(n, 2, "before init: two lines, debug filtered");
    if (n == 2) {
        is_str(text_msg(lines[0], "INFO"), "early 1", "before init: info line");
        is_str(text_msg(lines[1], "ERROR"), "early error", "before init: error line");
    }
    free(out);
}

/* Text format through the writer thread: filtering, redaction, escaping. */
static void test_text(void) {
    char *out, *lines[16];
    int n;

    redact_add_secret(SECRET);
    capture_start(1);
    is_int(log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT), 0, "log_init text");
    log_debug("debug is filtered");
    log_info("token is %s", SECRET);
    log_warn("two\nlines\r and \x1b[31m tab\there");
    errno = 42;
    log_error("x-api-key: %s", "abc");
    is_int(errno, 42, "logging preserves errno");
    log_set_level(LOG_LEVEL_ERROR);
    is_int(log_get_level(), LOG_LEVEL_ERROR, "log_set_level");
    log_warn("warn is now filtered");
    log_error("final %s", "line");
    log_set_level((enum log_level)7);
    is_int(log_get_level(), LOG_LEVEL_ERROR, "out-of-range level ignored");
    log_shutdown();
    log_shutdown();                            /* twice: harmless */
    out = capture_stop();

    ok(strstr(out, SECRET) == NULL, "text: secret never written");
    n = split_lines(out, lines, 16);
    is_int(n, 4, "text: one line per event, filtered ones absent");
    if (n == 4) {
        is_str(text_msg(lines[0], "INFO"), "token is ***", "text: info redacted");
        is_str(text_msg(lines[1], "WARN"), "two\\nlines\\r and \\x1b[31m tab\there",
               "text: newline, CR and ESC escaped");
        is_str(text_msg(lines[2], "ERROR"), "x-api-key: ***", "text: header redacted");
        is_str(text_msg(lines[3], "ERROR"), "final line", "text: last line flushed");
    }
    free(out);
}

/* JSON format: escaping and UTF-8 repair. */
static void test_json(void) {
    char *out, *lines[16];
    int n;

    capture_start(1);
    is_int(log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON), 0, "log_init json");
    log_debug("q\" b\\ t\t n\n r\r c\x01\x1f d\x7f /");
    log_info("secret %s", SECRET);
    log_warn("utf8 \xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80");
    log_error("bad \xFF\xC0 utf8 \xE4\xB8");
    log_shutdown();
    out = capture_stop();

    ok(strstr(out, SECRET) == NULL, "json: secret never written");
    n = split_lines(out, lines, 16);
    is_int(n, 4, "json: one line per event");
    if (n == 4) {
        json_case(lines[0], "debug", "q\\\" b\\\\ t\\t n\\n r\\r c\\u0001\\u001f d\x7f /",
                  "quotes, backslash and controls escaped");
        json_case(lines[1], "info", "secret ***", "redacted");
        json_case(lines[2], "warn", "utf8 \xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80",
                  "valid UTF-8 kept as is");
        json_case(lines[3], "error", "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8 \xEF\xBF\xBD",
                  "invalid UTF-8 repaired");
    }
    free(out);
}

/* Messages over 4 KiB: cut on a code point boundary and marked. */
static void test_long(void) {
    char *big = malloc(10001), *out, *lines[8], *want;
    const char *m;
    size_t i;
    int n;

    if (big == NULL || (want = malloc(4200)) == NULL) abort();
    capture_start(1);
    log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);

    memset(big, 'a', 10000);
    big[10000] = '\0';
    log_info("%s", big);

    big[0] = 'b';                              /* b + 3000 x e-acute */
    for (i = 0; i < 3000; i++) memcpy(big + 1 + 2 * i, "\xC3\xA9", 2);
    big[6001] = '\0';
    log_info("%s", big);

    memset(big, 'c', 4090);                    /* secret straddles the cap */
    strcpy(big + 4090, SECRET);
    log_info("%s", big);

    log_shutdown();
    out = capture_stop();
    n = split_lines(out, lines, 8);
    is_int(n, 3, "long: three lines");
    if (n == 3) {
        m = text_msg(lines[0], "INFO");
        is_int(m ? (long long)strlen(m) : -1, 4095, "long: capped at 4095 bytes");
        ok(m && strncmp(m + 4092, "...", 3) == 0 && m[4091] == 'a', "long: ends with ...");

        m = text_msg(lines[1], "INFO");
        is_int(m ? (long long)strlen(m) : -1, 4094, "long UTF-8: cut before a split character");
        ok(m && utf8_valid(m, strlen(m)), "long UTF-8: still valid UTF-8");
        ok(m && strcmp(m + strlen(m) - 5, "\xC3\xA9...") == 0, "long UTF-8: ends with ...");

        memset(want, 'c', 4090);
        strcpy(want + 4090, "***");
        is_str(text_msg(lines[2], "INFO"), want, "long: secret at the cap masked, no prefix");
    }
    ok(strstr(out, "s3cr3t") == NULL, "long: no part of the secret written");
    free(out);
    free(big);
    free(want);
}

/* A stuck stderr: callers keep going, lines are dropped and counted, and
 * every line is either written or counted. */
static void test_drops(void) {
    static char *lines[MAX_LINES];
    char *out;
    unsigned long long dropped = 0, d;
    int i, n, seen = 0, in_order = 1, last = -1, other = 0, num;
    const char *m;

    capture_start(0);                          /* nobody reads: the pipe fills */
    log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
    for (i = 0; i < 20000; i++) log_info("line %d", i);
    ok(1, "drops: 20000 calls returned while stderr was blocked");
    capture_read();
    log_shutdown();
    out = capture_stop();

    n = split_lines(out, lines, MAX_LINES);
    ok(n > 0, "drops: output is whole lines");
    for (i = 0; i < n; i++) {
        if ((m = text_msg(lines[i], "INFO")) != NULL && sscanf(m, "line %d", &num) == 1) {
            if (num <= last) in_order = 0;
            last = num;
            seen++;
        } else if ((m = text_msg(lines[i], "WARN")) != NULL &&
                   sscanf(m, "log: %llu lines dropped", &d) == 1) {
            dropped += d;
        } else {
            other++;
        }
    }
    ok(dropped > 0, "drops: a drop notice was written (%llu dropped)", dropped);
    is_int((long long)(seen + dropped), 20000, "drops: written + dropped = logged");
    ok(in_order, "drops: written lines are in order");
    is_int(other, 0, "drops: no other lines");
    free(out);
}

/* Several threads logging at once: every line arrives whole. */
static void *spam(void *arg) {
    int i, id = *(int *)arg;

    for (i = 0; i < 500; i++) log_info("thread %d line %d padding padding padding", id, i);
    return NULL;
}

/* Concurrency through the queue; the reader keeps up, so nothing drops. */
static void test_threads(void) {
    static char *lines[MAX_LINES];
    pthread_t t[4];
    int ids[4] = { 0, 1, 2, 3 }, next[4] = { 0, 0, 0, 0 };
    int i, n, id, num, bad = 0;
    char *out;
    const char *m;

    capture_start(1);
    log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
    for (i = 0; i < 4; i++) pthread_create(&t[i], NULL, spam, &ids[i]);
    for (i = 0; i < 4; i++) pthread_join(t[i], NULL);
    log_shutdown();
    out = capture_stop();
    n = split_lines(out, lines, MAX_LINES);
    for (i = 0; i < n; i++) {
        m = text_msg(lines[i], "INFO");
        if (m == NULL || sscanf(m, "thread %d line %d", &id, &num) != 2 ||
            id < 0 || id > 3 || num != next[id]++ ||
            strstr(m, " padding padding padding") == NULL)
            bad++;
    }
    is_int(n, 2000, "threads: all 2000 lines arrived");
    is_int(bad, 0, "threads: every line whole and in per-thread order");
    free(out);
}

/* After log_shutdown, logging is synchronous again; init works again. */
static void test_after_shutdown(void) {
    char *out, *lines[8];
    int n;

    capture_start(1);
    log_info("after %s", "shutdown");
    is_int(log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT), 0, "re-init after shutdown");
    log_info("second %s", "run");
    log_shutdown();
    out = capture_stop();
    n = split_lines(out, lines, 8);
    is_int(n, 2, "after shutdown: both lines written");
    if (n == 2) {
        is_str(text_msg(lines[0], "INFO"), "after shutdown", "after shutdown: direct write");
        is_str(text_msg(lines[1], "INFO"), "second run", "after re-init: queued write");
    }
    free(out);
}

/* Run every group; the exit status says whether all passed. */
int main(void) {
    alarm(60);                                 /* a blocked caller fails, not hangs */
    test_parse();
    test_before_init();
    test_text();
    test_json();
    test_long();
    test_drops();
    test_threads();
    test_after_shutdown();
    redact_clear();
    free(cap_buf);
    return done_testing();
}
