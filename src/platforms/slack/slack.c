/* slack.c - the Slack adapter: reads `slack { ... }`, checks the bot token
 * with auth.test, keeps the Socket Mode pool (slack_socket.c) open, turns
 * events, slash commands and button presses into chat_messages (each event
 * once, remembered in Redis), and answers through the Web API send queue
 * (slack_web.c): chat.postMessage in the thread the message was in,
 * chat.update for streamed replies, reactions.add, and response_url for
 * slash commands and actions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "core/commands.h"
#include "core/message.h"
#include "core/server.h"
#include "io/redis_client.h"
#include "lib/dict.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/redact.h"
#include "lib/xalloc.h"
#include "platforms/slack/slack.h"
#include "platforms/slack/slack_socket.h"
#include "platforms/slack/slack_text.h"
#include "platforms/slack/slack_rich.h"
#include "core/rich.h"
#include "platforms/slack/slack_web.h"
#include "io/timer.h"

#define REMEMBER 4096              /* events, threads and response URLs kept in memory */

/* A string map that forgets its oldest keys past REMEMBER. */
struct memo {
    struct dict *d;
    char *keys[REMEMBER];
    int pos;
};

/* A reply being streamed: one message grown by chat.update. */
struct stream {
    struct slack *sl;
    char *key;
    char *channel;
    char *thread_ts;
    char *ts;                      /* the message, once posted */
    char *text;                    /* everything so far (plain) */
    size_t len;
    int posting;                   /* chat.postMessage under way */
    int updating;                  /* chat.update under way */
    int dirty;                     /* text changed since the last update */
    int final;                     /* the whole reply is in */
    platform_sent_fn *cb;
    void *data;
    uv_timer_t *timer;
};

/* An event waiting for Redis to say whether it was seen before. */
struct pending {
    struct slack *sl;              /* NULL once the adapter stopped */
    json_t *event;
    struct pending *next;
};

struct slack {
    struct platform *self;
    char *app_token, *bot_token, *api_url, *command_ack;
    int connections, channel_burst, ping_s;
    double channel_rate, scale;
    long ttl_s, stream_ms;
    size_t max_inbound;
    struct slack_web *web;
    struct slack_socket *sock;
    char *bot_user, *bot_id;
    char ttl_text[24];             /* dedupe_ttl_s as the EX argument */
    struct memo seen, threads, responses;
    struct dict *streams;
    struct pending *pending;
    uv_timer_t *start_retry;
    int start_attempts;
    int fatal;
    int stopped;
};

/* ---- small helpers ----------------------------------------------------- */

/* A string member of O, or NULL. */
static const char *str_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void memo_init(struct memo *m) {
    m->d = dict_new();
}

/* Remember KEY -> VALUE (malloc'd, owned; may be (void *)1 for "seen"). */
static void memo_set(struct memo *m, const char *key, char *value) {
    char *old = dict_del(m->d, key);
    if (old && old != (char *)1) free(old);
    if (m->keys[m->pos]) {
        char *evicted = dict_del(m->d, m->keys[m->pos]);
        if (evicted && evicted != (char *)1) free(evicted);
        free(m->keys[m->pos]);
    }
    m->keys[m->pos] = xstrdup(key);
    m->pos = (m->pos + 1) % REMEMBER;
    dict_set(m->d, key, value);
}

static void memo_free(struct memo *m) {
    for (int i = 0; i < REMEMBER; i++) {
        if (!m->keys[i]) continue;
        char *v = dict_del(m->d, m->keys[i]);
        if (v && v != (char *)1) free(v);
        free(m->keys[i]);
        m->keys[i] = NULL;
    }
    dict_free(m->d);
    m->d = NULL;
}

/* PARTS (N of them) one after the other in OUT, cut to OUTLEN - 1 bytes
 * as snprintf would cut them (a key built on every message). */
static void join(char *out, size_t outlen, const char *const *parts, int n) {
    size_t j = 0;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(parts[i]);
        if (j + k >= outlen) k = outlen - 1 - j;
        memcpy(out + j, parts[i], k);
        j += k;
    }
    out[j] = '\0';
}

/* ---- config ------------------------------------------------------------ */

