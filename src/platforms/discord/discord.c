/* discord.c - the Discord adapter: reads `discord { ... }`, asks REST for
 * the gateway, runs the shards, turns events into chat_messages (messages
 * here; reactions, edits and slash commands through discord_events.c) and
 * replies into REST posts, follow-ups or streamed edits, and keeps
 * "typing..." alive while a reply is made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conf/config.h"
#include "platforms/discord/discord.h"
#include "platforms/discord/discord_commands.h"
#include "platforms/discord/discord_events.h"
#include "platforms/discord/discord_gateway.h"
#include "platforms/discord/discord_interactions.h"
#include "platforms/discord/discord_foreign.h"
#include "platforms/discord/discord_ixshare.h"
#include "platforms/discord/discord_rich.h"
#include "platforms/discord/discord_rest.h"
#include "platforms/discord/discord_rlshare.h"
#include "platforms/discord/discord_shards.h"
#include "platforms/discord/discord_stream.h"
#include "platforms/discord/discord_threads.h"
#include "lib/log.h"
#include "core/message.h"
#include "lib/redact.h"
#include "core/commands.h"
#include "core/health.h"
#include "core/server.h"
#include "core/typing.h"
#include "lib/xalloc.h"
#include "io/timer.h"

#define TYPING_EVERY_MS 8000.0      /* Discord shows "typing" for about 10 s */
#define TYPING_MAX_MS 120000.0      /* give up on a reply that never comes */
#define RLSHARE_BLOCK_MS 10000L     /* longest blocking read of the shared REST limits */
#define FOREIGN_ASK_MS 100.0        /* another gateway's deferral in flight: ask Redis again after this */

struct discord {
    struct platform *self;
    char *token;
    long intents;
    int auto_shards;
    int shard_ids[DISCORD_MAX_SHARDS];
    int nshard_ids;
    int shard_total;
    char *api_base;
    char *gateway_url;             /* override, or NULL */
    int compress;                  /* zlib-stream transport compression */
    int addressed_only;            /* messages = "addressed": skip guild chatter */
    size_t max_inbound;
    double global_rate;
    double scale;
    char *guild_id;                /* slash commands go to this guild only (instant updates) */
    struct discord_rest *rest;
    struct edit_streams *streams;
    struct discord_interactions *interactions;
    struct discord_gateway_hub *hub;
    char *bot_id;
    char *app_id;
    struct typing_keeper *typing;  /* "typing..." renewed per channel */
    struct discord_threads *threads; /* thread id -> parent channel */
    uv_timer_t *start_retry;       /* GET /gateway/bot failed: try again */
    int start_attempts;
    char *commands_sent;       /* the list last registered, as JSON */
    int leased;                /* a gateway: shards shared with the others through Redis leases */
    long lease_ms;             /* shard_lease_ms */
    long identify_window_ms;   /* identify_window_ms, 0: Discord's 5 s (x time_scale) */
    int total_shards;
    struct discord_shards *shards;
    struct discord_rlshare *rlshare;   /* REST limits shared with the other gateways */
    struct discord_ixshare *ixshare;   /* slash commands recorded for the other gateways */
    struct discord_foreign *foreign;   /* replies to events another gateway may have seen */
    int stopped;
    int token_refused;             /* REST answered 401: not ready until a restart */
};

/* ---- config (the schema is in discord_config.c) ------------------------ */

