/* onebot_link.c - forward and reverse OneBot websockets (onebot_link.h).
 *
 * Lifetimes: a forward connection is an io/ws_client the link abandons
 * when it gives it up (it closes on its own time and calls nothing back);
 * its struct ob_conn is the link's and freed with it. A reverse connection
 * belongs to its lws wsi and is freed when web.c says the socket closed; a
 * link that gives one up detaches it (conn->link = NULL), so the link can be
 * freed at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>
#include "io/web.h"
#include "io/ws_client.h"
#include "io/ws_queue.h"
#include "io/timer.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/webhook_auth.h"
#include "lib/ws_url.h"
#include "lib/xalloc.h"
#include "platforms/onebot/onebot_link.h"

#define MAX_REVERSE 4              /* reverse connections held at once */
#define MAX_QUEUE_BYTES (8u << 20) /* a peer that stops reading is cut off */

struct ob_conn {
    struct onebot_link *link;      /* NULL once the link gave it up */
    struct ws_client *wc;          /* forward: the connection */
    struct ws_queue out;           /* reverse: the lws server connection */
    char *rx;
    size_t rx_len;
    int rx_overflow;
    int api, events;               /* what it carries (X-Client-Role) */
    int reverse;
    int counted;                   /* holds a place in the up count */
    char self_id[24];
};

struct onebot_link {
    uv_loop_t *loop;
    struct lws_context *ctx;
    char *url, *listen, *token, *self_id;
    char *url_api, *url_event;             /* forward to an implementation with separate /api and /event, or NULL */
    char *auth_header;                     /* forward: "Authorization: Bearer <token>\r\n", or NULL */
    struct onebot_link_options opts;
    struct onebot_link_callbacks cb;
    void *data;
    struct ob_conn *fwd;                   /* forward: the connection of the moment (API calls, and events unless split) */
    struct ob_conn *fwd_ev;                /* forward to /event when split, or NULL */
    struct ob_conn *rev[MAX_REVERSE];      /* reverse: the connections held */
    uv_timer_t *retry;
    uv_timer_t *watchdog;
    uint64_t last_rx;
    long interval_ms;                      /* heartbeat interval, 0 until told */
    int attempts;
    int api_up;                            /* the up callback was given */
    int accept_api, accept_events;         /* what the upgrade being accepted carries */
    char accept_self[24];
    struct web_route route[3];             /* reverse: its own path (several accounts, several paths), and
                                              <path>/api, <path>/event for separate API and Event URLs */
    char *sub_path[2];
    int routed;
};

static int open_conns;
static void link_connect(struct onebot_link *l);


int onebot_link_open_connections(void) {
    return open_conns;
}

/* The connection API calls go to: the forward one, or the newest reverse one that carries them. */
static struct ob_conn *api_conn(const struct onebot_link *l) {
    if (l->fwd) return ws_client_is_open(l->fwd->wc) && l->fwd->counted ? l->fwd : NULL;
    for (int i = MAX_REVERSE - 1; i >= 0; i--)
        if (l->rev[i] && l->rev[i]->api && l->rev[i]->out.state == WS_OPEN) return l->rev[i];
    return NULL;
}

int onebot_link_up(const struct onebot_link *l) {
    return l && api_conn(l) != NULL;
}

int onebot_link_send(struct onebot_link *l, const char *text, size_t len) {
    struct ob_conn *c = api_conn(l);
    if (!c) return -1;
    return c->wc ? ws_client_send(c->wc, text, len, 0) : ws_queue_push(&c->out, text, len, 0);
}

/* Tell the owner when "a connection carries API calls" changes. */
static void update_up(struct onebot_link *l, const char *self_id) {
    int up = api_conn(l) != NULL;
    if (up == l->api_up) return;
    l->api_up = up;
    if (up && l->cb.up) l->cb.up(self_id, l->data);
    if (!up && l->cb.down) l->cb.down(l->data);
}