/* Read the slack statement into SL. */
static void read_config(struct slack *sl, const struct config_block *b) {
    sl->app_token = xstrdup(config_str(b, "app_token", ""));
    sl->bot_token = xstrdup(config_str(b, "bot_token", ""));
    redact_add_secret(sl->app_token);
    redact_add_secret(sl->bot_token);
    sl->api_url = xstrdup(config_str(b, "api_url", "https://slack.com/api/"));
    sl->command_ack = xstrdup(config_str(b, "command_ack", "Working on it..."));
    sl->connections = (int)config_int(b, "connections", 2);
    sl->channel_burst = (int)config_int(b, "channel_burst", 3);
    sl->ping_s = (int)config_int(b, "ping_interval_s", 30);
    sl->ttl_s = config_int(b, "dedupe_ttl_s", 86400);
    snprintf(sl->ttl_text, sizeof(sl->ttl_text), "%ld", sl->ttl_s > 0 ? sl->ttl_s : 86400);
    sl->stream_ms = config_int(b, "stream_interval_ms", 1500);
    long max = config_int(b, "max_inbound_bytes", 8388608);
    sl->max_inbound = max > 4096 ? (size_t)max : 4096;
    json_t *rate = json_object_get(b->value, "channel_rate");
    sl->channel_rate = json_is_number(rate) ? json_number_value(rate) : 1.0;
    json_t *scale = json_object_get(b->value, "time_scale");
    sl->scale = json_is_number(scale) ? json_number_value(scale) : 1.0;
}

/* ---- sending ----------------------------------------------------------- */

/* One send, possibly in several parts: completes once, with the last ts. */
struct send_ctx {
    platform_sent_fn *cb;
    void *data;
    int left;
    char *ts;
    char *err;
};

/* A part of a send was answered. */
static void on_part(json_t *body, const char *err, void *data) {
    struct send_ctx *c = data;
    const char *ts = str_of(body, "ts");
    if (err && !c->err) c->err = xstrdup(err);
    if (!err && ts) {
        free(c->ts);
        c->ts = xstrdup(ts);
    }
    if (--c->left > 0) return;
    if (c->err) log_warn("slack: a reply could not be posted: %s", c->err);
    if (c->cb) c->cb(c->err ? NULL : c->ts, c->err, c->data);
    free(c->ts);
    free(c->err);
    free(c);
}

/* Post plain TEXT[0..len) to CHANNEL (in THREAD_TS when set), escaped and
 * split at Slack's limit; CB gets the last part's ts. SKIP bytes of the
 * escaped text were sent already (a streamed message). Returns 0 or -1. */
static int post_text(struct slack *sl, const char *channel, const char *thread_ts, const char *text, size_t len,
                     size_t skip, platform_sent_fn *cb, void *data) {
    char *esc = slack_text_escape(text, len);
    size_t n = strlen(esc);
    if (skip >= n) {
        free(esc);
        return -1;
    }
    struct send_ctx *c = xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->data = data;
    c->left = 1;                   /* held until every part is queued */
    for (size_t off = skip; off < n;) {
        static const char *const keys[] = { "channel", "text", "thread_ts" };
        size_t k = slack_text_split(esc + off, n - off, SLACK_MAX_TEXT_CP);
        const char *vals[] = { channel, esc + off, thread_ts };
        size_t lens[] = { strlen(channel), k, thread_ts ? strlen(thread_ts) : 0 };
        c->left++;
        if (slack_web_call_text(sl->web, "chat.postMessage", json_write_strings(3, keys, vals, lens), channel, on_part, c) < 0)
            c->left--;
        off += k;
    }
    free(esc);
    on_part(NULL, NULL, c);
    return 0;
}

/* The thread a reply to message REPLY_TO in CHANNEL belongs in, or NULL. */
static const char *thread_of(struct slack *sl, const char *channel, const char *reply_to) {
    if (!reply_to) return NULL;
    char key[256];
    dict_key2(key, sizeof(key), channel, reply_to);
    return dict_get(sl->threads.d, key);
}

/* ---- streamed replies -------------------------------------------------- */

static void stream_flush(struct stream *st);

/* Forget a stream (its timer closes on its own). */
static void stream_free(struct stream *st) {
    if (st->sl && st->sl->streams) dict_del(st->sl->streams, st->key);
    timer_free(&st->timer);
    free(st->key);
    free(st->channel);
    free(st->thread_ts);
    free(st->ts);
    free(st->text);
    free(st);
}

/* The throttle interval passed: send the text as it is now. */
static void on_stream_timer(uv_timer_t *t) {
    stream_flush(t->data);
}

/* chat.update of a stream answered. */
static void on_stream_update(json_t *body, const char *err, void *data) {
    struct stream *st = data;
    (void)body;
    st->updating = 0;
    if (err) log_warn("slack: updating a streamed reply failed: %s", err);
    if (st->final && !st->dirty) {
        if (st->cb) st->cb(st->ts, err, st->data);
        st->cb = NULL;
        stream_free(st);
        return;
    }
    if (st->dirty) {
        uint64_t ms = (uint64_t)((double)st->sl->stream_ms * st->sl->scale);
        uv_timer_start(st->timer, on_stream_timer, st->final ? 0 : ms, 0);
    }
}

