/* onebot_config.c - the `onebot { ... }` statement: its keys and checks.
 * Apart from onebot.c so the config loader needs nothing of the adapter. */
#include <stdio.h>
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "lib/redact.h"
#include "platforms/onebot/onebot.h"

/* Exactly one of url (ws:// or wss://) and listen (a path, on a listener
 * that is on); enums and numbers sane. */
static int validate_onebot(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    const char *url = config_str(b, "url", "");
    const char *listen = config_str(b, "listen", "");
    const char *token = config_str(b, "access_token", "");
    if (*token) redact_add_secret(token);
    if (!*url && !*listen) {
        snprintf(err, errlen, "onebot: set url (forward websocket, e.g. url = env(\"ONEBOT_URL\")) or listen (reverse, e.g. listen = \"/onebot/v11/ws\")");
        return -1;
    }
    if (*url && *listen) {
        snprintf(err, errlen, "onebot: url (forward) and listen (reverse) cannot both be set");
        return -1;
    }
    if (*url && strncmp(url, "ws://", 5) && strncmp(url, "wss://", 6)) {
        snprintf(err, errlen, "onebot: url must start with ws:// or wss://");
        return -1;
    }
    if (*listen && listen[0] != '/') {
        snprintf(err, errlen, "onebot: listen is a path on chorusd's listener, e.g. \"/onebot/v11/ws\"");
        return -1;
    }
    for (struct config_block *o = config_first(cfg, "onebot"); *listen && o && o != b; o = config_next(o, "onebot")) {
        if (!strcmp(config_str(o, "listen", ""), listen)) {
            snprintf(err, errlen, "onebot: listen \"%s\" is already the onebot statement's at line %d; "
                     "give each bot account its own path", listen, o->line);
            return -1;
        }
    }
    if (*listen && cfg->listen_port < 0) {
        snprintf(err, errlen, "onebot: listen (reverse websocket) needs chorusd's listener, but it is off (listen \"off\"); use url (forward) or turn the listener on");
        return -1;
    }
    const char *self = config_str(b, "self_id", "");
    if (*self && strspn(self, "0123456789") != strlen(self)) {
        snprintf(err, errlen, "onebot: self_id must be the bot's QQ number");
        return -1;
    }
    const char *messages = config_str(b, "messages", "all");
    if (strcmp(messages, "all") && strcmp(messages, "addressed")) {
        snprintf(err, errlen, "onebot: messages must be \"all\" or \"addressed\"");
        return -1;
    }
    const char *format = config_str(b, "send_format", "array");
    if (strcmp(format, "array") && strcmp(format, "string")) {
        snprintf(err, errlen, "onebot: send_format must be \"array\" or \"string\"");
        return -1;
    }
    const char *action = config_str(b, "send_action", "auto");
    if (strcmp(action, "auto") && strcmp(action, "send_msg")) {
        snprintf(err, errlen, "onebot: send_action must be \"auto\" (send_group_msg / send_private_msg) or \"send_msg\"");
        return -1;
    }
    const char *ints[] = { "call_timeout_ms", "reconnect_min_ms", "reconnect_max_ms", "max_inbound_bytes" };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (config_int(b, ints[i], 1) <= 0) {
            snprintf(err, errlen, "onebot: %s must be above 0", ints[i]);
            return -1;
        }
    }
    json_t *misses = b->value ? json_object_get(b->value, "heartbeat_misses") : NULL;
    if (misses && json_number_value(misses) < 0) {
        snprintf(err, errlen, "onebot: heartbeat_misses must be 0 (off) or more");
        return -1;
    }
    return 0;
}

static const struct config_key onebot_keys[] = {
    { "url", CONFIG_STRING, 0, "forward websocket of the OneBot implementation, e.g. url = env(\"ONEBOT_URL\") (ws://127.0.0.1:3001); a path of exactly /api or /event (the spec's split pair) dials both; any other path is dialed as given" },
    { "listen", CONFIG_STRING, 0, "reverse websocket: the path on chorusd's listener the implementation dials, e.g. \"/onebot/v11/ws\" (separate API and Event URLs: <path>/api and <path>/event)" },
    { "access_token", CONFIG_STRING, 0, "the implementation's access token, e.g. access_token = env(\"ONEBOT_ACCESS_TOKEN\")" },
    { "self_id", CONFIG_STRING, 0, "reverse: accept only this bot QQ number (X-Self-ID)" },
    { "messages", CONFIG_STRING, 0, "\"all\" (default: hear handlers see every group message) or \"addressed\" (private messages, @bot and replies to the bot)" },
    { "send_format", CONFIG_STRING, 0, "\"array\" (default: message segments) or \"string\" (CQ codes)" },
    { "send_action", CONFIG_STRING, 0, "\"auto\" (default: send_group_msg / send_private_msg) or \"send_msg\"" },
    { "call_timeout_ms", CONFIG_INT, 0, "an API call unanswered this long fails, default 10000" },
    { "reconnect_min_ms", CONFIG_INT, 0, "forward: first reconnect delay, doubling, default 1000" },
    { "reconnect_max_ms", CONFIG_INT, 0, "forward: longest reconnect delay, default 30000" },
    { "heartbeat_misses", CONFIG_NUMBER, 0, "heartbeat intervals of silence before the connection counts as dead, default 3 (0: never)" },
    { "max_inbound_bytes", CONFIG_INT, 0, "largest websocket message accepted, default 4194304" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema onebot_schema = {
    .kind = "onebot", .value = CONFIG_TABLE, .instances = 1, .keys = onebot_keys, .validate = validate_onebot,
};

void onebot_config_register(void) {
    config_schema_register(&onebot_schema);
}
