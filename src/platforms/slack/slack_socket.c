/* slack_socket.c - the Socket Mode connection pool of slack_socket.h on lws
 * client connections.
 *
 * Lifetimes: the pool owns its timers; each connection attempt is a struct
 * link owned by its lws wsi (freed in WSI_DESTROY). The pool detaches a link
 * it gives up (link->s = NULL) and lets it close on its own time, so a dying
 * socket never holds anything up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>
#include "io/ws_queue.h"
#include "platforms/slack/slack_socket.h"
#include "platforms/slack/slack_web.h"
#include "lib/json_fast.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

#define BACKOFF_BASE_MS 500.0
#define BACKOFF_MAX_MS 30000.0
#define MAX_LINKS 10

struct link {
    struct slack_socket *s;        /* NULL once the pool gave this link up */
    struct ws_queue out;
    char *rx;
    size_t rx_len;
    int rx_overflow;
    int id;
    int hello;                     /* Slack said hello: events may come */
    int draining;                  /* Slack announced a disconnect */
    int in_connect;
    int destroyed;
    struct link *next;
};

struct dns_req {
    uv_getaddrinfo_t req;
    struct slack_socket *s;        /* NULL when the pool went away */
    char *url;
};

struct slack_socket {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    struct slack_web *web;
    struct slack_socket_options o;
    struct slack_socket_callbacks cb;
    void *data;
    struct link *links;            /* attached links */
    struct dns_req *dns[MAX_LINKS];
    int opening;                   /* apps.connections.open calls and DNS lookups under way */
    int attempts;                  /* failures since the last hello */
    int next_id;
    int was_ready;
    int fatal;
    int stopped;
    uv_timer_t *retry;
    lws_retry_bo_t policy;
};

static int open_links;

static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
static void ensure(struct slack_socket *s);

