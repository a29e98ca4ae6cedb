/* core_config.c - schemas of the top-level statements the core reads:
 * listen, redis, admin_socket, log_level, shutdown_timeout_ms,
 * default_persona, web_root, plugins_dir, reply_max_chars, console. */
#include <stdio.h>
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "core/core_config.h"
#include "lib/log.h"
#include "lib/redis_url.h"
#include "io/redis_sentinel.h"

/* A bad Redis URL (rediss:// included) or a bad Sentinel table is a config
 * error at its line: `redis "url" { ... }` or `redis { sentinels = ... }`. */
static int validate_redis(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    struct redis_url url;
    struct redis_sentinel_conf sc;
    char why[400];
    (void)cfg;
    int found = redis_sentinel_conf_parse(b->value, &sc, why, sizeof(why));
    redis_sentinel_conf_free(&sc);
    if (found < 0) {
        snprintf(err, errlen, "redis: %s", why);
        return -1;
    }
    if (b->name && found) {
        snprintf(err, errlen, "redis takes either a URL or sentinels, not both: write redis { sentinels = { ... }, master = \"name\" }");
        return -1;
    }
    if (!b->name && !found) {
        snprintf(err, errlen, "redis needs a URL (redis \"redis://host:6379/0\" { ... }) or sentinels (redis { sentinels = { \"host:26379\", ... }, master = \"name\" })");
        return -1;
    }
    if (found && json_object_get(b->value, "cluster")) {
        snprintf(err, errlen, "redis takes either sentinels or cluster, not both (a Redis Cluster fails over by itself)");
        return -1;
    }
    if (found) return 0;
    const char *const sentinel_only[] = { "user", "password", "db" };
    for (size_t i = 0; i < sizeof(sentinel_only) / sizeof(sentinel_only[0]); i++)
        if (b->value && json_object_get(b->value, sentinel_only[i])) {
            snprintf(err, errlen, "redis \"url\": %s goes in the URL (redis://user:password@host:port/db); the key is for the Sentinel form", sentinel_only[i]);
            return -1;
        }
    if (redis_url_parse(b->name, &url, err, errlen) < 0) return -1;
    redis_url_free(&url);
    return 0;
}

/* log_level must be one of the names log.c knows. */
static int validate_log_level(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    enum log_level lvl;
    (void)cfg;
    if (log_level_parse(json_string_value(b->value), &lvl) == 0) return 0;
    snprintf(err, errlen, "log_level \"%s\" is not one of debug, info, warn, error", json_string_value(b->value));
    return -1;
}

/* default_persona must name a persona defined in the file. */
static int validate_default_persona(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    const char *name = json_string_value(b->value);
    if (config_find(cfg, "persona", name)) return 0;
    snprintf(err, errlen, "default_persona \"%s\" is not defined (add persona \"%s\" { ... })", name, name);
    return -1;
}

/* Timeouts and sizes must be positive. */
static int validate_positive(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    (void)cfg;
    if (json_number_value(b->value) > 0) return 0;
    snprintf(err, errlen, "%s must be a positive number", b->kind);
    return -1;
}

static const struct config_key redis_keys[] = {
    { "prefix", CONFIG_STRING, 0, "key prefix, default \"chorus:\"" },
    { "timeout_ms", CONFIG_INT, 0, "command timeout, default 2000" },
    { "connect_timeout_ms", CONFIG_INT, 0, "connect timeout, default 2000" },
    { "reconnect_min_ms", CONFIG_INT, 0, "first reconnect delay, default 100" },
    { "reconnect_max_ms", CONFIG_INT, 0, "longest reconnect delay, default 5000" },
    { "cluster", CONFIG_STRINGS, 0, "Redis Cluster: more \"host:port\" nodes to learn the slot map from (the URL is the first)" },
    { "cluster_retry_ms", CONFIG_INT, 0, "wait after TRYAGAIN or CLUSTERDOWN, times the attempt, default 100" },
    { "cluster_retries", CONFIG_INT, 0, "such retries per command, default 10" },
    { "history_turns", CONFIG_INT, 0, "turns kept per channel and persona, default 40" },
    { "history_ttl_s", CONFIG_INT, 0, "seconds an idle channel's state lives, default 2592000" },
    { "sentinels", CONFIG_STRINGS, 0, "Sentinel form: the sentinels, { \"host:port\", ... }, asked in order" },
    { "master", CONFIG_STRING, 0, "Sentinel form: the master's name in the sentinels' config" },
    { "user", CONFIG_STRING, 0, "Sentinel form: the master's ACL user" },
    { "password", CONFIG_STRING, 0, "Sentinel form: the master's password" },
    { "sentinel_password", CONFIG_STRING, 0, "Sentinel form: the sentinels' password" },
    { "db", CONFIG_INT, 0, "Sentinel form: the database number, default 0" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_key limits_keys[] = {
    { "jobs_per_connection", CONFIG_INT, 0, "messages one connection may have queued or running, default 100" },
    { "jobs_per_user", CONFIG_INT, 0, "messages one user may have queued or running, default 100" },
    { "model_calls_per_user", CONFIG_INT, 0, "model calls one user's messages may have in flight, default 100" },
    { "model_calls_per_user_per_minute", CONFIG_INT, 0, "model calls one user's messages may start per minute, default 600" },
    { "channel_queue", CONFIG_INT, 0, "messages one channel may have waiting, default 1000" },
    { "channel_queue_bytes", CONFIG_INT, 0, "bytes of text one channel may have waiting, default 4194304" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_key console_keys[] = {
    { "flush_ms", CONFIG_INT, 0, "ms between flushes of the chart counters to Redis, default 1000" },
    { "keep_s", CONFIG_INT, 0, "seconds a minute of chart counters is kept in Redis, default 172800" },
    { "feed_size", CONFIG_INT, 0, "conversation events kept for the live view, default 200" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema core_schemas[] = {
    { .kind = "console", .value = CONFIG_TABLE, .keys = console_keys },
    { .kind = "listen", .value = CONFIG_STRING },
    { .kind = "redis", .named = 1, .name_optional = 1, .value = CONFIG_NONE, .keys = redis_keys, .validate = validate_redis },
    { .kind = "admin_socket", .value = CONFIG_STRING },
    { .kind = "log_level", .value = CONFIG_STRING, .validate = validate_log_level },
    { .kind = "shutdown_timeout_ms", .value = CONFIG_INT, .validate = validate_positive },
    { .kind = "reply_max_chars", .value = CONFIG_INT, .validate = validate_positive },
    { .kind = "default_persona", .value = CONFIG_STRING, .validate = validate_default_persona },
    { .kind = "web_root", .value = CONFIG_STRING },
    { .kind = "plugins_dir", .value = CONFIG_STRING, .repeatable = 1 },
    { .kind = "personas_dir", .value = CONFIG_STRING, .repeatable = 1 },
    { .kind = "session_gap_s", .value = CONFIG_INT, .validate = validate_positive },
    { .kind = "limits", .value = CONFIG_TABLE, .keys = limits_keys },
};

/* Register the core statements. */
void core_config_register(void) {
    for (size_t i = 0; i < sizeof(core_schemas) / sizeof(core_schemas[0]); i++)
        config_schema_register(&core_schemas[i]);
}
