/* operator_config.c - the config statements of operators: admin_prefix,
 * owners and the ledger. Apart from operator.c and ledger.c so checking a
 * config needs nothing of the running daemon. */
#include <stddef.h>
#include "config_schema.h"
#include "ledger.h"
#include "operator.h"

static const struct config_key ledger_keys[] = {
    { "share", CONFIG_NUMBER, 0, "revenue share applied to value, e.g. 0.15" },
    { "currency", CONFIG_STRING, 0, "currency of the report, default USD" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema schemas[] = {
    { .kind = "admin_prefix", .value = CONFIG_STRING },
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
