/* config_schema.c - the registry of statement kinds modules accept. */
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"

#define MAX_SCHEMAS 64

static const struct config_schema *schemas[MAX_SCHEMAS];
static int nschemas;

/* Add a schema; a kind registered twice keeps the first, which makes
 * config_schema_init() safe to call more than once. */
void config_schema_register(const struct config_schema *schema) {
    if (config_schema_find(schema->kind) || nschemas == MAX_SCHEMAS) return;
    schemas[nschemas++] = schema;
}

/* Look a statement kind up by name. */
const struct config_schema *config_schema_find(const char *kind) {
    for (int i = 0; i < nschemas; i++)
        if (strcmp(schemas[i]->kind, kind) == 0) return schemas[i];
    return NULL;
}

/* The I-th registered schema, or NULL past the end. */
const struct config_schema *config_schema_at(int i) {
    return i >= 0 && i < nschemas ? schemas[i] : NULL;
}

/* The word used in error messages for a type. */
const char *config_type_name(enum config_type t) {
    switch (t) {
    case CONFIG_STRING: return "a string";
    case CONFIG_INT: return "an integer";
    case CONFIG_BOOL: return "true or false";
    case CONFIG_NUMBER: return "a number";
    case CONFIG_TABLE: return "a table";
    case CONFIG_STRINGS: return "a list of strings";
    case CONFIG_ANY: return "any value";
    case CONFIG_NONE: return "nothing";
    }
    return "?";
}

/* The persona an identity speaks as: its `persona = "name"` key. */
const char *config_identity_persona(const struct config_block *b) {
    return config_str(b, "persona", NULL);
}
