/* discord_config.c - the `discord { ... }` statement: its keys and checks.
 * Kept apart from discord.c so the config loader (and its unit tests) need
 * nothing of the adapter. */
#include <stdio.h>
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "platforms/discord/discord.h"
#include "lib/redact.h"

/* The token must be there, shards "auto" or {ids, total}, compress
 * "zlib-stream" or a boolean, numbers positive. */
static int validate_discord(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    (void)cfg;
    const char *token = config_str(b, "token", "");
    if (!*token) {
        snprintf(err, errlen, "discord: token is empty (set DISCORD_TOKEN, or token = file(\"...\"))");
        return -1;
    }
    redact_add_secret(token);
    json_t *shards = b->value ? json_object_get(b->value, "shards") : NULL;
    if (shards && !(json_is_string(shards) && !strcmp(json_string_value(shards), "auto"))) {
        json_t *ids = json_object_get(shards, "ids");
        json_t *total = json_object_get(shards, "total");
        if (!json_is_object(shards) || !json_is_array(ids) || json_array_size(ids) == 0 || !json_is_integer(total) ||
            json_integer_value(total) < 1 || json_array_size(ids) > DISCORD_MAX_SHARDS) {
            snprintf(err, errlen, "discord: shards must be \"auto\" or { ids = {0, 1}, total = 2 }");
            return -1;
        }
        for (size_t i = 0; i < json_array_size(ids); i++) {
            json_t *id = json_array_get(ids, i);
            if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= json_integer_value(total)) {
                snprintf(err, errlen, "discord: shard ids must be whole numbers from 0 to total - 1");
                return -1;
            }
        }
    }
    json_t *compress = b->value ? json_object_get(b->value, "compress") : NULL;
    if (compress && !json_is_boolean(compress) &&
        !(json_is_string(compress) && !strcmp(json_string_value(compress), "zlib-stream"))) {
        snprintf(err, errlen, "discord: compress must be \"zlib-stream\" or false");
        return -1;
    }
    const char *messages = config_str(b, "messages", "all");
    if (strcmp(messages, "all") && strcmp(messages, "addressed")) {
        snprintf(err, errlen, "discord: messages must be \"all\" or \"addressed\"");
        return -1;
    }
    json_t *scale = b->value ? json_object_get(b->value, "time_scale") : NULL;
    if (scale && json_number_value(scale) <= 0) {
        snprintf(err, errlen, "discord: time_scale must be above 0");
        return -1;
    }
    json_t *lease = b->value ? json_object_get(b->value, "shard_lease_ms") : NULL;
    if (lease && json_integer_value(lease) < 30) {
        snprintf(err, errlen, "discord: shard_lease_ms must be at least 30");
        return -1;
    }
    json_t *rate = b->value ? json_object_get(b->value, "global_rate") : NULL;
    if (rate && json_number_value(rate) <= 0) {
        snprintf(err, errlen, "discord: global_rate must be above 0");
        return -1;
    }
    return 0;
}

static const struct config_key discord_keys[] = {
    { "token", CONFIG_STRING, 1, "the bot token, e.g. token = env(\"DISCORD_TOKEN\")" },
    { "intents", CONFIG_INT, 0, "gateway intents, default 33281 (guilds, guild and direct messages, message content)" },
    { "shards", CONFIG_ANY, 0, "\"auto\" (default) or { ids = {0, 1}, total = 4 }" },
    { "api_base", CONFIG_STRING, 0, "REST base, default \"https://discord.com/api\"" },
    { "gateway_url", CONFIG_STRING, 0, "use this gateway instead of the one GET /gateway/bot names" },
    { "compress", CONFIG_ANY, 0, "\"zlib-stream\" for gateway transport compression, default false (true means \"zlib-stream\")" },
    { "max_inbound_bytes", CONFIG_INT, 0, "largest gateway message accepted, default 8388608" },
    { "global_rate", CONFIG_NUMBER, 0, "REST requests per second for the whole process, default 50" },
    { "messages", CONFIG_STRING, 0, "\"all\" (default: hear handlers and prefix commands see every guild message) or \"addressed\" (only DMs, mentions and replies to the bot)" },
    { "guild_id", CONFIG_STRING, 0, "register slash commands in this guild only (instant updates); default global" },
    { "time_scale", CONFIG_NUMBER, 0, "shrink protocol timings for tests, default 1.0" },
    { "shard_lease_ms", CONFIG_INT, 0, "gateways (--role gateway) share the shards through Redis leases of this length, renewed every third, default 10000" },
    { "identify_window_ms", CONFIG_INT, 0, "one Identify per max_concurrency bucket in this window, shared by every gateway; default 5000 (times time_scale)" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema discord_schema = {
    .kind = "discord", .value = CONFIG_TABLE, .keys = discord_keys, .validate = validate_discord,
};

void discord_config_register(void) {
    config_schema_register(&discord_schema);
}

