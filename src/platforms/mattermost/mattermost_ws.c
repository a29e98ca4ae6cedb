/* mattermost_ws.c - the event websocket of mattermost_ws.h on an lws
 * client connection.
 *
 * Lifetimes: each connection attempt is a struct mm_conn owned by its lws
 * wsi (freed in WSI_DESTROY). Giving a connection up detaches it
 * (conn->ws = NULL) and lets it close on its own time, so a dying socket
 * never holds up the reconnect. Timers are allocated one by one and freed
 * by their close callback, so the owner can be freed at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>
#include "io/ws_queue.h"
#include "io/timer.h"
#include "platforms/mattermost/mattermost_ws.h"
#include "lib/json_fast.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

#define CLOSE_PING_TIMEOUT 4000      /* the web client's codes for the same two cases */
#define CLOSE_SEQ_MISMATCH 4001
#define MAX_SEND_QUEUE (1u << 20)

struct mm_conn {
    struct mattermost_ws *ws;      /* NULL once the owner gave this connection up */
    struct ws_queue out;
    char *rx;
    size_t rx_len;
    int rx_overflow;
    int in_connect;
    int destroyed;
};

struct dns_req {
    uv_getaddrinfo_t req;
    struct mattermost_ws *ws;      /* NULL when the owner went away */
};

struct mattermost_ws {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    struct mattermost_ws_options opts;
    struct mattermost_ws_callbacks cb;
    void *arg;
    char *auth;                    /* "Bearer <token>" */
    struct mm_conn *conn;
    struct dns_req *dns;
    uv_timer_t *ping;
    uv_timer_t *retry;
    char *connection_id;           /* the server's session, once a hello named it */
    long next_seq;                 /* the seq the next event must carry */
    long action_seq;               /* our requests' seq on this connection */
    int waiting_pong;
    int skip_one;                  /* an oversized event was dropped: its seq may be missing */
    int attempts;                  /* connects since the last good one */
    int ready;
    int stopped;
};

static int open_conns;

static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
static void ws_connect(struct mattermost_ws *ws);

