/* telegram.c - the Telegram adapter: reads `telegram { ... }`, learns who
 * the bot is (getMe), publishes the skills' commands (setMyCommands), takes
 * updates by long polling or webhook, turns messages into chat_messages and
 * replies into queued sendMessage / editMessageText calls, and keeps
 * "typing..." alive while a reply is made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "conf/config.h"
#include "core/commands.h"
#include "core/message.h"
#include "core/server.h"
#include "core/typing.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/redact.h"
#include "lib/xalloc.h"
#include "platforms/telegram/telegram.h"
#include "platforms/telegram/telegram_api.h"
#include "platforms/telegram/telegram_poll.h"
#include "platforms/telegram/telegram_queue.h"
#include "platforms/telegram/telegram_send.h"
#include "core/rich.h"
#include "platforms/telegram/telegram_stream.h"
#include "platforms/telegram/telegram_webhook.h"
#include "io/timer.h"

#define TYPING_EVERY_MS 4500.0     /* Telegram shows "typing" for 5 s */
#define TYPING_MAX_MS 120000.0    /* give up on a reply that never comes */


struct telegram {
    struct platform *self;
    char *token;
    char *api_url;
    char *bot_key;                 /* the bot id from the token, for the offset key */
    long long bot_id;              /* from getMe */
    char *username;                /* from getMe, without @ */
    long poll_timeout;
    json_t *allowed;
    int addressed_only;
    int markdown;
    double rate, chat_interval_ms, edit_ms, scale;
    int group_per_minute;
    char *hook_url, *hook_secret, *hook_path;
    struct telegram_api *api;
    struct telegram_queue *queue;
    struct telegram_send send;
    struct edit_streams *streams;
    struct telegram_poll *poll;
    struct telegram_webhook *hook;
    struct typing_keeper *typing;  /* "typing..." renewed per chat */
    uv_timer_t *retry;
    int attempts;
    char *commands_sent;
    int stopped;
};

/* ---- config ------------------------------------------------------------ */