/* ---- liveness ------------------------------------------------------------ */

static void link_reconnect(struct onebot_link *l, int code);

/* Nothing heard for too long: the implementation is gone or hung. */
static void on_watchdog(uv_timer_t *t) {
    struct onebot_link *l = t->data;
    uint64_t limit = (uint64_t)((double)l->interval_ms * l->opts.heartbeat_misses);
    uint64_t now = uv_now(l->loop);
    if (now < l->last_rx + limit) {
        uv_timer_start(l->watchdog, on_watchdog, l->last_rx + limit - now, 0);
        return;
    }
    log_warn("onebot: no heartbeat for %llu ms (every %ld ms expected); the connection is dead",
             (unsigned long long)(now - l->last_rx), l->interval_ms);
    metrics_inc(METRIC_PLATFORM_EVENTS, "onebot_dead", 1);
    l->interval_ms = 0;
    if (l->url) {
        link_reconnect(l, 1001);
        return;
    }
    for (int i = 0; i < MAX_REVERSE; i++)
        if (l->rev[i]) ws_queue_close(&l->rev[i]->out, 1001, "no heartbeat", 0, 2);
}

void onebot_link_heartbeat(struct onebot_link *l, long interval_ms) {
    if (interval_ms <= 0 || l->opts.heartbeat_misses <= 0) return;
    if (interval_ms != l->interval_ms) {
        l->interval_ms = interval_ms;
        uv_timer_start(l->watchdog, on_watchdog, (uint64_t)((double)interval_ms * l->opts.heartbeat_misses), 0);
    }
}

/* ---- receiving ------------------------------------------------------------ */

/* A whole message from either kind of connection (NULL DATA: one over
 * max_inbound_bytes, skipped) goes to the frame callback. */
static void conn_message(struct ob_conn *c, const char *data, size_t len) {
    struct onebot_link *l = c->link;
    if (!data) {
        log_warn("onebot: a message larger than max_inbound_bytes (%zu) was skipped", l->opts.max_inbound);
        metrics_inc(METRIC_PLATFORM_EVENTS, "onebot_oversized", 1);
        return;
    }
    if ((c->events || c->api) && l->cb.frame) l->cb.frame(data, len, l->data);
}

/* Append a fragment of a reverse connection; a whole message goes to
 * conn_message. */
static void conn_receive(struct ob_conn *c, const char *in, size_t len, int final) {
    struct onebot_link *l = c->link;
    l->last_rx = uv_now(l->loop);
    if (!c->rx_overflow) {
        if (c->rx_len + len > l->opts.max_inbound) {
            c->rx_overflow = 1;
        } else {
            c->rx = xrealloc(c->rx, c->rx_len + len + 1);
            memcpy(c->rx + c->rx_len, in, len);
            c->rx_len += len;
            c->rx[c->rx_len] = '\0';
        }
    }
    if (!final) return;
    char *rx = c->rx;
    size_t rx_len = c->rx_len;
    int overflow = c->rx_overflow;
    c->rx = NULL;
    c->rx_len = 0;
    c->rx_overflow = 0;
    conn_message(c, overflow ? NULL : rx ? rx : "", rx_len);
    free(rx);
}

/* ---- forward --------------------------------------------------------------- */

static void on_retry(uv_timer_t *t) {
    link_connect(t->data);
}

