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

/* Build a runtime from a loaded config (taking ownership of CFG). */
struct runtime *runtime_new(struct config *cfg, char *err, size_t errlen);
struct runtime *runtime_acquire(struct runtime *rt);
void runtime_release(struct runtime *rt);
#endif