/* A number under KEY of B, or DEF. */
static double num_of(const struct config_block *b, const char *key, double def) {
    json_t *v = json_object_get(b->value, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

/* Read the telegram statement into TG. */
static void read_config(struct telegram *tg, const struct config_block *b) {
    tg->token = xstrdup(config_str(b, "token", ""));
    redact_add_secret(tg->token);
    const char *colon = strchr(tg->token, ':');
    tg->bot_key = xstrndup(tg->token, colon ? (size_t)(colon - tg->token) : 0);
    tg->api_url = xstrdup(config_str(b, "api_url", "https://api.telegram.org"));
    tg->poll_timeout = config_int(b, "poll_timeout", 50);
    json_t *allowed = json_object_get(b->value, "allowed_updates");
    tg->allowed = json_is_array(allowed) ? json_deep_copy(allowed)
                                         : json_pack("[s,s,s,s,s]", "message", "edited_message", "channel_post",
                                                     "message_reaction", "callback_query");
    tg->addressed_only = !strcmp(config_str(b, "messages", "all"), "addressed");
    tg->markdown = !strcmp(config_str(b, "format", "plain"), "markdown");
    tg->rate = num_of(b, "rate", 30);
    tg->chat_interval_ms = num_of(b, "chat_interval_ms", 1000);
    tg->group_per_minute = (int)num_of(b, "group_per_minute", 20);
    tg->edit_ms = num_of(b, "edit_interval_ms", STREAM_EDIT_MS);
    tg->scale = num_of(b, "time_scale", 1.0);
    json_t *hook = json_object_get(b->value, "webhook");
    if (json_is_object(hook)) {
        const char *path = json_string_value(json_object_get(hook, "path"));
        tg->hook_url = xstrdup(json_string_value(json_object_get(hook, "url")));
        tg->hook_secret = xstrdup(json_string_value(json_object_get(hook, "secret")));
        tg->hook_path = xstrdup(path ? path : "/telegram/webhook");
        redact_add_secret(tg->hook_secret);
    }
}

/* ---- typing ------------------------------------------------------------ */

/* The typing call the keeper renews. */
static int send_typing(void *ctx, const char *channel) {
    struct telegram *tg = ctx;
    return telegram_send_typing(&tg->send, channel);
}

/* platform_ops.typing: sendChatAction "typing" now and every 4.5 s. */
static int telegram_typing(struct platform *p, const char *channel) {
    struct telegram *tg = p->state;
    if (!tg || tg->stopped || !tg->api) return 0;
    return typing_keeper_start(tg->typing, channel);
}

/* ---- updates ----------------------------------------------------------- */

/* A string member of O, or NULL. */
static const char *str_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Byte offset in UTF-8 TEXT of UTF-16 unit UNITS (clamped to the end). */
static size_t byte_at(const char *text, size_t units) {
    size_t i = 0, u = 0;
    while (text[i] && u < units) {
        unsigned char c = (unsigned char)text[i];
        size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        u += n == 4 ? 2 : 1;
        for (size_t k = 0; k < n && text[i]; k++) i++;
    }
    return i;
}

/* Entity E of TEXT as [*start, *end) in bytes; 0, or -1 when malformed. */
static int entity_span(const char *text, json_t *e, size_t *start, size_t *end) {
    json_t *off = json_object_get(e, "offset"), *len = json_object_get(e, "length");
    if (!json_is_integer(off) || !json_is_integer(len) || json_integer_value(off) < 0 || json_integer_value(len) < 0)
        return -1;
    *start = byte_at(text, (size_t)json_integer_value(off));
    *end = *start + byte_at(text + *start, (size_t)json_integer_value(len));
    return 0;
}

/* What a message's entities say about the bot. */
struct addressing {
    int mentioned;             /* @username or a text_mention of the bot */
    int command;               /* a /command at the start */
    int other_bot_command;     /* ... addressed to another bot */
    size_t cmd_start, cmd_end, name_end;   /* the command, and where its name ends (before @) */
    size_t mention_end;        /* the leading @mention of the bot ends here (0: none) */
};

/* Read the entities of a message with TEXT. */
static void read_entities(struct telegram *tg, const char *text, json_t *entities, struct addressing *a) {
    size_t i;
    json_t *e;
    memset(a, 0, sizeof(*a));
    json_array_foreach(entities, i, e) {
        const char *type = str_of(e, "type");
        size_t s, t;
        if (!type || entity_span(text, e, &s, &t) < 0) continue;
        if (!strcmp(type, "mention") && tg->username && t - s == strlen(tg->username) + 1 &&
            !strncasecmp(text + s + 1, tg->username, t - s - 1)) {
            a->mentioned = 1;
            size_t lead = 0;
            while (lead < s && (text[lead] == ' ' || text[lead] == '\n')) lead++;
            if (lead == s) a->mention_end = t;
        } else if (!strcmp(type, "text_mention")) {
            json_t *id = json_object_get(json_object_get(e, "user"), "id");
            if (json_is_integer(id) && (long long)json_integer_value(id) == tg->bot_id) a->mentioned = 1;
        } else if (!strcmp(type, "bot_command") && s == 0 && t > 1) {
            const char *at = memchr(text, '@', t);
            a->command = 1;
            a->cmd_start = 1;
            a->cmd_end = t;
            a->name_end = at ? (size_t)(at - text) : t;
            if (at) {
                size_t n = t - (size_t)(at - text) - 1;
                if (!tg->username || n != strlen(tg->username) || strncasecmp(at + 1, tg->username, n))
                    a->other_bot_command = 1;
                else
                    a->mentioned = 1;
            }
        }
    }
}

/* The text the core sees: a /command the skills know becomes their prefix
 * command ("/roll@bot 2d6" -> "!roll 2d6"; "/chorus status" -> the operators'
 * "!chorus status"); a leading @mention of the bot is dropped. Malloc'd. */
static char *core_text(struct telegram *tg, const char *text, const struct addressing *a) {
    if (a->command) {
        char name[64];
        size_t n = a->name_end - a->cmd_start;
        if (n < sizeof(name)) {
            memcpy(name, text + a->cmd_start, n);
            name[n] = '\0';
            struct command_list *cl = tg->self->host->commands ? tg->self->host->commands() : NULL;
            const char *rest = text + a->cmd_end;
            char *out = NULL;
            if (cl && !strcmp(name, "chorus") && cl->operator_prefix) {
                size_t len = strlen(cl->operator_prefix) + strlen(rest) + 1;
                out = xmalloc(len);
                snprintf(out, len, "%s%s", cl->operator_prefix, rest);
            } else if (cl && command_list_find(cl, name)) {
                size_t len = strlen(cl->prefix) + n + strlen(rest) + 1;
                out = xmalloc(len);
                snprintf(out, len, "%s%s%s", cl->prefix, name, rest);
            }
            command_list_free(cl);
            if (out) return out;
        }
        /* Unknown here: the command as typed, without the @botname. */
        size_t len = strlen(text);
        char *out = xmalloc(len + 1);
        memcpy(out, text, a->name_end);
        strcpy(out + a->name_end, text + a->cmd_end);
        return out;
    }
    const char *t = text + a->mention_end;
    while (a->mention_end && (*t == ' ' || *t == ',' || *t == ':' || *t == '\n')) t++;
    return xstrdup(t);
}

/* The name people see for USER (first and last name, or @username). */
static void display_name(json_t *user, char *out, size_t len) {
    const char *first = str_of(user, "first_name");
    const char *last = str_of(user, "last_name");
    const char *title = str_of(user, "title");
    const char *uname = str_of(user, "username");
    if (first && last) {
        snprintf(out, len, "%s %s", first, last);
        return;
    }
    const char *one = first ? first : title ? title : uname ? uname : "someone";
    size_t n = strlen(one);   /* copied, cut as snprintf would: this runs per message */
    if (n >= len) n = len - 1;
    memcpy(out, one, n);
    out[n] = '\0';
}

/* The channel of a message: its chat, or chat/topic in a forum topic.
 * CHAT and OUT hold JSON_INT_TEXT and twice that at least (a number is
 * written without snprintf: this runs per message). */
static int channel_of(json_t *msg, char *out, char *chat) {
    json_t *cid = json_object_get(json_object_get(msg, "chat"), "id");
    if (!json_is_integer(cid)) return -1;
    size_t n = json_int_text(chat, (long long)json_integer_value(cid));
    memcpy(out, chat, n + 1);
    json_t *thread = json_object_get(msg, "message_thread_id");
    if (json_is_true(json_object_get(msg, "is_topic_message")) && json_is_integer(thread)) {
        out[n] = '/';
        json_int_text(out + n + 1, (long long)json_integer_value(thread));
    }
    return 0;
}

/* Tell a chat why its message was not taken. */
static void send_notice(struct telegram *tg, const char *channel, const char *reply_to, const char *text) {
    telegram_send_text(&tg->send, channel, text, strlen(text), reply_to, NULL, NULL);
}

/* A message or channel post. Returns 0 when taken (or skipped for good),
 * -1 when it must come again later (the process is stopping). */
static int on_message(struct telegram *tg, long long uid, json_t *msg, const char *event) {
    char channel[96], chat[48], id[32], reply_id[32], author_id[32], name[256];
    json_t *mid = json_object_get(msg, "message_id");
    json_t *chatobj = json_object_get(msg, "chat");
    const char *chat_type = str_of(chatobj, "type");
    if (!json_is_object(msg) || !json_is_integer(mid) || !chat_type || channel_of(msg, channel, chat) < 0) {
        log_warn("telegram: update %lld is malformed (a message without message_id or chat); skipped", uid);
        return 0;
    }
    json_t *textv = json_object_get(msg, "text");
    json_t *entities = json_object_get(msg, "entities");
    if (!textv) {
        textv = json_object_get(msg, "caption");
        entities = json_object_get(msg, "caption_entities");
    }
    if (json_is_integer(json_object_get(msg, "migrate_to_chat_id"))) {
        log_info("telegram: group %s is now supergroup %lld", chat,
                 (long long)json_integer_value(json_object_get(msg, "migrate_to_chat_id")));
        return 0;
    }
    if (!textv) return 0;                         /* a photo without caption, a service message */
    if (!json_is_string(textv)) {
        log_warn("telegram: update %lld is malformed (its text is not a string); skipped", uid);
        return 0;
    }
    json_t *from = json_object_get(msg, "from");
    json_t *sender = json_object_get(msg, "sender_chat");
    json_t *fromid = json_object_get(from, "id");
    if (json_is_true(json_object_get(msg, "is_automatic_forward"))) return 0;   /* a channel post, answered there */
    /* Sent on behalf of a chat (an anonymous admin, a linked channel): from
     * is a stand-in bot (@GroupAnonymousBot), the author is sender_chat. */
    int on_behalf = json_is_object(sender);
    if (!on_behalf && (json_is_true(json_object_get(from, "is_bot")) ||
                       (json_is_integer(fromid) && json_integer_value(fromid) == tg->bot_id)))
        return 0;                                 /* other bots (and ourselves) */
    json_t *who = on_behalf ? sender : from;
    json_t *whoid = json_object_get(who, "id");
    if (!json_is_integer(whoid)) {
        log_warn("telegram: update %lld is malformed (no sender); skipped", uid);
        return 0;
    }
    json_int_text(author_id, (long long)json_integer_value(whoid));
    display_name(who, name, sizeof(name));
    json_int_text(id, (long long)json_integer_value(mid));
    const char *text = json_string_value(textv);
    struct addressing a;
    read_entities(tg, text, entities, &a);
    if (a.other_bot_command) return 0;            /* /cmd@otherbot */
    json_t *replied = json_object_get(msg, "reply_to_message");
    json_t *replied_from = json_object_get(json_object_get(replied, "from"), "id");
    int topic_root = json_object_get(replied, "forum_topic_created") != NULL;
    int reply_to_bot = !topic_root && json_is_integer(replied_from) && json_integer_value(replied_from) == tg->bot_id;
    int private_chat = !strcmp(chat_type, "private");
    int addressed = private_chat || a.mentioned || reply_to_bot;     /* /cmd@us counts as a mention */
    if (!addressed && tg->addressed_only && !a.command) return 0;
    char *ctext = core_text(tg, text, &a);
    if (!*ctext && !event) {
        free(ctext);
        return 0;
    }
    struct chat_message m;
    memset(&m, 0, sizeof(m));
    m.platform = "telegram";
    m.channel = channel;
    m.id = id;
    if (json_is_integer(json_object_get(replied, "message_id")) && !topic_root) {
        json_int_text(reply_id, (long long)json_integer_value(json_object_get(replied, "message_id")));
        m.reply_to = reply_id;
    }
    m.text = ctext;
    m.author.id = author_id;
    m.author.name = name;
    m.direct = addressed;
    m.event = (char *)event;
    if (a.mentioned && tg->bot_id) {
        static char bot[32];
        snprintf(bot, sizeof(bot), "%lld", tg->bot_id);
        m.mentions[m.nmentions++] = bot;
    }
    if (strcmp(channel, chat)) {
        m.thread = channel;
        m.thread_parent = chat;
    }
    m.received_at = server_now();
    if (tg->self->host->stopping()) {
        free(ctext);
        return -1;                                /* not taken: it comes again after the restart */
    }
    if (platform_receive(tg->self, &m) < 0) {
        if (addressed && !event) send_notice(tg, channel, id, "Too many messages are waiting in this chat. Please slow down a little.");
        else log_info("telegram: the queue of %s is full; a message is skipped", channel);
    }
    free(ctext);
    return 0;
}

/* A reaction to a message: an event for chorus.on handlers. */
static int on_reaction(struct telegram *tg, long long uid, json_t *r) {
    char channel[96], chat[48], id[32], author_id[32], name[256];
    json_t *mid = json_object_get(r, "message_id");
    json_t *user = json_object_get(r, "user");
    json_t *uidv = json_object_get(user, "id");
    json_t *list = json_object_get(r, "new_reaction");
    if (!json_is_integer(mid) || channel_of(r, channel, chat) < 0 || !json_is_array(list)) {
        log_warn("telegram: update %lld is malformed (a reaction without message or chat); skipped", uid);
        return 0;
    }
    if (!json_is_integer(uidv) || json_is_true(json_object_get(user, "is_bot"))) return 0;
    const char *emoji = str_of(json_array_get(list, json_array_size(list) ? json_array_size(list) - 1 : 0), "emoji");
    if (!emoji) return 0;                         /* removed, or a custom emoji */
    snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(mid));
    snprintf(author_id, sizeof(author_id), "%lld", (long long)json_integer_value(uidv));
    display_name(user, name, sizeof(name));
    struct chat_message m;
    memset(&m, 0, sizeof(m));
    m.platform = "telegram";
    m.channel = channel;
    m.id = id;
    m.text = "";
    m.author.id = author_id;
    m.author.name = name;
    m.event = "reaction";
    m.reaction = (char *)emoji;
    m.direct = !strcmp(str_of(json_object_get(r, "chat"), "type") ? str_of(json_object_get(r, "chat"), "type") : "", "private");
    m.received_at = server_now();
    if (tg->self->host->stopping()) return -1;
    if (platform_receive(tg->self, &m) < 0) log_info("telegram: the queue of %s is full; a reaction is dropped", channel);
    return 0;
}

/* A callback query answered; a failure only leaves the button's spinner on. */
static void on_callback_answered(const struct telegram_result *r, void *data) {
    (void)data;
    if (!r->ok) log_debug("telegram: answerCallbackQuery failed: %s", r->description ? r->description : "unknown");
}

/* A press of an inline button of ours (callback_query): answered at once so
 * the spinner stops, then a "button" event whose text is the button's
 * callback_data and whose reply_to is the message the button is on. */
static int on_callback(struct telegram *tg, long long uid, json_t *q) {
    char channel[96], chat[48], id[32], author_id[32], name[256];
    json_t *msg = json_object_get(q, "message"), *from = json_object_get(q, "from");
    const char *qid = str_of(q, "id"), *button = str_of(q, "data");
    json_t *mid = json_object_get(msg, "message_id"), *fromid = json_object_get(from, "id");
    if (!qid || !button || !*button || !json_is_integer(mid) || !json_is_integer(fromid) ||
        channel_of(msg, channel, chat) < 0) {
        log_warn("telegram: update %lld is a callback query without data, message or sender; skipped", uid);
        return 0;
    }
    if (tg->self->host->stopping()) return -1;
    telegram_queue_push(tg->queue, chat, "answerCallbackQuery", json_pack("{s:s}", "callback_query_id", qid),
                        on_callback_answered, NULL);
    snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(mid));
    snprintf(author_id, sizeof(author_id), "%lld", (long long)json_integer_value(fromid));
    display_name(from, name, sizeof(name));
    struct chat_message m;
    memset(&m, 0, sizeof(m));
    m.platform = "telegram";
    m.channel = channel;
    m.id = id;
    m.reply_to = id;
    m.text = (char *)button;
    m.event = "button";
    m.author.id = author_id;
    m.author.name = name;
    m.direct = 1;
    m.received_at = server_now();
    if (platform_receive(tg->self, &m) < 0) log_info("telegram: the queue of %s is full; a button press is dropped", channel);
    return 0;
}

