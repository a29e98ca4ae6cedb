/* webchat.c - the built-in web chat: validate frames, route messages to
 * their channel, broadcast replies to every socket on that channel.
 *
 * A browser that says hello gets an identity: chorusd issues a token, the
 * user id signed with a key kept in Redis, which the page keeps in
 * localStorage and sends again on its next visit, so a returning browser
 * is the same user ("u<24 hex>"), whose role, budget and memory follow it.
 * A socket that never says hello (or whose token does not verify) is a
 * guest: its user id is scoped to the connection ("guest:<session>:<id>"),
 * so nobody can speak as another socket's user, and guests never hold a
 * role. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <libwebsockets.h>
#include "core/message.h"
#include "core/platform.h"
#include "core/rich.h"
#include "core/server.h"
#include "io/web.h"
#include "io/ws_queue.h"
#include "io/redis_client.h"
#include "lib/json_write.h"
#include "lib/webhook_auth.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "platforms/webchat/webchat.h"
#include "platforms/webchat/webchat_frame.h"

#define MAX_CHANNELS_PER_CONN 32
#define MAX_QUEUED_BYTES (4u << 20)
#define MAX_HELD_FRAMES 32              /* frames kept while the identity key loads */
#define USER_HEX 24                     /* an identity: "u" and 24 hex digits */
#define ASKED_IDS 16

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
    char *asked[ASKED_IDS];            /* the ids of its last messages and presses (ephemeral replies) */
    int nasked;
    char user[USER_HEX + 2];           /* the identity after hello, "" for a guest */
    int said_hello;                    /* 1: waiting for the key, 2: done */
    char *hello_token;                 /* the token sent with hello, until checked */
    char *held[MAX_HELD_FRAMES];       /* frames that came while the key loaded */
    size_t held_len[MAX_HELD_FRAMES];
    int nheld;
    struct ws_conn *prev, *next;
};

/* The adapter's state: its sockets and its place in the platform table. */
struct webchat {
    struct platform *self;
    struct ws_conn *conns;
    int nconns;
    unsigned long sent_counter;
    char key[65];                      /* the identity key (hex), once loaded */
    int key_state;                     /* 0 not loaded, 1 loading, 2 loaded */
};

static void take_frame(struct ws_conn *c, const char *data, size_t len);

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

#define AUTHOR_BYTES (WEBCHAT_MAX_ID_BYTES + 40)

/* The author id of what C sends: its identity after hello, else
 * "guest:<session>:<USER_ID>", USER_ID cut at 256 bytes. Copied by hand,
 * not with snprintf: it is made for every message. */
static void author_of(const struct ws_conn *c, const char *user_id, char out[AUTHOR_BYTES]) {
    if (c->user[0]) {
        memcpy(out, c->user, strlen(c->user) + 1);
        return;
    }
    size_t s = strlen(c->session), n = strnlen(user_id, WEBCHAT_MAX_ID_BYTES);
    memcpy(out, "guest:", 6);
    memcpy(out + 6, c->session, s);
    out[6 + s] = ':';
    memcpy(out + 7 + s, user_id, n);
    out[7 + s + n] = '\0';
}

/* Tell skills that a guest joined (or left) CHANNEL: an event job. */
static void announce(struct ws_conn *c, const char *channel, const char *event, const char *user_id,
                     const char *user_name) {
    char author[AUTHOR_BYTES];
    if (c->wc->self->host->stopping()) return;
    author_of(c, user_id ? user_id : "anonymous", author);
    struct chat_message m = {
        .platform = "webchat", .channel = (char *)channel, .text = "", .event = (char *)event,
        .author = { .id = author, .name = (char *)(user_name && *user_name ? user_name : "guest"), .guest = !c->user[0] },
        .received_at = server_now(), .connection = c->session
    };
    platform_receive(c->wc->self, &m);
}

/* Remember that C sent message ID, so an ephemeral answer finds it. */
static void conn_asked(struct ws_conn *c, const char *id) {
    if (c->nasked == ASKED_IDS) {
        free(c->asked[0]);
        memmove(c->asked, c->asked + 1, sizeof(char *) * (ASKED_IDS - 1));
        c->nasked--;
    }
    c->asked[c->nasked++] = xstrdup(id);
}