/* Read the discord statement into DC. */
static void read_config(struct discord *dc, const struct config_block *b) {
    dc->token = xstrdup(config_str(b, "token", ""));
    redact_add_secret(dc->token);
    dc->intents = config_int(b, "intents", 33281);
    dc->api_base = xstrdup(config_str(b, "api_base", "https://discord.com/api"));
    const char *gw = config_str(b, "gateway_url", NULL);
    dc->gateway_url = gw && *gw ? xstrdup(gw) : NULL;
    json_t *compress = json_object_get(b->value, "compress");
    dc->compress = json_is_true(compress) || json_is_string(compress);   /* the schema allows only "zlib-stream" */
    dc->addressed_only = !strcmp(config_str(b, "messages", "all"), "addressed");
    const char *guild = config_str(b, "guild_id", NULL);
    dc->guild_id = guild && *guild ? xstrdup(guild) : NULL;
    long max = config_int(b, "max_inbound_bytes", 8388608);
    dc->max_inbound = max > 4096 ? (size_t)max : 4096;
    json_t *rate = json_object_get(b->value, "global_rate");
    dc->global_rate = json_is_number(rate) ? json_number_value(rate) : 50;
    json_t *scale = json_object_get(b->value, "time_scale");
    dc->scale = json_is_number(scale) ? json_number_value(scale) : 1.0;
    dc->lease_ms = config_int(b, "shard_lease_ms", 10000);
    dc->identify_window_ms = config_int(b, "identify_window_ms", 0);
    json_t *shards = json_object_get(b->value, "shards");
    dc->auto_shards = !json_is_object(shards);
    if (!dc->auto_shards) {
        json_t *ids = json_object_get(shards, "ids");
        dc->shard_total = (int)json_integer_value(json_object_get(shards, "total"));
        for (size_t i = 0; i < json_array_size(ids) && i < DISCORD_MAX_SHARDS; i++)
            dc->shard_ids[dc->nshard_ids++] = (int)json_integer_value(json_array_get(ids, i));
    }
}

/* ---- typing ----------------------------------------------------------- */

/* The typing call the keeper renews. */
static int send_typing(void *ctx, const char *channel) {
    struct discord *dc = ctx;
    return dc->rest ? discord_rest_typing(dc->rest, channel, NULL, NULL) : -1;
}

/* platform_ops.typing: show "typing..." in CHANNEL until the reply goes out. */
static int discord_typing(struct platform *p, const char *channel) {
    struct discord *dc = p->state;
    if (!dc || dc->stopped) return 0;
    return typing_keeper_start(dc->typing, channel);
}

/* ---- messages --------------------------------------------------------- */

/* A string member of O, or NULL. */
static const char *str_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Drop leading mentions of the bot ("<@id>" or "<@!id>") from TEXT. */
static const char *strip_bot_mention(const char *text, const char *bot_id) {
    size_t idlen = bot_id ? strlen(bot_id) : 0;
    for (;;) {
        while (*text == ' ') text++;
        const char *p = text;
        if (!idlen || strncmp(p, "<@", 2) != 0) return text;
        p += 2;
        if (*p == '!') p++;
        if (strncmp(p, bot_id, idlen) != 0 || p[idlen] != '>') return text;
        text = p + idlen + 1;
    }
}

/* Tell a channel why its message was not taken (the queue is full). */
static void send_notice(struct discord *dc, const char *channel, const char *reply_to, const char *text) {
    discord_rest_send(dc->rest, channel, text, reply_to, NULL, NULL);
}

/* MESSAGE_CREATE: a DM, a mention of the bot or a reply to it becomes a chat_message. */
static void on_message_create(struct discord *dc, json_t *d) {
    json_t *author = json_object_get(d, "author");
    const char *author_id = str_of(author, "id");
    const char *channel = str_of(d, "channel_id");
    const char *id = str_of(d, "id");
    const char *content = str_of(d, "content");
    if (!author_id || !channel || !id || !content) return;
    if ((dc->bot_id && !strcmp(author_id, dc->bot_id)) || json_is_true(json_object_get(author, "bot"))) return;
    if (!discord_person_message(d)) {
        log_debug("discord: message %s in %s is a system or webhook message (type %lld); not taken", id, channel,
                  (long long)json_integer_value(json_object_get(d, "type")));
        return;
    }
    struct chat_message m;
    memset(&m, 0, sizeof(m));
    int mentioned = 0;
    json_t *mentions = json_object_get(d, "mentions");
    for (size_t i = 0; i < json_array_size(mentions); i++) {
        const char *mid = str_of(json_array_get(mentions, i), "id");
        if (!mid) continue;
        if (dc->bot_id && !strcmp(mid, dc->bot_id)) mentioned = 1;
        if (m.nmentions < MESSAGE_MAX_MENTIONS) m.mentions[m.nmentions++] = (char *)mid;
    }
    json_t *ref = json_object_get(d, "message_reference");
    json_t *replied = json_object_get(d, "referenced_message");
    const char *replied_author = str_of(json_object_get(replied, "author"), "id");
    int dm = json_object_get(d, "guild_id") == NULL;
    int reply_to_bot = replied_author && dc->bot_id && !strcmp(replied_author, dc->bot_id);
    int addressed = dm || mentioned || reply_to_bot;
    if (!addressed && dc->addressed_only) return;
    const char *text = strip_bot_mention(content, dc->bot_id);
    if (!*text) return;                                  /* e.g. only an attachment */
    const char *name = str_of(author, "global_name");
    if (!name) name = str_of(author, "username");
    m.platform = "discord";
    m.channel = (char *)channel;
    m.id = (char *)id;
    m.reply_to = (char *)str_of(ref, "message_id");
    m.text = (char *)text;
    m.author.id = (char *)author_id;
    m.author.name = (char *)(name ? name : "someone");
    m.direct = addressed;    /* others reach hear handlers and commands, never the fallback */
    const char *parent = discord_threads_parent(dc->threads, channel);
    if (parent) {
        m.thread = (char *)channel;
        m.thread_parent = (char *)parent;
    }
    m.received_at = server_now();
    if (dc->self->host->stopping()) {
        if (addressed) send_notice(dc, channel, id, "I'm restarting right now. Please send that again in a moment.");
        return;
    }
    discord_foreign_heard(dc->foreign, m.id);
    if (platform_receive(dc->self, &m) < 0) {
        if (addressed) send_notice(dc, channel, id, "Too many messages are waiting in this channel. Please slow down a little.");
        else log_info("discord: the queue of %s is full; a message not addressed to the bot is skipped", channel);
    }
}

