/* ndjson.c - the newline-delimited JSON splitter (see ndjson.h). */
#include <stdlib.h>
#include <string.h>
#include "lib/ndjson.h"
#include "lib/xalloc.h"

void ndjson_init(struct ndjson_splitter *s, size_t max_line, ndjson_line_fn *cb, void *ud) {
    memset(s, 0, sizeof(*s));
    s->max_line = max_line ? max_line : 65536;
    s->cb = cb;
    s->ud = ud;
}

void ndjson_free(struct ndjson_splitter *s) {
    free(s->line);
    s->line = NULL;
}

/* Is this only spaces, tabs and carriage returns? */
static int blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

size_t ndjson_pending(const struct ndjson_splitter *s) {
    return blank(s->line, s->len) ? 0 : s->len;
}

/* Append to the line, within the cap. */
static int append(struct ndjson_splitter *s, const char *p, size_t n) {
    if (s->len + n > s->max_line + 1) return NDJSON_ERR_LINE;   /* + 1: a "\r" before the "\n" */
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1) cap *= 2;
        char *b = xrealloc(s->line, cap);
        if (!b) return NDJSON_ERR_NOMEM;
        s->line = b;
        s->cap = cap;
    }
    memcpy(s->line + s->len, p, n);
    s->len += n;
    return 0;
}

/* A "\n" ended the line: hand it out unless it is blank. */
static int emit(struct ndjson_splitter *s) {
    size_t n = s->len;
    s->len = 0;
    if (n > 0 && s->line[n - 1] == '\r') n--;
    if (n > s->max_line) return NDJSON_ERR_LINE;
    if (blank(s->line, n)) return 0;
    s->line[n] = '\0';
    return s->cb(s->line, n, s->ud);
}

int ndjson_feed(struct ndjson_splitter *s, const char *buf, size_t len) {
    while (len > 0) {
        const char *nl = memchr(buf, '\n', len);
        size_t n = nl ? (size_t)(nl - buf) : len;
        /* The "\r" of a "\r\n" may end one feed; it is dropped with the "\n". */
        int rc = append(s, buf, n);
        if (rc) return rc;
        if (!nl) break;
        rc = emit(s);
        if (rc) return rc;
        buf += n + 1;
        len -= n + 1;
    }
    return 0;
}