/* One update, from polling or the webhook. Returns 0 when taken, -1 when it
 * must come again (the process is stopping). */
static int handle_update(struct telegram *tg, json_t *u) {
    long long uid = (long long)json_integer_value(json_object_get(u, "update_id"));
    if (!json_is_object(u)) {
        log_warn("telegram: an update that is not an object was skipped");
        return 0;
    }
    json_t *v;
    if ((v = json_object_get(u, "message")) || (v = json_object_get(u, "channel_post"))) return on_message(tg, uid, v, NULL);
    if ((v = json_object_get(u, "edited_message")) || (v = json_object_get(u, "edited_channel_post")))
        return on_message(tg, uid, v, "edit");
    if ((v = json_object_get(u, "message_reaction"))) return on_reaction(tg, uid, v);
    if ((v = json_object_get(u, "callback_query"))) return on_callback(tg, uid, v);
    const char *key = NULL;
    json_object_foreach(u, key, v) if (strcmp(key, "update_id")) break;
    log_warn("telegram: update %lld of a kind not handled (%s); skipped", uid, key ? key : "empty");
    return 0;
}

/* telegram_poll's callback. */
static int on_update(json_t *u, void *data) {
    return handle_update(data, u);
}

/* Polling stopped for good (the token was refused): no longer ready. */
static void on_poll_dead(void *data) {
    struct telegram *tg = data;
    tg->self->ready = 0;
}

