/* onebot.c - the OneBot v11 adapter: reads `onebot { ... }`, keeps the
 * link up, turns message events into chat_messages (at-the-bot and replies
 * to the bot address it), watches meta events for liveness, and sends
 * replies with send_group_msg / send_private_msg (or send_msg). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "core/message.h"
#include "core/server.h"
#include "lib/json_fast.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/redact.h"
#include "lib/xalloc.h"
#include "platforms/onebot/onebot.h"
#include "platforms/onebot/onebot_api.h"
#include "platforms/onebot/onebot_link.h"
#include "platforms/onebot/onebot_segments.h"
#include "io/timer.h"

#define SENT_RING 256               /* the bot's recent message ids, to see replies to it */

struct onebot {
    struct platform *self;
    char *url, *listen, *token, *config_self_id;
    int addressed_only;
    int send_string;                /* send CQ-code strings instead of segment arrays */
    int send_msg;                   /* send_msg instead of send_group_msg / send_private_msg */
    double call_timeout_ms, reconnect_min_ms, reconnect_max_ms, heartbeat_misses;
    size_t max_inbound;
    struct onebot_link *link;
    struct onebot_api *api;
    uv_timer_t *start;              /* opens the link on the loop's first turn */
    char self_id[24];               /* the bot's QQ number, once known */
    char *sent[SENT_RING];
    int sent_pos;
    int stopped;
};

/* ---- config (the schema is in onebot_config.c) -------------------------- */

static char *opt_dup(const struct config_block *b, const char *key) {
    const char *v = config_str(b, key, "");
    return *v ? xstrdup(v) : NULL;
}

static double num_of(const struct config_block *b, const char *key, double def) {
    json_t *v = b && b->value ? json_object_get(b->value, key) : NULL;
    return json_is_number(v) ? json_number_value(v) : def;
}

static void read_config(struct onebot *ob, const struct config_block *b) {
    ob->url = opt_dup(b, "url");
    ob->listen = opt_dup(b, "listen");
    ob->token = opt_dup(b, "access_token");
    if (ob->token) redact_add_secret(ob->token);
    ob->config_self_id = opt_dup(b, "self_id");
    ob->addressed_only = !strcmp(config_str(b, "messages", "all"), "addressed");
    ob->send_string = !strcmp(config_str(b, "send_format", "array"), "string");
    ob->send_msg = !strcmp(config_str(b, "send_action", "auto"), "send_msg");
    ob->call_timeout_ms = num_of(b, "call_timeout_ms", 10000);
    ob->reconnect_min_ms = num_of(b, "reconnect_min_ms", 1000);
    ob->reconnect_max_ms = num_of(b, "reconnect_max_ms", 30000);
    ob->heartbeat_misses = num_of(b, "heartbeat_misses", 3);
    ob->max_inbound = (size_t)num_of(b, "max_inbound_bytes", 4194304);
}

/* ---- helpers ------------------------------------------------------------ */

/* S[0..n) into BUF (LEN bytes), cut to fit as snprintf would. */
static const char *copy_into(char *buf, size_t len, const char *s, size_t n) {
    if (n >= len) n = len - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* An id-like member (number or string) of O as text in BUF, or NULL.
 * Four of these run per message: written without snprintf. */
static const char *id_of(json_t *o, const char *key, char *buf, size_t len) {
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        char tmp[JSON_INT_TEXT];
        return copy_into(buf, len, tmp, json_int_text(tmp, (long long)json_integer_value(v)));
    }
    if (json_is_string(v) && *json_string_value(v) && strspn(json_string_value(v), "0123456789") == json_string_length(v))
        return copy_into(buf, len, json_string_value(v), json_string_length(v));
    return NULL;
}

static const char *str_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Remember a message id the bot sent, so a reply to it addresses the bot. */
static void remember_sent(struct onebot *ob, const char *id) {
    free(ob->sent[ob->sent_pos]);
    ob->sent[ob->sent_pos] = xstrdup(id);
    ob->sent_pos = (ob->sent_pos + 1) % SENT_RING;
}

