/* ws_queue.h - one write queue and one state machine per server-side
 * libwebsockets connection: web chat's, and OneBot's reverse websocket.
 * (Client websockets are io/ws_client.h.)
 *
 * lws allows one write per WRITEABLE callback, so frames wait here with the
 * LWS_PRE headroom lws needs. The queue is capped: a peer that stops reading
 * is closed (and its queue dropped) instead of growing memory, and a close
 * that cannot be written is ended by lws's timeout, so it always completes. */
#ifndef CHORUS_WS_QUEUE_H
#define CHORUS_WS_QUEUE_H
#include <stddef.h>

struct lws;
struct ws_frame;

enum ws_state {
    WS_CONNECTING,   /* handshake in progress (clients) */
    WS_OPEN,         /* frames flow */
    WS_CLOSING,      /* a close frame is due or sent; nothing more is queued */
    WS_CLOSED        /* lws has let go of the socket */
};

struct ws_queue {
    struct lws *wsi;
    enum ws_state state;
    struct ws_frame *head, *tail;
    size_t bytes;            /* payload bytes queued */
    size_t max_bytes;        /* 0: no cap */
    int close_code;          /* the close frame to write once CLOSING */
    int close_drain;         /* write the queued frames before the close */
    int close_sent;
    char close_reason[64];
};

void ws_queue_init(struct ws_queue *q, struct lws *wsi, enum ws_state state, size_t max_bytes);
/* The one way a connection changes state. Returns 0, or -1 (and logs) when
 * the move is not allowed (from CLOSED, or backwards). */
int ws_queue_set_state(struct ws_queue *q, enum ws_state to);
const char *ws_state_name(enum ws_state s);
/* Queue a text frame (URGENT: ahead of the others). Returns 0, or -1 when
 * the connection is not open or the cap is reached; over the cap the queue
 * is dropped and the connection closed with 1008. */
int ws_queue_push(struct ws_queue *q, const void *data, size_t len, int urgent);
/* Close with CODE and REASON: after the queued frames when DRAIN, else at
 * once. A close that cannot be written within TIMEOUT_S seconds is cut. */
void ws_queue_close(struct ws_queue *q, int code, const char *reason, int drain, int timeout_s);
/* Frames waiting (not counting a close). */
int ws_queue_pending(const struct ws_queue *q);
/* Is a close frame the next thing to write? */
int ws_queue_close_due(const struct ws_queue *q);
/* In a WRITEABLE callback: write the close, or the next frame. Returns 0,
 * or -1 when lws should drop the socket. */
int ws_queue_writable(struct ws_queue *q);
/* The socket is gone: free the frames and mark CLOSED. */
void ws_queue_closed(struct ws_queue *q);
#endif
