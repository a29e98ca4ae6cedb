/* discord_gateway.c - the gateway protocol of discord_gateway.h on
 * io/ws_client connections.
 *
 * Lifetimes: a shard lives as long as its hub. Each connection attempt is a
 * struct gw_conn owned by its shard. A shard that gives a connection up
 * abandons its ws_client (it closes on its own time and calls nothing back),
 * so a dying socket never holds up the reconnect, and frees the gw_conn (at
 * the end of the message being handled, when it is given up inside one).
 * Timers are allocated one by one and freed by their close callback, so the
 * hub can be freed at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/ws_client.h"
#include "io/timer.h"
#include "platforms/discord/discord_gateway.h"
#include "platforms/discord/discord_zlib.h"
#include "lib/json_fast.h"
#include "lib/memfind.h"
#include "lib/log.h"
#include "lib/ws_url.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

#define OP_DISPATCH 0
#define OP_HEARTBEAT 1
#define OP_IDENTIFY 2
#define OP_RESUME 6
#define OP_RECONNECT 7
#define OP_INVALID_SESSION 9
#define OP_HELLO 10
#define OP_ACK 11

#define MAX_SEND_BYTES 4096
#define SENDS_PER_WINDOW 120
#define SEND_WINDOW_MS 60000.0
#define IDENTIFY_WINDOW_MS 5000.0
#define BACKOFF_BASE_MS 1000.0
#define BACKOFF_MAX_MS 60000.0
#define CLOSE_RESUMABLE 4900       /* our own non-1000 close: the session stays resumable */
#define MAX_BUCKETS 64

struct gw_out {
    struct gw_out *next;
    size_t len;
    char text[];
};

struct gw_conn {
    struct discord_gateway_shard *shard;
    struct ws_client *wc;          /* NULL once closed or given up */
    struct discord_zlib *zlib;     /* the inflate side of zlib-stream, when compress is on */
    struct gw_out *head, *tail;    /* payloads waiting for room in the send window */
    uint64_t sends[SENDS_PER_WINDOW];  /* ring of the last sends' loop times */
    int nsends, send_pos;
    int hello;
    int resuming;                  /* Resume sent, RESUMED not come yet */
    int acked;
    int busy;                      /* a message is being handled: free at its end */
    int dropped;                   /* the shard gave it up */
};

struct discord_gateway_shard {
    struct discord_gateway_hub *hub;
    int id;
    struct gw_conn *conn;
    uv_timer_t *heartbeat;
    uv_timer_t *retry;             /* backoff before the next connect */
    uv_timer_t *send_wait;         /* the 120-per-60-s window is full */
    char *session_id;
    char *resume_url;
    long seq;
    int attempts;                  /* connects since the last READY/RESUMED */
    int resume_failures;           /* resumes in a row that ended without RESUMED */
    int ready;
    int stopped;                   /* a fatal close: never reconnect */
    int waiting_identify;
    int asking_identify;           /* the identify gate has not answered yet */
    char stop_reason[160];
    struct discord_gateway_shard *next_waiting;
};

struct discord_gateway_hub {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct discord_gateway_options opts;
    struct discord_gateway_callbacks cb;
    void *data;
    struct discord_gateway_shard **shards;
    int nshards;
    uint64_t bucket_next[MAX_BUCKETS];   /* when each identify bucket may identify again */
    uint64_t session_reset_at;
    long session_total;
    struct discord_gateway_shard *waiting;       /* shards waiting for an identify slot */
    uv_timer_t *identify_timer;
};

static int open_conns;

static void shard_connect(struct discord_gateway_shard *s);
static void identify_pump(struct discord_gateway_hub *h);
static void forget_session(struct discord_gateway_shard *s);
static void send_identify(struct discord_gateway_shard *s);
static void request_identify(struct discord_gateway_shard *s);
static void on_send_wait(uv_timer_t *t);

/* Loop milliseconds scaled for tests (never below 1). */
static uint64_t scaled(const struct discord_gateway_hub *h, double ms) {
    double v = ms * h->opts.time_scale;
    return v < 1 ? 1 : (uint64_t)v;
}

/* A random number in [0, 1). */
static double random_unit(void) {
    return (double)rand() / ((double)RAND_MAX + 1.0);
}

