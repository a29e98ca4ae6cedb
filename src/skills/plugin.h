/* plugin.h - one skill plugin: its own lua_State, manifest and limits.
 *
 * Each plugin is its own trust domain: a separate lua_State with a memory
 * cap (its allocator), a CPU budget (the task hook), its own environment
 * built by the runtime library, and the permissions its manifest asks for.
 * A plugin is refcounted: a reload replaces it in the dispatch table while
 * tasks already running on the old state finish there. */
#ifndef CHORUS_PLUGIN_H
#define CHORUS_PLUGIN_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <lua.h>

struct skill_host;
struct task;
struct handler;

struct plugin_budget {
    long insns;             /* instructions counted in this stretch */
    uint64_t start;         /* uv_hrtime() at its start */
    long limit_ms;          /* CPU limit of this stretch */
    uint64_t recheck;       /* uv_hrtime() before which the limit cannot be reached */
    int have_cpu;           /* cpu_base was read */
    uint64_t cpu_base;      /* the thread's CPU clock when it was read */
    uint64_t cpu_base_wall; /* wall time of the stretch at that moment */
    int tripped;
};

struct plugin {
    int refs;
    char *name;
    char *dir;
    char *version;
    char *description;
    lua_State *L;
    size_t mem, mem_limit;
    long slice_insns;       /* instruction budget between two yields */
    long slice_ms;          /* wall-clock budget between two yields */
    long deadline_ms;       /* total budget of one handler run, waits included */
    long message_ms;        /* CPU one message may use across matchers and handlers */
    int allow_model;
    int allow_state;
    char **http_hosts;      /* NULL-terminated; "*" allows any host */
    json_t *config;         /* plugin "name" { ... } from the config, or {} */
    int runtime_ref;        /* the runtime library's module table */
    int invoke_ref;         /* its invoke(fn, kind, message, prefix) */
    struct plugin_budget budget;
    struct task *running;   /* the task being resumed, or NULL */
    struct task *tasks;     /* live tasks of this plugin */
    int ntasks;
    struct skill_host *host;
    struct handler *pending;   /* registered while loading, not yet dispatched */
    int retired;            /* replaced by a reload: no new tasks */
};

struct plugin_limits {
    long memory_mb;
    long slice_insns;
    long slice_ms;
    long deadline_ms;
    long message_ms;
};

/* Load DIR/init.lua as plugin NAME (after DIR/manifest.lua, if present).
 * Returns NULL with err on any failure; nothing is registered then. */
struct plugin *plugin_load(struct skill_host *h, const char *name, const char *dir,
                           json_t *config, const struct plugin_limits *lim, char *err, size_t errlen);
struct plugin *plugin_acquire(struct plugin *p);
void plugin_release(struct plugin *p);
/* Does the manifest allow an HTTP request to HOST? */
int plugin_http_allowed(const struct plugin *p, const char *host);
/* The plugin owning lua_State L (any of its threads). */
struct plugin *plugin_of(lua_State *L);
#endif
