/* ws_queue.c - write queue and state of one websocket (ws_queue.h). */
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>
#include "io/redis_uv.h"
#include "io/ws_queue.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct ws_frame {
    size_t len;
    struct ws_frame *next;
    unsigned char data[];    /* LWS_PRE bytes of headroom, then the payload */
};

/* lws 4.1 keeps the close opcode out of its public enum ("handled by
 * lws_close_reason"), but lws_close_reason only takes effect when a
 * RECEIVE callback returns -1: from WRITEABLE, -1 drops the socket with no
 * close frame at all. So the frame is written with the opcode lws itself
 * uses for it, and the peer's answering close ends the connection. */
#define WS_WRITE_CLOSE ((enum lws_write_protocol)4)

void ws_queue_init(struct ws_queue *q, struct lws *wsi, enum ws_state state, size_t max_bytes) {
    memset(q, 0, sizeof(*q));
    q->wsi = wsi;
    q->state = state;
    q->max_bytes = max_bytes;
}

const char *ws_state_name(enum ws_state s) {
    switch (s) {
    case WS_CONNECTING: return "connecting";
    case WS_OPEN: return "open";
    case WS_CLOSING: return "closing";
    case WS_CLOSED: return "closed";
    }
    return "?";
}

int ws_queue_set_state(struct ws_queue *q, enum ws_state to) {
    if (q->state == to) return 0;
    if (q->state == WS_CLOSED || to < q->state) {
        log_warn("websocket: refusing the move from %s to %s", ws_state_name(q->state), ws_state_name(to));
        return -1;
    }
    q->state = to;
    return 0;
}

/* Drop every queued frame. */
static void drop_frames(struct ws_queue *q) {
    while (q->head) {
        struct ws_frame *f = q->head;
        q->head = f->next;
        free(f);
    }
    q->tail = NULL;
    q->bytes = 0;
}

/* Write a frame at once, outside lws's WRITEABLE callback: nothing is
 * queued and lws holds nothing back from an earlier write. Asking for
 * writability per frame cost the loop two epoll_ctl calls or more per
 * message (armed, then disarmed). What the socket does not take lws keeps
 * and sends itself (lws_partial_buffered is then set, and later frames
 * queue here, under the cap). 0, or -1 when the connection failed (it is
 * cut on the next loop turn). */
static int write_now(struct ws_queue *q, const void *data, size_t len) {
    /* What this loop turn asked of Redis leaves first: a browser that got
     * this reply and asks (a test, a dashboard) finds it written. */
    redis_uv_flush();
    unsigned char small[LWS_PRE + 2048];
    unsigned char *buf = len <= sizeof(small) - LWS_PRE ? small : xmalloc(LWS_PRE + len);
    memcpy(buf + LWS_PRE, data, len);
    int n = lws_write(q->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    if (buf != small) free(buf);
    if (n < (int)len) {
        lws_set_timeout(q->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        return -1;
    }
    return 0;
}

int ws_queue_push(struct ws_queue *q, const void *data, size_t len, int urgent) {
    if (q->state != WS_OPEN && q->state != WS_CONNECTING) return -1;
    if (!q->head && q->wsi && q->state == WS_OPEN && !lws_partial_buffered(q->wsi)) return write_now(q, data, len);
    if (q->max_bytes && q->bytes + len > q->max_bytes) {
        log_warn("websocket: the peer is not reading (%zu bytes waiting); closing it", q->bytes);
        ws_queue_close(q, 1008, "not reading", 0, 2);
        return -1;
    }
    struct ws_frame *f = xmalloc(sizeof(*f) + LWS_PRE + len);
    f->len = len;
    memcpy(f->data + LWS_PRE, data, len);
    if (urgent) {
        f->next = q->head;
        q->head = f;
        if (!q->tail) q->tail = f;
    } else {
        f->next = NULL;
        if (q->tail) q->tail->next = f;
        else q->head = f;
        q->tail = f;
    }
    q->bytes += len;
    if (q->wsi && q->state == WS_OPEN) lws_callback_on_writable(q->wsi);
    return 0;
}

void ws_queue_close(struct ws_queue *q, int code, const char *reason, int drain, int timeout_s) {
    if (q->state >= WS_CLOSING) return;
    ws_queue_set_state(q, WS_CLOSING);
    q->close_code = code;
    q->close_drain = drain;
    snprintf(q->close_reason, sizeof(q->close_reason), "%s", reason ? reason : "");
    if (!drain) drop_frames(q);
    if (!q->wsi) return;
    /* A peer that never reads never lets the close out: lws cuts it. */
    if (timeout_s > 0) lws_set_timeout(q->wsi, PENDING_TIMEOUT_CLOSE_SEND, timeout_s);
    lws_callback_on_writable(q->wsi);
}

int ws_queue_pending(const struct ws_queue *q) {
    return q->head != NULL;
}

int ws_queue_close_due(const struct ws_queue *q) {
    return q->state == WS_CLOSING && !q->close_sent && (!q->close_drain || !q->head);
}

/* Write the close frame and give the peer a second to answer it. */
static int write_close(struct ws_queue *q) {
    unsigned char buf[LWS_PRE + 2 + sizeof(q->close_reason)];
    size_t n = strlen(q->close_reason);
    buf[LWS_PRE] = (unsigned char)(q->close_code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)(q->close_code & 0xff);
    memcpy(buf + LWS_PRE + 2, q->close_reason, n);
    q->close_sent = 1;
    if (lws_write(q->wsi, buf + LWS_PRE, 2 + n, WS_WRITE_CLOSE) < 0) return -1;
    lws_set_timeout(q->wsi, PENDING_TIMEOUT_CLOSE_ACK, 1);
    return 0;
}

int ws_queue_writable(struct ws_queue *q) {
    if (q->state == WS_CLOSED) return -1;
    if (ws_queue_close_due(q)) return write_close(q);
    if (q->close_sent) return 0;
    struct ws_frame *f = q->head;
    if (!f) return 0;
    if (lws_write(q->wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len) return -1;
    q->head = f->next;
    if (!q->head) q->tail = NULL;
    q->bytes -= f->len;
    free(f);
    if (q->head || ws_queue_close_due(q)) lws_callback_on_writable(q->wsi);
    return 0;
}

void ws_queue_closed(struct ws_queue *q) {
    drop_frames(q);
    q->state = WS_CLOSED;
    q->wsi = NULL;
}