/* chat.postMessage of a stream's first text answered. */
static void on_stream_post(json_t *body, const char *err, void *data) {
    struct stream *st = data;
    st->posting = 0;
    const char *ts = str_of(body, "ts");
    if (err || !ts) {
        if (st->final) {
            if (st->cb) st->cb(NULL, err ? err : "no ts", st->data);
            st->cb = NULL;
            stream_free(st);
        }
        return;
    }
    st->ts = xstrdup(ts);
    if (st->dirty || st->final) {
        uint64_t ms = (uint64_t)((double)st->sl->stream_ms * st->sl->scale);
        uv_timer_start(st->timer, on_stream_timer, st->final ? 0 : ms, 0);
    }
}

/* Post the stream's message, or update it with the text so far. The
 * message holds the first SLACK_MAX_TEXT_CP; the rest of a final reply is
 * posted after it. */
static void stream_flush(struct stream *st) {
    struct slack *sl = st->sl;
    if (st->posting || st->updating || !sl || !sl->web) return;
    char *esc = slack_text_escape(st->text, st->len);
    size_t n = strlen(esc);
    size_t k = slack_text_split(esc, n, SLACK_MAX_TEXT_CP);
    if (!st->ts) {
        json_t *args = json_pack("{s:s, s:s%}", "channel", st->channel, "text", esc, k);
        if (st->thread_ts) json_object_set_new(args, "thread_ts", json_string(st->thread_ts));
        st->posting = 1;
        st->dirty = 0;
        slack_web_call(sl->web, "chat.postMessage", args, st->channel, on_stream_post, st);
    } else {
        json_t *args = json_pack("{s:s, s:s, s:s%}", "channel", st->channel, "ts", st->ts, "text", esc, k);
        st->updating = 1;
        st->dirty = 0;
        if (st->final && k < n) post_text(sl, st->channel, st->thread_ts, st->text, st->len, k, NULL, NULL);
        slack_web_call(sl->web, "chat.update", args, st->channel, on_stream_update, st);
    }
    free(esc);
}

/* ---- platform ops: out ------------------------------------------------- */

/* A response_url answered. */
static void on_response(json_t *body, const char *err, void *data) {
    struct send_ctx *c = data;
    (void)body;
    if (err) log_warn("slack: answering a slash command or action failed: %s", err);
    if (c->cb) c->cb(c->ts, err, c->data);
    free(c->ts);
    free(c);
}

/* Blocks for TEXT and RICH in BODY, and its text the readable fallback
 * (notifications, screen readers) Slack asks for beside blocks. */
static void rich_fields(json_t *body, const char *text, const json_t *rich) {
    char *plain = rich_plain(text, rich);
    char *esc = slack_rich_mrkdwn(plain);
    size_t k = slack_text_split(esc, strlen(esc), SLACK_MAX_TEXT_CP);
    json_object_set_new(body, "text", json_stringn(esc, k));
    json_object_set_new(body, "blocks", slack_rich_blocks(text, rich));
    free(esc);
    free(plain);
}

/* A rich reply: one chat.postMessage with blocks (Slack has no ephemeral
 * post without a user to show it to: outside a slash command or a button
 * press it is public). */
static int post_rich(struct slack *sl, const struct outgoing *out, const char *thread, platform_sent_fn *cb, void *data) {
    json_t *args = json_pack("{s:s}", "channel", out->channel);
    rich_fields(args, out->text, out->rich);
    if (thread) json_object_set_new(args, "thread_ts", json_string(thread));
    struct send_ctx *c = xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->data = data;
    c->left = 1;
    if (slack_web_call(sl->web, "chat.postMessage", args, out->channel, on_part, c) < 0) {
        free(c);
        if (cb) cb(NULL, "the reply could not be queued", data);
    }
    return 0;
}

/* platform_ops.mention: <@U123> (it pings in rich replies; plain replies
 * are escaped and show it as text). */
static char *slack_mention(struct platform *p, const char *user_id, const char *user_name) {
    (void)p, (void)user_name;
    size_t n = strlen(user_id) + 4;
    char *out = xmalloc(n);
    snprintf(out, n, "<@%s>", user_id);
    return out;
}

/* platform_ops.send: a slash command's or action's answer goes to its
 * response_url; a streamed reply ends with an update; else a post. */
