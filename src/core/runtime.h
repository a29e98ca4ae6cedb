/* runtime.h - one generation of config-derived state.
 *
 * A reload builds a new runtime and makes it current; jobs keep a reference
 * to the one they started with, so the old one is freed only when its last
 * job ends. */
#ifndef CHORUS_RUNTIME_H
#define CHORUS_RUNTIME_H
#include <stddef.h>
#include "io/store.h"

struct config;
struct persona_set;
struct model_set;
struct skill_host;

struct runtime {
    int refs;
    struct config *cfg;
    struct persona_set *personas;
    struct model_set *models;
    struct skill_host *skills;
    struct store_limits limits;
};

/* What an upper module builds for each generation (its field of struct
 * runtime) and frees with it. build returns 0, or -1 with ERR. */
struct runtime_part {
    const char *name;
    int (*build)(struct runtime *rt, char *err, size_t errlen);
    void (*free)(struct runtime *rt);
};
void runtime_add_part(const struct runtime_part *part);

/* Build a runtime from a loaded config (taking ownership of CFG), part by
 * part in the order they were added. Returns NULL with ERR on failure. */
struct runtime *runtime_new(struct config *cfg, char *err, size_t errlen);
struct runtime *runtime_acquire(struct runtime *rt);
void runtime_release(struct runtime *rt);
#endif