struct discord_gateway_hub *discord_gateway_new(uv_loop_t *loop, struct lws_context *ctx, const struct discord_gateway_options *opts,
                                const struct discord_gateway_callbacks *cb, void *data, char *err, size_t errlen) {
    if (!ctx) {
        snprintf(err, errlen, "discord: the websocket context is not running");
        return NULL;
    }
    struct discord_gateway_hub *h = xcalloc(1, sizeof(*h));
    if (!h) return NULL;
    h->loop = loop;
    h->ctx = ctx;
    h->opts = *opts;
    h->opts.token = xstrdup(opts->token);
    h->opts.url = xstrdup(opts->url);
    if (h->opts.time_scale <= 0) h->opts.time_scale = 1.0;
    if (h->opts.max_concurrency < 1) h->opts.max_concurrency = 1;
    if (h->opts.max_concurrency > MAX_BUCKETS) h->opts.max_concurrency = MAX_BUCKETS;
    if (h->opts.total_shards < 1) h->opts.total_shards = 1;
    h->session_total = opts->session_remaining;
    h->cb = *cb;
    h->data = data;
    h->identify_timer = timer_new(loop, h);
    return h;
}

/* A new shard ID of H, not connecting yet. */
static struct discord_gateway_shard *shard_new(struct discord_gateway_hub *h, int id) {
    struct discord_gateway_shard **p = xrealloc(h->shards, sizeof(*p) * (size_t)(h->nshards + 1));
    if (!p) return NULL;
    h->shards = p;
    struct discord_gateway_shard *s = xcalloc(1, sizeof(*s));
    if (!s) return NULL;
    s->hub = h;
    s->id = id;
    s->heartbeat = timer_new(h->loop, s);
    s->retry = timer_new(h->loop, s);
    s->send_wait = timer_new(h->loop, s);
    h->shards[h->nshards++] = s;
    return s;
}

int discord_gateway_add_shard(struct discord_gateway_hub *h, int id) {
    struct discord_gateway_shard *s = discord_gateway_find(h, id) ? NULL : shard_new(h, id);
    if (!s) return -1;
    shard_connect(s);
    return 0;
}

int discord_gateway_add_shard_session(struct discord_gateway_hub *h, int id, const char *session_id,
                                      const char *resume_url, long seq) {
    struct discord_gateway_shard *s = discord_gateway_find(h, id) ? NULL : shard_new(h, id);
    if (!s) return -1;
    if (session_id && *session_id) {
        s->session_id = xstrdup(session_id);
        s->resume_url = resume_url && *resume_url ? xstrdup(resume_url) : NULL;
        s->seq = seq > 0 ? seq : 0;
    }
    shard_connect(s);
    return 0;
}

struct discord_gateway_shard *discord_gateway_find(const struct discord_gateway_hub *h, int id) {
    for (int i = 0; h && i < h->nshards; i++)
        if (h->shards[i]->id == id) return h->shards[i];
    return NULL;
}

long discord_gateway_shard_seq(const struct discord_gateway_shard *s) {
    return s->seq;
}

const char *discord_gateway_shard_session(const struct discord_gateway_shard *s) {
    return s->session_id;
}

const char *discord_gateway_shard_resume_url(const struct discord_gateway_shard *s) {
    return s->resume_url;
}

int discord_gateway_shard_ready(const struct discord_gateway_shard *s) {
    return s->ready;
}

int discord_gateway_shard_id(const struct discord_gateway_shard *s) {
    return s->id;
}

int discord_gateway_shard_count(const struct discord_gateway_hub *h) {
    return h ? h->nshards : 0;
}

int discord_gateway_ready(const struct discord_gateway_hub *h) {
    if (!h || h->nshards == 0) return 0;
    for (int i = 0; i < h->nshards; i++)
        if (!h->shards[i]->ready) return 0;
    return 1;
}

const char *discord_gateway_status(const struct discord_gateway_hub *h, char *buf, size_t len) {
    if (!h) return NULL;
    for (int i = 0; i < h->nshards; i++) {
        struct discord_gateway_shard *s = h->shards[i];
        if (s->stopped) snprintf(buf, len, "shard %d stopped: %s", s->id, s->stop_reason);
        else if (!s->ready) snprintf(buf, len, "shard %d is connecting", s->id);
        else continue;
        return buf;
    }
    return NULL;
}

int discord_gateway_open_connections(void) {
    return open_conns;
}

/* ---- sending -------------------------------------------------------- */

/* Does C's send window (120 per 60 s, heartbeats included) have room
 * now? When it does not, the wait timer is armed for when it will. */
static int window_open(struct gw_conn *c) {
    struct discord_gateway_shard *s = c->shard;
    if (c->nsends < SENDS_PER_WINDOW) return 1;
    uint64_t now = uv_now(s->hub->loop);
    uint64_t oldest = c->sends[c->send_pos];
    uint64_t window = scaled(s->hub, SEND_WINDOW_MS);
    if (now >= oldest + window) return 1;
    if (!uv_is_active((uv_handle_t *)s->send_wait)) uv_timer_start(s->send_wait, on_send_wait, oldest + window - now, 0);
    return 0;
}