static int sent_by_bot(const struct onebot *ob, const char *id) {
    for (int i = 0; id && i < SENT_RING; i++)
        if (ob->sent[i] && !strcmp(ob->sent[i], id)) return 1;
    return 0;
}

static void learn_self(struct onebot *ob, json_t *event) {
    char buf[24];
    const char *id = id_of(event, "self_id", buf, sizeof(buf));
    if (id && strcmp(id, ob->self_id)) {
        snprintf(ob->self_id, sizeof(ob->self_id), "%s", id);
        log_info("onebot: logged in as QQ %s", ob->self_id);
    }
}

/* ---- sending ------------------------------------------------------------ */

struct send_req {
    struct onebot *ob;
    platform_sent_fn *cb;
    void *data;
};

/* send_*_msg answered: hand the message id back. */
static void on_sent(json_t *data, const char *err, void *arg) {
    struct send_req *r = arg;
    char buf[32];
    const char *id = err ? NULL : id_of(data, "message_id", buf, sizeof(buf));
    if (id && r->ob && !err) remember_sent(r->ob, id);
    if (r->cb) r->cb(id ? id : (err ? NULL : ""), err, r->data);
    free(r);
}

/* The "message" of a send action for TEXT after a reply to REPLY_TO,
 * appended to B: the segments written straight, or through jansson when
 * the text is not UTF-8 or a CQ string is to be sent (what jansson makes
 * of those is kept: a segment it refuses is left out, a message it
 * refuses leaves the params empty). 0, or -1 for that empty case. */
static int write_message(struct onebot *ob, struct json_buf *b, const char *text, const char *reply_to) {
    if (!ob->send_string && onebot_segments_reply_write(b, text, reply_to) == 0) return 0;
    json_t *message = onebot_segments_reply(text, reply_to);
    if (ob->send_string) {
        char *s = onebot_cq_build(message);
        json_decref(message);
        message = json_string(s);
        free(s);
    }
    int r = message ? json_buf_value(b, message) : -1;
    json_decref(message);
    return r;
}

/* Call the send action for CHANNEL ("group:N" / "private:N") with TEXT,
 * replying to REPLY_TO. The params are written straight into their text,
 * {"group_id"|"user_id":N,"message":[...]} (and "message_type" for
 * send_msg), in the order json_pack made them. */
static int send_message(struct onebot *ob, const char *channel, const char *text, const char *reply_to,
                        platform_sent_fn *cb, void *data) {
    int group = !strncmp(channel, "group:", 6);
    int priv = !strncmp(channel, "private:", 8);
    const char *num = channel + (group ? 6 : 8);
    if ((!group && !priv) || !*num || strspn(num, "0123456789") != strlen(num)) return -1;
    struct json_buf b = { 0 };
    json_buf_put(&b, group ? "{\"group_id\":" : "{\"user_id\":");
    json_buf_int(&b, strtoll(num, NULL, 10));
    json_buf_put(&b, ",\"message\":");
    if (write_message(ob, &b, text, reply_to) < 0) {
        json_buf_free(&b);
        json_buf_put(&b, "{");
    } else if (ob->send_msg) {
        json_buf_put(&b, group ? ",\"message_type\":\"group\"" : ",\"message_type\":\"private\"");
    }
    json_buf_put(&b, "}");
    const char *action = ob->send_msg ? "send_msg" : group ? "send_group_msg" : "send_private_msg";
    struct send_req *r = xcalloc(1, sizeof(*r));
    r->ob = ob;
    r->cb = cb;
    r->data = data;
    size_t len;
    char *params = json_buf_take(&b, &len);
    if (onebot_api_call_text(ob->api, action, params, len, on_sent, r) < 0) {
        free(r);
        if (cb) cb(NULL, "too many messages are waiting to be sent to OneBot", data);
    }
    return 0;
}

static void send_notice(struct onebot *ob, const char *channel, const char *reply_to, const char *text) {
    send_message(ob, channel, text, reply_to, NULL, NULL);
}

/* ---- events ------------------------------------------------------------- */