static int conn_did_ask(const struct ws_conn *c, const char *id) {
    for (int i = 0; id && i < c->nasked; i++)
        if (!strcmp(c->asked[i], id)) return 1;
    return 0;
}

/* A checked "button" frame: a press of a card's button, as a "button"
 * event whose text is the button's id and reply_to the card's message. */
static void take_button(struct ws_conn *c, const struct webchat_frame *f) {
    conn_join(c, f->channel);
    conn_asked(c, f->id);
    if (c->wc->self->host->stopping()) return;
    char author[AUTHOR_BYTES];
    author_of(c, f->user_id, author);
    struct chat_message m = {
        .platform = "webchat", .channel = (char *)f->channel, .id = (char *)f->id, .text = (char *)f->button,
        .event = "button", .reply_to = (char *)f->message,
        .author = { .id = author, .name = (char *)(f->user_name && *f->user_name ? f->user_name : "guest"), .guest = !c->user[0] },
        .direct = 1, .received_at = server_now(), .connection = c->session
    };
    if (platform_receive(c->wc->self, &m) < 0)
        send_notice(c->wc, f->channel, f->id, "Too many messages are waiting in this channel. Please slow down a little.");
}

/* A checked "message" frame: hand it to its channel's queue. */
static void take_message(struct ws_conn *c, const struct webchat_frame *f) {
    const char *id = f->id, *channel = f->channel, *user_name = f->user_name;
    conn_join(c, channel);
    conn_asked(c, id);
    if (f->stream && c->nstream < 16) c->stream_ids[c->nstream++] = xstrdup(id);
    if (c->wc->self->host->stopping()) {
        send_notice(c->wc, channel, id, "I'm restarting right now. Please send that again in a moment.");
        return;
    }
    char author[AUTHOR_BYTES];
    author_of(c, f->user_id, author);
    struct chat_message m = {
        .platform = "webchat", .channel = (char *)channel, .id = (char *)id, .text = (char *)f->text,
        .author = { .id = author, .name = (char *)(user_name && *user_name ? user_name : "guest"), .guest = !c->user[0] },
        .direct = 1, .received_at = server_now(), .connection = c->session
    };
    if (platform_receive(c->wc->self, &m) < 0)
        send_notice(c->wc, channel, id, "Too many messages are waiting in this channel. Please slow down a little.");
}

/* Random bytes as lower-case hex into OUT (2 * N + 1 bytes). */
static void random_hex(char *out, size_t n) {
    unsigned char rnd[32];
    if (n > sizeof(rnd)) n = sizeof(rnd);
    if (uv_random(NULL, NULL, rnd, n, 0, NULL) != 0) memset(rnd, 0, n);
    for (size_t i = 0; i < n; i++) snprintf(out + i * 2, 3, "%02x", rnd[i]);
}

/* The signature of user ID under the identity key (64 hex digits). */
static void identity_sign(const struct webchat *wc, const char *id, char out[65]) {
    webhook_hmac_sign(wc->key, "chorus-webchat-identity", id, strlen(id), out);
}

/* Is TOKEN "u<24 hex>.<signature>" signed with our key? Sets ID. */
static int identity_check(const struct webchat *wc, const char *token, char id[USER_HEX + 2]) {
    if (!token || strlen(token) != USER_HEX + 1 + 1 + 64 || token[0] != 'u' || token[USER_HEX + 1] != '.') return 0;
    for (int i = 1; i <= USER_HEX; i++)
        if (!strchr("0123456789abcdef", token[i]) || !token[i]) return 0;
    memcpy(id, token, USER_HEX + 1);
    id[USER_HEX + 1] = '\0';
    char sig[65];
    identity_sign(wc, id, sig);
    return sig[0] && webhook_secret_ok(sig, token + USER_HEX + 2);
}

/* Answer C's hello: the identity its token proves, or a new one (or, with
 * no key, none: a guest). Then the frames held meanwhile, in order. */