/* Write TEXT on C now and count it in the send window. */
static int conn_write(struct gw_conn *c, const char *text, size_t len) {
    c->sends[c->send_pos] = uv_now(c->shard->hub->loop);
    c->send_pos = (c->send_pos + 1) % SENDS_PER_WINDOW;
    if (c->nsends < SENDS_PER_WINDOW) c->nsends++;
    return ws_client_send(c->wc, text, len, 0);
}

/* Write the payloads that waited for the window, while it has room. */
static void conn_flush(struct gw_conn *c) {
    while (c->head && c->wc && window_open(c)) {
        struct gw_out *o = c->head;
        c->head = o->next;
        if (!c->head) c->tail = NULL;
        conn_write(c, o->text, o->len);
        free(o);
    }
}

/* Send PAYLOAD (taken over) on C, or keep it until the send window has
 * room; heartbeats go ahead of the payloads kept. Refuses payloads over
 * Discord's 4096 bytes. Returns 0 or -1. */
static int conn_send(struct gw_conn *c, json_t *payload, int urgent) {
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    if (!text) return -1;
    size_t len = strlen(text);
    if (len > MAX_SEND_BYTES) {
        log_error("discord: a %zu-byte gateway payload is over Discord's 4096-byte limit; not sent", len);
        free(text);
        return -1;
    }
    if (!ws_client_is_open(c->wc)) {
        free(text);
        return -1;
    }
    if (!c->head && window_open(c)) {
        int rc = conn_write(c, text, len);
        free(text);
        return rc;
    }
    struct gw_out *o = xmalloc(sizeof(*o) + len + 1);
    o->len = len;
    memcpy(o->text, text, len + 1);
    free(text);
    if (urgent) {
        o->next = c->head;
        c->head = o;
        if (!c->tail) c->tail = o;
    } else {
        o->next = NULL;
        if (c->tail) c->tail->next = o;
        else c->head = o;
        c->tail = o;
    }
    return 0;
}

/* The send window has room again: write what waits. */
static void on_send_wait(uv_timer_t *t) {
    struct discord_gateway_shard *s = t->data;
    if (s->conn) conn_flush(s->conn);
}

/* Free what a connection still holds. */
static void conn_free(struct gw_conn *c) {
    while (c->head) {
        struct gw_out *o = c->head;
        c->head = o->next;
        free(o);
    }
    discord_zlib_free(c->zlib);
    free(c);
}

/* The shard is done with C: close it with CODE (0: just drop the socket)
 * and free it, or mark it to be freed when the message in hand is done. */
static void conn_drop(struct gw_conn *c, int code) {
    if (c->wc) ws_client_abandon(c->wc, code);
    c->wc = NULL;
    c->dropped = 1;
    if (!c->busy) conn_free(c);
}

/* ---- connection life cycle ------------------------------------------ */

/* Is CODE one of the close codes after which reconnecting cannot help? */
static const char *fatal_reason(int code) {
    switch (code) {
    case 4004: return "authentication failed (check the bot token)";
    case 4010: return "invalid shard (check shards.ids and shards.total)";
    case 4011: return "sharding required (set shards = \"auto\" or more shards)";
    case 4012: return "invalid API version";
    case 4013: return "invalid intents (check the intents number)";
    case 4014: return "disallowed intents (enable them in the developer portal, e.g. MESSAGE_CONTENT)";
    default: return NULL;
    }
}

/* Forget the session: the next connection identifies afresh. */
static void forget_session(struct discord_gateway_shard *s) {
    free(s->session_id);
    s->session_id = NULL;
    free(s->resume_url);
    s->resume_url = NULL;
    s->seq = 0;
    s->resume_failures = 0;
}

/* C's Resume ended without RESUMED (WHAT: how). A server may say it lost
 * the session otherwise than with op 9 d=false, or not at all; after two
 * such resumes in a row the session is given up for a fresh Identify, so
 * no shard resumes a dead session forever. */
static void resume_failed(struct gw_conn *c, const char *what) {
    struct discord_gateway_shard *s = c->shard;
    if (!c->resuming || !s->session_id) return;
    c->resuming = 0;
    if (++s->resume_failures < 2) return;
    log_warn("discord: shard %d: %d resumes in a row ended without RESUMED (the last: %s); identifying afresh", s->id,
             s->resume_failures, what);
    forget_session(s);
}

/* The backoff is over: connect again. */
static void on_retry(uv_timer_t *t) {
    shard_connect(t->data);
}

/* Give up S's current connection (closing it with CODE if it is open) and
 * schedule the next one: after WAIT_MS loop milliseconds when it is not
 * negative, else at once when IMMEDIATE, else after a backoff. */
