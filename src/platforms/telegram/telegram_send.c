/* telegram_send.c - replies, edits, typing and reactions (telegram_send.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platforms/telegram/telegram_send.h"
#include "platforms/telegram/telegram_text.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

/* One reply being posted piece by piece. */
struct reply {
    struct telegram_send *s;
    char *channel;
    char *text;                /* all of it */
    size_t len, pos;           /* pos: where the next piece starts */
    size_t piece;              /* length of the piece in flight */
    char *reply_to;
    char *last_id;
    int plain;                 /* the piece in flight goes as plain text */
    const char *close;         /* Markdown: the fence closing the ``` block the piece in flight cuts, or NULL */
    char *reopen;              /* that block's opening line, to start the next piece with */
    size_t skip;               /* bytes after the piece not to send: a closing fence it does without */
    json_t *markup;            /* reply_markup of the last piece (inline buttons), or NULL */
    platform_sent_fn *cb;
    void *data;
};

long telegram_channel_split(const char *channel, char *chat, size_t chatlen) {
    const char *slash = strchr(channel, '/');
    size_t n = slash ? (size_t)(slash - channel) : strlen(channel);
    if (n >= chatlen) n = chatlen - 1;
    memcpy(chat, channel, n);
    chat[n] = '\0';
    return slash ? strtol(slash + 1, NULL, 10) : 0;
}

/* The parameters of a message to CHANNEL: chat (set by the queue) and topic. */
static json_t *base_params(const char *channel, char *chat, size_t chatlen) {
    json_t *p = json_object();
    long topic = telegram_channel_split(channel, chat, chatlen);
    if (topic > 0) json_object_set_new(p, "message_thread_id", json_integer(topic));
    return p;
}

/* Set the text of P to MD, MarkdownV2 already (taken over). */
static void set_md2(json_t *p, char *md) {
    json_object_set_new(p, "text", json_string(md));
    json_object_set_new(p, "parse_mode", json_string("MarkdownV2"));
    free(md);
}

/* Set the text of P to TEXT[0..len), as MarkdownV2 unless PLAIN. */
static void set_text(json_t *p, const char *text, size_t len, int markdown) {
    if (markdown) set_md2(p, telegram_md2_from_markdown(text, len));
    else json_object_set_new(p, "text", json_stringn(text, len));
}

/* Is R Telegram refusing the MarkdownV2 it was sent? */
static int entity_error(const struct telegram_result *r) {
    return !r->ok && r->error_code == 400 && r->description && strstr(r->description, "can't parse entities");
}

static void send_piece(struct reply *rp);

/* Done with RP: report and free. */
static void reply_finish(struct reply *rp, const char *err) {
    if (rp->cb) rp->cb(err ? NULL : rp->last_id, err, rp->data);
    free(rp->channel);
    free(rp->text);
    free(rp->reply_to);
    free(rp->last_id);
    free(rp->reopen);
    json_decref(rp->markup);
    free(rp);
}

/* Put the opening line of the ``` block the last piece closed early back
 * in front of the rest, so the block goes on in the next piece. */
static void reopen_block(struct reply *rp) {
    size_t n = strlen(rp->reopen);
    rp->text = xrealloc(rp->text, rp->len + n + 1);
    memmove(rp->text + rp->pos + n, rp->text + rp->pos, rp->len - rp->pos + 1);
    memcpy(rp->text + rp->pos, rp->reopen, n);
    rp->len += n;
}

/* A piece was posted (or refused). */
static void on_piece(const struct telegram_result *r, void *data) {
    struct reply *rp = data;
    if (entity_error(r) && !rp->plain) {
        log_warn("telegram: Telegram refused the formatting of a reply (%s); sending it as plain text", r->description);
        rp->plain = 1;
        send_piece(rp);
        return;
    }
    if (!r->ok) {
        char why[600];
        snprintf(why, sizeof(why), "Telegram refused the message: %s", r->description ? r->description : "unknown error");
        log_warn("telegram: sendMessage to %s: %s", rp->channel, why);
        reply_finish(rp, why);
        return;
    }
    json_t *id = json_object_get(r->result, "message_id");
    if (json_is_integer(id)) {
        char buf[JSON_INT_TEXT];
        json_int_text(buf, (long long)json_integer_value(id));
        free(rp->last_id);
        rp->last_id = xstrdup(buf);
    }
    int reopen = rp->close && rp->reopen && !rp->plain;
    rp->pos += rp->piece + (rp->plain ? 0 : rp->skip);
    rp->plain = 0;
    if (reopen && rp->pos < rp->len) reopen_block(rp);
    else while (rp->pos < rp->len && (rp->text[rp->pos] == '\n' || rp->text[rp->pos] == ' ')) rp->pos++;
    if (rp->pos >= rp->len) {
        reply_finish(rp, NULL);
        return;
    }
    send_piece(rp);
}

/* RP's piece in flight as MarkdownV2, with the fence that closes it when
 * it cuts a ``` block. Malloc'd. */
