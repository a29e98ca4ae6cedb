/* skills_config.c - config statements of the skill host:
 *   plugin "name" { ... }     free-form config handed to that plugin
 *   skills { memory_mb = 64, cpu_ms = 200, message_cpu_ms = 500, deadline_ms = 120000, prefix = "!" } */
#include <stddef.h>
#include "conf/config_schema.h"
#include "skills/skills.h"

static const struct config_schema plugin_schema = {
    .kind = "plugin", .named = 1, .value = CONFIG_NONE, .keys = NULL
};

static const struct config_key skills_keys[] = {
    { "memory_mb", CONFIG_INT, 0, "memory cap of each plugin's Lua state, default 64" },
    { "instructions", CONFIG_INT, 0, "instructions a handler may run between two waits, default 20000000" },
    { "cpu_ms", CONFIG_INT, 0, "milliseconds a handler may run between two waits, default 200" },
    { "message_cpu_ms", CONFIG_INT, 0, "milliseconds of CPU one message may use across all matchers and handlers, default 500" },
    { "deadline_ms", CONFIG_INT, 0, "total time of one handler run, waits included, default 120000" },
    { "prefix", CONFIG_STRING, 0, "command prefix, default \"!\"" },
    { "watch", CONFIG_BOOL, 0, "reload a plugin when its files change (development), default false" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema skills_schema = {
    .kind = "skills", .value = CONFIG_TABLE, .keys = skills_keys
};

/* Register `plugin "name" { ... }` and `skills { ... }`. */
void skills_config_register(void) {
    config_schema_register(&plugin_schema);
    config_schema_register(&skills_schema);
}