static void shard_reconnect_in(struct discord_gateway_shard *s, int code, int immediate, long wait_ms) {
    struct discord_gateway_hub *h = s->hub;
    struct gw_conn *c = s->conn;
    int was_ready = s->ready;
    s->conn = NULL;
    s->ready = 0;
    uv_timer_stop(s->heartbeat);
    uv_timer_stop(s->send_wait);
    if (c) conn_drop(c, code);
    if (was_ready && h->cb.ready) h->cb.ready(h, h->data);
    if (s->stopped) return;
    metrics_inc(METRIC_PLATFORM_EVENTS, "discord_reconnect", 1);
    double delay = 0;
    if (!immediate) {
        double base = BACKOFF_BASE_MS * (double)(1u << (s->attempts < 6 ? s->attempts : 6));
        if (base > BACKOFF_MAX_MS) base = BACKOFF_MAX_MS;
        delay = base * (0.5 + 0.5 * random_unit());
    }
    uint64_t ms = wait_ms >= 0 ? (uint64_t)wait_ms : immediate ? 0 : scaled(h, delay);
    log_info("discord: shard %d reconnecting in %llu ms (%s)", s->id, (unsigned long long)ms,
             s->session_id ? "will resume" : "will identify");
    uv_timer_start(s->retry, on_retry, ms, 0);
}

/* shard_reconnect_in without a set wait. */
static void shard_reconnect(struct discord_gateway_shard *s, int code, int immediate) {
    shard_reconnect_in(s, code, immediate, -1);
}

/* Stop S for good after a fatal close code. */
static void shard_fatal(struct discord_gateway_shard *s, int code, const char *why) {
    struct discord_gateway_hub *h = s->hub;
    s->stopped = 1;
    snprintf(s->stop_reason, sizeof(s->stop_reason), "Discord closed the gateway with %d, %s", code, why);
    log_error("discord: shard %d stopped for good: Discord closed the gateway with %d: %s; not reconnecting",
              s->id, code, why);
    metrics_inc(METRIC_PLATFORM_EVENTS, "discord_fatal_close", 1);
    forget_session(s);
    shard_reconnect(s, 0, 0);
    if (h->cb.fatal) h->cb.fatal(s, code, why, h->data);
}

/* C's socket went away (closed by the server, or never opened); CODE is
 * the close code the server sent, or 0. */
static void conn_lost(struct gw_conn *c, int code, const char *what) {
    struct discord_gateway_shard *s = c->shard;
    const char *why = fatal_reason(code);
    if (why) {
        shard_fatal(s, code, why);
        return;
    }
    if (code) log_warn("discord: shard %d: the gateway closed with %d", s->id, code);
    else log_warn("discord: shard %d: %s", s->id, what);
    /* 4003's text: "or this session has been invalidated". */
    if (code == 4003 || code == 4007 || code == 4009) forget_session(s);
    else if (code) resume_failed(c, "a close");
    shard_reconnect(s, 0, 0);
}

/* A name resolved: open the websocket to the numeric address. */
static void on_open(struct ws_client *wc, void *arg);
static void on_ws_message(struct ws_client *wc, const char *data, size_t len, int binary, void *arg);
static void on_closed(struct ws_client *wc, const struct ws_close_info *info, void *arg);

/* The URL to dial: URL itself, with our query when it has none, and
 * compress=zlib-stream when COMPRESS unless the query names a compress.
 * Returns 0, or -1 when it is not a ws:// or wss:// URL or too long. */