static char *piece_md2(struct reply *rp) {
    const char *text = rp->text + rp->pos;
    if (!rp->close) return telegram_md2_from_markdown(text, rp->piece);
    size_t n = strlen(rp->close);
    char *src = xmalloc(rp->piece + n);
    memcpy(src, text, rp->piece);
    memcpy(src + rp->piece, rp->close, n);
    char *md = telegram_md2_from_markdown(src, rp->piece + n);
    free(src);
    return md;
}

/* The parameters of RP's next piece as an object (without chat_id). */
static json_t *piece_params(struct reply *rp, int markdown, int markup) {
    char chat[64];
    json_t *p = base_params(rp->channel, chat, sizeof(chat));
    if (markdown) set_md2(p, piece_md2(rp));
    else set_text(p, rp->text + rp->pos, rp->piece, 0);
    if (rp->pos == 0 && rp->reply_to) {   /* made by hand: json_pack reads its format per reply */
        json_t *r = json_object();
        json_object_set_new(r, "message_id", json_integer((json_int_t)strtoll(rp->reply_to, NULL, 10)));
        json_object_set_new(r, "allow_sending_without_reply", json_true());
        json_object_set_new(p, "reply_parameters", r);
    }
    if (markup) json_object_set(p, "reply_markup", rp->markup);
    return p;
}

/* The same parameters written straight as JSON text, the members in the
 * object's order (this runs for every reply; building the object only to
 * write it out cost more). NULL when the text is not UTF-8: jansson would
 * leave it out, so the object is built then, to send what it always did. */
static char *piece_fields(struct reply *rp, long topic, int markdown, int markup) {
    const char *text = rp->text + rp->pos;
    size_t len = rp->piece;
    char *md = NULL;
    if (markdown) {
        md = piece_md2(rp);
        text = md;
        len = strlen(md);
    }
    if (!utf8_valid(text, len)) {
        free(md);
        return NULL;
    }
    struct json_buf b = { 0 };
    if (topic > 0) {
        json_buf_put(&b, "\"message_thread_id\":");
        json_buf_int(&b, topic);
        json_buf_put(&b, ",");
    }
    json_buf_put(&b, "\"text\":");
    json_buf_string(&b, text, len);
    free(md);
    if (markdown) json_buf_put(&b, ",\"parse_mode\":\"MarkdownV2\"");
    if (rp->pos == 0 && rp->reply_to) {
        json_buf_put(&b, ",\"reply_parameters\":{\"message_id\":");
        json_buf_int(&b, strtoll(rp->reply_to, NULL, 10));
        json_buf_put(&b, ",\"allow_sending_without_reply\":true}");
    }
    if (markup) {
        json_buf_put(&b, ",\"reply_markup\":");
        json_buf_value(&b, rp->markup);
    }
    return json_buf_take(&b, NULL);
}

/* In Markdown, keep the piece in flight from cutting code, a code block
 * or bold in two (each half would show its markers literally): cut before
 * it instead; a ``` block that starts the piece and is longer than one is
 * closed at the cut and opened again in the next piece. */
static void markdown_cut(struct reply *rp) {
    const char *text = rp->text + rp->pos;
    size_t left = rp->len - rp->pos;
    struct telegram_md_span sp;
    if (rp->piece >= left) return;
    int kind = telegram_md_span_cut(text, left, rp->piece, &sp);
    if (!kind) return;
    if (sp.start > 0 && !telegram_blank(text, sp.start)) {
        rp->piece = sp.start;
        return;
    }
    if (kind != TELEGRAM_CUT_BLOCK || rp->piece <= sp.body) return;   /* too long to keep: shown literally */
    rp->close = text[rp->piece - 1] == '\n' ? "```" : "\n```";
    if (rp->piece >= sp.body_end) {   /* all its content fits; its own closing fence is not sent */
        rp->skip = sp.end - rp->piece;
        return;
    }
    if (sp.body > sp.fence_end) rp->reopen = xstrndup(text + sp.start, sp.body - sp.start);
    else rp->reopen = xstrdup("```\n");
}

/* Queue the next piece of RP. */
static void send_piece(struct reply *rp) {
    char chat[64];
    long topic = telegram_channel_split(rp->channel, chat, sizeof(chat));
    rp->piece = telegram_split(rp->text + rp->pos, rp->len - rp->pos, TELEGRAM_MAX_TEXT);
    int markdown = rp->s->markdown && !rp->plain;
    rp->close = NULL;
    rp->skip = 0;
    free(rp->reopen);
    rp->reopen = NULL;
    if (markdown) markdown_cut(rp);
    size_t next = rp->pos + rp->piece;
    int markup = rp->markup && telegram_blank(rp->text + next, rp->len - next);
    char *fields = piece_fields(rp, topic, markdown, markup);
    int queued = fields ? telegram_queue_push_text(rp->s->queue, chat, "sendMessage", fields, on_piece, rp)
                        : telegram_queue_push(rp->s->queue, chat, "sendMessage", piece_params(rp, markdown, markup),
                                              on_piece, rp);
    if (queued < 0) reply_finish(rp, "the message could not be queued");
}