/* A private or group message event becomes a chat_message. */
static void on_message_event(struct onebot *ob, json_t *e) {
    const char *type = str_of(e, "message_type");
    char uid[24], gid[24], mid[24], channel[40];
    const char *user = id_of(e, "user_id", uid, sizeof(uid));
    const char *msg_id = id_of(e, "message_id", mid, sizeof(mid));
    json_t *message = json_object_get(e, "message");
    int group = type && !strcmp(type, "group");
    const char *group_id = group ? id_of(e, "group_id", gid, sizeof(gid)) : NULL;
    if (!type || (!group && strcmp(type, "private")) || !user || !msg_id || (group && !group_id) ||
        !(json_is_array(message) || json_is_string(message))) {
        log_warn("onebot: a message event without message_type, user_id, message_id%s or message; skipped",
                 group ? ", group_id" : "");
        metrics_inc(METRIC_PLATFORM_EVENTS, "onebot_malformed", 1);
        return;
    }
    if (ob->self_id[0] && !strcmp(user, ob->self_id)) return;    /* the bot's own message */
    const char *sub = str_of(e, "sub_type");
    if (group && sub && !strcmp(sub, "notice")) {
        /* QQ's own notice in the group ("anonymous chat is off"): nobody to answer. */
        log_info("onebot: a system notice in group:%s was skipped", group_id);
        return;
    }
    struct onebot_parsed parsed;
    onebot_segments_read(message, ob->self_id[0] ? ob->self_id : NULL, &parsed);
    if (parsed.skipped) {
        log_warn("onebot: %d malformed segments in message %s were skipped", parsed.skipped, msg_id);
        metrics_inc(METRIC_PLATFORM_EVENTS, "onebot_malformed_segment", parsed.skipped);
    }
    int addressed = !group || parsed.at_self || sent_by_bot(ob, parsed.reply_to);
    if ((!addressed && ob->addressed_only) || !parsed.text[0]) {
        onebot_parsed_free(&parsed);
        return;
    }
    const char *kind = group ? "group:" : "private:", *num = group ? group_id : user;
    size_t k = strlen(kind);
    memcpy(channel, kind, k);
    copy_into(channel + k, sizeof(channel) - k, num, strlen(num));
    json_t *sender = json_object_get(e, "sender");
    const char *name = group ? str_of(sender, "card") : NULL;
    if (group && sub && !strcmp(sub, "anonymous")) name = str_of(json_object_get(e, "anonymous"), "name");
    if (!name || !*name) name = str_of(sender, "nickname");
    struct chat_message m;
    memset(&m, 0, sizeof(m));
    m.platform = "onebot";
    m.channel = channel;
    m.id = (char *)msg_id;
    m.reply_to = parsed.reply_to;
    m.text = parsed.text;
    m.author.id = (char *)user;
    m.author.name = (char *)(name && *name ? name : user);
    for (int i = 0; i < parsed.nmentions && i < MESSAGE_MAX_MENTIONS; i++) m.mentions[m.nmentions++] = parsed.mentions[i];
    m.direct = addressed;
    m.received_at = server_now();
    if (ob->self->host->stopping()) {
        if (addressed) send_notice(ob, channel, msg_id, "I'm restarting right now. Please send that again in a moment.");
    } else if (platform_receive(ob->self, &m) < 0) {
        if (addressed) send_notice(ob, channel, msg_id, "Too many messages are waiting here. Please slow down a little.");
        else log_info("onebot: the queue of %s is full; a message not addressed to the bot is skipped", channel);
    }
    onebot_parsed_free(&parsed);
}

/* Lifecycle and heartbeat: who the bot is, and how often it beats. */
static void on_meta_event(struct onebot *ob, json_t *e) {
    const char *type = str_of(e, "meta_event_type");
    if (type && !strcmp(type, "lifecycle")) {
        const char *sub = str_of(e, "sub_type");
        log_info("onebot: lifecycle %s", sub ? sub : "(no sub_type)");
    } else if (type && !strcmp(type, "heartbeat")) {
        json_t *iv = json_object_get(e, "interval");
        json_t *status = json_object_get(e, "status");
        if (json_is_integer(iv)) onebot_link_heartbeat(ob->link, (long)json_integer_value(iv));
        if (json_is_false(json_object_get(status, "online"))) log_warn("onebot: the implementation reports the bot offline");
    }
}