static int gateway_url(const char *url, int compress, char *out, size_t outlen) {
    struct ws_url u;
    if ((strncmp(url, "wss://", 6) && strncmp(url, "ws://", 5)) || ws_url_parse(url, &u) < 0) return -1;
    int keep = (int)strcspn(url, "#");
    const char *query = memchr(url, '?', (size_t)keep);
    size_t skip = url[2] == 's' ? 6 : 5;   /* after wss:// or ws:// */
    const char *path = memchr(url + skip, '/', (size_t)keep - skip);
    const char *ours = query ? "" : path ? "?v=10&encoding=json" : "/?v=10&encoding=json";
    const char *zlib = compress && !(query && strstr(query, "compress=")) ? "&compress=zlib-stream" : "";
    int n = snprintf(out, outlen, "%.*s%s%s", keep, url, ours, zlib);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Open a new connection for S. */
static void shard_connect(struct discord_gateway_shard *s) {
    struct discord_gateway_hub *h = s->hub;
    if (s->stopped || s->conn) return;
    const char *given = s->session_id && s->resume_url ? s->resume_url : h->opts.url;
    char url[1024];
    s->attempts++;
    if (gateway_url(given, h->opts.compress, url, sizeof(url)) < 0) {
        log_error("discord: shard %d: the gateway URL %s is not ws:// or wss://", s->id, given);
        shard_reconnect(s, 0, 0);
        return;
    }
    struct gw_conn *c = xcalloc(1, sizeof(*c));
    c->shard = s;
    if (h->opts.compress && !(c->zlib = discord_zlib_new(h->opts.max_inbound))) {
        free(c);
        log_error("discord: shard %d: out of memory for the zlib stream", s->id);
        shard_reconnect(s, 0, 0);
        return;
    }
    struct ws_client_options o;
    memset(&o, 0, sizeof(o));
    o.url = url;
    o.loop = h->loop;
    o.max_message = h->opts.max_inbound;
    o.live = &open_conns;
    static const struct ws_client_callbacks callbacks = { on_open, on_ws_message, on_closed };
    char err[256];
    log_debug("discord: shard %d connecting to %s", s->id, url);
    c->wc = ws_client_open(h->ctx, &o, &callbacks, c, err, sizeof(err));
    if (!c->wc) {
        conn_free(c);
        log_warn("discord: shard %d: cannot open a connection to %s: %s", s->id, url, err);
        shard_reconnect(s, 0, 0);
        return;
    }
    s->conn = c;
}

/* ---- protocol --------------------------------------------------------- */

/* Send a heartbeat carrying the last sequence number seen. */
static void send_heartbeat(struct discord_gateway_shard *s) {
    json_t *o = json_pack("{s:i, s:o}", "op", OP_HEARTBEAT, "d", s->seq > 0 ? json_integer(s->seq) : json_null());
    conn_send(s->conn, o, 1);
}

/* Heartbeat tick: a beat without an ACK since the last one is a zombie,
 * unless the send window still holds it back (then it cannot be acked yet,
 * and another beat would only queue behind it). */
static void on_heartbeat(uv_timer_t *t) {
    struct discord_gateway_shard *s = t->data;
    struct gw_conn *c = s->conn;
    if (!c) return;
    if (!c->acked && c->head) return;
    if (!c->acked) {
        log_warn("discord: shard %d: no heartbeat ACK since the last beat; the connection is a zombie, resuming on a new one",
                 s->id);
        metrics_inc(METRIC_PLATFORM_EVENTS, "discord_zombie", 1);
        shard_reconnect(s, CLOSE_RESUMABLE, 1);
        return;
    }
    c->acked = 0;
    send_heartbeat(s);
}

/* Send Identify for S now (the hub's pacing already allowed it). */
static void send_identify(struct discord_gateway_shard *s) {
    struct discord_gateway_hub *h = s->hub;
    json_t *d = json_pack("{s:s, s:I, s:{s:s, s:s, s:s}, s:[i, i], s:i}",
                          "token", h->opts.token, "intents", (json_int_t)h->opts.intents,
                          "properties", "os", "linux", "browser", "chorus", "device", "chorus",
                          "shard", s->id, h->opts.total_shards, "large_threshold", 50);
    log_info("discord: shard %d identifying (intents %ld)", s->id, h->opts.intents);
    forget_session(s);
    conn_send(s->conn, json_pack("{s:i, s:o}", "op", OP_IDENTIFY, "d", d), 0);
}

/* Send Resume for S's session. */
static void send_resume(struct discord_gateway_shard *s) {
    log_info("discord: shard %d resuming session at seq %ld", s->id, s->seq);
    metrics_inc(METRIC_PLATFORM_EVENTS, "discord_resume", 1);
    json_t *d = json_pack("{s:s, s:s, s:I}", "token", s->hub->opts.token, "session_id", s->session_id,
                          "seq", (json_int_t)s->seq);
    s->conn->resuming = 1;
    conn_send(s->conn, json_pack("{s:i, s:o}", "op", OP_RESUME, "d", d), 0);
}

/* One identify per bucket per this many loop milliseconds. */
static uint64_t identify_window(const struct discord_gateway_hub *h) {
    if (h->opts.identify_window_ms > 0) return (uint64_t)h->opts.identify_window_ms;
    return scaled(h, IDENTIFY_WINDOW_MS);
}

void discord_gateway_identify_answer(struct discord_gateway_hub *h, int id, long wait_ms) {
    struct discord_gateway_shard *s = discord_gateway_find(h, id);
    if (!s || !s->asking_identify) return;
    s->asking_identify = 0;
    if (!s->conn || !s->conn->hello || s->session_id) return;   /* the connection went away, or it resumes */
    if (wait_ms <= 0) {
        send_identify(s);
        return;
    }
    int key = s->id % h->opts.max_concurrency;
    uint64_t until = uv_now(h->loop) + (uint64_t)wait_ms;
    if (until > h->bucket_next[key]) h->bucket_next[key] = until;
    request_identify(s);
}

/* The identify slot timer fired: let the waiting shards try again. */
static void on_identify_timer(uv_timer_t *t) {
    identify_pump(t->data);
}

/* Identify every waiting shard whose max_concurrency bucket is free and
 * while the session start budget lasts; arm the timer for the rest. */
static void identify_pump(struct discord_gateway_hub *h) {
    uint64_t now = uv_now(h->loop);
    uint64_t next = 0;
    if (h->opts.session_remaining == 0) {
        if (now < h->session_reset_at) {
            uv_timer_start(h->identify_timer, on_identify_timer, h->session_reset_at - now, 0);
            return;
        }
        h->opts.session_remaining = h->session_total > 0 ? h->session_total : 1000;
    }
    struct discord_gateway_shard **pp = &h->waiting;
    while (*pp) {
        struct discord_gateway_shard *s = *pp;
        int key = s->id % h->opts.max_concurrency;
        if (!s->conn || !s->conn->hello) {         /* its connection went away meanwhile */
            *pp = s->next_waiting;
            s->waiting_identify = 0;
            continue;
        }
        if (now < h->bucket_next[key]) {
            if (!next || h->bucket_next[key] < next) next = h->bucket_next[key];
            pp = &s->next_waiting;
            continue;
        }
        if (h->opts.session_remaining == 0) {
            log_warn("discord: the daily identify budget is used up; waiting %llu ms for it to reset",
                     (unsigned long long)(h->session_reset_at > now ? h->session_reset_at - now : 0));
            uv_timer_start(h->identify_timer, on_identify_timer, h->session_reset_at > now ? h->session_reset_at - now : 1, 0);
            return;
        }
        h->bucket_next[key] = now + identify_window(h);
        if (h->opts.session_remaining > 0 && --h->opts.session_remaining == 0)
            h->session_reset_at = now + scaled(h, (double)h->opts.session_reset_after_ms);
        *pp = s->next_waiting;
        s->waiting_identify = 0;
        if (h->cb.identify_gate && h->cb.identify_gate(s, key, (long)identify_window(h), h->data)) s->asking_identify = 1;
        else send_identify(s);
    }
    if (next) uv_timer_start(h->identify_timer, on_identify_timer, next - now, 0);
}

/* Ask the hub for an identify slot for S. */
static void request_identify(struct discord_gateway_shard *s) {
    struct discord_gateway_hub *h = s->hub;
    if (s->asking_identify) return;
    if (!s->waiting_identify) {
        s->waiting_identify = 1;
        s->next_waiting = NULL;
        struct discord_gateway_shard **pp = &h->waiting;
        while (*pp) pp = &(*pp)->next_waiting;
        *pp = s;
    }
    identify_pump(h);
}

/* Hello: start heartbeating (first beat jittered), then resume or identify. */
static void on_hello(struct discord_gateway_shard *s, json_t *d) {
    json_t *iv = json_object_get(d, "heartbeat_interval");
    double interval = json_is_number(iv) ? json_number_value(iv) : 41250;
    uint64_t every = scaled(s->hub, interval);
    s->conn->hello = 1;
    s->conn->acked = 1;
    uv_timer_start(s->heartbeat, on_heartbeat, (uint64_t)((double)every * random_unit()), every);
    if (s->session_id) send_resume(s);
    else request_identify(s);
}

/* READY: keep the session; RESUMED: the replay is over. Both mean ready. */
static void on_ready_event(struct discord_gateway_shard *s, const char *type, json_t *d) {
    if (!strcmp(type, "READY")) {
        json_t *sid = json_object_get(d, "session_id");
        json_t *url = json_object_get(d, "resume_gateway_url");
        free(s->session_id);
        free(s->resume_url);
        s->session_id = json_is_string(sid) ? xstrdup(json_string_value(sid)) : NULL;
        s->resume_url = json_is_string(url) ? xstrdup(json_string_value(url)) : NULL;
        log_info("discord: shard %d ready", s->id);
        if (s->hub->cb.session && s->session_id) s->hub->cb.session(s, s->session_id, s->resume_url, s->seq, s->hub->data);
    } else {
        log_info("discord: shard %d resumed at seq %ld", s->id, s->seq);
    }
    s->conn->resuming = 0;
    s->resume_failures = 0;
    s->attempts = 0;
    if (!s->ready) {
        s->ready = 1;
        if (s->hub->cb.ready) s->hub->cb.ready(s->hub, s->hub->data);
    }
}

/* The parts of a MESSAGE_CREATE the adapter never reads, left unbuilt:
 * most of a message's bytes and nodes. discord.c's on_message_create reads
 * id, channel_id, guild_id, content, type, webhook_id, author (id, bot, global_name,
 * username), mentions[].id, message_reference and referenced_message.author.id:
 * a field it starts to read must not be listed here. */
static const char *const message_unread[] = {
    "member", "embeds", "attachments", "components", "mention_roles", "sticker_items", "stickers",
    "reactions", "poll", "message_snapshots", "interaction_metadata", "interaction", "activity", "application",
    "role_subscription_data", "call", "avatar_decoration_data", "collectibles", "clan", "primary_guild",
    "timestamp", "edited_timestamp", "tts", "pinned", "mention_everyone", "flags", "nonce", "avatar", "discriminator",
    "public_flags", "banner", "accent_color", "channel_type", NULL
};

/* Is TEXT a MESSAGE_CREATE dispatch? Only "t" (an event name) can come
 * before "d" at the top level, so its name is looked for there. */
static int is_message_create(const char *text, size_t len) {
    static const char name[] = "\"t\":\"MESSAGE_CREATE\"";
    size_t n = len < 96 ? len : 96;
    const char *d = memmem(text, n, "\"d\":", 4);
    if (d) n = (size_t)(d - text);
    return memmem(text, n, name, sizeof(name) - 1) != NULL;
}

/* A bot's message coming back (Discord sends every post to the gateway,
 * the bot's own too, and the adapter drops any message by a bot): only its
 * sequence number is taken, and nothing is built. 1 if TEXT was one. The
 * text past "s" and d.author.bot is not checked: the message is dropped
 * whatever it holds. */
static int bot_message_seen(struct discord_gateway_shard *s, const char *text, size_t len) {
    static const char *const bot_path[] = { "d", "author", "bot", NULL };
    static const char *const seq_path[] = { "s", NULL };
    const char *v;
    size_t n;
    /* A person's message with no bot in it (no mention of one) has no
     * "bot":true anywhere: one search instead of a walk to d.author. */
    if (!memfind(text, len, "\"bot\":true", 10)) return 0;
    if (json_fast_member(text, len, bot_path, &v, &n) < 0 || n != 4 || memcmp(v, "true", 4) != 0) return 0;
    if (json_fast_member(text, len, seq_path, &v, &n) < 0 || n == 0 || n > 18) return 0;
    long seq = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return 0;
        seq = seq * 10 + (v[i] - '0');
    }
    if (seq <= s->seq) log_debug("discord: shard %d: event %ld (MESSAGE_CREATE) seen already", s->id, seq);
    else s->seq = seq;
    return 1;
}

