/* mattermost_ws.c - the event websocket of mattermost_ws.h on an
 * io/ws_client connection.
 *
 * Lifetimes: the current connection is ws->wc. Giving it up abandons it
 * (ws_client_abandon: it closes on its own time and calls nothing back),
 * so a dying socket never holds up the reconnect. Timers are allocated one
 * by one and freed by their close callback, so the owner can be freed at
 * once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/ws_client.h"
#include "io/timer.h"
#include "platforms/mattermost/mattermost_ws.h"
#include "platforms/mattermost/mattermost_events.h"
#include "lib/json_fast.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

#define CLOSE_PING_TIMEOUT 4000      /* the web client's codes for the same two cases */
#define CLOSE_SEQ_MISMATCH 4001
#define MAX_SEND_QUEUE (1u << 20)

struct mattermost_ws {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct mattermost_ws_options opts;
    struct mattermost_ws_callbacks cb;
    void *arg;
    char *auth_header;             /* "Authorization: Bearer <token>\r\n" */
    char *token;                   /* for the authentication_challenge */
    struct ws_client *wc;          /* the current connection, or NULL */
    char *base;                    /* the server's URL without query or trailing slash */
    uv_timer_t *ping;
    uv_timer_t *retry;
    char *connection_id;           /* the server's session, once a hello named it */
    char *own_mark;                /* \"user_id\":\"<own_user_id>\" as it stands in data.post, or NULL */
    long next_seq;                 /* the seq the next event must carry */
    long action_seq;               /* our requests' seq on this connection */
    long challenge_seq;            /* the seq of this connection's authentication_challenge */
    int waiting_pong;
    int answers;                   /* the server answered a request on this connection */
    int refusal_said;              /* a refused request was logged (once is enough) */
    int skip_one;                  /* an oversized event was dropped: its seq may be missing */
    int attempts;                  /* connects since the last good one */
    int ready;
    int stopped;
    int fatal;                     /* the server refused the token: no more connects */
};

static int open_conns;

static void ws_connect(struct mattermost_ws *ws);

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
    struct mattermost_ws *ws = xcalloc(1, sizeof(*ws));
    ws->loop = loop;
    ws->ctx = ctx;
    ws->opts = *opts;
    ws->opts.url = xstrdup(opts->url);
    size_t bl = strcspn(opts->url, "?#");
    while (bl && opts->url[bl - 1] == '/') bl--;
    ws->base = xmalloc(bl + 1);
    memcpy(ws->base, opts->url, bl);
    ws->base[bl] = '\0';
    ws->opts.token = NULL;
    ws->opts.own_user_id = NULL;
    if (opts->own_user_id && *opts->own_user_id) {
        size_t mlen = strlen(opts->own_user_id) + 32;
        ws->own_mark = xmalloc(mlen);
        snprintf(ws->own_mark, mlen, "\\\"user_id\\\":\\\"%s\\\"", opts->own_user_id);
        ws->opts.own_user_id = xstrdup(opts->own_user_id);
    }
    if (ws->opts.ping_ms <= 0) ws->opts.ping_ms = 30000;
    if (ws->opts.reconnect_min_ms <= 0) ws->opts.reconnect_min_ms = 1000;
    if (ws->opts.reconnect_max_ms < ws->opts.reconnect_min_ms) ws->opts.reconnect_max_ms = ws->opts.reconnect_min_ms;
    if (!ws->opts.max_inbound) ws->opts.max_inbound = 8u << 20;
    size_t alen = strlen(opts->token) + 32;
    ws->auth_header = xmalloc(alen);
    snprintf(ws->auth_header, alen, "Authorization: Bearer %s\r\n", opts->token);
    ws->token = xstrdup(opts->token);
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
    if (!ws || !ws_client_is_open(ws->wc)) {
        json_decref(data);
        return -1;
    }
    json_t *o = json_pack("{s:s, s:I}", "action", action, "seq", (json_int_t)ws->action_seq++);
    if (data) json_object_set_new(o, "data", data);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) return -1;
    int rc = ws_client_send(ws->wc, text, strlen(text), 0);
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
    struct ws_client *wc = ws->wc;
    ws->wc = NULL;
    uv_timer_stop(ws->ping);
    if (wc) ws_client_abandon(wc, code);
    set_ready(ws, 0);
    if (ws->stopped || ws->fatal) return;
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


