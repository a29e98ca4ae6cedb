/* sse.h - an incremental parser for server-sent events (the
 * text/event-stream format of the WHATWG HTML standard).
 *
 * Bytes go in as they arrive, split anywhere (inside a line, a UTF-8
 * sequence or a "\r\n"); each complete event comes out once, with its
 * name ("message" when none was given) and its data lines joined by "\n".
 * Lines end with "\n", "\r\n" or "\r". Comments (":...") and the id and
 * retry fields are skipped. A line longer than the cap is an error, so a
 * server cannot make us buffer without bound. */
#ifndef CHORUS_SSE_H
#define CHORUS_SSE_H
#include <stddef.h>

/* One event. DATA is NUL-terminated (LEN bytes). Return 0 to go on, or
 * nonzero to stop: sse_feed() then returns that value. */
typedef int sse_event_fn(const char *event, const char *data, size_t len, void *ud);

#define SSE_ERR_LINE (-1)          /* a line (or an event's data) was over the cap */
#define SSE_ERR_NOMEM (-2)

struct sse_parser {
    char *line;                    /* the line so far */
    size_t len, cap;
    char *data;                    /* the event's data lines so far */
    size_t dlen, dcap;
    int has_data;
    char event[64];
    size_t max_line;
    int after_cr;                  /* the last byte was "\r": skip a "\n" */
    int bom_checked;
    sse_event_fn *cb;
    void *ud;
};

void sse_init(struct sse_parser *p, size_t max_line, sse_event_fn *cb, void *ud);
/* Feed bytes. Returns 0, SSE_ERR_*, or what a callback returned to stop. */
int sse_feed(struct sse_parser *p, const char *buf, size_t len);
/* At the end of the stream: 1 if an event was left unfinished (it is
 * dropped, as the standard says), else 0. */
int sse_pending(const struct sse_parser *p);
void sse_free(struct sse_parser *p);
#endif