static int slack_send(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    struct slack *sl = p->state;
    if (!sl || sl->stopped || sl->fatal || !sl->web) {
        if (cb) cb(NULL, "Slack is not running", data);
        return 0;
    }
    char *url = out->reply_to ? dict_del(sl->responses.d, out->reply_to) : NULL;
    if (url) {
        char *esc = slack_text_escape(out->text, strlen(out->text));
        size_t k = slack_text_split(esc, strlen(esc), SLACK_MAX_TEXT_CP);
        int ephemeral = json_is_true(json_object_get(out->rich, "ephemeral"));
        json_t *body = json_pack("{s:s, s:s%}", "response_type", ephemeral ? "ephemeral" : "in_channel", "text", esc, k);
        if (!strncmp(out->reply_to, "button:", 7)) json_object_set_new(body, "replace_original", json_false());
        if (rich_has_content(out->rich)) rich_fields(body, out->text, out->rich);
        struct send_ctx *c = xcalloc(1, sizeof(*c));
        c->cb = cb;
        c->data = data;
        c->ts = xstrdup(out->reply_to);
        if (slack_web_respond(sl->web, url, body, on_response, c) < 0) {
            free(c->ts);
            free(c);
            if (cb) cb(NULL, "the response_url is not usable", data);
        }
        /* the memo still lists the key; it holds nothing now */
        dict_set(sl->responses.d, out->reply_to, (void *)1);
        free(url);
        free(esc);
        return 0;
    }
    const char *thread = thread_of(sl, out->channel, out->reply_to);
    if (rich_has_content(out->rich)) return post_rich(sl, out, thread, cb, data);
    char key[256];
    dict_key2(key, sizeof(key), out->channel, out->reply_to ? out->reply_to : "");
    struct stream *st = dict_get(sl->streams, key);
    if (st) {
        free(st->text);
        st->len = strlen(out->text);
        st->text = xstrdup(out->text);
        st->final = 1;
        st->dirty = 1;
        st->cb = cb;
        st->data = data;
        uv_timer_stop(st->timer);
        stream_flush(st);
        return 0;
    }
    if (post_text(sl, out->channel, thread, out->text, strlen(out->text), 0, cb, data) < 0 && cb)
        cb(NULL, "an empty reply cannot be sent to Slack", data);
    return 0;
}

/* platform_ops.stream_delta: grow the reply in one message, updated at most
 * once per stream_interval_ms (chat.update is a tier 3 method). */
static void slack_stream_delta(struct platform *p, const char *channel, const char *reply_to, const char *text,
                               size_t len) {
    struct slack *sl = p->state;
    if (!sl || sl->stopped || sl->fatal || !sl->web || !len) return;
    if (reply_to && dict_get(sl->responses.d, reply_to) && dict_get(sl->responses.d, reply_to) != (void *)1) return;
    char key[256];
    dict_key2(key, sizeof(key), channel, reply_to ? reply_to : "");
    struct stream *st = dict_get(sl->streams, key);
    if (!st) {
        st = xcalloc(1, sizeof(*st));
        st->sl = sl;
        st->key = xstrdup(key);
        st->channel = xstrdup(channel);
        const char *thread = thread_of(sl, channel, reply_to);
        st->thread_ts = thread ? xstrdup(thread) : NULL;
        st->text = xstrdup("");
        st->timer = timer_new(p->host->loop, st);
        dict_set(sl->streams, key, st);
    }
    st->text = xrealloc(st->text, st->len + len + 1);
    memcpy(st->text + st->len, text, len);
    st->len += len;
    st->text[st->len] = '\0';
    st->dirty = 1;
    if (!st->ts && !st->posting) stream_flush(st);
    else if (st->ts && !st->updating && !uv_is_active((uv_handle_t *)st->timer))
        uv_timer_start(st->timer, on_stream_timer, (uint64_t)((double)sl->stream_ms * sl->scale), 0);
}

/* platform_ops.edit: chat.update a message the bot sent. */
static int slack_edit(struct platform *p, const char *channel, const char *message_id, const char *text, size_t len) {
    struct slack *sl = p->state;
    if (!sl || sl->stopped || sl->fatal || !sl->web || !len) return -1;
    char *esc = slack_text_escape(text, len);
    size_t k = slack_text_split(esc, strlen(esc), SLACK_MAX_TEXT_CP);
    json_t *args = json_pack("{s:s, s:s, s:s%}", "channel", channel, "ts", message_id, "text", esc, k);
    free(esc);
    return slack_web_call(sl->web, "chat.update", args, channel, NULL, NULL);
}

