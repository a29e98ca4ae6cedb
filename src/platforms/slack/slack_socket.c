/* slack_socket.c - the Socket Mode connection pool of slack_socket.h on
 * io/ws_client connections.
 *
 * Lifetimes: the pool owns its timers and its links; each link holds one
 * ws_client. A link the pool gives up is freed at once and its connection
 * abandoned (it closes on its own time and calls nothing back), so a dying
 * socket never holds anything up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/ws_client.h"
#include "platforms/slack/slack_socket.h"
#include "platforms/slack/slack_web.h"
#include "lib/json_fast.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"
#include "io/timer.h"

#define BACKOFF_BASE_MS 500.0
#define BACKOFF_MAX_MS 30000.0
#define MAX_LINKS 10

struct link {
    struct slack_socket *s;
    struct ws_client *wc;
    int id;
    int hello;                     /* Slack said hello: events may come */
    int draining;                  /* Slack announced a disconnect */
    struct link *next;
};

struct slack_socket {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct slack_web *web;
    struct slack_socket_options o;
    struct slack_socket_callbacks cb;
    void *data;
    struct link *links;            /* attached links */
    int opening;                   /* apps.connections.open calls under way */
    int attempts;                  /* failures since the last hello */
    int next_id;
    int was_ready;
    int fatal;
    int stopped;
    uv_timer_t *retry;
};

static int open_links;

static void ensure(struct slack_socket *s);
static void on_link_message(struct ws_client *wc, const char *data, size_t len, int binary, void *arg);
static void on_link_closed(struct ws_client *wc, const struct ws_close_info *info, void *arg);

static const struct ws_client_callbacks link_callbacks = { NULL, on_link_message, on_link_closed };

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
    struct slack_socket *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->ctx = ctx;
    s->web = web;
    s->o = *o;
    s->o.command_ack = o->command_ack ? xstrdup(o->command_ack) : NULL;
    if (s->o.want < 1) s->o.want = 1;
    if (s->o.want > MAX_LINKS / 2) s->o.want = MAX_LINKS / 2;
    if (!s->o.max_inbound) s->o.max_inbound = 8u << 20;
    if (s->o.time_scale <= 0) s->o.time_scale = 1.0;
    if (s->o.ping_s <= 0) s->o.ping_s = 30;
    s->cb = *cb;
    s->data = data;
    s->retry = timer_new(loop, s);
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