/* One whole gateway payload from the server. */
static void on_payload(struct discord_gateway_shard *s, const char *text, size_t len) {
    json_error_t jerr;
    int message = is_message_create(text, len);
    if (message && bot_message_seen(s, text, len)) return;
    json_t *o = json_fast_loadb_lean(text, len, message ? message_unread : NULL, &jerr);
    if (!json_is_object(o)) {
        log_warn("discord: shard %d: a gateway payload that is not a JSON object (%s); ignored", s->id, jerr.text);
        json_decref(o);
        return;
    }
    json_t *opv = json_object_get(o, "op");
    json_t *d = json_object_get(o, "d");
    int op = json_is_integer(opv) ? (int)json_integer_value(opv) : -1;
    switch (op) {
    case OP_DISPATCH: {
        json_t *sv = json_object_get(o, "s");
        json_t *tv = json_object_get(o, "t");
        const char *type = json_is_string(tv) ? json_string_value(tv) : "";
        if (json_is_integer(sv)) {
            long seq = (long)json_integer_value(sv);
            if (seq <= s->seq) {
                log_debug("discord: shard %d: event %ld (%s) seen already; not dispatched again", s->id, seq, type);
                break;
            }
            s->seq = seq;
        }
        if (!strcmp(type, "READY") || !strcmp(type, "RESUMED")) on_ready_event(s, type, d);
        if (s->hub->cb.dispatch) s->hub->cb.dispatch(s, type, d, s->hub->data);
        break;
    }
    case OP_HEARTBEAT:
        send_heartbeat(s);
        break;
    case OP_ACK:
        s->conn->acked = 1;
        break;
    case OP_HELLO:
        on_hello(s, d);
        break;
    case OP_RECONNECT:
        log_info("discord: shard %d: Discord asked for a reconnect (op 7)", s->id);
        shard_reconnect(s, CLOSE_RESUMABLE, 1);
        break;
    case OP_INVALID_SESSION:
        log_warn("discord: shard %d: invalid session (op 9, %s)", s->id, json_is_true(d) ? "resumable" : "not resumable");
        /* The docs ask for a random 1 to 5 s before the next Identify (or
         * Resume), not the growing backoff of a lost connection: the
         * identify pacing still holds a refused Identify's repeats apart. */
        if (!json_is_true(d)) forget_session(s);
        else resume_failed(s->conn, "op 9");
        shard_reconnect_in(s, CLOSE_RESUMABLE, 0, (long)scaled(s->hub, 1000.0 + 4000.0 * random_unit()));
        break;
    default:
        log_debug("discord: shard %d: ignoring gateway op %d", s->id, op);
    }
    json_decref(o);
}