/* The webhook's callback: updates come one at a time, in order
 * (max_connections 1), so one just below the offset is a repeat (Telegram
 * retries) and is dropped. */
static int on_hook_update(json_t *u, void *data) {
    struct telegram *tg = data;
    json_t *id = json_object_get(u, "update_id");
    if (!json_is_integer(id)) {
        log_warn("telegram: a webhook update without an update_id was skipped");
        return 0;
    }
    long long uid = (long long)json_integer_value(id);
    if (!tg->self->ready) {
        /* getMe (who the bot is) or the stored offset (what was answered)
         * is not known yet: an answer now could miss a mention or repeat. */
        log_info("telegram: webhook update %lld came before the adapter is ready; Telegram will send it again", uid);
        return -1;
    }
    if (telegram_poll_repeat(tg->poll, uid)) {
        log_debug("telegram: webhook update %lld came again; skipped", uid);
        return 0;
    }
    if (handle_update(tg, u) < 0) return -1;
    telegram_poll_seen(tg->poll, uid);
    telegram_poll_store(tg->poll, telegram_poll_offset(tg->poll));
    return 0;
}

/* ---- commands ---------------------------------------------------------- */

/* Telegram's rule for a command: 1-32 of a-z, 0-9 and _. */
static int valid_command(const char *name) {
    size_t n = strlen(name);
    if (n < 1 || n > 32) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_')) return 0;
    return 1;
}