/* Take L off the pool's list. */
static void unlink_link(struct slack_socket *s, struct link *l) {
    for (struct link **pp = &s->links; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
}

/* Give L up: its connection closes on its own (with CODE when open). */
static void detach(struct slack_socket *s, struct link *l, int code) {
    unlink_link(s, l);
    ws_client_abandon(l->wc, code);
    free(l);
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

void slack_socket_stop(struct slack_socket *s) {
    if (!s || s->fatal) return;
    s->fatal = 1;
    uv_timer_stop(s->retry);
    while (s->links) detach(s, s->links, 1000);
    update_ready(s);
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

/* Open the websocket to URL, the ticket apps.connections.open gave. */
static void connect_link(struct slack_socket *s, const char *url) {
    struct link *l = xcalloc(1, sizeof(*l));
    l->s = s;
    l->id = ++s->next_id;
    struct ws_client_options wo;
    memset(&wo, 0, sizeof(wo));
    wo.url = url;
    wo.loop = s->loop;
    wo.max_message = s->o.max_inbound;
    wo.live = &open_links;
    wo.ping_ms = (long)s->o.ping_s * 1000;
    char err[256];
    log_debug("slack: connection %d connecting", l->id);   /* the URL carries a ticket: not logged */
    l->wc = ws_client_open(s->ctx, &wo, &link_callbacks, l, err, sizeof(err));
    if (!l->wc) {
        log_warn("slack: cannot open a Socket Mode connection: %s", err);
        free(l);
        backoff(s);
        return;
    }
    l->next = s->links;
    s->links = l;
}

/* apps.connections.open answered: connect to the ticket URL. */
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
    if (!url || (strncmp(url, "wss://", 6) && strncmp(url, "ws://", 5))) {
        log_warn("slack: apps.connections.open gave no usable websocket URL");
        backoff(s);
        return;
    }
    connect_link(s, url);
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

/* Is ID safe to put between JSON quotes as it is (Slack's are UUIDs)? */
static int plain_id(const char *id) {
    size_t n = 0;
    for (; id[n]; n++)
        if (id[n] == '"' || id[n] == '\\' || (unsigned char)id[n] < 0x20 || n > 200) return 0;
    return n > 0;
}

/* Ack ENVELOPE_ID on L at once, with PAYLOAD if set (taken over). The
 * frame is written from the receive callback when the socket is not backed
 * up: no writable round (POLLOUT armed and disarmed) per envelope. */
static void ack(struct link *l, const char *envelope_id, json_t *payload) {
    char small[256];
    char *text = NULL;
    size_t len;
    if (!payload && plain_id(envelope_id)) {   /* at most 201 bytes: it fits */
        size_t n = strlen(envelope_id);
        memcpy(small, "{\"envelope_id\":\"", 16);
        memcpy(small + 16, envelope_id, n);
        memcpy(small + 16 + n, "\"}", 2);
        len = 18 + n;
    } else {
        json_t *o = json_pack("{s:s}", "envelope_id", envelope_id);
        if (payload) json_object_set_new(o, "payload", payload);
        text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!text) return;
        len = strlen(text);
    }
    const char *out = text ? text : small;
    if (ws_client_send(l->wc, out, len, 0) < 0) log_warn("slack: connection %d: could not write the ack of an envelope", l->id);
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
    metrics_inc(METRIC_PLATFORM_EVENTS, "slack_disconnect", 1);
    l->draining = 1;
    if (!strcmp(reason, "too_many_websockets")) {
        /* The app holds more connections than Slack allows (other
         * processes of it too): want one fewer, or each replacement
         * would be turned away in its turn. */
        if (s->o.want > 1) s->o.want--;
        log_warn("slack: connection %d: Slack says the app has too many websockets; keeping %d from now on", l->id,
                 s->o.want);
    } else {
        log_info("slack: connection %d: Slack announced a disconnect (%s); opening its replacement first", l->id, reason);
    }
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

/* A bot's message in an events_api envelope (Slack sends the bot its own
 * posts back, and the adapter drops any message that has a bot_id): acked
 * from the raw envelope_id, nothing built. 1 if TEXT was one and is done
 * with. What is read must be as the full read would take it (one whole
 * object, of type events_api, a plain envelope_id, an event with a type
 * string and a bot_id), or TEXT goes the long way; the rest of the event
 * is only stepped over. */
static int bot_message_acked(struct link *l, const char *text, size_t len) {
    static const char *const keys[] = { "envelope_id", "payload", "type", NULL };
    static const char *const event_path[] = { "payload", "event", NULL };
    static const char *const bot_path[] = { "bot_id", NULL };
    static const char *const type_path[] = { "type", NULL };
    const char *v[3], *ev, *x;
    size_t n[3], xlen;
    if (!memmem(text, len, "\"bot_id\"", 8)) return 0;
    if (json_fast_members(text, len, keys, v, n) < 0 || !v[0] || !v[1] || !v[2]) return 0;
    if (n[2] != 12 || memcmp(v[2], "\"events_api\"", 12) != 0) return 0;
    if (n[0] < 3 || n[0] > 202 || v[0][0] != '"') return 0;
    for (size_t i = 1; i < n[0] - 1; i++)
        if (v[0][i] == '\\' || (unsigned char)v[0][i] < 0x20) return 0;
    /* Where the event starts: its bot_id and type are read from there. */
    if (json_fast_member(text, len, event_path, &ev, NULL) < 0) return 0;
    size_t evlen = (size_t)(text + len - ev);
    if (json_fast_member(ev, evlen, bot_path, &x, &xlen) < 0) return 0;
    if (json_fast_member(ev, evlen, type_path, &x, &xlen) < 0 || x[0] != '"') return 0;
    char ack_text[256];
    memcpy(ack_text, "{\"envelope_id\":", 15);
    memcpy(ack_text + 15, v[0], n[0]);
    ack_text[15 + n[0]] = '}';
    if (ws_client_send(l->wc, ack_text, 16 + n[0], 0) < 0)
        log_warn("slack: connection %d: could not write the ack of an envelope", l->id);
    return 1;
}

/* One whole message from Slack on L. */
static void on_message(struct link *l, const char *text, size_t len) {
    struct slack_socket *s = l->s;
    json_error_t jerr;
    if (bot_message_acked(l, text, len)) return;
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

/* A whole message on L's connection; NULL DATA: one over max_inbound_bytes. */
static void on_link_message(struct ws_client *wc, const char *data, size_t len, int binary, void *arg) {
    struct link *l = arg;
    (void)wc;
    (void)binary;
    if (!data) {
        log_warn("slack: connection %d: a message over max_inbound_bytes (%zu bytes > %zu); skipped", l->id, len,
                 l->s->o.max_inbound);
        return;
    }
    on_message(l, data, len);
}

/* L's connection ended (or never opened): replace it, at once if it had
 * said hello, else after a backoff. */
static void on_link_closed(struct ws_client *wc, const struct ws_close_info *info, void *arg) {
    struct link *l = arg;
    struct slack_socket *s = l->s;
    (void)wc;
    int had_hello = l->hello;
    int id = l->id;
    unlink_link(s, l);
    free(l);
    if (had_hello) log_info("slack: connection %d closed (%d%s%s)", id, info->code, info->error ? ": " : "", info->error ? info->error : "");
    else log_warn("slack: connection %d failed before hello (%s)", id, info->error ? info->error : "closed");
    metrics_inc(METRIC_PLATFORM_EVENTS, "slack_reconnect", 1);
    update_ready(s);
    if (!had_hello) backoff(s);
    else ensure(s);
}

void slack_socket_free(struct slack_socket *s) {
    if (!s) return;
    s->stopped = 1;
    while (s->links) detach(s, s->links, 1000);
    timer_free(&s->retry);
    free((char *)s->o.command_ack);
    free(s);
}