static void identify(struct ws_conn *c) {
    struct webchat *wc = c->wc;
    char id[USER_HEX + 2];
    if (wc->key_state == 2) {
        if (!identity_check(wc, c->hello_token, id)) {
            id[0] = 'u';
            random_hex(id + 1, USER_HEX / 2);
        }
        char sig[65], token[USER_HEX + 2 + 66];
        identity_sign(wc, id, sig);
        snprintf(token, sizeof(token), "%s.%s", id, sig);
        snprintf(c->user, sizeof(c->user), "%s", id);
        conn_send_json(c, json_pack("{s:s, s:s, s:s}", "type", "identity", "user", id, "token", token));
    } else {
        conn_send_json(c, json_pack("{s:s, s:n, s:s}", "type", "identity", "user", "reason",
                                    "identities are unavailable while Redis is down: you are a guest on this connection"));
    }
    free(c->hello_token);
    c->hello_token = NULL;
    c->said_hello = 2;
    int n = c->nheld;
    c->nheld = 0;
    for (int i = 0; i < n; i++) {
        take_frame(c, c->held[i], c->held_len[i]);
        free(c->held[i]);
    }
}

/* The identity key arrived from Redis (or did not): answer the hellos. */
static void on_identity_key(redisReply *rep, const char *err, void *data) {
    struct webchat *wc = data;
    (void)err;
    if (rep && rep->type == REDIS_REPLY_STRING && rep->len >= 32 && rep->len < sizeof(wc->key)) {
        memcpy(wc->key, rep->str, rep->len);
        wc->key[rep->len] = '\0';
        wc->key_state = 2;
    } else {
        wc->key_state = 0;   /* the next hello tries again */
    }
    for (struct ws_conn *c = wc->conns; c; c = c->next)
        if (c->said_hello == 1) identify(c);
}

/* Load the identity key, made once per Redis and kept there, so tokens
 * stay good across restarts. Returns -1 if Redis cannot be asked now. */
static int identity_key_load(struct webchat *wc) {
    static const char script[] = "redis.call('SET', KEYS[1], ARGV[1], 'NX') return redis.call('GET', KEYS[1])";
    char key[300], fresh[65];
    if (wc->key_state) return 0;
    if (!server.redis) return -1;
    snprintf(key, sizeof(key), "%swebchat:identity-key", redis_client_prefix(server.redis));
    random_hex(fresh, 32);
    const char *argv[5] = { "EVAL", script, "1", key, fresh };
    wc->key_state = 1;
    if (redis_command(server.redis, on_identity_key, wc, 5, argv, NULL) < 0) {
        wc->key_state = 0;
        return -1;
    }
    return 0;
}

/* {"type":"hello","token":...}: the browser asks who it is (once per socket). */
static void take_hello(struct ws_conn *c, const struct webchat_frame *f) {
    if (c->said_hello) return;
    c->said_hello = 1;
    c->hello_token = f->token ? xstrdup(f->token) : NULL;
    if (c->wc->key_state == 2 || identity_key_load(c->wc) < 0) identify(c);
}