/* Give the forward connection up (closing it with CODE) and dial again after a backoff. */
static void link_reconnect(struct onebot_link *l, int code) {
    struct ob_conn *both[2] = { l->fwd, l->fwd_ev };
    l->fwd = l->fwd_ev = NULL;
    uv_timer_stop(l->watchdog);
    l->interval_ms = 0;
    for (int i = 0; i < 2; i++) {
        if (!both[i]) continue;
        ws_client_abandon(both[i]->wc, code);
        free(both[i]);
    }
    update_up(l, NULL);
    double base = l->opts.reconnect_min_ms * (double)(1u << (l->attempts < 10 ? l->attempts : 10));
    if (base > l->opts.reconnect_max_ms) base = l->opts.reconnect_max_ms;
    double delay = base * (0.5 + 0.5 * ((double)rand() / ((double)RAND_MAX + 1.0)));
    uint64_t ms = delay < 1 ? 1 : (uint64_t)delay;
    metrics_inc(METRIC_PLATFORM_EVENTS, "onebot_reconnect", 1);
    log_info("onebot: reconnecting in %llu ms", (unsigned long long)ms);
    uv_timer_start(l->retry, on_retry, ms, 0);
}

static void fwd_open(struct ws_client *wc, void *arg);
static void fwd_message(struct ws_client *wc, const char *data, size_t len, int binary, void *arg);
static void fwd_closed(struct ws_client *wc, const struct ws_close_info *info, void *arg);

/* Open one forward connection to URL carrying API calls and/or events;
 * NULL (logged) when it cannot be started. */
static struct ob_conn *fwd_dial(struct onebot_link *l, const char *url, int api, int events) {
    struct ws_url u;
    if (ws_url_parse(url, &u) < 0) {
        log_error("onebot: url must be ws://host:port/path or wss://...; not connecting");
        return NULL;
    }
    struct ob_conn *c = xcalloc(1, sizeof(*c));
    c->link = l;
    c->api = api;
    c->events = events;
    struct ws_client_options wo;
    memset(&wo, 0, sizeof(wo));
    wo.url = url;
    wo.loop = l->loop;
    wo.headers = l->auth_header;
    wo.max_message = l->opts.max_inbound;
    wo.max_queue = MAX_QUEUE_BYTES;
    wo.live = &open_conns;
    static const struct ws_client_callbacks callbacks = { fwd_open, fwd_message, fwd_closed };
    char err[256];
    log_debug("onebot: connecting to %s:%d", u.host, u.port);
    c->wc = ws_client_open(l->ctx, &wo, &callbacks, c, err, sizeof(err));
    if (!c->wc) {
        free(c);
        log_warn("onebot: cannot open a connection to %s:%d: %s", u.host, u.port, err);
        return NULL;
    }
    return c;
}

/* Dial the implementation: one Universal connection, or /api and /event. */
static void link_connect(struct onebot_link *l) {
    if (l->fwd) return;
    l->attempts++;
    l->fwd = fwd_dial(l, l->url_api ? l->url_api : l->url, 1, !l->url_api);
    if (l->fwd && l->url_event) l->fwd_ev = fwd_dial(l, l->url_event, 0, 1);
    if (!l->fwd || (l->url_event && !l->fwd_ev)) {
        if (l->url_event && !l->fwd_ev && l->fwd) log_warn("onebot: the /event connection could not be started");
        link_reconnect(l, 0);
    }
}

/* The forward upgrade succeeded. */
static void fwd_open(struct ws_client *wc, void *arg) {
    struct ob_conn *c = arg;
    struct onebot_link *l = c->link;
    (void)wc;
    l->attempts = 0;
    l->last_rx = uv_now(l->loop);
    c->counted = 1;
    log_info("onebot: connected to the OneBot implementation%s", !l->url_api ? "" : c->api ? " (API)" : " (Event)");
    update_up(l, NULL);
}

/* A whole message on the forward connection (NULL DATA: too large). The
 * spec's frames are text, but JSON sent as a binary message is read the
 * same (the parser refuses what is not JSON, and says so). */
static void fwd_message(struct ws_client *wc, const char *data, size_t len, int binary, void *arg) {
    struct ob_conn *c = arg;
    struct onebot_link *l = c->link;
    (void)wc;
    (void)binary;
    l->last_rx = uv_now(l->loop);
    conn_message(c, data, len);
}

