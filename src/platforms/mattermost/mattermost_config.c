/* mattermost_config.c - the `mattermost { ... }` statement: its keys and
 * checks. Kept apart from mattermost.c so the config loader needs nothing
 * of the adapter. */
#include <stdio.h>
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "platforms/mattermost/mattermost.h"
#include "platforms/mattermost/mattermost_ws.h"
#include "lib/redact.h"

/* The url must be http(s), the token set, the timings positive. */
static int validate_mattermost(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    (void)cfg;
    const char *token = config_str(b, "token", "");
    if (!*token) {
        snprintf(err, errlen, "mattermost: token is empty (set MATTERMOST_TOKEN, or token = file(\"...\"))");
        return -1;
    }
    redact_add_secret(token);
    const char *url = config_str(b, "url", "");
    int tls, port;
    char host[256], prefix[512];
    if (!*url) {
        snprintf(err, errlen, "mattermost: url is empty (set MATTERMOST_URL to the server's address, e.g. https://chat.example.com)");
        return -1;
    }
    if (mattermost_ws_parse_url(url, &tls, host, sizeof(host), &port, prefix, sizeof(prefix)) < 0) {
        snprintf(err, errlen, "mattermost: url must be http(s)://host[:port][/path], not %s", url);
        return -1;
    }
    static const char *const positive[] = { "ping_interval_ms", "reconnect_min_ms", "reconnect_max_ms", "edit_interval_ms",
                                            "max_inflight", "retry_ms", NULL };
    for (int i = 0; positive[i]; i++) {
        if (config_int(b, positive[i], 1) < 1) {
            snprintf(err, errlen, "mattermost: %s must be above 0", positive[i]);
            return -1;
        }
    }
    return 0;
}

static const struct config_key mattermost_keys[] = {
    { "url", CONFIG_STRING, 1, "the server's base URL, e.g. url = env(\"MATTERMOST_URL\")" },
    { "token", CONFIG_STRING, 1, "the bot's access token, e.g. token = env(\"MATTERMOST_TOKEN\")" },
    { "team", CONFIG_STRING, 0, "answer only in this team's channels (its name or id) and DMs; default every team" },
    { "ping_interval_ms", CONFIG_INT, 0, "websocket ping every this often; an unanswered one means a dead connection; default 30000" },
    { "reconnect_min_ms", CONFIG_INT, 0, "first reconnect backoff, default 1000" },
    { "reconnect_max_ms", CONFIG_INT, 0, "largest reconnect backoff, default 60000" },
    { "edit_interval_ms", CONFIG_INT, 0, "streamed replies: at most one edit per this long, default 1000" },
    { "max_inflight", CONFIG_INT, 0, "REST calls running at once, default 4" },
    { "retry_ms", CONFIG_INT, 0, "first backoff of a REST call after a network error or 5xx, default 500" },
    { "max_inbound_bytes", CONFIG_INT, 0, "largest websocket message accepted, default 8388608" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema mattermost_schema = {
    .kind = "mattermost", .value = CONFIG_TABLE, .instances = 1, .keys = mattermost_keys, .validate = validate_mattermost,
};

void mattermost_config_register(void) {
    config_schema_register(&mattermost_schema);
}
