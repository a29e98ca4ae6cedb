/* ws_client.c - a websocket client on an lws raw connection (ws_client.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <libwebsockets.h>
#include "io/redis_uv.h"
#include "io/ws_client.h"
#include "io/timer.h"
#include "io/tls_pipe.h"
#include "lib/ws_frame.h"
#include "lib/ws_url.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define VHOST_NAME "chorus-ws-client"
#define HANDSHAKE_MAX 16384
#define STACK_FRAME 4096
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum wc_state {
    WC_CONNECTING,   /* TCP */
    WC_TLS,          /* the TLS handshake */
    WC_UPGRADING,    /* the request is out, the answer not yet in */
    WC_OPEN,
    WC_CLOSING       /* a close frame went out or is due; no more messages */
};

struct out_frame {
    struct out_frame *next;
    size_t len;
    unsigned char data[];     /* LWS_PRE of headroom, then the frame */
};

struct ws_client {
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    struct ws_url url;
    uv_getaddrinfo_t dns;
    struct lws *wsi;
    enum wc_state state;
    struct ws_client_callbacks cb;
    void *arg;
    int opened;
    int abandoned;            /* the owner hears nothing more */
    int reported;             /* `closed` has been called */
    int in_open;              /* inside lws_client_connect_via_info: lws may call back at once */
    int destroyed;            /* lws let go of the socket */
    struct tls_pipe *tls;     /* wss: the TLS session, once the socket is up */
    char *request;            /* the upgrade request, until it is written */
    size_t request_len;
    char accept[32];          /* the Sec-WebSocket-Accept the server must answer */
    int offered_protocol;     /* the owner's headers offer a subprotocol */
    char *hs;                 /* the server's answer, until its blank line */
    size_t hs_len;
    int handshake_timeout_s;
    int *live;
    uv_loop_t *loop;
    uv_timer_t *ping;         /* NULL without ping_ms */
    long ping_ms;
    uint64_t last_rx;         /* loop time of the last byte read */
    struct ws_decoder dec;
    struct out_frame *head, *tail;
    size_t queued, max_queue;
    int corked;               /* inside a read: writes gather in cork, one send at its end */
    unsigned char *cork;
    size_t cork_len, cork_cap;
    int peer_code;
    char peer_reason[124];
    unsigned http_status;
    char error[200];
};

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