/* setMyCommands answered. */
static void on_commands(const struct telegram_result *r, void *data) {
    (void)data;
    if (!r->ok) log_warn("telegram: setMyCommands failed: %s", r->description);
}

/* Publish the skills' commands (and /chorus for operators) when they changed. */
static void send_commands(struct telegram *tg) {
    if (!tg || !tg->api || tg->stopped) return;
    struct command_list *cl = tg->self->host->commands ? tg->self->host->commands() : NULL;
    json_t *list = json_array();
    for (size_t i = 0; cl && i < cl->n && json_array_size(list) < 99; i++) {
        const char *name = cl->items[i].name;
        if (!valid_command(name)) {
            log_info("telegram: command %s is not a valid Telegram command name (1-32 of a-z, 0-9, _); not listed", name);
            continue;
        }
        const char *help = json_string_value(json_object_get(cl->items[i].spec, "help"));
        char desc[257];
        snprintf(desc, sizeof(desc), "%s", help && *help ? help : name);
        json_array_append_new(list, json_pack("{s:s, s:s}", "command", name, "description", desc));
    }
    if (cl && cl->operator_prefix)
        json_array_append_new(list, json_pack("{s:s, s:s}", "command", "chorus", "description", "operators' commands (try: help, status)"));
    command_list_free(cl);
    char *text = json_dumps(list, JSON_COMPACT);
    if (!text || (tg->commands_sent && !strcmp(text, tg->commands_sent))) {
        free(text);
        json_decref(list);
        return;
    }
    free(tg->commands_sent);
    tg->commands_sent = text;
    json_t *params = json_object();
    json_object_set_new(params, "commands", list);
    telegram_api_call(tg->api, "setMyCommands", params, 30000, on_commands, tg);
}