/* Slack's name for a few unicode emoji; other names pass as they are. */
static const char *emoji_name(const char *emoji, char *buf, size_t len) {
    static const char *const map[][2] = {
        { "👍", "+1" }, { "👎", "-1" }, { "❤️", "heart" }, { "❤", "heart" }, { "👀", "eyes" },
        { "✅", "white_check_mark" }, { "🎉", "tada" }, { "😂", "joy" }, { "🙏", "pray" }, { "🔥", "fire" },
        { NULL, NULL }
    };
    for (int i = 0; map[i][0]; i++)
        if (!strcmp(emoji, map[i][0])) return map[i][1];
    while (*emoji == ':') emoji++;
    snprintf(buf, len, "%s", emoji);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == ':') buf[--n] = '\0';
    return buf;
}

/* platform_ops.react: reactions.add by emoji name. */
static int slack_react(struct platform *p, const char *channel, const char *message_id, const char *emoji) {
    struct slack *sl = p->state;
    if (!sl || sl->stopped || sl->fatal || !sl->web || !*emoji) return -1;
    char buf[64];
    json_t *args = json_pack("{s:s, s:s, s:s}", "channel", channel, "timestamp", message_id, "name",
                             emoji_name(emoji, buf, sizeof(buf)));
    return slack_web_call(sl->web, "reactions.add", args, channel, NULL, NULL);
}

/* platform_ops.typing: Slack has no typing indicator for bots. */
static int slack_typing(struct platform *p, const char *channel) {
    (void)p, (void)channel;
    return 0;
}

/* ---- platform ops: in -------------------------------------------------- */

/* Tell CHANNEL why its message was not taken. */
static void notice(struct slack *sl, const char *channel, const char *thread, const char *text) {
    post_text(sl, channel, thread, text, strlen(text), 0, NULL, NULL);
}

/* Hand M to the channel queues, telling the user when that is not possible. */
static void receive(struct slack *sl, struct chat_message *m, const char *thread) {
    if (sl->self->host->stopping()) {
        if (m->direct) notice(sl, m->channel, thread, "I'm restarting right now. Please send that again in a moment.");
        return;
    }
    if (platform_receive(sl->self, m) < 0) {
        if (m->direct) notice(sl, m->channel, thread, "Too many messages are waiting in this channel. Please slow down a little.");
        else log_info("slack: the queue of %s is full; a message not addressed to the bot is skipped", m->channel);
    }
}

/* A message or app_mention that was not seen before: a chat_message. */
static void deliver_event(struct slack *sl, json_t *ev) {
    const char *type = str_of(ev, "type");
    const char *channel = str_of(ev, "channel");
    const char *ts = str_of(ev, "ts");
    const char *user = str_of(ev, "user");
    const char *raw = str_of(ev, "text");
    const char *thread = str_of(ev, "thread_ts");
    int mention = !strcmp(type, "app_mention") || slack_text_mentions(raw, sl->bot_user);
    const char *ctype = str_of(ev, "channel_type");
    int dm = (ctype && !strcmp(ctype, "im")) || channel[0] == 'D';
    char *text = slack_text_unescape(slack_text_strip_mention(raw, sl->bot_user));
    if (!*text) {
        free(text);
        return;
    }
    struct chat_message m;
    memset(&m, 0, sizeof(m));
    m.platform = "slack";
    m.channel = (char *)channel;
    m.id = (char *)ts;
    m.text = text;
    m.author.id = (char *)user;
    m.author.name = (char *)user;
    m.direct = dm || mention;
    if (mention && sl->bot_user) m.mentions[m.nmentions++] = sl->bot_user;
    if (thread) {
        m.thread = (char *)thread;
        m.thread_parent = (char *)channel;
        char key[256];
        dict_key2(key, sizeof(key), channel, ts);
        memo_set(&sl->threads, key, xstrdup(thread));
    }
    m.received_at = server_now();
    metrics_inc(METRIC_PLATFORM_EVENTS, "slack_message", 1);
    receive(sl, &m, thread);
    free(text);
}

/* Redis answered SET NX for a pending event: deliver it unless it was seen. */
static void on_seen(redisReply *reply, const char *err, void *data) {
    struct pending *pe = data;
    struct slack *sl = pe->sl;
    if (sl) {
        for (struct pending **pp = &sl->pending; *pp; pp = &(*pp)->next) {
            if (*pp == pe) {
                *pp = pe->next;
                break;
            }
        }
        int dup = !err && reply && reply->type == REDIS_REPLY_NIL;
        if (dup) {
            log_debug("slack: event %s:%s seen before (Redis); skipped", str_of(pe->event, "channel"), str_of(pe->event, "ts"));
            metrics_inc(METRIC_PLATFORM_EVENTS, "slack_duplicate", 1);
        } else {
            if (err) log_warn("slack: Redis could not check an event for duplicates (%s); answering it", err);
            deliver_event(sl, pe->event);
        }
    }
    json_decref(pe->event);
    free(pe);
}