/* Inflate a whole binary message of the zlib stream; when it ends a
 * payload (the 00 00 ff ff flush), the payload goes to on_payload. An
 * oversized or corrupt stream cannot be read on, so the connection is
 * given up and the session resumed on a new one (with a fresh stream). */
static void conn_receive_zlib(struct gw_conn *c, const char *in, size_t len) {
    struct discord_gateway_shard *s = c->shard;
    int rc = discord_zlib_feed(c->zlib, in, len);
    if (rc == DISCORD_ZLIB_TOO_BIG) {
        log_error("discord: shard %d: a compressed gateway message inflated past max_inbound_bytes (%zu); reconnecting",
                  s->id, s->hub->opts.max_inbound);
        metrics_inc(METRIC_PLATFORM_EVENTS, "discord_oversized", 1);
        shard_reconnect(s, CLOSE_RESUMABLE, 0);
        return;
    }
    if (rc == DISCORD_ZLIB_CORRUPT) {
        log_error("discord: shard %d: the gateway's zlib stream is corrupt (%s); reconnecting", s->id,
                  discord_zlib_error(c->zlib));
        metrics_inc(METRIC_PLATFORM_EVENTS, "discord_zlib_error", 1);
        shard_reconnect(s, CLOSE_RESUMABLE, 0);
        return;
    }
    size_t n;
    const char *text = discord_zlib_take(c->zlib, &n);
    if (text) on_payload(s, text, n);
}