/* A whole frame arrived: decode and route it. */
static void take_frame(struct ws_conn *c, const char *data, size_t len) {
    struct webchat_frame f;
    if (c->said_hello == 1) {   /* who sent it is not known yet: keep it */
        if (c->nheld < MAX_HELD_FRAMES) {
            c->held[c->nheld] = xmalloc(len + 1);
            memcpy(c->held[c->nheld], data, len);
            c->held[c->nheld][len] = '\0';
            c->held_len[c->nheld++] = len;
        } else {
            send_error(c, "too_long", NULL);
        }
        return;
    }
    webchat_frame_decode(data, len, WEBCHAT_MAX_TEXT_CP, &f);
    if (f.type == WEBCHAT_FRAME_HELLO) {
        take_hello(c, &f);
    } else if (f.type == WEBCHAT_FRAME_BAD) {
        send_error(c, f.error, f.reply_to);
    } else if (f.type == WEBCHAT_FRAME_MESSAGE) {
        take_message(c, &f);
    } else if (f.type == WEBCHAT_FRAME_BUTTON) {
        take_button(c, &f);
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
    for (int i = 0; i < c->nasked; i++) free(c->asked[i]);
    for (int i = 0; i < c->nheld; i++) free(c->held[i]);
    free(c->hello_token);
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

/* Append S as a JSON string member ",\"NAME\":\"S\"" to B (NULL as null).
 * -1 when S is not UTF-8, which json_pack refused too. */
static int put_member(struct json_buf *b, const char *name, const char *s) {
    json_buf_put(b, name);
    if (!s) {
        json_buf_raw(b, "null", 4);
        return 0;
    }
    size_t n = strlen(s);
    if (!utf8_valid(s, n)) return -1;
    json_buf_string(b, s, n);
    return 0;
}

/* The "message" frame of OUT, numbered ID, as json_dumps(JSON_COMPACT)
 * wrote it from json_pack, but written straight: it goes out on every
 * reply, and building the object cost more than the rest of the send.
 * NULL when a string is not UTF-8 or the card cannot be written. */
static char *message_frame(const struct outgoing *out, const char *id, int ephemeral) {
    struct json_buf b = {0};
    json_buf_put(&b, "{\"type\":\"message\",\"id\":");
    json_buf_string(&b, id, strlen(id));
    if (!out->channel || !out->text || put_member(&b, ",\"channel\":", out->channel) < 0 ||
        put_member(&b, ",\"persona\":", out->persona ? out->persona : "") < 0 ||
        put_member(&b, ",\"text\":", out->text) < 0 || put_member(&b, ",\"reply_to\":", out->reply_to) < 0) {
        json_buf_free(&b);
        return NULL;
    }
    if (rich_has_content(out->rich)) {
        const json_t *embed = json_object_get(out->rich, "embed"), *buttons = json_object_get(out->rich, "buttons");
        json_buf_put(&b, ",\"card\":{");
        if (embed) json_buf_put(&b, "\"embed\":");
        if (embed && json_buf_value(&b, embed) < 0) {
            json_buf_free(&b);
            return NULL;
        }
        if (buttons) json_buf_put(&b, embed ? ",\"buttons\":" : "\"buttons\":");
        if (buttons && json_buf_value(&b, buttons) < 0) {
            json_buf_free(&b);
            return NULL;
        }
        json_buf_put(&b, "}");
    }
    if (ephemeral) json_buf_put(&b, ",\"ephemeral\":true");
    json_buf_put(&b, "}");
    return json_buf_take(&b, NULL);
}

/* platform_ops.send: one "message" frame to every socket on the channel,
 * with its id (a card's buttons name it) and the card of a rich reply; an
 * ephemeral reply goes only to the socket that sent the message (or press)
 * it answers. */
static int webchat_send(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    struct webchat *wc = p->state;
    char id[JSON_INT_TEXT + 1];
    id[0] = 'w';
    json_int_text(id + 1, (long long)++wc->sent_counter);
    int ephemeral = json_is_true(json_object_get(out->rich, "ephemeral"));
    char *text = message_frame(out, id, ephemeral);
    if (!text) {
        if (cb) cb(NULL, "the reply could not be encoded", data);
        return 0;
    }
    int to_one = 0;
    if (ephemeral)
        for (struct ws_conn *c = wc->conns; c; c = c->next)
            if (conn_in_channel(c, out->channel) && conn_did_ask(c, out->reply_to)) {
                conn_send(c, text, strlen(text));
                to_one = 1;
            }
    if (!to_one) broadcast(wc, out->channel, text);
    free(text);
    for (struct ws_conn *c = wc->conns; c; c = c->next) conn_streams(c, out->reply_to, 1);
    if (cb) cb(id, NULL, data);
    return 0;
}

/* platform_ops.mention: "@name" (asked for every message: no snprintf). */
static char *webchat_mention(struct platform *p, const char *user_id, const char *user_name) {
    (void)p, (void)user_id;
    size_t n = strlen(user_name);
    char *out = xmalloc(n + 2);
    out[0] = '@';
    memcpy(out + 1, user_name, n + 1);
    return out;
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
    .mention = webchat_mention,
    .rich = 1,
};