/* Members of a message event this adapter never reads, at any depth: they
 * are stepped over, not built (json_fast_loadb_lean). A member it starts to
 * read (on_message_event, learn_self, onebot_segments_read) must leave this
 * list. */
static const char *const message_unread[] = {
    "raw_message", "font", "time", "message_seq", "real_id", "real_seq", "message_format",
    "target_id", "temp_source", "sex", "age", "area", "level", "role", "title",
    "file_size", "summary", NULL
};

/* A message_sent event (the bot's own post, which NapCat sends back) is
 * only looked at for self_id: of it only these top-level members are
 * built, the rest is stepped over (still checked to be JSON). What an
 * answer is told by (echo, status, retcode) is kept, for a frame that
 * would be both. */
static const char *const sent_read[] = { "post_type", "self_id", "echo", "status", "retcode", NULL };

/* What frame TEXT says it is by "post_type":"message..." anywhere in it
 * (a string's content cannot spell that: its quotes are escaped): 1 a
 * message event, 2 a message_sent one, 0 neither. One pass over it. */
static int post_kind(const char *text, size_t len) {
    static const char key[] = "\"post_type\":\"message";
    const char *p = text, *end = text + len;
    int kind = 0;
    while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
        p += sizeof(key) - 1;
        if (p < end && *p == '"') return 1;
        if (end - p >= 6 && !memcmp(p, "_sent\"", 6)) kind = 2;
    }
    return kind;
}

/* Frame TEXT read as on_frame needs it: a message event without the
 * members it never reads, the bot's own message_sent event only for the
 * members above, anything else whole. A frame that turns out to be
 * something else after all (the text was in a nested object, or it has an
 * echo) is read again whole. */
static json_t *frame_read(const char *text, size_t len, json_error_t *jerr) {
    int kind = post_kind(text, len);
    if (kind == 1) return json_fast_loadb_lean(text, len, message_unread, jerr);
    if (kind == 0) return json_fast_loadb(text, len, jerr);
    json_t *o = json_fast_loadb_only(text, len, sent_read, jerr);
    const char *post = str_of(o, "post_type");
    if (!o || (post && !strcmp(post, "message_sent") && !json_object_get(o, "echo"))) return o;
    json_decref(o);
    return json_fast_loadb(text, len, jerr);
}

/* One frame from the implementation: an API answer or an event. */
static void on_frame(const char *text, size_t len, void *data) {
    struct onebot *ob = data;
    json_error_t jerr;
    json_t *o = frame_read(text, len, &jerr);
    if (!json_is_object(o)) {
        log_warn("onebot: a frame that is not a JSON object (%s); skipped", jerr.text);
        metrics_inc(METRIC_PLATFORM_EVENTS, "onebot_malformed", 1);
        json_decref(o);
        return;
    }
    if (onebot_api_response(ob->api, o)) {
        json_decref(o);
        return;
    }
    const char *post = str_of(o, "post_type");
    if (post) learn_self(ob, o);
    if (post && !strcmp(post, "message")) on_message_event(ob, o);
    else if (post && !strcmp(post, "meta_event")) on_meta_event(ob, o);
    else if (post) log_debug("onebot: %s event ignored", post);
    else {
        log_warn("onebot: a frame with neither post_type nor a known echo; skipped");
        metrics_inc(METRIC_PLATFORM_EVENTS, "onebot_malformed", 1);
    }
    json_decref(o);
}

/* get_login_info answered: the bot's QQ number. */
static void on_login_info(json_t *data, const char *err, void *arg) {
    struct onebot *ob = arg;
    if (err || !ob) return;
    char buf[24];
    const char *id = id_of(data, "user_id", buf, sizeof(buf));
    if (id && strcmp(id, ob->self_id)) {
        snprintf(ob->self_id, sizeof(ob->self_id), "%s", id);
        log_info("onebot: logged in as QQ %s (%s)", id, str_of(data, "nickname") ? str_of(data, "nickname") : "");
    }
}

