/* irc_config.c - the `irc { ... }` statement: its keys and checks. */
#include <stdio.h>
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "lib/redact.h"
#include "platforms/irc/irc.h"

/* The url must be irc:// or ircs://, the nick set, sasl a table with
 * user and password, timings positive. */
static int validate_irc(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    (void)cfg;
    const char *url = config_str(b, "url", "");
    if (strncmp(url, "irc://", 6) && strncmp(url, "ircs://", 7)) {
        snprintf(err, errlen, "irc: url must start with irc:// or ircs:// (set IRC_URL)");
        return -1;
    }
    const char *nick = config_str(b, "nick", "");
    if (!*nick || strpbrk(nick, " ,*?!@:#\r\n")) {
        snprintf(err, errlen, "irc: nick must be a plain IRC nickname");
        return -1;
    }
    json_t *ch = json_object_get(b->value, "channels");
    if (ch && !json_is_string(ch) && !json_is_array(ch)) {
        snprintf(err, errlen, "irc: channels must be a list such as {\"#lobby\", \"#secret key\"} or \"#a,#b\"");
        return -1;
    }
    json_t *sasl = json_object_get(b->value, "sasl");
    if (sasl) {
        const char *u = json_string_value(json_object_get(sasl, "user"));
        const char *p = json_string_value(json_object_get(sasl, "password"));
        if (!json_is_object(sasl) || !u || !p) {
            snprintf(err, errlen, "irc: sasl must be { user = \"...\", password = env(\"IRC_SASL_PASSWORD\") }");
            return -1;
        }
        redact_add_secret(p);
    }
    redact_add_secret(config_str(b, "password", NULL));
    const char *messages = config_str(b, "messages", "all");
    if (strcmp(messages, "all") && strcmp(messages, "addressed")) {
        snprintf(err, errlen, "irc: messages must be \"all\" or \"addressed\"");
        return -1;
    }
    static const char *positive[] = { "burst", "line_interval_ms", "reconnect_min_ms", "reconnect_max_ms",
                                      "rejoin_min_ms", "rejoin_max_ms", NULL };
    for (int i = 0; positive[i]; i++) {
        json_t *v = json_object_get(b->value, positive[i]);
        if (v && json_number_value(v) <= 0) {
            snprintf(err, errlen, "irc: %s must be above 0", positive[i]);
            return -1;
        }
    }
    return 0;
}

static const struct config_key irc_keys[] = {
    { "url", CONFIG_STRING, 1, "the server, irc://host:6667 or ircs://host:6697, e.g. url = env(\"IRC_URL\")" },
    { "nick", CONFIG_STRING, 1, "the bot's nickname" },
    { "user", CONFIG_STRING, 0, "the user name (ident), default the nick" },
    { "realname", CONFIG_STRING, 0, "the real name, default \"Chorus\"" },
    { "password", CONFIG_STRING, 0, "the server password (PASS), if the server needs one" },
    { "channels", CONFIG_ANY, 0, "channels to join: {\"#lobby\", \"#secret key\"} or \"#a,#b\"" },
    { "sasl", CONFIG_TABLE, 0, "SASL PLAIN: { user = \"...\", password = env(\"IRC_SASL_PASSWORD\") }" },
    { "ca_file", CONFIG_STRING, 0, "ircs: trust this CA file (PEM) besides the system's" },
    { "messages", CONFIG_STRING, 0, "\"all\" (default) or \"addressed\" (only queries and \"nick: text\")" },
    { "echo_message", CONFIG_BOOL, 0, "request echo-message where offered, default true" },
    { "burst", CONFIG_INT, 0, "lines that may go at once, default 5" },
    { "line_interval_ms", CONFIG_INT, 0, "sustained pace: one line per this many ms, default 2000" },
    { "reconnect_min_ms", CONFIG_INT, 0, "first reconnect wait, default 2000 (doubles each try)" },
    { "reconnect_max_ms", CONFIG_INT, 0, "longest reconnect wait, default 300000" },
    { "rejoin_min_ms", CONFIG_INT, 0, "first wait before rejoining after a KICK, default 5000 (doubles)" },
    { "rejoin_max_ms", CONFIG_INT, 0, "longest rejoin wait, default 300000" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema irc_schema = {
    .kind = "irc", .value = CONFIG_TABLE, .instances = 1, .keys = irc_keys, .validate = validate_irc,
};

void irc_config_register(void) {
    config_schema_register(&irc_schema);
}