static const struct lws_protocols protocols[] = {
    { VHOST_NAME, on_lws, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Random bytes for keys and masks: read from the kernel 256 at a time, so
 * a frame's mask costs no system call and is still unpredictable, as RFC
 * 6455 asks of it. */
static void random_bytes(unsigned char *out, size_t n) {
    static unsigned char pool[256];
    static size_t left;
    while (n) {
        if (left == 0) {
            ssize_t got = getrandom(pool, sizeof(pool), 0);
            if (got != (ssize_t)sizeof(pool)) {
                for (size_t i = 0; i < sizeof(pool); i++) pool[i] ^= (unsigned char)rand();
            }
            left = sizeof(pool);
        }
        size_t k = n < left ? n : left;
        memcpy(out, pool + sizeof(pool) - left, k);
        left -= k;
        out += k;
        n -= k;
    }
}

/* The vhost our connections hang on, made once per context. */
static struct lws_vhost *client_vhost(struct lws_context *ctx) {
    struct lws_vhost *vh = lws_get_vhost_by_name(ctx, VHOST_NAME);
    if (vh) return vh;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.vhost_name = VHOST_NAME;
    /* No lws TLS here (tls_pipe does it), so no client TLS context either:
     * it would load the system's CA bundle for nothing. */
    info.options = LWS_SERVER_OPTION_LIBUV;
    return lws_create_vhost(ctx, &info);
}

/* The upgrade request, and the accept value its answer must carry. */
static void build_request(struct ws_client *wc, const char *headers) {
    unsigned char nonce[16], digest[SHA_DIGEST_LENGTH];
    char key[32], hostport[300], seed[96];
    const struct ws_url *u = &wc->url;
    random_bytes(nonce, sizeof(nonce));
    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
    snprintf(seed, sizeof(seed), "%s%s", key, WS_GUID);
    SHA1((const unsigned char *)seed, strlen(seed), digest);
    EVP_EncodeBlock((unsigned char *)wc->accept, digest, sizeof(digest));
    int v6 = strchr(u->host, ':') != NULL;
    if ((u->tls && u->port == 443) || (!u->tls && u->port == 80))
        snprintf(hostport, sizeof(hostport), v6 ? "[%s]" : "%s", u->host);
    else
        snprintf(hostport, sizeof(hostport), v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
    const char *extra = headers ? headers : "";
    wc->offered_protocol = strcasestr(extra, "sec-websocket-protocol:") != NULL;
    size_t cap = strlen(u->path) + strlen(hostport) + strlen(extra) + 256;
    wc->request = xmalloc(cap);
    int n = snprintf(wc->request, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: chorusd\r\n%s\r\n",
                     u->path, hostport, key, extra);
    wc->request_len = (size_t)n;
}

static void drop_queue(struct ws_client *wc);

/* Free WC and everything it holds (lws no longer knows it). */
static void client_free(struct ws_client *wc) {
    if (wc->live) (*wc->live)--;
    ws_decoder_free(&wc->dec);
    drop_queue(wc);
    if (wc->ping) timer_free(&wc->ping);
    tls_pipe_free(wc->tls);
    free(wc->cork);
    free(wc->request);
    free(wc->hs);
    free(wc);
}

static void report_closed(struct ws_client *wc);

/* The host resolved: open the socket to its first address. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct ws_client *wc = req->data;
    char addr[INET6_ADDRSTRLEN] = "";
    if (status == 0 && res) {
        if (res->ai_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, addr, sizeof(addr));
        else uv_ip4_name((struct sockaddr_in *)res->ai_addr, addr, sizeof(addr));
    }
    uv_freeaddrinfo(res);
    if (wc->abandoned || wc->state == WC_CLOSING) {
        if (!wc->abandoned) snprintf(wc->error, sizeof(wc->error), "closed before it connected");
        report_closed(wc);
        client_free(wc);
        return;
    }
    if (!addr[0]) {
        snprintf(wc->error, sizeof(wc->error), "cannot resolve %.100s: %s", wc->url.host,
                 status ? uv_strerror(status) : "no address");
        report_closed(wc);
        client_free(wc);
        return;
    }
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = wc->ctx;
    ci.vhost = wc->vhost;
    ci.address = addr;
    ci.port = wc->url.port;
    /* TLS is ours too (io/tls_pipe.c): lws 4.1 starts a raw client's TLS
     * before its socket exists (SSL_connect fails with EBADF). */
    ci.ssl_connection = 0;
    ci.host = wc->url.host;
    ci.origin = wc->url.host;
    ci.path = "/";
    ci.method = "RAW";
    ci.local_protocol_name = VHOST_NAME;
    ci.opaque_user_data = wc;
    ci.pwsi = &wc->wsi;
    wc->in_open = 1;
    struct lws *wsi = lws_client_connect_via_info(&ci);
    wc->in_open = 0;
    if (!wsi || wc->destroyed) {
        if (!wc->error[0]) snprintf(wc->error, sizeof(wc->error), "cannot connect to %s:%d", addr, wc->url.port);
        report_closed(wc);
        client_free(wc);
        return;
    }
    lws_set_timeout(wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE, wc->handshake_timeout_s);
}

struct ws_client *ws_client_open(struct lws_context *ctx, const struct ws_client_options *opts,
                                 const struct ws_client_callbacks *cb, void *arg, char *err, size_t errlen) {
    struct lws_vhost *vh = ctx ? client_vhost(ctx) : NULL;
    if (!vh || !opts->loop) {
        snprintf(err, errlen, "the websocket client cannot start (no lws context or loop)");
        return NULL;
    }
    struct ws_client *wc = xcalloc(1, sizeof(*wc));
    if (!opts->url || ws_url_parse(opts->url, &wc->url) < 0) {
        snprintf(err, errlen, "not a ws://, wss://, http:// or https:// URL with a host");
        free(wc);
        return NULL;
    }
    wc->ctx = ctx;
    wc->vhost = vh;
    wc->loop = opts->loop;
    wc->cb = *cb;
    wc->arg = arg;
    wc->max_queue = opts->max_queue ? opts->max_queue : (4u << 20);
    wc->handshake_timeout_s = opts->handshake_timeout_s > 0 ? opts->handshake_timeout_s : 20;
    ws_decoder_init(&wc->dec, opts->max_message);
    build_request(wc, opts->headers);
    if (opts->ping_ms > 0) {
        wc->ping_ms = opts->ping_ms;
        wc->ping = timer_new(opts->loop, wc);
    }
    /* Resolve first: lws would block the loop on DNS. */
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    wc->dns.data = wc;
    int rc = uv_getaddrinfo(opts->loop, &wc->dns, on_resolved, wc->url.host, NULL, &hints);
    if (rc < 0) {
        snprintf(err, errlen, "cannot resolve %.100s: %s", wc->url.host, uv_strerror(rc));
        client_free(wc);
        return NULL;
    }
    wc->live = opts->live;
    if (wc->live) (*wc->live)++;
    return wc;
}

int ws_client_is_open(const struct ws_client *wc) {
    return wc && wc->state == WC_OPEN && !wc->destroyed;
}

/* Cut the socket at the loop's next turn. lws reaps a killed socket only
 * when it services the loop again: woken here, or a silent peer (the very
 * case of a ping cut) left it open, unreported, for good. */
static void kill_socket(struct ws_client *wc) {
    if (!wc->wsi || wc->destroyed) return;
    lws_set_timeout(wc->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    lws_cancel_service(lws_get_context(wc->wsi));
}

/* Free the frames waiting to be written. */
static void drop_queue(struct ws_client *wc) {
    while (wc->head) {
        struct out_frame *f = wc->head;
        wc->head = f->next;
        free(f);
    }
    wc->tail = NULL;
    wc->queued = 0;
}

/* Write what waits, as far as the socket takes it. */
static int flush_queue(struct ws_client *wc) {
    while (wc->head && !lws_partial_buffered(wc->wsi)) {
        struct out_frame *f = wc->head;
        if (lws_write(wc->wsi, f->data + LWS_PRE, f->len, LWS_WRITE_RAW) < 0) return -1;
        wc->head = f->next;
        if (!wc->head) wc->tail = NULL;
        wc->queued -= f->len;
        free(f);
    }
    if (wc->head) lws_callback_on_writable(wc->wsi);
    return 0;
}

/* Put N bytes at BUF on the socket now when nothing waits before them,
 * else queue them (URGENT: ahead of the data frames). A raw connection's
 * lws_write writes BUF as it is, with no header in front. */
static int write_bytes(struct ws_client *wc, const unsigned char *buf, size_t n, int urgent) {
    if (wc->corked) {
        if (wc->cork_len + n > wc->cork_cap) {
            size_t cap = wc->cork_cap ? wc->cork_cap : 1024;
            while (cap < wc->cork_len + n) cap *= 2;
            wc->cork = xrealloc(wc->cork, cap);
            wc->cork_cap = cap;
        }
        memcpy(wc->cork + wc->cork_len, buf, n);
        wc->cork_len += n;
        return 0;
    }
    if (!wc->head && !lws_partial_buffered(wc->wsi)) {
        if (lws_write(wc->wsi, (unsigned char *)buf, n, LWS_WRITE_RAW) < 0) {
            snprintf(wc->error, sizeof(wc->error), "a write to the socket failed");
            kill_socket(wc);
            return -1;
        }
        return 0;
    }
    if (!urgent && wc->queued + n > wc->max_queue) {
        log_warn("websocket: the server is not reading (%zu bytes waiting); closing the connection", wc->queued);
        drop_queue(wc);
        snprintf(wc->error, sizeof(wc->error), "the server stopped reading");
        ws_client_close(wc, 1008, "not reading");
        return -1;
    }
    struct out_frame *f = xmalloc(sizeof(*f) + LWS_PRE + n);
    f->len = n;
    memcpy(f->data + LWS_PRE, buf, n);
    if (urgent) {
        f->next = wc->head;
        wc->head = f;
        if (!wc->tail) wc->tail = f;
    } else {
        f->next = NULL;
        if (wc->tail) wc->tail->next = f;
        else wc->head = f;
        wc->tail = f;
    }
    wc->queued += n;
    lws_callback_on_writable(wc->wsi);
    return 0;
}

/* A read is over: send what its frames wrote (acks, pongs, a close) in
 * one system call instead of one each. */
static void uncork(struct ws_client *wc) {
    wc->corked = 0;
    if (wc->cork_len && !wc->destroyed) write_bytes(wc, wc->cork, wc->cork_len, 0);
    wc->cork_len = 0;
    if (wc->cork_cap > (64u << 10)) {
        free(wc->cork);
        wc->cork = NULL;
        wc->cork_cap = 0;
    }
}

/* Write the ciphertext the TLS session has for the socket. */
static int flush_tls(struct ws_client *wc) {
    size_t n;
    char *out;
    while ((out = tls_pipe_take_output(wc->tls, &n))) {
        int rc = write_bytes(wc, (unsigned char *)out, n, 0);
        free(out);
        if (rc < 0) return -1;
    }
    return 0;
}

/* Write plaintext: through TLS on wss (records must keep their order, so
 * nothing jumps the queue there), else as it is. */
static int write_plain(struct ws_client *wc, const unsigned char *buf, size_t n, int urgent) {
    if (!wc->tls) return write_bytes(wc, buf, n, urgent);
    if (tls_pipe_write(wc->tls, (const char *)buf, n) < 0) {
        snprintf(wc->error, sizeof(wc->error), "TLS write failed");
        kill_socket(wc);
        return -1;
    }
    return flush_tls(wc);
}

/* Frame DATA as OPCODE, masked, and write it. */
static int send_frame(struct ws_client *wc, int opcode, const void *data, size_t len, int urgent) {
    unsigned char stack[LWS_PRE + 14 + STACK_FRAME];
    unsigned char *buf = len <= STACK_FRAME ? stack : xmalloc(LWS_PRE + 14 + len);
    unsigned char mask[4];
    random_bytes(mask, 4);
    size_t h = ws_frame_header(buf + LWS_PRE, opcode, len, mask);
    if (len) memcpy(buf + LWS_PRE + h, data, len);
    ws_frame_mask(buf + LWS_PRE + h, len, mask);
    int rc = write_plain(wc, buf + LWS_PRE, h + len, urgent);
    if (buf != stack) free(buf);
    return rc;
}

int ws_client_send(struct ws_client *wc, const void *data, size_t len, int binary) {
    if (!ws_client_is_open(wc)) return -1;
    /* Frames go out at once: what this turn asked of Redis leaves first, so
     * a reply never reaches anyone before the writes that came with it. */
    redis_uv_flush();
    return send_frame(wc, binary ? WS_OP_BINARY : WS_OP_TEXT, data, len, 0);
}

/* Write a close frame with CODE (none for 1005) and REASON. */
static void send_close(struct ws_client *wc, int code, const char *reason) {
    unsigned char body[125];
    size_t n = 0;
    if (code && code != 1005) {
        body[0] = (unsigned char)(code >> 8);
        body[1] = (unsigned char)code;
        n = 2;
        size_t r = reason ? strlen(reason) : 0;
        if (r > sizeof(body) - 2) r = sizeof(body) - 2;
        if (r) memcpy(body + 2, reason, r);
        n += r;
    }
    send_frame(wc, WS_OP_CLOSE, body, n, 1);
}

void ws_client_close(struct ws_client *wc, int code, const char *reason) {
    if (!wc || wc->destroyed || wc->state == WC_CLOSING) return;
    int was_open = wc->state == WC_OPEN;
    wc->state = WC_CLOSING;
    if (!was_open) {
        kill_socket(wc);
        return;
    }
    if (!wc->tls) drop_queue(wc);   /* TLS records already queued must still go, in order */
    send_close(wc, code, reason);
    if (!wc->destroyed) lws_set_timeout(wc->wsi, PENDING_TIMEOUT_CLOSE_ACK, 2);
}

void ws_client_abandon(struct ws_client *wc, int code) {
    if (!wc) return;
    wc->abandoned = 1;
    if (code) ws_client_close(wc, code, "");
    else {
        wc->state = WC_CLOSING;
        kill_socket(wc);
    }
}

/* Tell the owner, once, that the connection is over. */
static void report_closed(struct ws_client *wc) {
    if (wc->reported || wc->abandoned || wc->in_open) return;
    wc->reported = 1;
    struct ws_close_info info;
    memset(&info, 0, sizeof(info));
    info.code = wc->peer_code ? wc->peer_code : 1006;
    info.reason = wc->peer_reason;
    info.http_status = wc->http_status;
    info.error = wc->error[0] ? wc->error : NULL;
    info.opened = wc->opened;
    if (wc->cb.closed) wc->cb.closed(wc, &info, wc->arg);
}

/* A header of the answer HS (NUL-ended, lines split by \r\n), or NULL. */
static const char *answer_header(const char *hs, const char *name, size_t *vlen) {
    size_t nl = strlen(name);
    for (const char *line = strstr(hs, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (!strncasecmp(line, name, nl) && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            const char *e = strstr(v, "\r\n");
            if (!e) e = v + strlen(v);
            while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
            *vlen = (size_t)(e - v);
            return v;
        }
    }
    return NULL;
}

/* Is TOKEN one of the comma-separated tokens of the header value V (N
 * bytes)? "Connection: keep-alive, Upgrade" names Upgrade. */
static int has_token(const char *v, size_t n, const char *token) {
    size_t tl = strlen(token);
    const char *end = v + n;
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ',')) v++;
        const char *t = v;
        while (v < end && *v != ',') v++;
        const char *e = v;
        while (e > t && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if ((size_t)(e - t) == tl && !strncasecmp(t, token, tl)) return 1;
    }
    return 0;
}

/* Check the upgrade's answer in wc->hs. 0, or -1 with wc->error set. */
static int check_answer(struct ws_client *wc) {
    unsigned status = 0;
    if (sscanf(wc->hs, "HTTP/1.%*d %u", &status) != 1) {
        snprintf(wc->error, sizeof(wc->error), "the server's answer to the upgrade is not HTTP");
        return -1;
    }
    if (status != 101) {
        wc->http_status = status;
        snprintf(wc->error, sizeof(wc->error), "the server answered the upgrade with HTTP %u", status);
        return -1;
    }
    size_t n;
    const char *v = answer_header(wc->hs, "upgrade", &n);
    if (!v || n != 9 || strncasecmp(v, "websocket", 9)) {
        snprintf(wc->error, sizeof(wc->error), "the server switched to something other than websocket");
        return -1;
    }
    v = answer_header(wc->hs, "connection", &n);
    if (!v || !has_token(v, n, "upgrade")) {
        snprintf(wc->error, sizeof(wc->error), "the server's answer to the upgrade has no Connection: Upgrade");
        return -1;
    }
    v = answer_header(wc->hs, "sec-websocket-accept", &n);
    if (!v || n != strlen(wc->accept) || memcmp(v, wc->accept, n)) {
        snprintf(wc->error, sizeof(wc->error), "the server's Sec-WebSocket-Accept does not match our key");
        return -1;
    }
    if (answer_header(wc->hs, "sec-websocket-extensions", &n)) {
        snprintf(wc->error, sizeof(wc->error), "the server turned on an extension we did not offer");
        return -1;
    }
    if (!wc->offered_protocol && answer_header(wc->hs, "sec-websocket-protocol", &n)) {
        snprintf(wc->error, sizeof(wc->error), "the server chose a subprotocol we did not offer");
        return -1;
    }
    return 0;
}

/* Ping tick: a server silent for ping_ms gets a ping; one silent for twice
 * that is gone (a half-open TCP connection never says so itself). */
static void on_ping_tick(uv_timer_t *t) {
    struct ws_client *wc = t->data;
    if (wc->state != WC_OPEN || wc->destroyed) return;
    uint64_t idle = uv_now(wc->loop) - wc->last_rx;
    if (idle >= 2 * (uint64_t)wc->ping_ms) {
        log_warn("websocket: no answer to pings for %llu ms; cutting the connection", (unsigned long long)idle);
        snprintf(wc->error, sizeof(wc->error), "no answer to pings for %llu ms", (unsigned long long)idle);
        wc->state = WC_CLOSING;
        kill_socket(wc);
        return;
    }
    /* Half the interval, not all of it: a tick comes a hair under ping_ms
     * after the last byte as often as over, and a ping skipped then left
     * a quiet, healthy connection to be cut at the next tick. */
    if (2 * idle >= (uint64_t)wc->ping_ms) send_frame(wc, WS_OP_PING, "", 0, 1);
}

/* One event from the decoder: hand messages to the owner, answer pings
 * and closes. Non-zero stops the read (the socket is to be closed). */
static int on_frame(const struct ws_event *ev, void *arg) {
    struct ws_client *wc = arg;
    switch (ev->kind) {
    case WS_EVENT_MESSAGE:
    case WS_EVENT_OVERSIZE:
        if (wc->state == WC_OPEN && !wc->abandoned && wc->cb.message)
            wc->cb.message(wc, ev->kind == WS_EVENT_MESSAGE ? ev->data : NULL, ev->len, ev->binary, wc->arg);
        return 0;
    case WS_EVENT_PING:
        if (wc->state == WC_OPEN) send_frame(wc, WS_OP_PONG, ev->data, ev->len, 1);
        return 0;
    case WS_EVENT_PONG:
        return 0;
    case WS_EVENT_CLOSE: {
        wc->peer_code = ev->close_code;
        size_t n = ev->len < sizeof(wc->peer_reason) - 1 ? ev->len : sizeof(wc->peer_reason) - 1;
        memcpy(wc->peer_reason, ev->data, n);
        wc->peer_reason[n] = '\0';
        if (wc->state == WC_OPEN) {        /* the peer began it: answer with its code */
            wc->state = WC_CLOSING;
            if (!wc->tls) drop_queue(wc);
            send_close(wc, ev->close_code, "");
        }
        return 1;
    }
    }
    return 0;
}

static int read_frames(struct ws_client *wc, const unsigned char *in, size_t len);

/* Bytes from the socket while the upgrade's answer is read. 0, or -1. */
static int read_answer(struct ws_client *wc, const unsigned char *in, size_t len) {
    wc->hs = xrealloc(wc->hs, wc->hs_len + len + 1);
    memcpy(wc->hs + wc->hs_len, in, len);
    wc->hs_len += len;
    wc->hs[wc->hs_len] = '\0';
    char *end = strstr(wc->hs, "\r\n\r\n");
    /* The cap is on the answer's head: frames may follow it in the same
     * read, and those can be long. */
    size_t head = end ? (size_t)(end + 4 - wc->hs) : wc->hs_len;
    if (head > HANDSHAKE_MAX) {
        snprintf(wc->error, sizeof(wc->error), "the server's answer to the upgrade is over %d bytes", HANDSHAKE_MAX);
        return -1;
    }
    if (!end) return 0;
    end[2] = '\0';
    if (check_answer(wc) < 0) return -1;
    wc->state = WC_OPEN;
    wc->opened = 1;
    lws_set_timeout(wc->wsi, NO_PENDING_TIMEOUT, 0);
    if (wc->ping) {
        wc->last_rx = uv_now(wc->loop);
        uv_timer_start(wc->ping, on_ping_tick, (uint64_t)wc->ping_ms, (uint64_t)wc->ping_ms);
    }
    char *rest = wc->hs;
    size_t rest_len = wc->hs_len - head;
    wc->hs = NULL;
    wc->hs_len = 0;
    if (!wc->abandoned && wc->cb.open) wc->cb.open(wc, wc->arg);
    int rc = rest_len && !wc->destroyed ? read_frames(wc, (unsigned char *)rest + head, rest_len) : 0;
    free(rest);
    return rc;
}

/* Frames from the socket. 0, or -1 to close it. */
static int read_frames(struct ws_client *wc, const unsigned char *in, size_t len) {
    const char *why;
    int rc = ws_decoder_feed(&wc->dec, in, len, on_frame, wc, &why);
    if (rc < 0) {
        log_warn("websocket: protocol error from the server: %s", why);
        snprintf(wc->error, sizeof(wc->error), "protocol error: %s", why);
        if (wc->state == WC_OPEN) {
            wc->state = WC_CLOSING;
            send_close(wc, wc->dec.fail_code, wc->dec.fail_code == 1007 ? "invalid UTF-8" : "protocol error");
        }
    }
    return rc ? -1 : 0;
}

/* The connection (and its TLS) is up: send the upgrade request. */
static int send_upgrade(struct ws_client *wc) {
    wc->state = WC_UPGRADING;
    int rc = write_plain(wc, (unsigned char *)wc->request, wc->request_len, 0);
    free(wc->request);
    wc->request = NULL;
    if (rc < 0) {
        snprintf(wc->error, sizeof(wc->error), "cannot send the upgrade request");
        return -1;
    }
    lws_set_timeout(wc->wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE, wc->handshake_timeout_s);
    return 0;
}

/* Plaintext from the server. 0, or -1 to close the socket. */
static int read_plain(struct ws_client *wc, const void *in, size_t len) {
    if (wc->state == WC_UPGRADING) return read_answer(wc, in, len);
    if (wc->state == WC_OPEN || wc->state == WC_CLOSING) return read_frames(wc, in, len);
    return 0;
}

/* Ciphertext from the server: answer the handshake, then read what it
 * decrypts to (in slices, as a read may hold more than one buffer). */
static int read_tls(struct ws_client *wc, const void *in, size_t len) {
    unsigned char plain[16384];
    const char *p = in;
    for (;;) {
        long got = tls_pipe_read(wc->tls, p, len, (char *)plain, sizeof(plain), wc->error, sizeof(wc->error));
        p = NULL;
        len = 0;
        if (got < 0) return -1;
        if (flush_tls(wc) < 0) return -1;
        if (wc->state == WC_TLS && tls_pipe_ready(wc->tls) && send_upgrade(wc) < 0) return -1;
        if (got > 0 && read_plain(wc, plain, (size_t)got) < 0) return -1;
        if ((size_t)got < sizeof(plain) || wc->destroyed) return 0;
    }
}

/* The lws callback of every client connection. */
static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct ws_client *wc = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    int rc;
    (void)user;
    if (!wc) return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
        wc->wsi = wsi;
        if (wc->state != WC_CONNECTING) return 0;
        if (!wc->url.tls) return send_upgrade(wc);
        wc->state = WC_TLS;
        wc->tls = tls_pipe_new(wc->url.host, NULL, wc->error, sizeof(wc->error));
        if (!wc->tls || tls_pipe_handshake(wc->tls, wc->error, sizeof(wc->error)) < 0) return -1;
        return flush_tls(wc);
    case LWS_CALLBACK_RAW_RX:
        if (wc->ping) wc->last_rx = uv_now(wc->loop);
        wc->corked = 1;
        rc = wc->tls ? read_tls(wc, in, len) : read_plain(wc, in, len);
        uncork(wc);
        return rc;
    case LWS_CALLBACK_RAW_WRITEABLE:
        return flush_queue(wc);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!wc->error[0])
            snprintf(wc->error, sizeof(wc->error), "cannot connect: %.*s", in && len ? (int)len : 13,
                     in && len ? (const char *)in : "unknown error");
        report_closed(wc);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
        if (!wc->error[0] && !wc->peer_code) snprintf(wc->error, sizeof(wc->error), "the connection closed without a close frame");
        report_closed(wc);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        lws_set_opaque_user_data(wsi, NULL);
        wc->destroyed = 1;
        if (!wc->error[0] && !wc->peer_code) snprintf(wc->error, sizeof(wc->error), "the connection went away");
        report_closed(wc);
        if (wc->in_open) return 0;     /* on_resolved frees it */
        client_free(wc);
        return 0;
    default:
        return 0;
    }
}
