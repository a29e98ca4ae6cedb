/* config_schema.h - modules declare the config statements and keys they accept.
 *
 * A module registers one schema per statement kind. The config loader checks
 * every statement against its schema, so a wrong type, a missing required key
 * or an unknown key is reported at the statement's line, and a module never
 * sees a config it did not declare. */
#ifndef CHORUS_CONFIG_SCHEMA_H
#define CHORUS_CONFIG_SCHEMA_H

#include <stddef.h>

struct config;
struct config_block;

enum config_type {
    CONFIG_STRING,
    CONFIG_INT,
    CONFIG_BOOL,
    CONFIG_NUMBER,
    CONFIG_TABLE,      /* a nested table, passed through as JSON */
    CONFIG_STRINGS,    /* a list of strings */
    CONFIG_ANY,        /* any value; the schema's validate() checks it */
    CONFIG_NONE        /* the statement takes no value of this form */
};

struct config_key {
    const char *name;
    enum config_type type;
    int required;
    const char *help;
};

/* The shape of one statement kind:
 *   kind "name" { keys }      when named = 1 and keys != NULL
 *   kind (value)              when value != CONFIG_NONE
 * A statement may be both: `redis "url" { prefix = ... }`. */
struct config_schema {
    const char *kind;
    int named;                     /* takes a name string first */
    int name_optional;             /* named, but `kind { keys }` alone is fine too (only once) */
    enum config_type value;        /* type of a bare value argument */
    int repeatable;                /* may appear more than once */
    const struct config_key *keys; /* options table keys, ended by {NULL} */
    /* Optional cross-check after the whole file is read; returns -1 and fills
     * err (without FILE:LINE, which the loader adds) on a problem. */
    int (*validate)(const struct config *cfg, const struct config_block *b,
                    char *err, size_t errlen);
};

/* Register a schema. Modules call this from their *_config_register(),
 * which the module table (app/modules.c) calls once at start. */
void config_schema_register(const struct config_schema *schema);
const struct config_schema *config_schema_find(const char *kind);
const struct config_schema *config_schema_at(int i);
const char *config_type_name(enum config_type t);

#endif