/* Ping tick: a ping still unanswered means a dead connection, on a server
 * that answers requests. One that never answered any (the ping action is
 * not in the API documentation) is watched by websocket pings instead
 * (ws_client's ping_ms), not dropped every other tick. */
static void on_ping(uv_timer_t *t) {
    struct mattermost_ws *ws = t->data;
    if (!ws->wc) return;
    if (ws->waiting_pong && !ws->answers) {
        log_debug("mattermost: the server answers no ping requests; websocket pings watch the connection");
    } else if (ws->waiting_pong) {
        log_warn("mattermost: no answer to the last ping; the connection is dead, resuming on a new one");
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_dead", 1);
        ws_reconnect(ws, CLOSE_PING_TIMEOUT, 1);
        return;
    }
    ws->waiting_pong = 1;
    mattermost_ws_send(ws, "ping", NULL);
}

/* The upgrade succeeded: sign in by the authentication_challenge too (the
 * documented way for a server that does not read the upgrade's header; one
 * that did ignores it), then start pinging. A resumed session is ready now
 * (the server sends no hello for it); a new one once its hello comes. */
static void on_established(struct mattermost_ws *ws) {
    ws->action_seq = 1;
    ws->answers = 0;
    ws->challenge_seq = ws->action_seq;
    mattermost_ws_send(ws, "authentication_challenge", json_pack("{s:s}", "token", ws->token));
    ws->waiting_pong = 1;
    mattermost_ws_send(ws, "ping", NULL);       /* test the socket at once, as the web client does */
    uv_timer_start(ws->ping, on_ping, (uint64_t)ws->opts.ping_ms, (uint64_t)ws->opts.ping_ms);
    if (ws->connection_id) {
        log_info("mattermost: connected again; asking for the events from seq %ld on", ws->next_seq);
        ws->attempts = 0;
        set_ready(ws, 1);
    }
}

static void on_open(struct ws_client *wc, void *arg);
static void on_ws_message(struct ws_client *wc, const char *data, size_t len, int binary, void *arg);
static void on_closed(struct ws_client *wc, const struct ws_close_info *info, void *arg);

/* Open a new connection, asking to resume the session when there is one. */
static void ws_connect(struct mattermost_ws *ws) {
    if (ws->stopped || ws->fatal || ws->wc) return;
    char url[4096];
    snprintf(url, sizeof(url), "%s/api/v4/websocket?connection_id=%s&sequence_number=%ld", ws->base,
             ws->connection_id ? ws->connection_id : "", ws->connection_id ? ws->next_seq : 0L);
    struct ws_client_options o;
    memset(&o, 0, sizeof(o));
    o.url = url;
    o.loop = ws->loop;
    o.headers = ws->auth_header;
    o.max_message = ws->opts.max_inbound;
    o.max_queue = MAX_SEND_QUEUE;
    o.live = &open_conns;
    o.ping_ms = ws->opts.ping_ms;
    static const struct ws_client_callbacks callbacks = { on_open, on_ws_message, on_closed };
    char err[256];
    ws->attempts++;
    log_debug("mattermost: connecting to %s", ws->base);
    ws->wc = ws_client_open(ws->ctx, &o, &callbacks, ws, err, sizeof(err));
    if (!ws->wc) {
        log_warn("mattermost: cannot open a connection to %s: %s", ws->base, err);
        ws_reconnect(ws, 0, 0);
    }
}

void mattermost_ws_start(struct mattermost_ws *ws) {
    ws_connect(ws);
}

/* ---- protocol ---------------------------------------------------------- */

