/* fuzz_config.c - config files (conf/config.c): the Lua config language
 * in its sandbox, with the core statements and one test statement taking
 * a key of every type. Any text must give a config or an error naming
 * FILE:LINE, within the loader's memory and instruction caps. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "core/core_config.h"
#include "fuzz_input.h"

static const struct config_key every_key[] = {
    { "s", CONFIG_STRING, 0, NULL }, { "i", CONFIG_INT, 0, NULL }, { "b", CONFIG_BOOL, 0, NULL },
    { "n", CONFIG_NUMBER, 0, NULL }, { "t", CONFIG_TABLE, 0, NULL }, { "l", CONFIG_STRINGS, 0, NULL },
    { "a", CONFIG_ANY, 0, NULL }, { "req", CONFIG_STRING, 1, NULL }, { NULL, 0, 0, NULL }
};
static const struct config_schema schemas[] = {
    { .kind = "thing", .named = 1, .value = CONFIG_NONE, .repeatable = 0, .keys = every_key },
    { .kind = "many", .named = 1, .value = CONFIG_NONE, .repeatable = 1, .keys = every_key },
    { .kind = "opts", .value = CONFIG_TABLE, .keys = every_key },
    { .kind = "num", .value = CONFIG_NUMBER, .repeatable = 1 },
    { .kind = "list", .value = CONFIG_STRINGS },
    { .kind = "flag", .value = CONFIG_BOOL },
    { .kind = "anything", .value = CONFIG_ANY, .repeatable = 1 },
};

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) {
        core_config_register();
        for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) config_schema_register(&schemas[i]);
        snprintf(path, sizeof(path), "/tmp/chorus-fuzz-config-%ld.lua", (long)getpid());
    }
    /* personas_dir walks folders: not what this target is about. */
    if (size > 1 && memmem(data, size, "personas_dir", 12)) return 0;
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(data, 1, size, f);
    fclose(f);

    struct config *cfg = NULL;
    char err[2048];
    int rc = config_load(path, &cfg, err, sizeof(err));
    if (rc == 0) {
        if (!cfg || !cfg->path || !cfg->dir) abort();
        for (struct config_block *b = cfg->blocks; b; b = b->next) {
            if (!b->kind || b->line < 0) abort();
            (void)config_str(b, "s", NULL);
            (void)config_int(b, "i", 0);
            (void)config_int(b, "n", 0);
            (void)config_int(b, "a", 0);
            (void)config_bool(b, "b", 0);
        }
        char e2[256];
        (void)config_apply_env(cfg, e2, sizeof(e2));
        config_free(cfg);
    } else {
        if (cfg || strncmp(err, path, strlen(path)) != 0) {
            fprintf(stderr, "an error without FILE:LINE: \"%s\"\n", err);
            abort();
        }
    }
    return 0;
}