static const struct lws_protocols protocols[] = {
    { "mattermost-ws", on_event, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* A random number in [0, 1). */
static double random_unit(void) {
    return (double)rand() / ((double)RAND_MAX + 1.0);
}


int mattermost_ws_parse_url(const char *url, int *tls, char *host, size_t hlen, int *port, char *prefix, size_t plen) {
    const char *p;
    if (!strncmp(url, "https://", 8) || !strncmp(url, "wss://", 6)) {
        *tls = 1;
        *port = 443;
        p = url + (url[0] == 'h' ? 8 : 6);
    } else if (!strncmp(url, "http://", 7) || !strncmp(url, "ws://", 5)) {
        *tls = 0;
        *port = 80;
        p = url + (url[0] == 'h' ? 7 : 5);
    } else {
        return -1;
    }
    size_t hl = strcspn(p, ":/?#");
    if (hl == 0 || hl >= hlen) return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    p += hl;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (v <= 0 || v > 65535) return -1;
        *port = (int)v;
        p = end;
    }
    size_t pl = strcspn(p, "?#");
    while (pl && p[pl - 1] == '/') pl--;
    if (pl >= plen) return -1;
    memcpy(prefix, p, pl);
    prefix[pl] = '\0';
    return 0;
}

struct mattermost_ws *mattermost_ws_new(uv_loop_t *loop, struct lws_context *ctx, const struct mattermost_ws_options *opts,
                                        const struct mattermost_ws_callbacks *cb, void *arg, char *err, size_t errlen) {
    int tls, port;
    char host[256], prefix[512];
    if (!ctx) {
        snprintf(err, errlen, "mattermost: the websocket context is not running");
        return NULL;
    }
    if (mattermost_ws_parse_url(opts->url, &tls, host, sizeof(host), &port, prefix, sizeof(prefix)) < 0) {
        snprintf(err, errlen, "mattermost: the url %s is not http(s)://host[:port][/path]", opts->url);
        return NULL;
    }
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.vhost_name = "mattermost";
    info.options = LWS_SERVER_OPTION_LIBUV;
    struct lws_vhost *vh = lws_create_vhost(ctx, &info);
    if (!vh) {
        snprintf(err, errlen, "mattermost: cannot create the client vhost");
        return NULL;
    }
    struct mattermost_ws *ws = xcalloc(1, sizeof(*ws));
    ws->loop = loop;
    ws->ctx = ctx;
    ws->vhost = vh;
    ws->opts = *opts;
    ws->opts.url = xstrdup(opts->url);
    ws->opts.token = NULL;
    if (ws->opts.ping_ms <= 0) ws->opts.ping_ms = 30000;
    if (ws->opts.reconnect_min_ms <= 0) ws->opts.reconnect_min_ms = 1000;
    if (ws->opts.reconnect_max_ms < ws->opts.reconnect_min_ms) ws->opts.reconnect_max_ms = ws->opts.reconnect_min_ms;
    if (!ws->opts.max_inbound) ws->opts.max_inbound = 8u << 20;
    size_t alen = strlen(opts->token) + 8;
    ws->auth = xmalloc(alen);
    snprintf(ws->auth, alen, "Bearer %s", opts->token);
    ws->cb = *cb;
    ws->arg = arg;
    ws->ping = timer_new(loop, ws);
    ws->retry = timer_new(loop, ws);
    return ws;
}

int mattermost_ws_ready(const struct mattermost_ws *ws) {
    return ws && ws->ready;
}

const char *mattermost_ws_connection_id(const struct mattermost_ws *ws) {
    return ws ? ws->connection_id : NULL;
}

int mattermost_ws_open_connections(void) {
    return open_conns;
}

/* Readiness changed: tell the owner. */
static void set_ready(struct mattermost_ws *ws, int ready) {
    if (ws->ready == ready) return;
    ws->ready = ready;
    if (ws->cb.ready) ws->cb.ready(ready, ws->arg);
}

/* ---- sending ------------------------------------------------------------ */

int mattermost_ws_send(struct mattermost_ws *ws, const char *action, json_t *data) {
    struct mm_conn *c = ws ? ws->conn : NULL;
    if (!c || c->out.state != WS_OPEN) {
        json_decref(data);
        return -1;
    }
    json_t *o = json_pack("{s:s, s:I}", "action", action, "seq", (json_int_t)ws->action_seq++);
    if (data) json_object_set_new(o, "data", data);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) return -1;
    int rc = ws_queue_push(&c->out, text, strlen(text), 0);
    free(text);
    return rc;
}

/* ---- connection life cycle ---------------------------------------------- */

/* The backoff is over: connect again. */
static void on_retry(uv_timer_t *t) {
    ws_connect(t->data);
}

/* Give the current connection up (closing it with CODE if it is open) and
 * schedule the next one: at once when IMMEDIATE, else after a backoff. */
static void ws_reconnect(struct mattermost_ws *ws, int code, int immediate) {
    struct mm_conn *c = ws->conn;
    ws->conn = NULL;
    uv_timer_stop(ws->ping);
    if (c) {
        c->ws = NULL;
        if (c->out.wsi && !c->destroyed && code) ws_queue_close(&c->out, code, "", 0, 2);
    }
    set_ready(ws, 0);
    if (ws->stopped) return;
    metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_reconnect", 1);
    uint64_t ms = 0;
    if (!immediate) {
        int n = ws->attempts < 16 ? ws->attempts : 16;
        double base = (double)ws->opts.reconnect_min_ms * (double)(1u << n);
        if (base > (double)ws->opts.reconnect_max_ms) base = (double)ws->opts.reconnect_max_ms;
        ms = (uint64_t)(base * (0.5 + 0.5 * random_unit()));
        if (ms < 1) ms = 1;
    }
    log_info("mattermost: reconnecting in %llu ms (%s)", (unsigned long long)ms,
             ws->connection_id ? "resuming at the next event" : "new session");
    uv_timer_start(ws->retry, on_retry, ms, 0);
}