/* The forward connection ended (closed, refused, or never opened): dial again. */
static void fwd_closed(struct ws_client *wc, const struct ws_close_info *info, void *arg) {
    struct ob_conn *c = arg;
    struct onebot_link *l = c->link;
    (void)wc;
    if (l->fwd != c && l->fwd_ev != c) return;
    c->wc = NULL;
    if (info->http_status == 401 || info->http_status == 403)
        log_warn("onebot: the OneBot implementation refused the access token (HTTP %u)", info->http_status);
    else if (info->opened)
        log_warn("onebot: the OneBot implementation closed the connection (%d%s%s%s%s)", info->code,
                 info->reason[0] ? " " : "", info->reason, info->error ? ": " : "", info->error ? info->error : "");
    else
        log_warn("onebot: the connection failed: %s", info->error ? info->error : "unknown error");
    link_reconnect(l, 0);
}

/* ---- reverse --------------------------------------------------------------- */

/* A request header (lower-case NAME ending in ':') into BUF; 0 when absent. */
static int header(struct lws *wsi, const char *name, char *buf, int len) {
    buf[0] = '\0';
    int n = lws_hdr_custom_copy(wsi, buf, len, name, (int)strlen(name));
    return n > 0 ? n : 0;
}

/* The token the implementation presented: "Bearer x" / "Token x", or ?access_token=x. */
static int presented_token(struct lws *wsi, char *buf, int len) {
    char auth[512];
    buf[0] = '\0';
    if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) > 0) {
        const char *p = auth;
        if (!strncasecmp(p, "Bearer ", 7)) p += 7;
        else if (!strncasecmp(p, "Token ", 6)) p += 6;
        else return 0;
        snprintf(buf, (size_t)len, "%s", p);
        memset(auth, 0, sizeof(auth));
        return 1;
    }
    char arg[600];
    const char *v = lws_get_urlarg_by_name(wsi, "access_token=", arg, sizeof(arg));   /* ARG holds "access_token=" too */
    if (!v) return 0;
    snprintf(buf, (size_t)len, "%s", v);
    memset(arg, 0, sizeof(arg));
    return 1;
}

/* web_route.ws_accept: check role, self id and token before the upgrade. */
static int rev_accept(struct lws *wsi, void *data) {
    struct onebot_link *l = data;
    char role[32], self[32], token[512];
    if (!l) return 503;
    header(wsi, "x-client-role:", role, sizeof(role));
    header(wsi, "x-self-id:", self, sizeof(self));
    l->accept_api = !strcasecmp(role, "Universal") || !strcasecmp(role, "API");
    l->accept_events = !strcasecmp(role, "Universal") || !strcasecmp(role, "Event");
    if (!l->accept_api && !l->accept_events) {
        log_warn("onebot: refused a reverse connection with X-Client-Role \"%.20s\" (Universal, API or Event expected)",
                 role);
        return 400;
    }
    size_t n = strlen(self);
    if (!n || strspn(self, "0123456789") != n || n >= sizeof(l->accept_self)) {
        log_warn("onebot: refused a reverse connection without a numeric X-Self-ID");
        return 400;
    }
    if (l->self_id && strcmp(self, l->self_id)) {
        log_warn("onebot: refused a reverse connection from QQ %s (self_id %s is configured)", self, l->self_id);
        return 403;
    }
    if (l->token) {
        int got = presented_token(wsi, token, sizeof(token));
        int ok = got && webhook_secret_ok(l->token, token);
        memset(token, 0, sizeof(token));
        if (!ok) {
            log_warn("onebot: refused a reverse connection from QQ %s: %s", self,
                     got ? "wrong access token" : "no access token");
            metrics_inc(METRIC_PLATFORM_EVENTS, "onebot_auth_refused", 1);
            return got ? 403 : 401;
        }
    }
    snprintf(l->accept_self, sizeof(l->accept_self), "%s", self);
    return 0;
}