/* A reaction or an edit: to the channel's queue, for chorus.on handlers. */
static void on_event_message(struct discord *dc, const char *type, json_t *d) {
    struct chat_message m;
    int rc = !strcmp(type, "MESSAGE_REACTION_ADD") ? discord_reaction_event(d, dc->bot_id, &m)
                                                   : discord_edit_event(d, dc->bot_id, &m);
    if (rc < 0 || dc->self->host->stopping()) return;
    discord_foreign_heard(dc->foreign, m.id);
    if (platform_receive(dc->self, &m) < 0) log_info("discord: the queue of %s is full; a %s event is dropped", m.channel, m.event);
}

/* Say TEXT in answer to interaction M (a notice instead of a job). */
static void interaction_notice(struct discord *dc, const struct chat_message *m, const char *text) {
    discord_interaction_send(dc->interactions, m->id, text, NULL, NULL, NULL);
}

/* A button of ours was pressed (a message component interaction, type 3):
 * acknowledge it silently and hand skills a "button" event whose text is
 * the button's custom id and whose reply_to is the message it is on. */
static void on_button(struct discord *dc, json_t *d, const char *app, const char *id, const char *token) {
    json_t *data = json_object_get(d, "data");
    const char *custom = str_of(data, "custom_id");
    struct chat_message m;
    if (json_integer_value(json_object_get(data, "component_type")) != 2 || !custom ||
        discord_interaction_event(d, custom, &m) < 0 ||
        discord_interaction_defer(dc->interactions, app, id, token, m.channel, 1) < 0)
        return;
    m.event = "button";
    m.reply_to = (char *)str_of(json_object_get(d, "message"), "id");
    if (dc->self->host->stopping()) return;
    if (platform_receive(dc->self, &m) < 0) log_info("discord: the queue of %s is full; a button press is dropped", m.channel);
}

/* INTERACTION_CREATE: defer it at once, then run it as the prefix command it stands for. */
static void on_interaction(struct discord *dc, json_t *d) {
    json_t *type = json_object_get(d, "type");
    const char *app = str_of(d, "application_id");
    const char *token = str_of(d, "token");
    const char *id = str_of(d, "id");
    if (!app) app = dc->app_id;
    if (json_integer_value(type) == 3 && app && token && id) {
        on_button(dc, d, app, id, token);
        return;
    }
    if (json_integer_value(type) != 2) return;         /* only application commands and buttons */
    struct command_list *commands = dc->self->host->commands();
    char *text = discord_commands_text(commands, json_object_get(d, "data"));
    command_list_free(commands);
    struct chat_message m;
    if (!app) app = dc->app_id;
    if (!app || !token || !id || !text || discord_interaction_event(d, text, &m) < 0 ||
        discord_interaction_defer(dc->interactions, app, id, token, m.channel, 0) < 0) {
        free(text);
        return;
    }
    if (dc->self->host->stopping())
        interaction_notice(dc, &m, "I'm restarting right now. Please try that again in a moment.");
    else if (platform_receive(dc->self, &m) < 0)
        interaction_notice(dc, &m, "Too many messages are waiting in this channel. Please slow down a little.");
    free(text);
}