/* events_api: keep messages and mentions from people, each once. The key
 * is the message (channel and ts), so a retry (same event_id) and the
 * message/app_mention pair of one mention count once; it lives in Redis
 * for dedupe_ttl_s, across reconnects and restarts. */
static void on_event(struct slack *sl, json_t *payload, json_t *envelope) {
    json_t *ev = json_object_get(payload, "event");
    const char *type = str_of(ev, "type");
    if (!json_is_object(ev) || !type) {
        log_warn("slack: an events_api envelope without an event; skipped");
        metrics_inc(METRIC_PLATFORM_EVENTS, "slack_malformed", 1);
        return;
    }
    if (strcmp(type, "message") && strcmp(type, "app_mention")) return;
    if (json_object_get(ev, "bot_id") || json_object_get(ev, "bot_profile")) return;
    /* Subtypes that are still a person talking: a file shared with a
     * comment, a thread reply also sent to the channel, /me. The others
     * are edits, deletions, joins and the like (message_changed carries
     * its text in a nested message): not something said to answer. */
    const char *subtype = str_of(ev, "subtype");
    if (json_object_get(ev, "subtype") && (!subtype || (strcmp(subtype, "file_share") && strcmp(subtype, "thread_broadcast") &&
                                                        strcmp(subtype, "me_message"))))
        return;
    const char *user = str_of(ev, "user");
    const char *channel = str_of(ev, "channel");
    const char *ts = str_of(ev, "ts");
    if (!user || !channel || !ts || !str_of(ev, "text") || !*channel) {
        log_warn("slack: a %s event without user, channel, ts or text; skipped", type);
        metrics_inc(METRIC_PLATFORM_EVENTS, "slack_malformed", 1);
        return;
    }
    if (sl->bot_user && !strcmp(user, sl->bot_user)) return;
    char key[300];
    dict_key2(key, sizeof(key), channel, ts);
    if (dict_get(sl->seen.d, key)) {
        json_t *retry = json_object_get(envelope, "retry_attempt");
        log_debug("slack: event on %s at %s seen before (retry %lld); skipped", channel, ts,
                  (long long)json_integer_value(retry));
        metrics_inc(METRIC_PLATFORM_EVENTS, "slack_duplicate", 1);
        return;
    }
    memo_set(&sl->seen, key, (char *)1);
    struct redis_client *rc = sl->self->host->redis();
    if (rc && redis_client_ready(rc)) {
        char rkey[400];
        /* Per bot account ("slack" or "slack:aiko"): two apps in one workspace both hear a message. */
        const char *parts[] = { redis_client_prefix(rc), sl->self->name, ":seen:", channel, ":", ts };
        join(rkey, sizeof(rkey), parts, 6);
        const char *argv[] = { "SET", rkey, "1", "NX", "EX", sl->ttl_text };
        struct pending *pe = xcalloc(1, sizeof(*pe));
        pe->sl = sl;
        pe->event = json_incref(ev);
        if (redis_command(rc, on_seen, pe, 6, argv, NULL) == 0) {
            pe->next = sl->pending;
            sl->pending = pe;
            return;
        }
        json_decref(pe->event);
        free(pe);
    }
    deliver_event(sl, ev);
}

/* The text a slash command stands for: "!name args" when a skill offers
 * the command NAME, else its text (or its name when it has none). */
static char *command_text(struct slack *sl, const char *command, const char *text) {
    const char *name = command[0] == '/' ? command + 1 : command;
    struct command_list *list = sl->self->host->commands();
    const char *prefix = list && command_list_find(list, name) ? list->prefix : NULL;
    char *out;
    if (prefix) {
        size_t n = strlen(prefix) + strlen(name) + strlen(text) + 2;
        out = xmalloc(n);
        snprintf(out, n, "%s%s%s%s", prefix, name, *text ? " " : "", text);
    } else {
        out = xstrdup(*text ? text : name);
    }
    command_list_free(list);
    return out;
}

/* A slash command or a button press (already acked): a direct message
 * whose answer goes to its response_url. */
static void on_command(struct slack *sl, const char *kind, const char *channel, const char *user, const char *name,
                       const char *trigger, const char *url, char *text, const char *message_ts) {
    if (!channel || !user || !url || !trigger || !*text) {
        log_warn("slack: a %s without channel, user, trigger_id or response_url; skipped", kind);
        free(text);
        return;
    }
    char id[200];
    snprintf(id, sizeof(id), "%s:%s", kind, trigger);
    memo_set(&sl->responses, id, xstrdup(url));
    struct chat_message m;
    memset(&m, 0, sizeof(m));
    m.platform = "slack";
    m.channel = (char *)channel;
    m.id = id;
    m.text = text;
    m.author.id = (char *)user;
    m.author.name = (char *)(name ? name : user);
    m.direct = 1;
    m.received_at = server_now();
    if (!strcmp(kind, "button")) {      /* a press of a button of ours: an event for skills */
        m.event = "button";
        m.reply_to = (char *)message_ts;
    }
    receive(sl, &m, NULL);
    free(text);
}

