/* webchat.c - the built-in web chat: validate frames, route messages to
 * their channel, broadcast replies to every socket on that channel.
 *
 * Guests are anonymous: the user id a browser sends is scoped to its
 * connection ("guest:<session>:<id>"), so nobody can speak as another
 * socket's user, and guests never hold a role. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <libwebsockets.h>
#include "core/message.h"
#include "core/platform.h"
#include "core/server.h"
#include "io/web.h"
#include "io/ws_queue.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "platforms/webchat/webchat.h"
#include "platforms/webchat/webchat_frame.h"

#define MAX_CHANNELS_PER_CONN 32
#define MAX_QUEUED_BYTES (4u << 20)

struct webchat;

struct ws_conn {
    struct webchat *wc;
    struct ws_queue out;
    char session[17];
    struct webchat_rx rx;              /* frame being reassembled */
    char *channels[MAX_CHANNELS_PER_CONN];
    int nchannels;
    char *stream_ids[16];              /* messages whose replies this socket streams */
    int nstream;
    struct ws_conn *prev, *next;
};

/* The adapter's state: its sockets and its place in the platform table. */
struct webchat {
    struct platform *self;
    struct ws_conn *conns;
    int nconns;
    unsigned long sent_counter;
};

/* Queue a text frame for C; a client that stops reading is closed. */
static void conn_send(struct ws_conn *c, const char *text, size_t len) {
    ws_queue_push(&c->out, text, len, 0);
}

/* Serialize OBJ (taking it over) and queue it for C. */
static void conn_send_json(struct ws_conn *c, json_t *obj) {
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text) return;
    conn_send(c, text, strlen(text));
    free(text);
}

/* Tell the client why a frame was refused; the socket stays open. */
static void send_error(struct ws_conn *c, const char *code, const char *reply_to) {
    json_t *o = json_pack("{s:s, s:s, s:o}", "type", "error", "error", code,
                          "reply_to", reply_to ? json_string(reply_to) : json_null());
    metrics_inc(METRIC_BAD_FRAMES, code, 1);
    conn_send_json(c, o);
}

static int conn_in_channel(const struct ws_conn *c, const char *channel) {
    for (int i = 0; i < c->nchannels; i++)
        if (!strcmp(c->channels[i], channel)) return 1;
    return 0;
}

/* Subscribe C to CHANNEL's replies; the oldest subscription makes room. */
static void conn_join(struct ws_conn *c, const char *channel) {
    if (conn_in_channel(c, channel)) return;
    if (c->nchannels == MAX_CHANNELS_PER_CONN) {
        free(c->channels[0]);
        memmove(c->channels, c->channels + 1, sizeof(char *) * (MAX_CHANNELS_PER_CONN - 1));
        c->nchannels--;
    }
    c->channels[c->nchannels++] = xstrdup(channel);
}

/* Queue TEXT on every socket of CHANNEL. */
static void broadcast(struct webchat *wc, const char *channel, const char *text) {
    size_t len = strlen(text);
    for (struct ws_conn *c = wc->conns; c; c = c->next)
        if (conn_in_channel(c, channel)) conn_send(c, text, len);
}

/* Answer a message we cannot queue, so no accepted message goes unanswered. */
static void send_notice(struct webchat *wc, const char *channel, const char *reply_to, const char *text) {
    const struct platform_host *host = wc->self->host;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "message", "channel", channel,
                          "persona", host->fallback_persona(), "text", text, "reply_to", reply_to);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s) broadcast(wc, channel, s);
    free(s);
}

/* Tell skills that a guest joined (or left) CHANNEL: an event job. */
static void announce(struct ws_conn *c, const char *channel, const char *event, const char *user_id,
                     const char *user_name) {
    char author[WEBCHAT_MAX_ID_BYTES + 40];
    if (c->wc->self->host->stopping()) return;
    snprintf(author, sizeof(author), "guest:%s:%.256s", c->session, user_id ? user_id : "anonymous");
    struct chat_message m = {
        .platform = "webchat", .channel = (char *)channel, .text = "", .event = (char *)event,
        .author = { .id = author, .name = (char *)(user_name && *user_name ? user_name : "guest"), .guest = 1 },
        .received_at = server_now(), .connection = c->session
    };
    platform_receive(c->wc->self, &m);
}

/* A checked "message" frame: hand it to its channel's queue. */
static void take_message(struct ws_conn *c, const struct webchat_frame *f) {
    const char *id = f->id, *channel = f->channel, *user_name = f->user_name;
    conn_join(c, channel);
    if (f->stream && c->nstream < 16) c->stream_ids[c->nstream++] = xstrdup(id);
    if (c->wc->self->host->stopping()) {
        send_notice(c->wc, channel, id, "I'm restarting right now. Please send that again in a moment.");
        return;
    }
    char author[WEBCHAT_MAX_ID_BYTES + 40];
    snprintf(author, sizeof(author), "guest:%s:%s", c->session, f->user_id);
    struct chat_message m = {
        .platform = "webchat", .channel = (char *)channel, .id = (char *)id, .text = (char *)f->text,
        .author = { .id = author, .name = (char *)(user_name && *user_name ? user_name : "guest"), .guest = 1 },
        .direct = 1, .received_at = server_now(), .connection = c->session
    };
    if (platform_receive(c->wc->self, &m) < 0)
        send_notice(c->wc, channel, id, "Too many messages are waiting in this channel. Please slow down a little.");
}

