/* skills_config.c - config statements of the skill host:
 *   plugin "name" { ... }     free-form config handed to that plugin
 *   skills { memory_mb = 256, instructions = 50000000, cpu_ms = 2000 } */
#include <stddef.h>
#include "config_schema.h"
#include "skills.h"

static const struct config_schema plugin_schema = {
    .kind = "plugin", .named = 1, .value = CONFIG_NONE, .keys = NULL
};

static const struct config_key skills_keys[] = {
    { "memory_mb", CONFIG_INT, 0, "memory cap of the skill state, default 256" },
    { "instructions", CONFIG_INT, 0, "instruction budget per resume, default 50000000" },
    { "cpu_ms", CONFIG_INT, 0, "wall-clock budget per resume, default 2000" },
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