/* The bulk command registration finished. */
static void on_commands(long status, json_t *body, const char *err, void *data) {
    (void)data;
    if (err) log_warn("discord: registering slash commands failed: %s", err);
    else log_info("discord: %zu slash commands registered (HTTP %ld)", json_array_size(body), status);
}

/* Register the slash commands once the application id is known, and again
 * whenever the list changes (a reload): one bulk overwrite, never a repeat. */
static void send_commands(struct discord *dc) {
    if (!dc || !dc->app_id || !dc->rest) return;
    struct command_list *commands = dc->self->host->commands();
    json_t *list = discord_commands_build(commands);
    command_list_free(commands);
    char *text = json_dumps(list, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text || (dc->commands_sent && !strcmp(text, dc->commands_sent))) {
        free(text);
        json_decref(list);
        return;
    }
    free(dc->commands_sent);
    dc->commands_sent = text;
    if (discord_rest_register_commands(dc->rest, dc->app_id, dc->guild_id, list, on_commands, NULL) < 0)
        log_warn("discord: cannot queue the slash command registration");
}

/* Plugins were reloaded: publish the new command list if it differs. */
static void discord_commands_changed(struct platform *p) {
    send_commands(p->state);
}

/* Every gateway event, exactly once. */
static void on_dispatch(struct discord_gateway_shard *s, const char *type, json_t *d, void *data) {
    struct discord *dc = data;
    (void)s;
    if (dc->token_refused) return;
    if (discord_threads_dispatch(dc->threads, type, d)) return;
    if (!strcmp(type, "MESSAGE_CREATE")) {
        on_message_create(dc, d);
    } else if (!strcmp(type, "INTERACTION_CREATE")) {
        on_interaction(dc, d);
    } else if (!strcmp(type, "MESSAGE_REACTION_ADD") || !strcmp(type, "MESSAGE_UPDATE")) {
        on_event_message(dc, type, d);
    } else if (!strcmp(type, "READY")) {
        const char *bot = str_of(json_object_get(d, "user"), "id");
        const char *app = str_of(json_object_get(d, "application"), "id");
        if (bot && (!dc->bot_id || strcmp(bot, dc->bot_id))) {
            free(dc->bot_id);
            dc->bot_id = xstrdup(bot);
        }
        if (app && !dc->app_id) dc->app_id = xstrdup(app);
        send_commands(dc);
    }
}

/* The set of ready shards changed: so did the platform's readiness. */
static void on_ready(struct discord_gateway_hub *h, void *data) {
    struct discord *dc = data;
    if (dc->token_refused) dc->self->ready = 0;
    else if (dc->leased && discord_gateway_shard_count(h) == 0) dc->self->ready = discord_shards_joined(dc->shards);
    else dc->self->ready = discord_gateway_ready(h);
}

/* ---- shards shared with other gateways (discord_shards.c) -------------- */

/* Tell `chorusctl status` (core/health.h) which shards this process runs now. */
static void report_shards(struct discord *dc) {
    int ids[DISCORD_MAX_SHARDS], n = 0;
    for (int i = 0; dc->hub && i < dc->nshard_ids; i++)
        if (discord_gateway_find(dc->hub, dc->shard_ids[i])) ids[n++] = dc->shard_ids[i];
    health_set_shards("discord", ids, n, dc->total_shards);
}

/* A READY gave shard S a session: store it, so another gateway can resume it. */
static void on_session(struct discord_gateway_shard *s, const char *session_id, const char *resume_url, long seq,
                       void *data) {
    struct discord *dc = data;
    discord_shards_session(dc->shards, discord_gateway_shard_id(s), session_id, resume_url, seq);
}

/* The other gateways' answer about an identify slot. */
static void on_identify_answer(int shard, long wait_ms, void *data) {
    struct discord *dc = data;
    discord_gateway_identify_answer(dc->hub, shard, wait_ms);
}