static const struct lws_protocols protocols[] = {
    { "slack-socket-mode", on_event, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* uv_close callback of the retry timer. */
static void free_handle(uv_handle_t *h) {
    free(h);
}

/* The backoff is over: open what is missing. */
static void on_retry(uv_timer_t *t) {
    ensure(t->data);
}

struct slack_socket *slack_socket_new(uv_loop_t *loop, struct lws_context *ctx, struct slack_web *web,
                                      const struct slack_socket_options *o, const struct slack_socket_callbacks *cb,
                                      void *data, char *err, size_t errlen) {
    if (!ctx) {
        snprintf(err, errlen, "slack: the websocket context is not running");
        return NULL;
    }
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.vhost_name = "slack";
    info.options = LWS_SERVER_OPTION_LIBUV;
    struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "slack");
    if (!vh) vh = lws_create_vhost(ctx, &info);
    if (!vh) {
        snprintf(err, errlen, "slack: cannot create the client vhost");
        return NULL;
    }
    struct slack_socket *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->ctx = ctx;
    s->vhost = vh;
    s->web = web;
    s->o = *o;
    s->o.command_ack = o->command_ack ? xstrdup(o->command_ack) : NULL;
    if (s->o.want < 1) s->o.want = 1;
    if (s->o.want > MAX_LINKS / 2) s->o.want = MAX_LINKS / 2;
    if (!s->o.max_inbound) s->o.max_inbound = 8u << 20;
    if (s->o.time_scale <= 0) s->o.time_scale = 1.0;
    if (s->o.ping_s <= 0) s->o.ping_s = 30;
    s->policy.secs_since_valid_ping = (uint16_t)s->o.ping_s;
    s->policy.secs_since_valid_hangup = (uint16_t)(s->o.ping_s * 2);
    s->cb = *cb;
    s->data = data;
    s->retry = xmalloc(sizeof(uv_timer_t));
    uv_timer_init(loop, s->retry);
    s->retry->data = s;
    return s;
}

int slack_socket_open_connections(void) {
    return open_links;
}

/* Links that said hello (draining ones too: they still carry events). */
int slack_socket_live(const struct slack_socket *s) {
    int n = 0;
    for (const struct link *l = s ? s->links : NULL; l; l = l->next)
        if (l->hello) n++;
    return n;
}

/* Tell the owner when the pool went from no connection to some, or back. */
static void update_ready(struct slack_socket *s) {
    int ready = !s->fatal && !s->stopped && slack_socket_live(s) > 0;
    if (ready == s->was_ready) return;
    s->was_ready = ready;
    if (s->cb.ready) s->cb.ready(ready, s->data);
}

/* Take L off the pool's list; it closes on its own (with CODE when open). */
static void detach(struct slack_socket *s, struct link *l, int code) {
    for (struct link **pp = &s->links; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    l->next = NULL;
    l->s = NULL;
    if (code && l->out.wsi && !l->destroyed) ws_queue_close(&l->out, code, "", 0, 2);
}

/* Something failed before a hello: try again after a growing, jittered wait. */
static void backoff(struct slack_socket *s) {
    s->attempts++;
    if (s->fatal || s->stopped || uv_is_active((uv_handle_t *)s->retry)) return;
    double base = BACKOFF_BASE_MS * (double)(1u << (s->attempts < 8 ? s->attempts : 8));
    if (base > BACKOFF_MAX_MS) base = BACKOFF_MAX_MS;
    double ms = base * (0.5 + 0.5 * ((double)rand() / ((double)RAND_MAX + 1.0))) * s->o.time_scale;
    log_info("slack: opening a Socket Mode connection again in %.0f ms", ms);
    uv_timer_start(s->retry, on_retry, ms < 1 ? 1 : (uint64_t)ms, 0);
}

/* Stop for good: close everything, say why once. */
static void go_fatal(struct slack_socket *s, const char *why) {
    if (s->fatal) return;
    s->fatal = 1;
    log_error("slack: %s; the Slack adapter stays down (no reconnects) until the configuration is fixed and reloaded", why);
    metrics_inc(METRIC_PLATFORM_EVENTS, "slack_fatal", 1);
    uv_timer_stop(s->retry);
    while (s->links) detach(s, s->links, 1000);
    update_ready(s);
    if (s->cb.fatal) s->cb.fatal(why, s->data);
}

/* Is ERR an answer of apps.connections.open that retrying cannot fix? */
static int auth_error(const char *err) {
    static const char *const fatal[] = { "invalid_auth", "not_authed", "account_inactive", "token_revoked",
                                         "token_expired", "not_allowed_token_type", "missing_scope", "invalid_token",
                                         "no_permission", "app_missing_action_url", NULL };
    for (int i = 0; fatal[i]; i++)
        if (!strcmp(err, fatal[i])) return 1;
    return 0;
}

/* ---- connecting ------------------------------------------------------ */

/* Split a ws:// or wss:// URL; PATH keeps the query (the ticket). Returns 0 or -1. */
static int parse_url(const char *url, int *tls, char *host, size_t hlen, int *port, char *path, size_t plen) {
    const char *p;
    if (!strncmp(url, "wss://", 6)) {
        *tls = 1;
        *port = 443;
        p = url + 6;
    } else if (!strncmp(url, "ws://", 5)) {
        *tls = 0;
        *port = 80;
        p = url + 5;
    } else {
        return -1;
    }
    size_t hl = strcspn(p, ":/?");
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
    int n = snprintf(path, plen, "%s%s", *p == '/' ? "" : "/", p);
    return n < 0 || (size_t)n >= plen ? -1 : 0;
}

/* Open the websocket to URL at the resolved address ADDR. */
static void connect_link(struct slack_socket *s, const char *url, const char *addr) {
    int tls, port;
    char host[256], path[1024];
    if (parse_url(url, &tls, host, sizeof(host), &port, path, sizeof(path)) < 0) {
        log_error("slack: apps.connections.open gave a URL that is not ws:// or wss://");
        backoff(s);
        return;
    }
    struct link *l = xcalloc(1, sizeof(*l));
    ws_queue_init(&l->out, NULL, WS_CONNECTING, 0);
    l->s = s;
    l->id = ++s->next_id;
    l->in_connect = 1;
    l->next = s->links;
    s->links = l;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = s->ctx;
    ci.vhost = s->vhost;
    ci.address = addr;
    ci.port = port;
    ci.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
    ci.path = path;
    ci.host = host;
    ci.origin = host;
    ci.local_protocol_name = "slack-socket-mode";
    ci.opaque_user_data = l;
    ci.pwsi = &l->out.wsi;
    ci.retry_and_idle_policy = &s->policy;
    open_links++;
    log_debug("slack: connection %d connecting to %s:%d", l->id, host, port);
    struct lws *wsi = lws_client_connect_via_info(&ci);
    l->in_connect = 0;
    if (!wsi) {
        if (!l->destroyed) open_links--;
        int attached = l->s != NULL;
        if (attached) detach(s, l, 0);
        free(l);
        if (attached) {
            log_warn("slack: cannot open a connection to %s:%d", host, port);
            backoff(s);
        }
    }
}

/* The ticket URL's host resolved (lws would block the loop on DNS). */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct dns_req *d = req->data;
    struct slack_socket *s = d->s;
    char addr[INET6_ADDRSTRLEN] = "";
    if (status == 0 && res) {
        if (res->ai_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, addr, sizeof(addr));
        else uv_ip4_name((struct sockaddr_in *)res->ai_addr, addr, sizeof(addr));
    }
    uv_freeaddrinfo(res);
    if (s) {
        for (int i = 0; i < MAX_LINKS; i++)
            if (s->dns[i] == d) s->dns[i] = NULL;
        s->opening--;
        if (!addr[0]) {
            log_warn("slack: cannot resolve the Socket Mode host: %s", status ? uv_strerror(status) : "no address");
            backoff(s);
        } else if (!s->fatal && !s->stopped) {
            connect_link(s, d->url, addr);
        }
    }
    free(d->url);
    free(d);
}

/* apps.connections.open answered: resolve the ticket URL's host. */
static void on_opened(json_t *body, const char *err, void *data) {
    struct slack_socket *s = data;
    s->opening--;
    if (s->fatal || s->stopped) return;
    if (err) {
        if (auth_error(err)) {
            char why[160];
            snprintf(why, sizeof(why), "Slack refused the app token (apps.connections.open: %s)", err);
            go_fatal(s, why);
            return;
        }
        log_warn("slack: apps.connections.open failed: %s", err);
        backoff(s);
        return;
    }
    json_t *u = json_object_get(body, "url");
    const char *url = json_is_string(u) ? json_string_value(u) : NULL;
    int tls, port, slot = -1;
    char host[256], path[1024];
    if (!url || parse_url(url, &tls, host, sizeof(host), &port, path, sizeof(path)) < 0) {
        log_warn("slack: apps.connections.open gave no usable websocket URL");
        backoff(s);
        return;
    }
    for (int i = 0; i < MAX_LINKS && slot < 0; i++)
        if (!s->dns[i]) slot = i;
    if (slot < 0) return;
    struct dns_req *d = xcalloc(1, sizeof(*d));
    d->s = s;
    d->url = xstrdup(url);
    d->req.data = d;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (uv_getaddrinfo(s->loop, &d->req, on_resolved, host, NULL, &hints) < 0) {
        free(d->url);
        free(d);
        backoff(s);
        return;
    }
    s->dns[slot] = d;
    s->opening++;
}

/* Open connections until WANT are live or on their way (draining ones do not count). */
static void ensure(struct slack_socket *s) {
    if (s->fatal || s->stopped || uv_is_active((uv_handle_t *)s->retry)) return;
    int have = s->opening;
    for (struct link *l = s->links; l; l = l->next)
        if (!l->draining) have++;
    for (; have < s->o.want; have++) {
        s->opening++;
        if (slack_web_call(s->web, "apps.connections.open", json_object(), NULL, on_opened, s) < 0) {
            s->opening--;
            backoff(s);
            return;
        }
    }
}

void slack_socket_start(struct slack_socket *s) {
    ensure(s);
}

/* ---- messages ------------------------------------------------------- */

/* Write TEXT (LEN bytes) on L at once when nothing is queued before it and
 * lws holds no partial write: no writable round (POLLOUT armed and disarmed,
 * one more loop turn) per envelope. lws buffers a partial write itself.
 * Returns 0, or -1 when it must be queued instead. */
static int write_now(struct link *l, const char *text, size_t len) {
    unsigned char buf[LWS_PRE + 512];
    if (len > sizeof(buf) - LWS_PRE || l->out.state != WS_OPEN || l->out.head || !l->out.wsi ||
        lws_partial_buffered(l->out.wsi))
        return -1;
    memcpy(buf + LWS_PRE, text, len);
    if (lws_write(l->out.wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len)
        log_warn("slack: connection %d: could not write the ack of an envelope", l->id);
    return 0;
}

/* Is ID safe to put between JSON quotes as it is (Slack's are UUIDs)? */
static int plain_id(const char *id) {
    size_t n = 0;
    for (; id[n]; n++)
        if (id[n] == '"' || id[n] == '\\' || (unsigned char)id[n] < 0x20 || n > 200) return 0;
    return n > 0;
}

/* Ack ENVELOPE_ID on L at once (ahead of anything queued), with PAYLOAD if set (taken over). */
static void ack(struct link *l, const char *envelope_id, json_t *payload) {
    char small[256];
    char *text = NULL;
    size_t len;
    if (!payload && plain_id(envelope_id)) {
        len = (size_t)snprintf(small, sizeof(small), "{\"envelope_id\":\"%s\"}", envelope_id);
    } else {
        json_t *o = json_pack("{s:s}", "envelope_id", envelope_id);
        if (payload) json_object_set_new(o, "payload", payload);
        text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!text) return;
        len = strlen(text);
    }
    const char *out = text ? text : small;
    if (write_now(l, out, len) < 0 && ws_queue_push(&l->out, out, len, 1) < 0)
        log_warn("slack: connection %d: could not queue the ack of an envelope", l->id);
    free(text);
}

/* Slack said hello on L: it is live; an announced-closing link it replaces can go. */
static void on_hello(struct slack_socket *s, struct link *l) {
    l->hello = 1;
    s->attempts = 0;
    log_info("slack: connection %d is live (%d live)", l->id, slack_socket_live(s));
    int wanted = 0;
    for (struct link *k = s->links; k; k = k->next)
        if (k->hello && !k->draining) wanted++;
    struct link *old = NULL;
    for (struct link *k = s->links; k; k = k->next)
        if (k->draining) old = k;
    if (old && wanted >= s->o.want) {
        log_info("slack: connection %d replaced; closing it", old->id);
        detach(s, old, 1000);
    }
    update_ready(s);
}

/* A `disconnect` message: warning and refresh_requested mean "open another
 * now", link_disabled means Socket Mode was turned off for the app. */
static void on_disconnect(struct slack_socket *s, struct link *l, json_t *msg) {
    json_t *r = json_object_get(msg, "reason");
    const char *reason = json_is_string(r) ? json_string_value(r) : "unknown";
    if (!strcmp(reason, "link_disabled")) {
        go_fatal(s, "Slack disabled the Socket Mode link (disconnect: link_disabled; is Socket Mode still on for the app?)");
        return;
    }
    log_info("slack: connection %d: Slack announced a disconnect (%s); opening its replacement first", l->id, reason);
    metrics_inc(METRIC_PLATFORM_EVENTS, "slack_disconnect", 1);
    l->draining = 1;
    ensure(s);
}

/* Keys no envelope's reader looks at, in any object of it: the lean read
 * steps over them instead of building them (rich-text blocks, the
 * authorizations list, the bot profile's icons, ids and times nobody
 * reads). bot_profile itself stays: its presence marks a bot's message. */
static const char *const envelope_unread[] = {
    "blocks", "authorizations", "icons", "client_msg_id", "event_context", "token", "context_team_id",
    "context_enterprise_id", "api_app_id", "event_time", "event_ts", "event_id", "is_ext_shared_channel",
    "attachments", "files", "state", "view", "enterprise", "is_enterprise_install", "team", "retry_reason", NULL
};

/* One whole message from Slack on L. */
static void on_message(struct link *l, const char *text, size_t len) {
    struct slack_socket *s = l->s;
    json_error_t jerr;
    json_t *o = json_fast_loadb_lean(text, len, envelope_unread, &jerr);
    if (!json_is_object(o)) {
        log_warn("slack: connection %d: a message that is not a JSON object (%s); skipped", l->id, jerr.text);
        metrics_inc(METRIC_PLATFORM_EVENTS, "slack_malformed", 1);
        json_decref(o);
        return;
    }
    json_t *t = json_object_get(o, "type");
    json_t *id = json_object_get(o, "envelope_id");
    const char *type = json_is_string(t) ? json_string_value(t) : "";
    if (!strcmp(type, "hello")) {
        on_hello(s, l);
    } else if (!strcmp(type, "disconnect")) {
        on_disconnect(s, l, o);
    } else if (!json_is_string(id) || !json_string_length(id)) {
        log_warn("slack: connection %d: a \"%s\" message without an envelope_id; skipped", l->id, type);
        metrics_inc(METRIC_PLATFORM_EVENTS, "slack_malformed", 1);
    } else {
        json_t *payload = json_object_get(o, "payload");
        json_t *reply = NULL;
        if (!strcmp(type, "slash_commands") && s->o.command_ack && *s->o.command_ack &&
            json_is_true(json_object_get(o, "accepts_response_payload")))
            reply = json_pack("{s:s, s:s}", "response_type", "ephemeral", "text", s->o.command_ack);
        ack(l, json_string_value(id), reply);
        if (!json_is_object(payload)) {
            log_warn("slack: connection %d: a \"%s\" envelope without a payload object; acked and skipped", l->id, type);
            metrics_inc(METRIC_PLATFORM_EVENTS, "slack_malformed", 1);
        } else if (s->cb.envelope) {
            s->cb.envelope(type, payload, o, s->data);
        }
    }
    json_decref(o);
}

/* Append a fragment; a whole message goes to on_message. */
static void receive(struct link *l, const char *in, size_t len, int final) {
    struct slack_socket *s = l->s;
    if (!l->rx_overflow) {
        if (l->rx_len + len > s->o.max_inbound) {
            l->rx_overflow = 1;
        } else {
            l->rx = xrealloc(l->rx, l->rx_len + len + 1);
            memcpy(l->rx + l->rx_len, in, len);
            l->rx_len += len;
        }
    }
    if (!final) return;
    char *rx = l->rx;
    size_t n = l->rx_len;
    int overflow = l->rx_overflow;
    l->rx = NULL;
    l->rx_len = 0;
    l->rx_overflow = 0;
    if (overflow) log_warn("slack: connection %d: a message over max_inbound_bytes (%zu); skipped", l->id, s->o.max_inbound);
    else on_message(l, rx ? rx : "", n);
    free(rx);
}

/* L's socket went away: replace it (at once if it was live, else after a backoff). */
static void lost(struct link *l, const char *what) {
    struct slack_socket *s = l->s;
    if (!s) return;
    int was_live = l->hello && !l->draining;
    int had_hello = l->hello;
    detach(s, l, 0);
    if (had_hello) log_info("slack: connection %d closed (%s)", l->id, what);
    else log_warn("slack: connection %d failed before hello (%s)", l->id, what);
    metrics_inc(METRIC_PLATFORM_EVENTS, "slack_reconnect", 1);
    update_ready(s);
    if (!had_hello) backoff(s);
    else if (was_live || s->links == NULL) ensure(s);
    else ensure(s);
}

/* The lws callback of every Socket Mode connection. */
static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct link *l = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (l) ws_queue_set_state(&l->out, WS_OPEN);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!l || !l->s || l->out.state >= WS_CLOSING) return 0;
        receive(l, in, len, lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return l ? ws_queue_writable(&l->out) : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (l) {
            char what[200];
            snprintf(what, sizeof(what), "connection error: %s", in ? (const char *)in : "unknown");
            lost(l, what);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (l) lost(l, "closed");
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (!l) return 0;
        lost(l, "gone");
        lws_set_opaque_user_data(wsi, NULL);
        l->destroyed = 1;
        open_links--;
        ws_queue_closed(&l->out);
        free(l->rx);
        if (!l->in_connect) free(l);
        return 0;
    default:
        return 0;
    }
}

void slack_socket_free(struct slack_socket *s) {
    if (!s) return;
    s->stopped = 1;
    while (s->links) detach(s, s->links, 1000);
    for (int i = 0; i < MAX_LINKS; i++) {
        if (!s->dns[i]) continue;
        s->dns[i]->s = NULL;
        uv_cancel((uv_req_t *)&s->dns[i]->req);
    }
    uv_timer_stop(s->retry);
    uv_close((uv_handle_t *)s->retry, free_handle);
    free((char *)s->o.command_ack);
    free(s);
}
