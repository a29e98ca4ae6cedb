/* operator_config.c - the config statements of operators: admin_prefix,
 * owners and the ledger. Apart from operator.c and ledger.c so checking a
 * config needs nothing of the running daemon. */
#include <stddef.h>
#include "conf/config_schema.h"
#include "persona/ledger.h"
#include "ops/operator.h"

static const struct config_key ledger_keys[] = {
    { "share", CONFIG_NUMBER, 0, "revenue share applied to value, e.g. 0.15" },
    { "currency", CONFIG_STRING, 0, "currency of the report, default USD" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_key flood_keys[] = {
    { "user_burst", CONFIG_INT, 0, "messages a user may send at once (0 = no limit)" },
    { "user_per_s", CONFIG_INT, 0, "seconds to refill a user's burst" },
    { "channel_burst", CONFIG_INT, 0, "messages a channel may carry at once (0 = no limit)" },
    { "channel_per_s", CONFIG_INT, 0, "seconds to refill a channel's burst" },
    { "message", CONFIG_STRING, 0, "the one polite reply when a limit is hit" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema schemas[] = {
    { .kind = "flood", .value = CONFIG_TABLE, .keys = flood_keys },
    { .kind = "admin_prefix", .value = CONFIG_STRING },
    { .kind = "admin_token", .value = CONFIG_STRING },
    { .kind = "owners", .value = CONFIG_STRINGS },
    { .kind = "ledger", .value = CONFIG_TABLE, .keys = ledger_keys },
};

/* Register `admin_prefix "!chorus"`, `owners { "discord:123" }` and `ledger { share = 0.15 }`. */
void operator_config_register(void) {
    for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) config_schema_register(&schemas[i]);
}

/* The ledger's statement is registered with the operators'. */
void ledger_config_register(void) {
    operator_config_register();
}