/* Identify pacing shared through Redis: ask for the bucket's slot first. */
static int identify_gate(struct discord_gateway_shard *s, int bucket, long window_ms, void *data) {
    struct discord *dc = data;
    return discord_shards_identify(dc->shards, discord_gateway_shard_id(s), bucket, window_ms, on_identify_answer, dc) == 0;
}

/* Our lease of SHARD: run it, resuming the session its last holder left. */
static void on_shard_take(int shard, const char *session_id, const char *resume_url, long seq, void *data) {
    struct discord *dc = data;
    if (dc->hub) discord_gateway_add_shard_session(dc->hub, shard, session_id, resume_url, seq);
    report_shards(dc);
}

/* SHARD is no longer ours: close it, keeping its session resumable for the next holder. */
static void on_shard_drop(int shard, int lost, void *data) {
    struct discord *dc = data;
    (void)lost;
    if (dc->hub) discord_gateway_remove_shard(dc->hub, shard, 4900);
    if (dc->hub) on_ready(dc->hub, dc);
    report_shards(dc);
}

/* SHARD's last seq, to store with its lease (-1: no session). */
static long on_shard_seq(int shard, void *data) {
    struct discord *dc = data;
    struct discord_gateway_shard *s = dc->hub ? discord_gateway_find(dc->hub, shard) : NULL;
    return s && discord_gateway_shard_session(s) ? discord_gateway_shard_seq(s) : -1;
}

/* The hash tag of this bot's shared state: its user id, which a bot token
 * starts with (base64), or a hash of the token when it does not. */