static void telegram_commands_changed(struct platform *p) {
    send_commands(p->state);
}

/* ---- start ------------------------------------------------------------- */

static void start_step(struct telegram *tg);

/* Try the start again after a backoff. */
static void on_retry(uv_timer_t *t) {
    start_step(t->data);
}

/* A start call failed: back off and try again (unless the token is refused). */
static void start_failed(struct telegram *tg, const char *method, const struct telegram_result *r) {
    if (r->error_code == 401 || r->error_code == 404) {
        log_error("telegram: %s: Telegram refused the bot token (%s); the Telegram adapter stays down", method, r->description);
        return;
    }
    double delay = 1000.0 * (double)(1u << (tg->attempts < 5 ? tg->attempts : 5));
    if (r->error_code == 429 && r->retry_after > 0) delay = 1000.0 * (double)r->retry_after;
    delay *= tg->scale;
    tg->attempts++;
    log_warn("telegram: %s failed (%s); trying again in %.0f ms", method, r->description ? r->description : "?", delay);
    uv_timer_start(tg->retry, on_retry, delay < 1 ? 1 : (uint64_t)delay, 0);
}

/* The stored offset is read (webhook mode): dedupe from there. */
static void on_hook_loaded(void *data) {
    struct telegram *tg = data;
    tg->self->ready = 1;
}

/* setWebhook or deleteWebhook answered: receive updates. */
static void on_webhook_set(const struct telegram_result *r, void *data) {
    struct telegram *tg = data;
    if (!r->ok) {
        start_failed(tg, tg->hook_url ? "setWebhook" : "deleteWebhook", r);
        return;
    }
    if (tg->hook_url) {
        log_info("telegram: receiving updates by webhook at %s as @%s", tg->hook_path, tg->username);
        telegram_poll_load(tg->poll, on_hook_loaded, tg);
        return;
    }
    log_info("telegram: ready, long polling (timeout %ld s) as @%s", tg->poll_timeout, tg->username);
    tg->self->ready = 1;
    telegram_poll_start(tg->poll);
}

