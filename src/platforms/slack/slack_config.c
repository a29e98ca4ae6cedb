/* slack_config.c - the `slack { ... }` statement: its keys and checks.
 * Kept apart from slack.c so the config loader needs nothing of the adapter.
 * Error messages name the key, never its value: tokens stay out of logs. */
#include <stdio.h>
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "platforms/slack/slack.h"
#include "lib/redact.h"

/* Both tokens present and of the right kind; numbers in range. */
static int validate_slack(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    (void)cfg;
    const char *app = config_str(b, "app_token", "");
    const char *bot = config_str(b, "bot_token", "");
    if (*app) redact_add_secret(app);
    if (*bot) redact_add_secret(bot);
    if (!*app) {
        snprintf(err, errlen, "slack: app_token is empty (set SLACK_APP_TOKEN to the app-level token, xapp-...)");
        return -1;
    }
    if (!*bot) {
        snprintf(err, errlen, "slack: bot_token is empty (set SLACK_BOT_TOKEN to the bot token, xoxb-...)");
        return -1;
    }
    if (strncmp(app, "xapp-", 5)) {
        snprintf(err, errlen, "slack: app_token must be an app-level token (it starts with xapp-)");
        return -1;
    }
    if (strncmp(bot, "xoxb-", 5)) {
        snprintf(err, errlen, "slack: bot_token must be a bot token (it starts with xoxb-)");
        return -1;
    }
    const char *url = config_str(b, "api_url", "https://slack.com/api/");
    if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
        snprintf(err, errlen, "slack: api_url must be an http:// or https:// URL");
        return -1;
    }
    long n = config_int(b, "connections", 2);
    if (n < 1 || n > 5) {
        snprintf(err, errlen, "slack: connections must be from 1 to 5");
        return -1;
    }
    static const char *const positive[] = { "channel_rate", "time_scale", NULL };
    for (int i = 0; positive[i]; i++) {
        json_t *v = b->value ? json_object_get(b->value, positive[i]) : NULL;
        if (v && json_number_value(v) <= 0) {
            snprintf(err, errlen, "slack: %s must be above 0", positive[i]);
            return -1;
        }
    }
    return 0;
}

static const struct config_key slack_keys[] = {
    { "app_token", CONFIG_STRING, 1, "the app-level token (connections:write), app_token = env(\"SLACK_APP_TOKEN\")" },
    { "bot_token", CONFIG_STRING, 1, "the bot token, bot_token = env(\"SLACK_BOT_TOKEN\")" },
    { "api_url", CONFIG_STRING, 0, "Web API base with a trailing slash, default \"https://slack.com/api/\"" },
    { "connections", CONFIG_INT, 0, "Socket Mode connections kept open at once, default 2 (no gap on a refresh)" },
    { "channel_rate", CONFIG_NUMBER, 0, "messages per second per channel, default 1 (Slack's limit)" },
    { "channel_burst", CONFIG_INT, 0, "... in bursts of, default 3" },
    { "dedupe_ttl_s", CONFIG_INT, 0, "how long an event id is remembered in Redis, default 86400" },
    { "stream_interval_ms", CONFIG_INT, 0, "least time between chat.update calls of a streamed reply, default 1500" },
    { "command_ack", CONFIG_STRING, 0, "the text a slash command is acked with at once, default \"Working on it...\"" },
    { "ping_interval_s", CONFIG_INT, 0, "idle seconds before a websocket ping, default 30" },
    { "max_inbound_bytes", CONFIG_INT, 0, "largest Socket Mode message accepted, default 8388608" },
    { "time_scale", CONFIG_NUMBER, 0, "shrink protocol timings for tests, default 1.0" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema slack_schema = {
    .kind = "slack", .value = CONFIG_TABLE, .instances = 1, .keys = slack_keys, .validate = validate_slack,
};

void slack_config_register(void) {
    config_schema_register(&slack_schema);
}