/* Every envelope, acked already. */
static void on_envelope(const char *type, json_t *payload, json_t *envelope, void *data) {
    struct slack *sl = data;
    if (sl->stopped) return;
    if (!strcmp(type, "events_api")) {
        on_event(sl, payload, envelope);
    } else if (!strcmp(type, "slash_commands")) {
        const char *command = str_of(payload, "command");
        const char *text = str_of(payload, "text");
        if (!command) {
            log_warn("slack: a slash command without a command; skipped");
            return;
        }
        on_command(sl, "slash", str_of(payload, "channel_id"), str_of(payload, "user_id"), str_of(payload, "user_name"),
                   str_of(payload, "trigger_id"), str_of(payload, "response_url"),
                   command_text(sl, command, text ? text : ""), NULL);
    } else if (!strcmp(type, "interactive")) {
        const char *itype = str_of(payload, "type");
        json_t *action = json_array_get(json_object_get(payload, "actions"), 0);
        if (!itype || strcmp(itype, "block_actions") || !action) return;
        const char *where = str_of(json_object_get(payload, "container"), "type");
        if (where && !strcmp(where, "view")) {   /* a button in a modal: it has no channel to answer in */
            log_debug("slack: a button pressed in a modal; nothing to answer");
            return;
        }
        const char *value = str_of(action, "value");
        if (!value) value = str_of(action, "action_id");
        json_t *userobj = json_object_get(payload, "user");
        const char *channel = str_of(json_object_get(payload, "channel"), "id");
        if (!channel) channel = str_of(json_object_get(payload, "container"), "channel_id");
        const char *block = str_of(action, "block_id");
        const char *ts = str_of(json_object_get(payload, "container"), "message_ts");
        if (block && !strncmp(block, SLACK_BLOCK_PREFIX, strlen(SLACK_BLOCK_PREFIX))) {
            const char *id = str_of(action, "action_id");
            if (!id || !strncmp(id, "link:", 5)) return;   /* a link button: Slack opened it */
            on_command(sl, "button", channel, str_of(userobj, "id"), str_of(userobj, "username"),
                       str_of(payload, "trigger_id"), str_of(payload, "response_url"), xstrdup(id), ts);
            return;
        }
        on_command(sl, "action", channel, str_of(userobj, "id"), str_of(userobj, "username"),
                   str_of(payload, "trigger_id"), str_of(payload, "response_url"), xstrdup(value ? value : ""), NULL);
    } else {
        log_debug("slack: an envelope of type %s; nothing to do", type);
    }
}

/* The pool gained its first live connection, or lost its last. */
static void on_ready(int ready, void *data) {
    struct slack *sl = data;
    sl->self->ready = ready && !sl->fatal;
}

/* The pool stopped for good. */
static void on_fatal(const char *why, void *data) {
    struct slack *sl = data;
    (void)why;
    sl->fatal = 1;
    sl->self->ready = 0;
}

/* A Web API call said the bot token no longer works (revoked, the
 * account deactivated): stop for good, said once, Socket Mode closed,
 * never a storm of refused calls. auth.test says so itself. */
static void on_refused(const char *method, const char *err, void *data) {
    struct slack *sl = data;
    if (sl->fatal || sl->stopped) return;
    sl->fatal = 1;
    sl->self->ready = 0;
    log_error("slack: Slack refused the bot_token (%s: %s); the Slack adapter stays down (no reconnects) until the "
              "configuration is fixed and reloaded", method, err);
    metrics_inc(METRIC_PLATFORM_EVENTS, "slack_fatal", 1);
    slack_socket_stop(sl->sock);
}

/* ---- start -------------------------------------------------------------- */

static void check_auth(struct slack *sl);

/* Try auth.test again. */
static void on_start_retry(uv_timer_t *t) {
    check_auth(t->data);
}