/* getMe answered: who the bot is. */
static void on_me(const struct telegram_result *r, void *data) {
    struct telegram *tg = data;
    json_t *id = json_object_get(r->result, "id");
    const char *uname = str_of(r->result, "username");
    if (!r->ok || !json_is_integer(id)) {
        start_failed(tg, "getMe", r);
        return;
    }
    tg->bot_id = (long long)json_integer_value(id);
    free(tg->username);
    tg->username = xstrdup(uname ? uname : "");
    tg->attempts = 0;
    send_commands(tg);
    json_t *params;
    if (tg->hook_url) {
        params = json_pack("{s:s, s:s, s:O, s:i}", "url", tg->hook_url, "secret_token", tg->hook_secret,
                           "allowed_updates", tg->allowed, "max_connections", 1);
        telegram_api_call(tg->api, "setWebhook", params, 30000, on_webhook_set, tg);
    } else {
        params = json_pack("{s:b}", "drop_pending_updates", 0);
        telegram_api_call(tg->api, "deleteWebhook", params, 30000, on_webhook_set, tg);
    }
}

/* The start sequence: getMe, then the webhook call, then updates. */
static void start_step(struct telegram *tg) {
    if (tg->stopped) return;
    if (!telegram_api_call(tg->api, "getMe", NULL, 30000, on_me, tg)) {
        struct telegram_result r = { .description = "the request could not be started", .retry_after = -1 };
        start_failed(tg, "getMe", &r);
    }
}

/* platform_ops.start. */
static int telegram_start(struct platform *p) {
    struct telegram *tg = p->state;
    uv_loop_t *loop = p->host->loop;
    tg->api = telegram_api_new(p->host->http, tg->api_url, tg->token);
    struct telegram_queue_options qo = {
        .rate = tg->rate, .chat_interval_ms = tg->chat_interval_ms, .group_per_minute = tg->group_per_minute,
        .time_scale = tg->scale,
    };
    tg->queue = telegram_queue_new(loop, tg->api, &qo);
    tg->send.api = tg->api;
    tg->send.queue = tg->queue;
    tg->send.markdown = tg->markdown;
    tg->streams = telegram_streams_new(loop, &tg->send, tg->scale, tg->edit_ms);
    tg->typing = typing_keeper_new(loop, (uint64_t)(TYPING_EVERY_MS * tg->scale), (uint64_t)(TYPING_MAX_MS * tg->scale),
                                   send_typing, tg);
    char key[96];
    snprintf(key, sizeof(key), "telegram:%s:offset", tg->bot_key);
    struct telegram_poll_options po = {
        .timeout_s = tg->poll_timeout, .allowed_updates = tg->allowed, .time_scale = tg->scale, .offset_key = key,
        .dead = on_poll_dead,
    };
    tg->poll = telegram_poll_new(loop, tg->api, p->host, &po, on_update, tg);
    if (tg->hook_url) tg->hook = telegram_webhook_new(tg->hook_path, tg->hook_secret, on_hook_update, tg);
    tg->retry = timer_new(loop, tg);
    start_step(tg);
    return 0;
}

/* ---- replies ----------------------------------------------------------- */

/* Rows of buttons as an inline keyboard, or NULL when an id is longer than
 * the 64 bytes callback_data holds (the buttons are then text). */
static json_t *inline_keyboard(const json_t *rows) {
    json_t *kb = json_array(), *row, *b;
    size_t r, i;
    json_array_foreach(rows, r, row) {
        json_t *line = json_array();
        json_array_append_new(kb, line);
        json_array_foreach(row, i, b) {
            const char *id = json_string_value(json_object_get(b, "id"));
            if (id && strlen(id) > 64) {
                json_decref(kb);
                return NULL;
            }
            json_array_append_new(line, json_pack("{s:O, s:O}", "text", json_object_get(b, "label"),
                                                  id ? "callback_data" : "url", json_object_get(b, id ? "id" : "url")));
        }
    }
    return json_pack("{s:o}", "inline_keyboard", kb);
}

/* A rich reply: the embed as lines of text, the buttons as an inline
 * keyboard under it (Telegram has no ephemeral messages). */