/* C's socket went away (closed by the server, or never opened). */
static void conn_lost(struct mm_conn *c, const char *what) {
    struct mattermost_ws *ws = c->ws;
    if (!ws) return;
    log_warn("mattermost: %s", what);
    ws_reconnect(ws, 0, 0);
}

/* Ping tick: a ping still unanswered means a dead connection. */
static void on_ping(uv_timer_t *t) {
    struct mattermost_ws *ws = t->data;
    if (!ws->conn) return;
    if (ws->waiting_pong) {
        log_warn("mattermost: no answer to the last ping; the connection is dead, resuming on a new one");
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_dead", 1);
        ws_reconnect(ws, CLOSE_PING_TIMEOUT, 1);
        return;
    }
    ws->waiting_pong = 1;
    mattermost_ws_send(ws, "ping", NULL);
}

/* The upgrade succeeded: start pinging. A resumed session is ready now
 * (the server sends no hello for it); a new one once its hello comes. */
static void on_established(struct mattermost_ws *ws) {
    ws->action_seq = 1;
    ws->waiting_pong = 1;
    mattermost_ws_send(ws, "ping", NULL);       /* test the socket at once, as the web client does */
    uv_timer_start(ws->ping, on_ping, (uint64_t)ws->opts.ping_ms, (uint64_t)ws->opts.ping_ms);
    if (ws->connection_id) {
        log_info("mattermost: connected again; asking for the events from seq %ld on", ws->next_seq);
        ws->attempts = 0;
        set_ready(ws, 1);
    }
}

/* A name resolved: open the websocket to the numeric address. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res);

/* Open a new connection: resolve the host first (lws would block the loop on DNS). */
static void ws_connect(struct mattermost_ws *ws) {
    if (ws->stopped || ws->conn || ws->dns) return;
    int tls, port;
    char host[256], prefix[512];
    mattermost_ws_parse_url(ws->opts.url, &tls, host, sizeof(host), &port, prefix, sizeof(prefix));
    struct dns_req *d = xcalloc(1, sizeof(*d));
    d->ws = ws;
    d->req.data = d;
    ws->dns = d;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(ws->loop, &d->req, on_resolved, host, NULL, &hints);
    if (rc < 0) {
        ws->dns = NULL;
        free(d);
        log_warn("mattermost: cannot resolve %s: %s", host, uv_strerror(rc));
        ws->attempts++;
        ws_reconnect(ws, 0, 0);
    }
}

void mattermost_ws_start(struct mattermost_ws *ws) {
    ws_connect(ws);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct dns_req *d = req->data;
    struct mattermost_ws *ws = d->ws;
    free(d);
    if (!ws) {
        uv_freeaddrinfo(res);
        return;
    }
    ws->dns = NULL;
    int tls, port;
    char host[256], prefix[512], path[1024], addr[INET6_ADDRSTRLEN] = "";
    mattermost_ws_parse_url(ws->opts.url, &tls, host, sizeof(host), &port, prefix, sizeof(prefix));
    if (status == 0 && res) {
        if (res->ai_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, addr, sizeof(addr));
        else uv_ip4_name((struct sockaddr_in *)res->ai_addr, addr, sizeof(addr));
    }
    uv_freeaddrinfo(res);
    ws->attempts++;
    if (!addr[0]) {
        log_warn("mattermost: cannot resolve %s: %s", host, status ? uv_strerror(status) : "no address");
        ws_reconnect(ws, 0, 0);
        return;
    }
    snprintf(path, sizeof(path), "%s/api/v4/websocket?connection_id=%s&sequence_number=%ld", prefix,
             ws->connection_id ? ws->connection_id : "", ws->connection_id ? ws->next_seq : 0L);
    struct mm_conn *c = xcalloc(1, sizeof(*c));
    ws_queue_init(&c->out, NULL, WS_CONNECTING, MAX_SEND_QUEUE);   /* lws sets out.wsi (ci.pwsi) */
    c->ws = ws;
    c->in_connect = 1;
    ws->conn = c;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = ws->ctx;
    ci.vhost = ws->vhost;
    ci.address = addr;
    ci.port = port;
    ci.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
    ci.path = path;
    ci.host = host;
    ci.origin = host;
    ci.local_protocol_name = "mattermost-ws";
    ci.opaque_user_data = c;
    ci.pwsi = &c->out.wsi;
    open_conns++;
    log_debug("mattermost: connecting to %s (%s:%d)", host, addr, port);
    struct lws *wsi = lws_client_connect_via_info(&ci);
    c->in_connect = 0;
    if (!wsi) {
        if (!c->destroyed) open_conns--;
        int attached = c->ws != NULL;
        if (attached) ws->conn = NULL;
        free(c);
        if (attached) {
            log_warn("mattermost: cannot open a connection to %s:%d", host, port);
            ws_reconnect(ws, 0, 0);
        }
    }
}