/* A whole frame arrived: decode and route it. */
static void take_frame(struct ws_conn *c, const char *data, size_t len) {
    struct webchat_frame f;
    webchat_frame_decode(data, len, WEBCHAT_MAX_TEXT_CP, &f);
    if (f.type == WEBCHAT_FRAME_BAD) {
        send_error(c, f.error, f.reply_to);
    } else if (f.type == WEBCHAT_FRAME_MESSAGE) {
        take_message(c, &f);
    } else if (!conn_in_channel(c, f.channel)) {
        conn_join(c, f.channel);
        announce(c, f.channel, "join", f.user_id, f.user_name);
    }
    webchat_frame_clear(&f);
}

/* A browser opened /ws: a new guest session. */
static void *webchat_open(struct lws *wsi, void *data) {
    struct webchat *wc = data;
    struct ws_conn *c = xcalloc(1, sizeof(*c));
    unsigned char rnd[8];
    c->wc = wc;
    ws_queue_init(&c->out, wsi, WS_OPEN, MAX_QUEUED_BYTES);
    if (uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL) != 0) memset(rnd, 0, sizeof(rnd));
    for (int i = 0; i < 8; i++) snprintf(c->session + i * 2, 3, "%02x", rnd[i]);
    c->next = wc->conns;
    if (wc->conns) wc->conns->prev = c;
    wc->conns = c;
    wc->nconns++;
    wc->self->ready = 1;
    return c;
}

/* A fragment of a frame arrived; FINAL marks its last fragment. */
static void webchat_receive(void *conn, const char *data, size_t len, int final, int binary) {
    struct ws_conn *c = conn;
    webchat_rx_add(&c->rx, data, len, WEBCHAT_MAX_FRAME);
    if (!final) return;
    if (c->rx.overflow) send_error(c, "too_long", NULL);
    else if (binary) send_error(c, "unsupported", NULL);
    else take_frame(c, c->rx.buf ? c->rx.buf : "", c->rx.len);
    webchat_rx_reset(&c->rx);
}

/* The socket can take a frame. Returns -1 to close it. */
static int webchat_writable(void *conn) {
    struct ws_conn *c = conn;
    return ws_queue_writable(&c->out);
}

/* The socket is gone. */
static void webchat_closed(void *conn) {
    struct ws_conn *c = conn;
    struct webchat *wc = c->wc;
    if (c->prev) c->prev->next = c->next;
    else wc->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    wc->nconns--;
    ws_queue_closed(&c->out);
    for (int i = 0; i < c->nchannels; i++) free(c->channels[i]);
    for (int i = 0; i < c->nstream; i++) free(c->stream_ids[i]);
    webchat_rx_reset(&c->rx);
    free(c);
}

/* Does C stream the reply to ID? With FORGET, it stops after this. */
static int conn_streams(struct ws_conn *c, const char *id, int forget) {
    for (int i = 0; id && i < c->nstream; i++) {
        if (strcmp(c->stream_ids[i], id)) continue;
        if (forget) {
            free(c->stream_ids[i]);
            c->stream_ids[i] = c->stream_ids[--c->nstream];
        }
        return 1;
    }
    return 0;
}

/* platform_ops.stream_delta: {"type":"delta"} to sockets that asked for it. */
static void webchat_stream_delta(struct platform *p, const char *channel, const char *reply_to,
                                 const char *text, size_t len) {
    struct webchat *wc = p->state;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s%}", "type", "delta", "channel", channel,
                          "reply_to", reply_to ? reply_to : "", "text", text, len);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return;
    for (struct ws_conn *c = wc->conns; c; c = c->next)
        if (conn_in_channel(c, channel) && conn_streams(c, reply_to, 0)) conn_send(c, s, strlen(s));
    free(s);
}

/* platform_ops.send: one "message" frame to every socket on the channel. */
static int webchat_send(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    struct webchat *wc = p->state;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", "message", "channel", out->channel,
                          "persona", out->persona ? out->persona : "", "text", out->text,
                          "reply_to", out->reply_to ? json_string(out->reply_to) : json_null());
    if (!o) {
        if (cb) cb(NULL, "the reply could not be encoded", data);
        return 0;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    broadcast(wc, out->channel, text);
    free(text);
    for (struct ws_conn *c = wc->conns; c; c = c->next) conn_streams(c, out->reply_to, 1);
    char id[32];
    snprintf(id, sizeof(id), "w%lu", ++wc->sent_counter);
    if (cb) cb(id, NULL, data);
    return 0;
}

static int webchat_typing(struct platform *p, const char *channel) {
    json_t *o = json_pack("{s:s, s:s}", "type", "typing", "channel", channel);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    broadcast(p->state, channel, text);
    free(text);
    return 0;
}

/* Close every socket with 1001 once its queued frames are written. */
static void webchat_stop(struct platform *p) {
    struct webchat *wc = p->state;
    for (struct ws_conn *c = wc->conns; c; c = c->next) ws_queue_close(&c->out, 1001, "shutting down", 1, 5);
}

static int webchat_connections(struct platform *p) {
    struct webchat *wc = p->state;
    return wc->nconns;
}

static struct web_route webchat_route = {
    .path = "/ws", .ws_open = webchat_open, .ws_receive = webchat_receive,
    .ws_writable = webchat_writable, .ws_closed = webchat_closed,
};

/* Serve /ws and take browsers' frames. */
static int webchat_start(struct platform *p) {
    webchat_route.data = p->state;
    web_route_add(&webchat_route);
    p->ready = 1;
    return 0;
}

/* The adapter's state; web chat is always on. */
static void *webchat_create(struct platform *p, const struct config_block *b) {
    (void)b;
    struct webchat *wc = xcalloc(1, sizeof(*wc));
    wc->self = p;
    return wc;
}

const struct platform_ops webchat_platform = {
    .name = "webchat",
    .create = webchat_create,
    .start = webchat_start,
    .send = webchat_send,
    .typing = webchat_typing,
    .stream_delta = webchat_stream_delta,
    .stop = webchat_stop,
    .connections = webchat_connections,
};
