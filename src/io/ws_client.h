/* ws_client.h - a websocket client connection: the upgrade, frames in and
 * out, pings answered, the close handshake, on libwebsockets' loop.
 *
 * libwebsockets carries the TCP socket (its timeouts, the libuv loop); the
 * rest is ours: the name is resolved off the loop, TLS goes through
 * io/tls_pipe.c (certificate and host name checked; lws 4.1 cannot start
 * a raw client's TLS), and the websocket layer follows RFC 6455, because
 * lws 4.1 parses a client's frames a byte at a time (lib/ws_frame.h). A
 * frame is written as soon as it is sent, not at the next WRITEABLE turn,
 * so a reply costs no poll change; frames wait in a capped queue only
 * while the socket is backed up.
 *
 * Lifetime: lws owns the connection and frees it when the socket is gone.
 * The owner hears `closed` exactly once, unless it abandons the connection
 * first (after which it hears nothing more). */
#ifndef CHORUS_WS_CLIENT_H
#define CHORUS_WS_CLIENT_H
#include <stddef.h>
#include <uv.h>

struct lws_context;
struct ws_client;

struct ws_client_options {
    const char *url;          /* ws://, wss:// (or http://, https://) host[:port]/path?query; the
                                 host is resolved off the loop, wss verifies its certificate */
    uv_loop_t *loop;
    const char *headers;      /* extra request headers, each line ending in \r\n; NULL for none (never logged) */
    size_t max_message;       /* a larger message is skipped and reported as oversized; 0: 16 MB */
    size_t max_queue;         /* bytes waiting on a backed-up socket before the peer counts as not reading; 0: 4 MB */
    int handshake_timeout_s;  /* connect, TLS and upgrade together; 0: 20 s */
    int *live;                /* counts this connection until lws lets go of its socket, or NULL */
    long ping_ms;             /* 0: none; else a ping after this long without a byte from the server,
                                 and the connection is cut after twice that */
};

struct ws_close_info {
    int code;                 /* the close code the peer sent; 1006 when there was no close frame */
    const char *reason;       /* the peer's close reason, or "" */
    unsigned http_status;     /* the upgrade's answer when it was not 101, else 0 */
    const char *error;        /* what went wrong, for the log, or NULL on a clean close */
    int opened;               /* the upgrade had succeeded */
};

struct ws_client_callbacks {
    void (*open)(struct ws_client *wc, void *arg);
    /* A whole message; DATA is NULL when it was larger than max_message
     * (LEN is then its size). */
    void (*message)(struct ws_client *wc, const char *data, size_t len, int binary, void *arg);
    void (*closed)(struct ws_client *wc, const struct ws_close_info *info, void *arg);
};

/* Start connecting (the lookup first). NULL (with ERR) when the URL is
 * not one or the lookup cannot start; the callbacks never run during
 * this call. */
struct ws_client *ws_client_open(struct lws_context *ctx, const struct ws_client_options *opts,
                                 const struct ws_client_callbacks *cb, void *arg, char *err, size_t errlen);
/* Send a text (BINARY 0) or binary message. 0, or -1 when the connection
 * is not open or the peer stopped reading (the connection is then closed
 * with 1008). */
int ws_client_send(struct ws_client *wc, const void *data, size_t len, int binary);
/* Start the close handshake with CODE; the socket is cut if the peer does
 * not answer within a second or two. `closed` still comes. */
void ws_client_close(struct ws_client *wc, int code, const char *reason);
/* The owner is done with WC: close it with CODE (0: just drop the socket)
 * and call nothing back any more. */
void ws_client_abandon(struct ws_client *wc, int code);
/* Is the upgrade done and no close begun? */
int ws_client_is_open(const struct ws_client *wc);
#endif
