/* telegram_config.c - the `telegram { ... }` statement: its keys and checks.
 * Kept apart from telegram.c so the config loader needs nothing of the
 * adapter. */
#include <stdio.h>
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "platforms/telegram/telegram.h"
#include "lib/redact.h"

/* Is S a secret token Telegram accepts: 1-256 of A-Z, a-z, 0-9, _ and -? */
static int valid_secret(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 256) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* A positive number under KEY, when present. */
static int check_positive(const struct config_block *b, const char *key, int zero_ok, char *err, size_t errlen) {
    json_t *v = b->value ? json_object_get(b->value, key) : NULL;
    if (v && (!json_is_number(v) || json_number_value(v) < 0 || (!zero_ok && json_number_value(v) == 0))) {
        snprintf(err, errlen, "telegram: %s must be a number above 0%s", key, zero_ok ? " (or 0 for no limit)" : "");
        return -1;
    }
    return 0;
}

/* The token must be there; the webhook needs a url and a valid secret. */
static int validate_telegram(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    (void)cfg;
    const char *token = config_str(b, "token", "");
    if (!*token) {
        snprintf(err, errlen, "telegram: token is empty (set TELEGRAM_TOKEN, or token = file(\"...\"))");
        return -1;
    }
    redact_add_secret(token);
    if (!strchr(token, ':')) {
        snprintf(err, errlen, "telegram: token does not look like a bot token (\"<bot id>:<secret>\", from @BotFather)");
        return -1;
    }
    const char *format = config_str(b, "format", "plain");
    if (strcmp(format, "plain") && strcmp(format, "markdown")) {
        snprintf(err, errlen, "telegram: format must be \"plain\" or \"markdown\"");
        return -1;
    }
    const char *messages = config_str(b, "messages", "all");
    if (strcmp(messages, "all") && strcmp(messages, "addressed")) {
        snprintf(err, errlen, "telegram: messages must be \"all\" or \"addressed\"");
        return -1;
    }
    json_t *allowed = b->value ? json_object_get(b->value, "allowed_updates") : NULL;
    if (allowed) {
        size_t i;
        json_t *v;
        int bad = !json_is_array(allowed);
        json_array_foreach(allowed, i, v) bad |= !json_is_string(v);
        if (bad) {
            snprintf(err, errlen, "telegram: allowed_updates must be a list of update types, e.g. {\"message\"}");
            return -1;
        }
    }
    json_t *hook = b->value ? json_object_get(b->value, "webhook") : NULL;
    if (hook) {
        const char *url = json_string_value(json_object_get(hook, "url"));
        const char *secret = json_string_value(json_object_get(hook, "secret"));
        const char *path = json_string_value(json_object_get(hook, "path"));
        if (!json_is_object(hook) || !url || strncmp(url, "http", 4)) {
            snprintf(err, errlen, "telegram: webhook needs url = \"https://your.host/path\" (the address Telegram POSTs to)");
            return -1;
        }
        if (!secret || !valid_secret(secret)) {
            snprintf(err, errlen, "telegram: webhook.secret must be 1-256 of A-Z, a-z, 0-9, _ and - (Telegram's rule)");
            return -1;
        }
        redact_add_secret(secret);
        if (path && path[0] != '/') {
            snprintf(err, errlen, "telegram: webhook.path must start with /");
            return -1;
        }
    }
    if (check_positive(b, "time_scale", 0, err, errlen) < 0 || check_positive(b, "rate", 0, err, errlen) < 0 ||
        check_positive(b, "chat_interval_ms", 1, err, errlen) < 0 ||
        check_positive(b, "group_per_minute", 1, err, errlen) < 0 ||
        check_positive(b, "edit_interval_ms", 0, err, errlen) < 0 || check_positive(b, "poll_timeout", 1, err, errlen) < 0)
        return -1;
    return 0;
}

static const struct config_key telegram_keys[] = {
    { "token", CONFIG_STRING, 1, "the bot token from @BotFather, e.g. token = env(\"TELEGRAM_TOKEN\")" },
    { "api_url", CONFIG_STRING, 0, "the Bot API root, default \"https://api.telegram.org\" (a method is <api_url>/bot<token>/<method>)" },
    { "poll_timeout", CONFIG_INT, 0, "getUpdates long-polling timeout in seconds, default 50 (0: short polling)" },
    { "allowed_updates", CONFIG_ANY, 0, "update types to receive, default {\"message\", \"edited_message\", \"channel_post\", \"message_reaction\", \"callback_query\"}" },
    { "messages", CONFIG_STRING, 0, "\"all\" (default: hear handlers see every group message the bot gets) or \"addressed\" (only private chats, mentions, replies to the bot and its commands)" },
    { "format", CONFIG_STRING, 0, "\"plain\" (default) or \"markdown\": code, pre and bold from the model's Markdown as MarkdownV2" },
    { "rate", CONFIG_NUMBER, 0, "messages per second for the whole bot, default 30" },
    { "chat_interval_ms", CONFIG_NUMBER, 0, "least time between two messages to one chat, default 1000" },
    { "group_per_minute", CONFIG_INT, 0, "messages per minute to one group, default 20 (0: no limit)" },
    { "edit_interval_ms", CONFIG_NUMBER, 0, "least time between two edits of a streamed reply, default 1500" },
    { "webhook", CONFIG_ANY, 0, "{ url = \"https://host/telegram\", secret = env(\"TELEGRAM_WEBHOOK_SECRET\"), path = \"/telegram\" }: receive updates on chorusd's listener instead of polling" },
    { "time_scale", CONFIG_NUMBER, 0, "shrink protocol timings for tests, default 1.0" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema telegram_schema = {
    .kind = "telegram", .value = CONFIG_TABLE, .keys = telegram_keys, .validate = validate_telegram,
};

void telegram_config_register(void) {
    config_schema_register(&telegram_schema);
}