int telegram_send_text(struct telegram_send *s, const char *channel, const char *text, size_t len, const char *reply_to,
                       platform_sent_fn *cb, void *data) {
    return telegram_send_markup(s, channel, text, len, reply_to, NULL, cb, data);
}

int telegram_send_markup(struct telegram_send *s, const char *channel, const char *text, size_t len, const char *reply_to,
                         json_t *markup, platform_sent_fn *cb, void *data) {
    if (!s || !s->queue || telegram_blank(text, len)) {
        json_decref(markup);
        return -1;
    }
    struct reply *rp = xcalloc(1, sizeof(*rp));
    rp->s = s;
    rp->channel = xstrdup(channel);
    rp->text = xstrndup(text, len);
    rp->len = len;
    rp->reply_to = reply_to && *reply_to ? xstrdup(reply_to) : NULL;
    rp->markup = markup;
    rp->cb = cb;
    rp->data = data;
    send_piece(rp);
    return 0;
}

/* One edit in flight. */
struct edit {
    char *id;
    char *channel;
    char *text;
    size_t len;
    int plain;
    struct telegram_send *s;
    platform_sent_fn *cb;
    void *data;
};

static void queue_edit(struct edit *e);

/* An edit answered; "not modified" means the text is already right. */
static void on_edit(const struct telegram_result *r, void *data) {
    struct edit *e = data;
    if (entity_error(r) && !e->plain) {
        e->plain = 1;
        queue_edit(e);
        return;
    }
    int same = !r->ok && r->description && strstr(r->description, "message is not modified");
    const char *err = r->ok || same ? NULL : (r->description ? r->description : "the edit failed");
    if (err) log_warn("telegram: editMessageText in %s: %s", e->channel, err);
    if (e->cb) e->cb(err ? NULL : e->id, err, e->data);
    free(e->id);
    free(e->channel);
    free(e->text);
    free(e);
}

/* Queue E's editMessageText. */
static void queue_edit(struct edit *e) {
    char chat[64];
    json_t *p = base_params(e->channel, chat, sizeof(chat));
    json_object_del(p, "message_thread_id");
    json_object_set_new(p, "message_id", json_integer(strtoll(e->id, NULL, 10)));
    set_text(p, e->text, e->len, e->s->markdown && !e->plain);
    if (telegram_queue_push(e->s->queue, chat, "editMessageText", p, on_edit, e) < 0) {
        struct telegram_result r = { .description = "the edit could not be queued", .retry_after = -1 };
        on_edit(&r, e);
    }
}

int telegram_send_edit(struct telegram_send *s, const char *channel, const char *message_id, const char *text,
                       size_t len, platform_sent_fn *cb, void *data) {
    if (!s || !s->queue || !message_id || telegram_blank(text, len)) return -1;
    struct edit *e = xcalloc(1, sizeof(*e));
    e->s = s;
    e->id = xstrdup(message_id);
    e->channel = xstrdup(channel);
    e->len = telegram_split(text, len, TELEGRAM_MAX_TEXT);
    e->text = xstrndup(text, e->len);
    e->cb = cb;
    e->data = data;
    queue_edit(e);
    return 0;
}

/* Log a failed chat action or reaction; they are never retried. */
static void on_minor(const struct telegram_result *r, void *data) {
    const char *what = data;
    if (!r->ok) log_debug("telegram: %s failed: %s", what, r->description ? r->description : "?");
}

int telegram_send_typing(struct telegram_send *s, const char *channel) {
    char chat[64];
    if (!s || !s->api) return -1;
    json_t *p = base_params(channel, chat, sizeof(chat));
    json_object_set_new(p, "chat_id", json_integer(strtoll(telegram_queue_chat(s->queue, chat), NULL, 10)));
    json_object_set_new(p, "action", json_string("typing"));
    return telegram_api_call(s->api, "sendChatAction", p, 10000, on_minor, "sendChatAction") ? 0 : -1;
}

int telegram_send_react(struct telegram_send *s, const char *channel, const char *message_id, const char *emoji) {
    char chat[64];
    if (!s || !s->api || !emoji || !*emoji || !message_id) return -1;
    telegram_channel_split(channel, chat, sizeof(chat));
    json_t *p = json_pack("{s:I, s:I, s:[{s:s, s:s}]}", "chat_id",
                          (json_int_t)strtoll(telegram_queue_chat(s->queue, chat), NULL, 10), "message_id",
                          (json_int_t)strtoll(message_id, NULL, 10), "reaction", "type", "emoji", "emoji", emoji);
    return telegram_api_call(s->api, "setMessageReaction", p, 10000, on_minor, "setMessageReaction") ? 0 : -1;
}