/* The upgrade succeeded; Hello comes next. */
static void on_open(struct ws_client *wc, void *arg) {
    struct gw_conn *c = arg;
    (void)wc;
    log_debug("discord: shard %d connected", c->shard->id);
}

/* A whole message from the gateway; NULL DATA: one over max_inbound_bytes.
 * C may be given up while it is handled, and is freed here then. */
static void on_ws_message(struct ws_client *wc, const char *data, size_t len, int binary, void *arg) {
    struct gw_conn *c = arg;
    struct discord_gateway_shard *s = c->shard;
    (void)wc;
    c->busy = 1;
    if (!data) {
        log_error("discord: shard %d: a gateway message was larger than max_inbound_bytes (%zu); reconnecting",
                  s->id, s->hub->opts.max_inbound);
        metrics_inc(METRIC_PLATFORM_EVENTS, "discord_oversized", 1);
        shard_reconnect(s, CLOSE_RESUMABLE, 0);
    } else if (c->zlib && binary) {
        conn_receive_zlib(c, data, len);
    } else {
        on_payload(s, data, len);
    }
    c->busy = 0;
    if (c->dropped) conn_free(c);
}

/* The connection ended (or never opened): reconnect, or stop for good on a
 * fatal close code. */
static void on_closed(struct ws_client *wc, const struct ws_close_info *info, void *arg) {
    struct gw_conn *c = arg;
    char what[240];
    (void)wc;
    c->wc = NULL;
    if (info->opened)
        snprintf(what, sizeof(what), "the gateway connection closed%s%s", info->error ? ": " : "",
                 info->error ? info->error : "");
    else
        snprintf(what, sizeof(what), "the gateway connection failed: %s", info->error ? info->error : "unknown error");
    conn_lost(c, info->code == 1006 || info->code == 1005 ? 0 : info->code, what);
}

/* Close S's connection with CODE and free S (not yet unlinked from its hub). */
static void shard_free(struct discord_gateway_shard *s, int code) {
    s->stopped = 1;
    if (s->conn) {
        struct gw_conn *c = s->conn;
        s->conn = NULL;
        conn_drop(c, code);
    }
    timer_free(&s->heartbeat);
    timer_free(&s->retry);
    timer_free(&s->send_wait);
    forget_session(s);
    free(s);
}

int discord_gateway_remove_shard(struct discord_gateway_hub *h, int id, int code) {
    for (int i = 0; h && i < h->nshards; i++) {
        struct discord_gateway_shard *s = h->shards[i];
        if (s->id != id) continue;
        for (struct discord_gateway_shard **pp = &h->waiting; *pp; pp = &(*pp)->next_waiting) {
            if (*pp == s) {
                *pp = s->next_waiting;
                break;
            }
        }
        int was_ready = s->ready;
        h->shards[i] = h->shards[--h->nshards];
        shard_free(s, code);
        if (was_ready && h->cb.ready) h->cb.ready(h, h->data);
        return 0;
    }
    return -1;
}

void discord_gateway_free(struct discord_gateway_hub *h) {
    if (!h) return;
    for (int i = 0; i < h->nshards; i++) shard_free(h->shards[i], h->opts.keep_sessions ? CLOSE_RESUMABLE : 1000);
    timer_free(&h->identify_timer);
    free(h->shards);
    free((char *)h->opts.token);
    free((char *)h->opts.url);
    free(h);
}