/* web_route.ws_open: the upgrade rev_accept let through. */
static void *rev_open(struct lws *wsi, void *data) {
    struct onebot_link *l = data;
    if (!l) return NULL;
    int slot = -1;
    for (int i = 0; i < MAX_REVERSE; i++)
        if (!l->rev[i]) {
            slot = i;
            break;
        }
    if (slot < 0) {
        log_warn("onebot: already %d reverse connections; refusing another", MAX_REVERSE);
        return NULL;
    }
    struct ob_conn *c = xcalloc(1, sizeof(*c));
    ws_queue_init(&c->out, wsi, WS_OPEN, MAX_QUEUE_BYTES);
    c->link = l;
    c->reverse = 1;
    c->api = l->accept_api;
    c->events = l->accept_events;
    snprintf(c->self_id, sizeof(c->self_id), "%s", l->accept_self);
    l->rev[slot] = c;
    l->last_rx = uv_now(l->loop);
    open_conns++;
    log_info("onebot: QQ %s connected (reverse, %s)", c->self_id,
             c->api && c->events ? "Universal" : c->api ? "API" : "Event");
    update_up(l, c->self_id);
    return c;
}

/* Text or binary alike, as fwd_message. */
static void rev_receive(void *conn, const char *in, size_t len, int final, int binary) {
    struct ob_conn *c = conn;
    (void)binary;
    if (c->link && c->out.state < WS_CLOSING) conn_receive(c, in, len, final);
}

static int rev_writable(void *conn) {
    return ws_queue_writable(&((struct ob_conn *)conn)->out);
}

static void rev_closed(void *conn) {
    struct ob_conn *c = conn;
    struct onebot_link *l = c->link;
    open_conns--;
    if (l) {
        for (int i = 0; i < MAX_REVERSE; i++)
            if (l->rev[i] == c) l->rev[i] = NULL;
        log_info("onebot: QQ %s disconnected (reverse)", c->self_id);
        c->out.state = WS_CLOSED;
        update_up(l, NULL);
    }
    ws_queue_closed(&c->out);
    free(c->rx);
    free(c);
}

static const struct web_route rev_route = {
    .ws_accept = rev_accept, .ws_open = rev_open, .ws_receive = rev_receive,
    .ws_writable = rev_writable, .ws_closed = rev_closed,
};

/* ---- the link -------------------------------------------------------------- */

/* OneBot 11's forward websocket (communication/ws.md) is served at three
 * paths of the implementation's root: "/" (Universal: events and API
 * calls), "/api" (calls only) and "/event" (events only), each also with a
 * trailing slash. A url whose path is exactly /api or /event names one of
 * the split pair, which alone would leave the bot deaf or mute: both are
 * dialed, calls on /api. Any other path, including a deeper one that
 * merely ends in /api or /event (a reverse proxy's mount, say), is the
 * user's own choice and is dialed as given, as one Universal connection. */
static void split_url(struct onebot_link *l) {
    const char *scheme = strstr(l->url, "://");
    if (!scheme) return;
    const char *path = scheme + 3 + strcspn(scheme + 3, "/?#");
    if (*path != '/') return;
    const char *rest = path + strcspn(path, "?#");
    size_t plen = (size_t)(rest - path);
    if (plen > 1 && path[plen - 1] == '/') plen--;
    if (!(plen == 4 && !memcmp(path, "/api", 4)) && !(plen == 6 && !memcmp(path, "/event", 6))) return;
    size_t base = (size_t)(path - l->url), n = base + strlen(rest) + 8;
    l->url_api = xmalloc(n);
    l->url_event = xmalloc(n);
    snprintf(l->url_api, n, "%.*s/api%s", (int)base, l->url, rest);
    snprintf(l->url_event, n, "%.*s/event%s", (int)base, l->url, rest);
    log_info("onebot: API calls go to the /api websocket, events come from /event");
}