static int send_rich(struct telegram *tg, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    json_t *markup = json_object_get(out->rich, "buttons") ? inline_keyboard(json_object_get(out->rich, "buttons")) : NULL;
    json_t *shown = json_deep_copy(out->rich);
    if (markup) json_object_del(shown, "buttons");
    char *text = rich_plain(out->text, shown);
    json_decref(shown);
    if (telegram_send_markup(&tg->send, out->channel, text, strlen(text), out->reply_to, markup, cb, data) < 0 && cb)
        cb(NULL, "an empty reply cannot be sent to Telegram", data);
    free(text);
    return 0;
}

/* platform_ops.send: the end of a streamed reply, or new messages. */
static int telegram_send_op(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    struct telegram *tg = p->state;
    if (!tg || tg->stopped || !tg->queue) {
        if (cb) cb(NULL, "Telegram is not running", data);
        return 0;
    }
    typing_keeper_stop(tg->typing, out->channel);
    if (out->rich) return send_rich(tg, out, cb, data);
    if (edit_stream_final(tg->streams, out->channel, out->reply_to, out->text, cb, data)) return 0;
    if (telegram_send_text(&tg->send, out->channel, out->text, strlen(out->text), out->reply_to, cb, data) < 0 && cb)
        cb(NULL, "an empty reply cannot be sent to Telegram", data);
    return 0;
}

static void telegram_stream_delta_op(struct platform *p, const char *channel, const char *reply_to, const char *text,
                                     size_t len) {
    struct telegram *tg = p->state;
    if (!tg || tg->stopped || !tg->queue) return;
    edit_stream_delta(tg->streams, channel, reply_to, NULL, text, len);
}

static int telegram_react_op(struct platform *p, const char *channel, const char *message_id, const char *emoji) {
    struct telegram *tg = p->state;
    if (!tg || tg->stopped) return -1;
    return telegram_send_react(&tg->send, channel, message_id, emoji);
}

static int telegram_edit_op(struct platform *p, const char *channel, const char *message_id, const char *text, size_t len) {
    struct telegram *tg = p->state;
    if (!tg || tg->stopped) return -1;
    return telegram_send_edit(&tg->send, channel, message_id, text, len, NULL, NULL);
}

/* ---- stop -------------------------------------------------------------- */

/* platform_ops.stop: stop taking updates, drop pending calls, free. */
static void telegram_stop(struct platform *p) {
    struct telegram *tg = p->state;
    if (!tg || tg->stopped) return;
    tg->stopped = 1;
    p->ready = 0;
    telegram_poll_free(tg->poll);
    telegram_webhook_free(tg->hook);
    typing_keeper_free(tg->typing);
    tg->typing = NULL;
    timer_free(&tg->retry);
    telegram_queue_free(tg->queue);
    edit_streams_free(tg->streams);
    telegram_api_free(tg->api);
    json_decref(tg->allowed);
    free(tg->token);
    free(tg->api_url);
    free(tg->bot_key);
    free(tg->username);
    free(tg->hook_url);
    free(tg->hook_secret);
    free(tg->hook_path);
    free(tg->commands_sent);
    free(tg);
    p->state = NULL;
}

/* platform_ops.connections: a long poll open counts as one. */
static int telegram_connections(struct platform *p) {
    struct telegram *tg = p->state;
    return tg && !tg->stopped && tg->api ? telegram_api_in_flight(tg->api) > 0 : 0;
}

static void *telegram_create(struct platform *p, const struct config_block *b) {
    struct telegram *tg = xcalloc(1, sizeof(*tg));
    read_config(tg, b);
    tg->self = p;
    return tg;
}

/* platform_ops.mention: the display name (a message carries no @username to ping with). */
static char *telegram_mention(struct platform *p, const char *user_id, const char *user_name) {
    (void)p, (void)user_id;
    return xstrdup(user_name);
}

const struct platform_ops telegram_platform = {
    .name = "telegram",
    .config_kind = "telegram",
    .create = telegram_create,
    .start = telegram_start,
    .send = telegram_send_op,
    .typing = telegram_typing,
    .react = telegram_react_op,
    .edit = telegram_edit_op,
    .stream_delta = telegram_stream_delta_op,
    .commands_changed = telegram_commands_changed,
    .stop = telegram_stop,
    .connections = telegram_connections,
    .mention = telegram_mention,
    .rich = 1,
};