/* ---- protocol ---------------------------------------------------------- */

/* A string member of O, or NULL. */
static const char *str_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The answer to one of our requests (a ping's pong, mostly). */
static void on_reply(struct mattermost_ws *ws, json_t *o) {
    ws->waiting_pong = 0;
    const char *status = str_of(o, "status");
    if (status && strcmp(status, "OK")) {
        const char *id = str_of(json_object_get(o, "error"), "id");
        log_warn("mattermost: the server refused request %lld: %s", (long long)json_integer_value(json_object_get(o, "seq_reply")),
                 id ? id : status);
    }
}

/* A hello: the server's name for this session. A different name than the
 * one we resumed means the events in between are gone; counting starts anew. */
static void on_hello(struct mattermost_ws *ws, json_t *data) {
    const char *cid = str_of(data, "connection_id");
    if (!cid) return;
    if (ws->connection_id && strcmp(cid, ws->connection_id)) {
        log_warn("mattermost: the server started a new session instead of replaying from seq %ld; "
                 "events sent while disconnected are lost", ws->next_seq);
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_session_lost", 1);
    }
    if (!ws->connection_id || strcmp(cid, ws->connection_id)) {
        free(ws->connection_id);
        ws->connection_id = xstrdup(cid);
        ws->next_seq = 0;
    }
}

/* Keys of websocket events no reader looks at: the broadcast's routing,
 * the channel's display names, set_online. */
static const char *const event_unread[] = {
    "broadcast", "channel_display_name", "channel_name", "set_online", "omit_users", "server_version", NULL
};

/* One whole message from the server: a reply, or an event checked against
 * the seq we expect. Malformed ones are logged and skipped. */
static void on_message(struct mattermost_ws *ws, const char *text, size_t len) {
    json_error_t jerr;
    json_t *o = json_fast_loadb_lean(text, len, event_unread, &jerr);
    if (!json_is_object(o)) {
        log_warn("mattermost: a websocket message that is not a JSON object (%s); skipped", jerr.text);
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_malformed", 1);
        json_decref(o);
        return;
    }
    if (json_object_get(o, "seq_reply")) {
        on_reply(ws, o);
        json_decref(o);
        return;
    }
    const char *type = str_of(o, "event");
    json_t *seqv = json_object_get(o, "seq");
    if (!type || !json_is_integer(seqv)) {
        log_warn("mattermost: an event without a name or a seq; skipped");
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_malformed", 1);
        json_decref(o);
        return;
    }
    json_t *data = json_object_get(o, "data");
    if (!strcmp(type, "hello")) on_hello(ws, data);
    long seq = (long)json_integer_value(seqv);
    if (seq < ws->next_seq) {
        log_debug("mattermost: event %ld (%s) seen already; skipped", seq, type);
        json_decref(o);
        return;
    }
    if (seq == ws->next_seq + 1 && ws->skip_one) ws->next_seq = seq;     /* the oversized one */
    ws->skip_one = 0;
    if (seq > ws->next_seq) {
        log_warn("mattermost: events %ld to %ld never arrived; reconnecting to have them replayed", ws->next_seq, seq - 1);
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_seq_gap", 1);
        json_decref(o);
        ws_reconnect(ws, CLOSE_SEQ_MISMATCH, 1);
        return;
    }
    ws->next_seq = seq + 1;
    if (!strcmp(type, "hello")) {
        log_info("mattermost: connected (session %s)", ws->connection_id ? ws->connection_id : "?");
        ws->attempts = 0;
        set_ready(ws, 1);
    }
    if (ws->cb.event) ws->cb.event(type, json_is_object(data) ? data : NULL, ws->arg);
    json_decref(o);
}

/* Append a fragment; a whole message goes to on_message. */
static void conn_receive(struct mm_conn *c, const char *in, size_t len, int final) {
    struct mattermost_ws *ws = c->ws;
    if (!c->rx_overflow) {
        if (c->rx_len + len > ws->opts.max_inbound) {
            c->rx_overflow = 1;
        } else {
            c->rx = xrealloc(c->rx, c->rx_len + len + 1);
            memcpy(c->rx + c->rx_len, in, len);
            c->rx_len += len;
        }
    }
    if (!final) return;
    int overflow = c->rx_overflow;
    char *rx = c->rx;
    size_t rx_len = c->rx_len;
    c->rx = NULL;
    c->rx_len = 0;
    c->rx_overflow = 0;
    if (overflow) {
        /* Its seq is unknown: the gap it leaves is accepted once, or the
         * replay would bring it back, too big again, forever. */
        log_error("mattermost: a websocket message was larger than %zu bytes; skipped", ws->opts.max_inbound);
        ws->skip_one = 1;
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_oversized", 1);
    } else {
        on_message(ws, rx ? rx : "", rx_len);
    }
    free(rx);
}

/* Free what a connection still holds. */
static void conn_free(struct mm_conn *c) {
    ws_queue_closed(&c->out);
    free(c->rx);
    free(c);
}

/* The lws callback of the connection. */
static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct mm_conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (!c || !c->ws) return 0;
        unsigned char **p = (unsigned char **)in, *end = (*p) + len;
        const char *auth = c->ws->auth;
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (const unsigned char *)auth, (int)strlen(auth), p, end))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c) ws_queue_set_state(&c->out, WS_OPEN);
        if (c && c->ws) on_established(c->ws);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c || !c->ws || c->out.state >= WS_CLOSING) return 0;
        conn_receive(c, in, len, lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return c ? ws_queue_writable(&c->out) : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c && c->ws) {
            char what[200];
            unsigned int status = lws_http_client_http_response(wsi);
            if (status == 401 || status == 403)
                snprintf(what, sizeof(what), "the server refused the token at the websocket upgrade (HTTP %u); check MATTERMOST_TOKEN",
                         status);
            else
                snprintf(what, sizeof(what), "the websocket connection failed: %s", in ? (const char *)in : "unknown error");
            if (status == 401 || status == 403) log_error("mattermost: %s", what);
            conn_lost(c, what);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) conn_lost(c, "the websocket connection closed");
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (!c) return 0;
        conn_lost(c, "the websocket connection went away");
        lws_set_opaque_user_data(wsi, NULL);
        c->destroyed = 1;
        open_conns--;
        if (!c->in_connect) conn_free(c);
        return 0;
    default:
        break;
    }
    return 0;
}

void mattermost_ws_free(struct mattermost_ws *ws) {
    if (!ws) return;
    ws->stopped = 1;
    if (ws->conn) {
        struct mm_conn *c = ws->conn;
        ws->conn = NULL;
        c->ws = NULL;
        if (c->out.wsi && !c->destroyed) ws_queue_close(&c->out, 1000, "", 0, 2);
    }
    if (ws->dns) {
        ws->dns->ws = NULL;
        uv_cancel((uv_req_t *)&ws->dns->req);
    }
    timer_free(&ws->ping);
    timer_free(&ws->retry);
    free(ws->connection_id);
    free((char *)ws->opts.url);
    free(ws->auth);
    free(ws);
}
