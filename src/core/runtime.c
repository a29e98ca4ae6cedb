/* runtime.c - build and release config generations.
 *
 * The core knows no model, persona or skill: each upper module registers a
 * part (app/modules.c), and a generation is built part by part in that
 * order and freed in the reverse order. */
#include <stdio.h>
#include <stdlib.h>
#include "conf/config.h"
#include "core/runtime.h"
#include "lib/redact.h"
#include "lib/xalloc.h"

#define MAX_PARTS 16

static const struct runtime_part *parts[MAX_PARTS];
static int nparts;

/* Add a part to every generation built from now on; a part added twice
 * counts once. */
void runtime_add_part(const struct runtime_part *part) {
    for (int i = 0; i < nparts; i++)
        if (parts[i] == part) return;
    if (nparts < MAX_PARTS) parts[nparts++] = part;
}

/* Free the parts built so far (the first N), last first. */
static void free_parts(struct runtime *rt, int n) {
    for (int i = n - 1; i >= 0; i--)
        if (parts[i]->free) parts[i]->free(rt);
}

struct runtime *runtime_new(struct config *cfg, char *err, size_t errlen) {
    struct runtime *rt = xcalloc(1, sizeof(*rt));
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        config_free(cfg);
        return NULL;
    }
    rt->refs = 1;
    rt->cfg = cfg;
    struct config_block *tb = config_first(cfg, "admin_token");
    if (tb && json_is_string(tb->value)) redact_add_secret(json_string_value(tb->value));
    rt->limits.history_turns = cfg->redis_opts ? (long)json_integer_value(json_object_get(cfg->redis_opts, "history_turns")) : 0;
    rt->limits.ttl_s = cfg->redis_opts ? (long)json_integer_value(json_object_get(cfg->redis_opts, "history_ttl_s")) : 0;
    if (rt->limits.history_turns <= 0) rt->limits.history_turns = 40;
    if (rt->limits.ttl_s <= 0) rt->limits.ttl_s = 2592000;
    for (int i = 0; i < nparts; i++) {
        if (parts[i]->build(rt, err, errlen) == 0) continue;
        free_parts(rt, i);
        config_free(rt->cfg);
        free(rt);
        return NULL;
    }
    return rt;
}

struct runtime *runtime_acquire(struct runtime *rt) {
    rt->refs++;
    return rt;
}

void runtime_release(struct runtime *rt) {
    if (!rt || --rt->refs > 0) return;
    free_parts(rt, nparts);
    config_free(rt->cfg);
    free(rt);
}