/* auth.test answered: learn the bot's ids, then open Socket Mode. */
static void on_auth(json_t *body, const char *err, void *data) {
    struct slack *sl = data;
    if (sl->stopped) return;
    if (err && (!strcmp(err, "invalid_auth") || !strcmp(err, "not_authed") || !strcmp(err, "account_inactive") ||
                !strcmp(err, "token_revoked") || !strcmp(err, "token_expired"))) {
        log_error("slack: Slack refused the bot_token (auth.test: %s); the Slack adapter stays down", err);
        sl->fatal = 1;
        sl->self->ready = 0;
        return;
    }
    if (err) {
        double delay = 1000.0 * (double)(1u << (sl->start_attempts < 5 ? sl->start_attempts : 5)) * sl->scale;
        sl->start_attempts++;
        log_warn("slack: auth.test failed (%s); trying again in %.0f ms", err, delay);
        uv_timer_start(sl->start_retry, on_start_retry, delay < 1 ? 1 : (uint64_t)delay, 0);
        return;
    }
    const char *user = str_of(body, "user_id");
    const char *bot = str_of(body, "bot_id");
    free(sl->bot_user);
    free(sl->bot_id);
    sl->bot_user = user ? xstrdup(user) : NULL;
    sl->bot_id = bot ? xstrdup(bot) : NULL;
    log_info("slack: signed in as %s (team %s)", user ? user : "?", str_of(body, "team_id") ? str_of(body, "team_id") : "?");
    if (sl->sock) return;
    struct slack_socket_options o = {
        .want = sl->connections, .max_inbound = sl->max_inbound, .time_scale = sl->scale, .ping_s = sl->ping_s,
        .command_ack = sl->command_ack,
    };
    static const struct slack_socket_callbacks callbacks = { on_envelope, on_ready, on_fatal };
    char errbuf[160];
    sl->sock = slack_socket_new(sl->self->host->loop, sl->self->host->lws(), sl->web, &o, &callbacks, sl, errbuf,
                                sizeof(errbuf));
    if (!sl->sock) {
        log_error("%s", errbuf);
        return;
    }
    slack_socket_start(sl->sock);
}

/* Check the bot token and learn who the bot is. */
static void check_auth(struct slack *sl) {
    if (slack_web_call(sl->web, "auth.test", json_object(), NULL, on_auth, sl) < 0) log_error("slack: cannot call auth.test");
}

/* platform_ops.start: auth.test first; Socket Mode follows its answer. */
static int slack_start(struct platform *p) {
    struct slack *sl = p->state;
    struct slack_web_options wo = {
        .api_url = sl->api_url, .bot_token = sl->bot_token, .app_token = sl->app_token,
        .channel_rate = sl->channel_rate, .channel_burst = sl->channel_burst, .time_scale = sl->scale,
        .refused = on_refused, .arg = sl,
    };
    sl->web = slack_web_new(p->host->loop, p->host->http, &wo);
    if (!sl->web) return -1;
    sl->start_retry = timer_new(p->host->loop, sl);
    check_auth(sl);
    return 0;
}

/* platform_ops.stop: close Socket Mode (1000) and drop pending calls. */
static void slack_stop(struct platform *p) {
    struct slack *sl = p->state;
    if (!sl || sl->stopped) return;
    sl->stopped = 1;
    p->ready = 0;
    slack_socket_free(sl->sock);
    sl->sock = NULL;
    for (struct pending *pe = sl->pending; pe; pe = pe->next) pe->sl = NULL;
    void **all = dict_values(sl->streams);
    for (void **v = all; *v; v++) {
        struct stream *st = *v;
        if (st->cb) st->cb(NULL, "Slack stopped", st->data);
        st->sl = NULL;
        stream_free(st);
    }
    free(all);
    dict_free(sl->streams);
    slack_web_free(sl->web);
    sl->web = NULL;
    timer_free(&sl->start_retry);
    memo_free(&sl->seen);
    memo_free(&sl->threads);
    memo_free(&sl->responses);
    free(sl->app_token);
    free(sl->bot_token);
    free(sl->api_url);
    free(sl->command_ack);
    free(sl->bot_user);
    free(sl->bot_id);
    free(sl);
    p->state = NULL;
}

/* platform_ops.connections: Socket Mode sockets still open (for the drain). */
static int slack_connections(struct platform *p) {
    (void)p;
    return slack_socket_open_connections();
}

/* The adapter's state from the `slack { ... }` statement B. */
static void *slack_create(struct platform *p, const struct config_block *b) {
    struct slack *sl = xcalloc(1, sizeof(*sl));
    read_config(sl, b);
    sl->self = p;
    memo_init(&sl->seen);
    memo_init(&sl->threads);
    memo_init(&sl->responses);
    sl->streams = dict_new();
    return sl;
}

const struct platform_ops slack_platform = {
    .name = "slack",
    .config_kind = "slack",
    .create = slack_create,
    .start = slack_start,
    .send = slack_send,
    .typing = slack_typing,
    .react = slack_react,
    .edit = slack_edit,
    .stream_delta = slack_stream_delta,
    .stop = slack_stop,
    .connections = slack_connections,
    .mention = slack_mention,
    .rich = 1,
};