static void bot_key(const char *token, char *out, size_t len) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char id[32];
    size_t n = 0;
    unsigned bits = 0, acc = 0;
    for (const char *p = token; *p && *p != '.' && n < sizeof(id) - 1; p++) {
        const char *c = strchr(b64, *p == '-' ? '+' : *p == '_' ? '/' : *p);
        if (!c || *p == '=') break;
        acc = (acc << 6) | (unsigned)(c - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            id[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    id[n] = '\0';
    int digits = n > 0;
    for (size_t i = 0; i < n; i++)
        if (id[i] < '0' || id[i] > '9') digits = 0;
    if (digits) {
        snprintf(out, len, "%s", id);
        return;
    }
    unsigned long long h = 1469598103934665603ULL;
    for (const char *p = token; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(out, len, "t%016llx", h);
}

static void send_now(const struct outgoing *out, platform_sent_fn *cb, void *cb_data, void *data);
static void piece_now(const char *channel, const char *reply_to, const char *text, size_t len, void *data);

/* discord_foreign_ops.adopt: another gateway's slash command, answered here. */
static void adopt_interaction(const char *id, const struct discord_ixshare_record *rec, long long now_ms, void *data) {
    struct discord *dc = data;
    discord_interaction_adopt(dc->interactions, id, rec, now_ms);
}

/* Start sharing the shards with the other gateways. */
static void shards_start(struct discord *dc) {
    static const struct discord_shards_callbacks cb = { on_shard_take, on_shard_drop, on_shard_seq };
    char bot[64], host[64] = "host", me[160];
    bot_key(dc->token, bot, sizeof(bot));
    gethostname(host, sizeof(host) - 1);
    snprintf(me, sizeof(me), "%s-%d-%04x", host, (int)getpid(), (unsigned)(rand() & 0xffff));
    struct discord_shards_options o = {
        .bot = bot, .me = me, .ids = dc->shard_ids, .nids = dc->nshard_ids, .lease_ms = dc->lease_ms, .cb = &cb, .data = dc,
    };
    dc->shards = discord_shards_new(dc->self->host->loop, dc->self->host->redis, &o);
    static const struct discord_foreign_ops fops = { send_now, piece_now, adopt_interaction };
    dc->ixshare = discord_ixshare_new(dc->self->host->redis, discord_shards_key_base(dc->shards), me);
    discord_interactions_share(dc->interactions, dc->ixshare);
    dc->foreign = discord_foreign_new(dc->self->host->loop, dc->ixshare, &fops, dc, FOREIGN_ASK_MS * dc->scale);
    char err[256];
    struct redis_client *reader = dc->self->host->redis_open ? dc->self->host->redis_open(RLSHARE_BLOCK_MS + 1000, err, sizeof(err)) : NULL;
    if (!reader) {
        log_warn("discord: the REST limits are not shared with the other gateways: %s", dc->self->host->redis_open ? err : "no Redis");
        return;
    }
    dc->rlshare = discord_rlshare_new(dc->self->host->loop, dc->self->host->redis, reader,
                                      discord_shards_key_base(dc->shards), me, discord_rest_ratelimit(dc->rest),
                                      RLSHARE_BLOCK_MS);
}

/* A shard stopped for good; the others (and other platforms) carry on. */
static void on_fatal(struct discord_gateway_shard *s, int code, const char *why, void *data) {
    struct discord *dc = data;
    (void)s;
    (void)code;
    (void)why;
    dc->self->ready = 0;
}

/* ---- start ------------------------------------------------------------ */

static void request_gateway(struct discord *dc);

/* Retry GET /gateway/bot after its backoff. */
static void on_start_retry(uv_timer_t *t) {
    request_gateway(t->data);
}

/* GET /gateway/bot answered: start the shards it (or the config) asks for. */
static void on_gateway_bot(long status, json_t *body, const char *err, void *data) {
    struct discord *dc = data;
    if (dc->stopped) return;
    if (status == 401 || status == 403) {
        log_error("discord: Discord refused the bot token (HTTP %ld); the Discord adapter stays down", status);
        return;
    }
    if (err || !json_is_object(body)) {
        double delay = 1000.0 * (double)(1u << (dc->start_attempts < 6 ? dc->start_attempts : 6)) * dc->scale;
        dc->start_attempts++;
        log_warn("discord: GET /gateway/bot failed (%s); trying again in %.0f ms", err ? err : "not JSON", delay);
        uv_timer_start(dc->start_retry, on_start_retry, delay < 1 ? 1 : (uint64_t)delay, 0);
        return;
    }
    const char *url = dc->gateway_url ? dc->gateway_url : str_of(body, "url");
    json_t *limit = json_object_get(body, "session_start_limit");
    json_t *rec = json_object_get(body, "shards");
    struct discord_gateway_options o = {
        .token = dc->token, .intents = dc->intents, .url = url ? url : "wss://gateway.discord.gg",
        .max_concurrency = json_is_integer(json_object_get(limit, "max_concurrency"))
                               ? (int)json_integer_value(json_object_get(limit, "max_concurrency")) : 1,
        .session_remaining = json_is_integer(json_object_get(limit, "remaining"))
                                 ? (long)json_integer_value(json_object_get(limit, "remaining")) : -1,
        .session_reset_after_ms = json_is_integer(json_object_get(limit, "reset_after"))
                                      ? (long)json_integer_value(json_object_get(limit, "reset_after")) : 86400000,
        .max_inbound = dc->max_inbound, .compress = dc->compress, .time_scale = dc->scale,
    };
    if (dc->auto_shards) {
        o.total_shards = json_is_integer(rec) && json_integer_value(rec) > 0 ? (int)json_integer_value(rec) : 1;
        if (o.total_shards > DISCORD_MAX_SHARDS) o.total_shards = DISCORD_MAX_SHARDS;
        dc->nshard_ids = o.total_shards;
        for (int i = 0; i < o.total_shards; i++) dc->shard_ids[i] = i;
    } else {
        o.total_shards = dc->shard_total;
    }
    char errbuf[256];
    static const struct discord_gateway_callbacks callbacks = { on_dispatch, on_ready, on_fatal, NULL, NULL };
    static const struct discord_gateway_callbacks leased = { on_dispatch, on_ready, on_fatal, on_session, identify_gate };
    o.identify_window_ms = dc->identify_window_ms;
    o.keep_sessions = dc->leased;
    dc->total_shards = o.total_shards;
    dc->hub = discord_gateway_new(dc->self->host->loop, dc->self->host->lws(), &o, dc->leased ? &leased : &callbacks, dc,
                                  errbuf, sizeof(errbuf));
    if (!dc->hub) {
        log_error("%s", errbuf);
        return;
    }
    if (dc->leased) {
        log_info("discord: %d shards on %s (max_concurrency %d%s), shared with the other gateways", o.total_shards, o.url,
                 o.max_concurrency, dc->compress ? ", zlib-stream" : "");
        shards_start(dc);
        return;
    }
    log_info("discord: starting %d of %d shards on %s (max_concurrency %d%s)", dc->nshard_ids, o.total_shards, o.url,
             o.max_concurrency, dc->compress ? ", zlib-stream" : "");
    for (int i = 0; i < dc->nshard_ids; i++) discord_gateway_add_shard(dc->hub, dc->shard_ids[i]);
    report_shards(dc);
}

/* Ask Discord where the gateway is and how to shard. */
static void request_gateway(struct discord *dc) {
    if (discord_rest_gateway_bot(dc->rest, on_gateway_bot, dc) < 0) log_error("discord: cannot start GET /gateway/bot");
}

/* REST answered 401: the token is dead, so the bot cannot answer anyone.
 * Events are no longer taken (a model call per message would only make
 * replies that cannot be sent), and /readyz says so until a restart with a
 * valid token. */
static void on_token_refused(void *data) {
    struct discord *dc = data;
    dc->token_refused = 1;
    dc->self->ready = 0;
    log_error("discord: the Discord adapter stops taking events: no answer could be sent with a refused token");
}

/* platform_ops.start: only GET /gateway/bot now; the shards follow its answer. */
static int discord_start(struct platform *p) {
    struct discord *dc = p->state;
    struct discord_rest_options ro = {
        .api_base = dc->api_base, .token = dc->token, .global_per_sec = dc->global_rate, .time_scale = dc->scale,
        .refused = on_token_refused, .refused_data = dc,
    };
    dc->rest = discord_rest_new(dc->self->host->loop, dc->self->host->http, &ro);
    if (!dc->rest) return -1;
    dc->streams = discord_streams_new(dc->self->host->loop, dc->rest, dc->scale);
    dc->interactions = discord_interactions_new(dc->self->host->loop, dc->rest, dc->scale);
    dc->typing = typing_keeper_new(dc->self->host->loop, (uint64_t)(TYPING_EVERY_MS * dc->scale),
                                   (uint64_t)(TYPING_MAX_MS * dc->scale), send_typing, dc);
    dc->threads = discord_threads_new();
    dc->start_retry = timer_new(dc->self->host->loop, dc);
    dc->leased = p->host->role && !strcmp(p->host->role(), "gateway");
    request_gateway(dc);
    return 0;
}

/* A follow-up for a slash command, the end of a streamed reply, or a post
 * (split as needed). */
static void send_now(const struct outgoing *out, platform_sent_fn *cb, void *cb_data, void *data) {
    struct discord *dc = data;
    if (discord_interaction_send(dc->interactions, out->reply_to, out->text, out->rich, cb, cb_data)) return;
    if (!out->rich && edit_stream_final(dc->streams, out->channel, out->reply_to, out->text, cb, cb_data)) return;
    /* Outside an interaction Discord has no ephemeral messages: a plain post. */
    json_t *extra = out->rich ? discord_rich_fields(out->rich, 0) : NULL;
    int rc = discord_rest_send_keyed(dc->rest, out->channel, out->text, out->reply_to, extra, out->nonce, cb, cb_data);
    json_decref(extra);
    if (rc < 0 && cb) cb(NULL, "an empty reply cannot be sent to Discord", cb_data);
}

/* Is REPLY_TO an event this gateway knows nothing of, where another gateway may have deferred it? */
static int foreign_event(struct discord *dc, const char *reply_to) {
    return dc->foreign && reply_to && !discord_interaction_known(dc->interactions, reply_to);
}

/* platform_ops.send: as send_now, once Redis has said whether a reply to
 * an event this gateway did not see answers another gateway's slash
 * command; typing stops. */
static int discord_send(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    struct discord *dc = p->state;
    if (!dc || dc->stopped || !dc->rest) {
        if (cb) cb(NULL, "Discord is not running", data);
        return 0;
    }
    typing_keeper_stop(dc->typing, out->channel);
    if (foreign_event(dc, out->reply_to) && discord_foreign_send(dc->foreign, out, cb, data)) return 0;
    send_now(out, cb, data, dc);
    return 0;
}

/* platform_ops.mention: <@id> (the user is pinged: rich replies allow it). */
static char *discord_mention(struct platform *p, const char *user_id, const char *user_name) {
    (void)p, (void)user_name;
    size_t n = strlen(user_id);
    char *out = xmalloc(n + 4);
    out[0] = '<';
    out[1] = '@';
    memcpy(out + 2, user_id, n);
    out[n + 2] = '>';
    out[n + 3] = '\0';
    return out;
}

/* Grow the reply in one edited message (for a slash command, its deferred response). */
static void piece_now(const char *channel, const char *reply_to, const char *text, size_t len, void *data) {
    struct discord *dc = data;
    if (discord_interaction_delta(dc->interactions, reply_to, text, len)) return;
    edit_stream_delta(dc->streams, channel, reply_to, NULL, text, len);
}

/* platform_ops.stream_delta: piece_now, behind what waits for Redis for the same event. */
static void discord_stream_delta_op(struct platform *p, const char *channel, const char *reply_to, const char *text,
                                    size_t len) {
    struct discord *dc = p->state;
    if (!dc || dc->stopped || !dc->rest) return;
    if (foreign_event(dc, reply_to) && discord_foreign_piece(dc->foreign, channel, reply_to, text, len)) return;
    piece_now(channel, reply_to, text, len, dc);
}

/* platform_ops.react: PUT the reaction (the emoji is URL-encoded). */
static int discord_react_op(struct platform *p, const char *channel, const char *message_id, const char *emoji) {
    struct discord *dc = p->state;
    if (!dc || dc->stopped || !dc->rest || !*emoji) return -1;
    return discord_rest_react(dc->rest, channel, message_id, emoji, NULL, NULL);
}

/* platform_ops.edit: PATCH a message the bot sent. */
static int discord_edit_op(struct platform *p, const char *channel, const char *message_id, const char *text, size_t len) {
    struct discord *dc = p->state;
    if (!dc || dc->stopped || !dc->rest || len == 0) return -1;
    return discord_rest_edit(dc->rest, channel, message_id, text, len, NULL, NULL);
}

/* platform_ops.stop: close the gateway (1000) and drop pending REST calls. */
static void discord_stop(struct platform *p) {
    struct discord *dc = p->state;
    if (!dc || dc->stopped) return;
    p->ready = 0;
    discord_rlshare_free(dc->rlshare);
    dc->rlshare = NULL;
    discord_shards_free(dc->shards);      /* stores each held shard's seq and gives the leases back */
    dc->shards = NULL;
    dc->stopped = 1;
    discord_ixshare_free(dc->ixshare);      /* first: no Redis answer comes for what foreign holds */
    dc->ixshare = NULL;
    discord_foreign_free(dc->foreign);
    dc->foreign = NULL;
    discord_gateway_free(dc->hub);
    dc->hub = NULL;
    health_set_shards("discord", NULL, 0, 0);
    typing_keeper_free(dc->typing);
    dc->typing = NULL;
    discord_threads_free(dc->threads);
    dc->threads = NULL;
    timer_free(&dc->start_retry);
    discord_rest_free(dc->rest);
    dc->rest = NULL;
    edit_streams_free(dc->streams);
    dc->streams = NULL;
    discord_interactions_free(dc->interactions);
    dc->interactions = NULL;
    free(dc->guild_id);
    free(dc->token);
    free(dc->api_base);
    free(dc->gateway_url);
    free(dc->bot_id);
    free(dc->app_id);
    free(dc->commands_sent);
    free(dc);
    p->state = NULL;
}

/* platform_ops.connections: gateway sockets still open (for the drain). */
static int discord_connections(struct platform *p) {
    (void)p;
    return discord_gateway_open_connections();
}

/* The adapter's state from the `discord { ... }` statement B. */
static void *discord_create(struct platform *p, const struct config_block *b) {
    struct discord *dc = xcalloc(1, sizeof(*dc));
    if (!dc) return NULL;
    read_config(dc, b);
    dc->self = p;
    return dc;
}

const struct platform_ops discord_platform = {
    .name = "discord",
    .config_kind = "discord",
    .create = discord_create,
    .start = discord_start,
    .send = discord_send,
    .typing = discord_typing,
    .react = discord_react_op,
    .edit = discord_edit_op,
    .stream_delta = discord_stream_delta_op,
    .commands_changed = discord_commands_changed,
    .stop = discord_stop,
    .connections = discord_connections,
    .mention = discord_mention,
    .rich = 1,
};