static void on_up(const char *self_id, void *data) {
    struct onebot *ob = data;
    if (self_id && *self_id) snprintf(ob->self_id, sizeof(ob->self_id), "%s", self_id);
    ob->self->ready = 1;
    metrics_set(METRIC_PLATFORM_READY, "onebot", 1);
    onebot_api_link_up(ob->api);
    onebot_api_call(ob->api, "get_login_info", json_object(), on_login_info, ob);
}

static void on_down(void *data) {
    struct onebot *ob = data;
    ob->self->ready = 0;
    metrics_set(METRIC_PLATFORM_READY, "onebot", 0);
    onebot_api_link_down(ob->api);
}

/* ---- platform_ops ------------------------------------------------------- */

/* Open the link: on the loop's first turn, once the listener (and its lws
 * context) is up, since platforms start before it. */
static void on_start_timer(uv_timer_t *t) {
    struct onebot *ob = t->data;
    struct platform *p = ob->self;
    struct onebot_link_options o = {
        .url = ob->url, .listen = ob->listen, .access_token = ob->token, .self_id = ob->config_self_id,
        .reconnect_min_ms = ob->reconnect_min_ms, .reconnect_max_ms = ob->reconnect_max_ms,
        .heartbeat_misses = ob->heartbeat_misses, .max_inbound = ob->max_inbound,
    };
    static const struct onebot_link_callbacks cb = { on_frame, on_up, on_down };
    char err[256];
    if (ob->listen && !ob->token) log_warn("onebot: no access_token: any program that reaches %s can pose as the bot", ob->listen);
    ob->link = onebot_link_new(p->host->loop, ob->url ? p->host->lws() : NULL, &o, &cb, ob, err, sizeof(err));
    if (!ob->link) {
        log_error("%s", err);
        return;
    }
    ob->api = onebot_api_new(p->host->loop, ob->link, ob->call_timeout_ms, 1000);
}

static int onebot_start(struct platform *p) {
    struct onebot *ob = p->state;
    ob->start = timer_new(p->host->loop, ob);
    uv_timer_start(ob->start, on_start_timer, 0, 0);
    return 0;
}

/* platform_ops.send: the reply (after a reply segment) to its group or person. */
static int onebot_send(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    struct onebot *ob = p->state;
    if (!ob || ob->stopped || !ob->api) {
        if (cb) cb(NULL, "OneBot is not running", data);
        return 0;
    }
    if (send_message(ob, out->channel, out->text, out->reply_to, cb, data) < 0 && cb)
        cb(NULL, "not a OneBot channel (group:N or private:N)", data);
    return 0;
}

/* platform_ops.typing: OneBot v11 has no typing indicator. */
static int onebot_typing(struct platform *p, const char *channel) {
    (void)p;
    (void)channel;
    return 0;
}

static void onebot_stop(struct platform *p) {
    struct onebot *ob = p->state;
    if (!ob || ob->stopped) return;
    ob->stopped = 1;
    p->ready = 0;
    timer_free(&ob->start);
    onebot_api_free(ob->api);
    ob->api = NULL;
    onebot_link_free(ob->link);
    ob->link = NULL;
    for (int i = 0; i < SENT_RING; i++) free(ob->sent[i]);
    free(ob->url);
    free(ob->listen);
    free(ob->token);
    free(ob->config_self_id);
    free(ob);
    p->state = NULL;
}

static int onebot_connections(struct platform *p) {
    (void)p;
    return onebot_link_open_connections();
}

static void *onebot_create(struct platform *p, const struct config_block *b) {
    struct onebot *ob = xcalloc(1, sizeof(*ob));
    read_config(ob, b);
    ob->self = p;
    return ob;
}

/* platform_ops.mention: a CQ at code; the reply turns it into an at segment. */
static char *onebot_mention(struct platform *p, const char *user_id, const char *user_name) {
    (void)p, (void)user_name;
    size_t n = strlen(user_id) + 16;
    char *out = xmalloc(n);
    snprintf(out, n, "[CQ:at,qq=%s]", user_id);
    return out;
}

const struct platform_ops onebot_platform = {
    .name = "onebot",
    .config_kind = "onebot",
    .create = onebot_create,
    .start = onebot_start,
    .send = onebot_send,
    .typing = onebot_typing,
    .stop = onebot_stop,
    .connections = onebot_connections,
    .mention = onebot_mention,
};