/* A string member of O, or NULL. */
static const char *str_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The answer to one of our requests (a ping's pong, mostly). A refused
 * authentication_challenge means the token is wrong: said once, loudly. */
static void on_reply(struct mattermost_ws *ws, json_t *o) {
    const char *status = str_of(o, "status");
    long long seq = (long long)json_integer_value(json_object_get(o, "seq_reply"));
    if (seq != ws->challenge_seq) {   /* a server that took the header may answer the challenge, yet no ping */
        ws->waiting_pong = 0;
        ws->answers = 1;
    }
    if (status && strcmp(status, "OK")) {
        const char *id = str_of(json_object_get(o, "error"), "id");
        if (seq == ws->challenge_seq)
            log_error("mattermost: the server refused the token (authentication_challenge: %s); check MATTERMOST_TOKEN",
                      id ? id : status);
        else if (!ws->refusal_said)
            log_warn("mattermost: the server refused request %lld: %s (further refusals are logged at debug)", seq,
                     id ? id : status);
        else
            log_debug("mattermost: the server refused request %lld: %s", seq, id ? id : status);
        if (seq != ws->challenge_seq) ws->refusal_said = 1;
    }
}

/* A hello (SEQ its seq, -1 when it has none) starts the server's stream
 * of a session. Only one naming the session we resumed goes on counting;
 * any other (another connection_id, or none: servers before 5.x name
 * none and cannot resume) starts a new count at its own seq, and the
 * events in between are gone. */
static void on_hello(struct mattermost_ws *ws, json_t *data, long seq) {
    const char *cid = str_of(data, "connection_id");
    if (cid && ws->connection_id && !strcmp(cid, ws->connection_id)) return;
    if (ws->connection_id || ws->next_seq > 0) {
        log_warn("mattermost: the server started a new session instead of replaying from seq %ld; "
                 "events sent while disconnected are lost", ws->next_seq);
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_session_lost", 1);
    }
    free(ws->connection_id);
    ws->connection_id = cid ? xstrdup(cid) : NULL;
    ws->next_seq = seq > 0 ? seq : 0;
    ws->skip_one = 0;
}

/* Keys of websocket events no reader looks at: the broadcast's routing,
 * the channel's display names, set_online. */
static const char *const event_unread[] = {
    "broadcast", "channel_display_name", "channel_name", "set_online", "omit_users", "server_version", NULL
};

/* Check SEQ of the event TYPE against the one expected next. 1: it is
 * the next one (now counted) and is to be handed on; 0: it was seen
 * already, or some went missing and the connection is being replaced. */
static int next_in_order(struct mattermost_ws *ws, long seq, const char *type) {
    if (seq < ws->next_seq) {
        log_debug("mattermost: event %ld (%s) seen already; skipped", seq, type);
        return 0;
    }
    if (seq == ws->next_seq + 1 && ws->skip_one) ws->next_seq = seq;     /* the oversized one */
    ws->skip_one = 0;
    if (seq > ws->next_seq) {
        log_warn("mattermost: events %ld to %ld never arrived; reconnecting to have them replayed", ws->next_seq, seq - 1);
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_seq_gap", 1);
        ws_reconnect(ws, CLOSE_SEQ_MISMATCH, 1);
        return 0;
    }
    ws->next_seq = seq + 1;
    return 1;
}

/* The seq of an event whose text ends with it, as the server writes
 * every event ({"event":..,"data":..,"broadcast":..,"seq":12}): read from
 * the end, so the data before it is not stepped over. -1 when the text
 * does not end with a "seq" member of digits. */
static long trailing_seq(const char *text, size_t len) {
    const char *p = text + len;
    while (p > text && (p[-1] == ' ' || p[-1] == '\n' || p[-1] == '\r' || p[-1] == '\t')) p--;
    if (p == text || *--p != '}') return -1;
    const char *end = p;
    while (p > text && p[-1] >= '0' && p[-1] <= '9') p--;
    size_t n = (size_t)(end - p);
    if (n == 0 || n > 18 || (n > 1 && *p == '0')) return -1;
    long seq = 0;
    for (size_t i = 0; i < n; i++) seq = seq * 10 + (p[i] - '0');
    if (p - text < 7 || memcmp(p - 7, ",\"seq\":", 7) != 0) return -1;   /* the quote after a comma opens the key */
    return seq;
}

/* The bot's own post coming back as a `posted` event (the server sends
 * every post to its author's websocket too, and the adapter skips its
 * own): its seq is counted like any event's and nothing is built. 1 if
 * TEXT was one and is done with. Only what the full read would take the
 * same way goes here (the event's name, a seq of digits as its last
 * member, a post of ours as mattermost_posted_own reads it); the rest goes
 * the long way, where anything malformed is logged. The text between the
 * post's message and the seq is not looked at. */
static int own_post_counted(struct mattermost_ws *ws, const char *text, size_t len) {
    static const char *const event_path[] = { "event", NULL };
    const char *v;
    size_t n;
    if (json_fast_member(text, len, event_path, &v, &n) < 0 || n != 8 || memcmp(v, "\"posted\"", 8) != 0) return 0;
    long seq = trailing_seq(text, len);
    if (seq < 0 || !mattermost_posted_own(text, len, ws->opts.own_user_id)) return 0;
    next_in_order(ws, seq, "posted");
    return 1;
}

/* One whole message from the server: a reply, or an event checked against
 * the seq we expect. Malformed ones are logged and skipped. */
static void on_message(struct mattermost_ws *ws, const char *text, size_t len) {
    if (ws->own_mark && memmem(text, len, ws->own_mark, strlen(ws->own_mark)) && own_post_counted(ws, text, len)) return;
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
    if (!type || (seqv && (!json_is_integer(seqv) || json_integer_value(seqv) < 0))) {
        log_warn("mattermost: an event without a name, or with a seq that is not a count; skipped");
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_malformed", 1);
        json_decref(o);
        return;
    }
    /* An event without a seq (servers before sequence numbers) cannot be
     * checked for order or gaps: it is handed on as it comes. */
    long seq = seqv ? (long)json_integer_value(seqv) : -1;
    json_t *data = json_object_get(o, "data");
    if (!strcmp(type, "hello")) on_hello(ws, data, seq);
    if (seq >= 0 && !next_in_order(ws, seq, type)) {
        json_decref(o);
        return;
    }
    if (!strcmp(type, "hello")) {
        log_info("mattermost: connected (session %s)", ws->connection_id ? ws->connection_id : "?");
        ws->attempts = 0;
        set_ready(ws, 1);
    }
    if (ws->cb.event) ws->cb.event(type, json_is_object(data) ? data : NULL, ws->arg);
    json_decref(o);
}

/* The upgrade succeeded. */
static void on_open(struct ws_client *wc, void *arg) {
    (void)wc;
    on_established(arg);
}

/* A whole message from the server; NULL DATA: one too large to keep. */
static void on_ws_message(struct ws_client *wc, const char *data, size_t len, int binary, void *arg) {
    struct mattermost_ws *ws = arg;
    (void)wc;
    (void)binary;
    if (!data) {
        /* Its seq is unknown: the gap it leaves is accepted once, or the
         * replay would bring it back, too big again, forever. */
        log_error("mattermost: a websocket message was larger than %zu bytes (%zu); skipped", ws->opts.max_inbound, len);
        ws->skip_one = 1;
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_oversized", 1);
        return;
    }
    on_message(ws, data, len);
}

/* The connection ended (or never opened): resume on a new one. */
static void on_closed(struct ws_client *wc, const struct ws_close_info *info, void *arg) {
    struct mattermost_ws *ws = arg;
    if (ws->wc != wc) return;
    ws->wc = NULL;
    if (info->http_status == 401 || info->http_status == 403) {
        log_error("mattermost: the server refused the token at the websocket upgrade (HTTP %u); check MATTERMOST_TOKEN. "
                  "The Mattermost adapter stays down (no reconnects) until the configuration is fixed and reloaded",
                  info->http_status);
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_fatal", 1);
        ws->fatal = 1;
        uv_timer_stop(ws->ping);
        set_ready(ws, 0);
        return;
    }
    if (info->opened)
        log_warn("mattermost: the websocket connection closed (%d%s%s)", info->code, info->error ? ": " : "",
                 info->error ? info->error : "");
    else
        log_warn("mattermost: the websocket connection failed: %s", info->error ? info->error : "unknown error");
    ws_reconnect(ws, 0, 0);
}

void mattermost_ws_free(struct mattermost_ws *ws) {
    if (!ws) return;
    ws->stopped = 1;
    if (ws->wc) {
        ws_client_abandon(ws->wc, 1000);
        ws->wc = NULL;
    }
    timer_free(&ws->ping);
    timer_free(&ws->retry);
    free(ws->connection_id);
    free(ws->own_mark);
    free((char *)ws->opts.own_user_id);
    free((char *)ws->opts.url);
    free(ws->auth_header);
    free(ws->token);
    free(ws->base);
    free(ws);
}
