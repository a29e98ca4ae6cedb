/* sse.c - the incremental event-stream parser (see sse.h). */
#include <stdlib.h>
#include <string.h>
#include "lib/sse.h"
#include "lib/xalloc.h"

void sse_init(struct sse_parser *p, size_t max_line, sse_event_fn *cb, void *ud) {
    memset(p, 0, sizeof(*p));
    p->max_line = max_line ? max_line : 65536;
    p->cb = cb;
    p->ud = ud;
}

void sse_free(struct sse_parser *p) {
    free(p->line);
    free(p->data);
    p->line = p->data = NULL;
}

int sse_pending(const struct sse_parser *p) {
    return p->len > 0 || p->has_data;
}

/* Grow *buf to hold need bytes; the cap keeps it bounded. The cap is
 * checked first: the buffer doubles, so it may already hold more. */
static int grow(char **buf, size_t *cap, size_t need, size_t max) {
    if (need > max + 2) return SSE_ERR_LINE;
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    char *b = xrealloc(*buf, n);
    if (!b) return SSE_ERR_NOMEM;
    *buf = b;
    *cap = n;
    return 0;
}

/* A blank line: hand out the event, if it has data, and start the next. */
static int dispatch(struct sse_parser *p) {
    int rc = 0;
    if (p->has_data) {
        if (p->dlen > 0 && p->data[p->dlen - 1] == '\n') p->dlen--;   /* the last line's "\n" */
        p->data[p->dlen] = '\0';
        rc = p->cb(p->event[0] ? p->event : "message", p->data, p->dlen, p->ud);
    }
    p->dlen = 0;
    p->has_data = 0;
    p->event[0] = '\0';
    return rc;
}

/* One complete line (without its ending). */
static int process_line(struct sse_parser *p) {
    const char *line = p->line ? p->line : "";
    size_t len = p->len;
    p->len = 0;
    if (len == 0) return dispatch(p);
    if (line[0] == ':') return 0;                              /* a comment */
    const char *colon = memchr(line, ':', len);
    size_t nlen = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    if (colon && value < line + len && *value == ' ') value++;
    size_t vlen = (size_t)(line + len - value);
    if (nlen == 4 && !memcmp(line, "data", 4)) {
        /* The cap bounds the whole event's data too, not just one line. */
        int rc = grow(&p->data, &p->dcap, p->dlen + vlen + 2, p->max_line);
        if (rc) return rc;
        memcpy(p->data + p->dlen, value, vlen);
        p->dlen += vlen;
        p->data[p->dlen++] = '\n';
        p->has_data = 1;
    } else if (nlen == 5 && !memcmp(line, "event", 5)) {
        size_t n = vlen < sizeof(p->event) - 1 ? vlen : sizeof(p->event) - 1;
        memcpy(p->event, value, n);
        p->event[n] = '\0';
    }
    return 0;                                                  /* id, retry, unknown: ignored */
}

int sse_feed(struct sse_parser *p, const char *buf, size_t len) {
    size_t i = 0;
    if (!p->bom_checked && len > 0) {
        /* A leading U+FEFF is dropped; it may come split across feeds. */
        static const char bom[] = "\xEF\xBB\xBF";
        while (i < len && p->len + i < 3 && buf[i] == bom[p->len + i]) i++;
        if (p->len + i < 3 && i == len) {
            int rc = grow(&p->line, &p->cap, p->len + i + 1, p->max_line);
            if (rc) return rc;
            memcpy(p->line + p->len, buf, i);
            p->len += i;
            return 0;
        }
        p->bom_checked = 1;
        if (p->len + i < 3) {          /* not a BOM after all: those bytes are text */
            i = 0;
        } else {
            p->len = 0;
        }
    }
    while (i < len) {
        char ch = buf[i];
        if (p->after_cr) {
            p->after_cr = 0;
            if (ch == '\n') {
                i++;
                continue;
            }
        }
        if (ch == '\r' || ch == '\n') {
            p->after_cr = ch == '\r';
            i++;
            int rc = process_line(p);
            if (rc) return rc;
            continue;
        }
        const char *end = buf + i;
        size_t run = 0;
        while (i + run < len && end[run] != '\r' && end[run] != '\n') run++;
        int rc = grow(&p->line, &p->cap, p->len + run + 1, p->max_line);
        if (rc) return rc;
        memcpy(p->line + p->len, end, run);
        p->len += run;
        i += run;
    }
    return 0;
}