struct onebot_link *onebot_link_new(uv_loop_t *loop, struct lws_context *ctx, const struct onebot_link_options *opts,
                                    const struct onebot_link_callbacks *cb, void *data, char *err, size_t errlen) {
    if (!ctx && opts->url && *opts->url) {
        snprintf(err, errlen, "onebot: the websocket context is not running");
        return NULL;
    }
    struct onebot_link *l = xcalloc(1, sizeof(*l));
    l->loop = loop;
    l->ctx = ctx;
    l->opts = *opts;
    l->cb = *cb;
    l->data = data;
    l->url = opts->url && *opts->url ? xstrdup(opts->url) : NULL;
    l->listen = opts->listen && *opts->listen ? xstrdup(opts->listen) : NULL;
    l->token = opts->access_token && *opts->access_token ? xstrdup(opts->access_token) : NULL;
    l->self_id = opts->self_id && *opts->self_id ? xstrdup(opts->self_id) : NULL;
    if (l->opts.reconnect_min_ms < 1) l->opts.reconnect_min_ms = 1;
    if (l->opts.reconnect_max_ms < l->opts.reconnect_min_ms) l->opts.reconnect_max_ms = l->opts.reconnect_min_ms;
    if (l->opts.max_inbound < 4096) l->opts.max_inbound = 4096;
    l->retry = timer_new(loop, l);
    l->watchdog = timer_new(loop, l);
    if (l->url) {
        split_url(l);
        if (l->token) {
            size_t n = strlen(l->token) + 32;
            l->auth_header = xmalloc(n);
            snprintf(l->auth_header, n, "Authorization: Bearer %s\r\n", l->token);
        }
        link_connect(l);
    } else {
        /* Any of the three takes any role: X-Client-Role tells them apart. */
        static const char *const subs[2] = { "/api", "/event" };
        size_t n = strlen(l->listen);
        while (n > 0 && l->listen[n - 1] == '/') n--;   /* "/" gives "/api", "/ws/" "/ws/api" */
        for (int i = 0; i < 3; i++) {
            l->route[i] = rev_route;
            l->route[i].data = l;
            if (i == 0) {
                l->route[i].path = l->listen;
            } else {
                size_t len = n + strlen(subs[i - 1]) + 1;
                l->sub_path[i - 1] = xmalloc(len);
                snprintf(l->sub_path[i - 1], len, "%.*s%s", (int)n, l->listen, subs[i - 1]);
                l->route[i].path = l->sub_path[i - 1];
            }
            web_route_add(&l->route[i]);
        }
        l->routed = 1;
        log_info("onebot: waiting for the OneBot implementation to connect at %s", l->listen);
    }
    return l;
}

void onebot_link_free(struct onebot_link *l) {
    if (!l) return;
    if (l->routed) {
        web_route_remove(l->listen);
        web_route_remove(l->sub_path[0]);
        web_route_remove(l->sub_path[1]);
        l->routed = 0;
    }
    free(l->sub_path[0]);
    free(l->sub_path[1]);
    struct ob_conn *both[2] = { l->fwd, l->fwd_ev };
    for (int i = 0; i < 2; i++) {
        if (!both[i]) continue;
        ws_client_abandon(both[i]->wc, 1000);
        free(both[i]);
    }
    l->fwd = l->fwd_ev = NULL;
    for (int i = 0; i < MAX_REVERSE; i++) {
        struct ob_conn *c = l->rev[i];
        if (!c) continue;
        c->link = NULL;
        ws_queue_close(&c->out, 1001, "shutting down", 1, 2);
    }
    timer_free(&l->retry);
    timer_free(&l->watchdog);
    free(l->url);
    free(l->url_api);
    free(l->url_event);
    free(l->listen);
    if (l->token) memset(l->token, 0, strlen(l->token));
    free(l->token);
    if (l->auth_header) memset(l->auth_header, 0, strlen(l->auth_header));
    free(l->auth_header);
    free(l->self_id);
    free(l);
}
