/* plugin.c - create a plugin's lua_State, read its manifest, load it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>
#include "skills/dispatch.h"
#include "lib/log.h"
#include "lib/lpattern.h"
#include "skills/lua/lua_api.h"
#include "lib/lua_json.h"
#include "skills/plugin.h"
#include "skills/sandbox.h"
#include "core/server.h"
#include "skills/task.h"
#include "lib/xalloc.h"

#define LOAD_SLICES 10   /* wall-clock slices a plugin gets to load */
#define LOAD_WALL_MS 2000   /* and at least this much wall clock */

/* The allocator caps the plugin's memory; frees always succeed. */
static void *plugin_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    struct plugin *p = ud;
    if (!ptr) osize = 0;
    if (nsize == 0) {
        p->mem -= osize;
        free(ptr);
        return NULL;
    }
    if (nsize > osize && p->mem + (nsize - osize) > p->mem_limit) return NULL;
    void *q = realloc(ptr, nsize);
    if (q) p->mem = p->mem - osize + nsize;
    return q;
}

struct plugin *plugin_of(lua_State *L) {
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

struct plugin *plugin_acquire(struct plugin *p) {
    p->refs++;
    return p;
}

void plugin_release(struct plugin *p) {
    if (!p || --p->refs > 0) return;
    if (p->L) {
        task_budget_begin(p);
        lua_gc(p->L, LUA_GCCOLLECT, 0);
        lua_close(p->L);
    }
    while (p->pending) {
        struct handler *hd = p->pending;
        p->pending = hd->next;
        handler_free(hd);
    }
    for (char **h = p->http_hosts; h && *h; h++) free(*h);
    free(p->http_hosts);
    json_decref(p->config);
    free(p->name);
    free(p->dir);
    free(p->version);
    free(p->description);
    free(p);
}

int plugin_http_allowed(const struct plugin *p, const char *host) {
    for (char **h = p->http_hosts; h && *h; h++)
        if (!strcmp(*h, "*") || !strcasecmp(*h, host)) return 1;
    return 0;
}

/* A string field of the manifest table at the top of the stack. */
static int manifest_string(lua_State *L, const char *key, char **out, char *err, size_t errlen) {
    int t = lua_getfield(L, -1, key);
    if (t == LUA_TSTRING) *out = xstrdup(lua_tostring(L, -1));
    else if (t != LUA_TNIL) {
        snprintf(err, errlen, "manifest: '%s' must be a string", key);
        lua_pop(L, 1);
        return -1;
    }
    lua_pop(L, 1);
    return 0;
}

/* Read the permissions table: http hosts, model, state. */
static int manifest_permissions(struct plugin *p, char *err, size_t errlen) {
    lua_State *L = p->L;
    int t = lua_getfield(L, -1, "permissions");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != LUA_TTABLE) {
        snprintf(err, errlen, "manifest: 'permissions' must be a table");
        lua_pop(L, 1);
        return -1;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        if (!strcmp(key, "model") && lua_isboolean(L, -1)) p->allow_model = lua_toboolean(L, -1);
        else if (!strcmp(key, "state") && lua_isboolean(L, -1)) p->allow_state = lua_toboolean(L, -1);
        else if (!strcmp(key, "http") && lua_istable(L, -1)) {
            lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
            p->http_hosts = xcalloc((size_t)n + 1, sizeof(char *));
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                if (lua_type(L, -1) == LUA_TSTRING) p->http_hosts[i - 1] = xstrdup(lua_tostring(L, -1));
                lua_pop(L, 1);
            }
        } else {
            snprintf(err, errlen, "manifest: unknown or mistyped permission '%s' (known: http = {hosts}, model = bool, state = bool)", key);
            lua_pop(L, 3);
            return -1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

/* DIR/manifest.lua returns { name, version, description, permissions }. */
static int read_manifest(struct plugin *p, char *err, size_t errlen) {
    lua_State *L = p->L;
    char path[4096];
    snprintf(path, sizeof(path), "%s/manifest.lua", p->dir);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;   /* no manifest: no permissions */
    fclose(f);
    task_budget_begin(p);
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_newtable(L);                 /* an empty environment: data only */
    lua_setupvalue(L, -2, 1);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        if (lua_isstring(L, -1)) snprintf(err, errlen, "%s", lua_tostring(L, -1));
        else snprintf(err, errlen, "manifest.lua must return a table");
        lua_pop(L, 1);
        return -1;
    }
    char *name = NULL;
    int rc = manifest_string(L, "name", &name, err, errlen);
    if (rc == 0) rc = manifest_string(L, "version", &p->version, err, errlen);
    if (rc == 0) rc = manifest_string(L, "description", &p->description, err, errlen);
    if (rc == 0 && name && strcmp(name, p->name) != 0) {
        snprintf(err, errlen, "manifest: name \"%s\" does not match the folder \"%s\"", name, p->name);
        rc = -1;
    }
    free(name);
    if (rc == 0) rc = manifest_permissions(p, err, errlen);
    lua_pop(L, 1);
    return rc;
}

/* An operator widens the allow-list from the config without editing the
 * plugin: plugin "weather" { http = { "api.example.com" } } adds hosts to
 * the manifest's permissions.http. */
static int config_http_hosts(struct plugin *p, char *err, size_t errlen) {
    json_t *list = json_object_get(p->config, "http");
    if (!list) return 0;
    if (json_is_string(list) || !json_is_array(list)) {
        snprintf(err, errlen, "config: plugin \"%s\" { http = ... } must be a list of hosts, like { \"api.example.com\" }", p->name);
        return -1;
    }
    size_t have = 0, i;
    for (char **h = p->http_hosts; h && *h; h++) have++;
    p->http_hosts = xrealloc(p->http_hosts, (have + json_array_size(list) + 1) * sizeof(char *));
    json_t *v;
    json_array_foreach(list, i, v) {
        if (!json_is_string(v) || !json_string_value(v)[0]) {
            p->http_hosts[have] = NULL;
            snprintf(err, errlen, "config: plugin \"%s\" { http = ... }: host %zu is not a host name", p->name, i + 1);
            return -1;
        }
        p->http_hosts[have++] = xstrdup(json_string_value(v));
    }
    p->http_hosts[have] = NULL;
    return 0;
}

/* Load the runtime library, which builds the sandbox and runs init.lua. */
static int run_runtime(struct plugin *p, char *err, size_t errlen) {
    lua_State *L = p->L;
    char path[4096];
    snprintf(path, sizeof(path), "%s/lua/chorus/runtime.lua", server.data_dir);
    task_budget_begin(p);
    /* Loading compiles the runtime library and the plugin: the instruction
     * budget still stops a loop at once, but the clock gets ten slices, so
     * a slow build (a sanitizer's) does not refuse a good plugin. */
    p->budget.limit_ms = p->slice_ms * LOAD_SLICES;
    if (p->budget.limit_ms < LOAD_WALL_MS) p->budget.limit_ms = LOAD_WALL_MS;
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        snprintf(err, errlen, "cannot load the Lua runtime library: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_api_push_core(L);
    lua_pushstring(L, p->name);
    lua_pushstring(L, p->dir);
    lua_json_push(L, p->config);
    lua_pushlightuserdata(L, task_yield_marker());
    if (lua_pcall(L, 5, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        snprintf(err, errlen, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "the runtime library returned no module");
        lua_pop(L, 1);
        return -1;
    }
    lua_getfield(L, -1, "invoke");
    if (!lua_isfunction(L, -1)) {
        snprintf(err, errlen, "the runtime library has no invoke function");
        lua_pop(L, 2);
        return -1;
    }
    p->invoke_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    p->runtime_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

struct plugin *plugin_load(struct skill_host *h, const char *name, const char *dir,
                           json_t *config, const struct plugin_limits *lim, char *err, size_t errlen) {
    struct plugin *p = xcalloc(1, sizeof(*p));
    p->refs = 1;
    p->host = h;
    p->name = xstrdup(name);
    /* A canonical folder, so the read_file check compares real paths. */
    char real[PATH_MAX];
    p->dir = xstrdup(realpath(dir, real) ? real : dir);
    p->config = config ? json_incref(config) : json_object();
    p->mem_limit = (size_t)lim->memory_mb << 20;
    p->slice_insns = lim->slice_insns;
    p->slice_ms = lim->slice_ms;
    p->deadline_ms = lim->deadline_ms;
    p->message_ms = lim->message_ms;
    p->runtime_ref = LUA_NOREF;
    p->invoke_ref = LUA_NOREF;
    p->L = lua_newstate(plugin_alloc, p);
    if (!p->L) {
        snprintf(err, errlen, "out of memory");
        plugin_release(p);
        return NULL;
    }
    task_install_hook(p->L);
    task_budget_begin(p);
    luaL_openlibs(p->L);
    /* Budgeted pattern matching in the string library (and so in methods). */
    lua_getglobal(p->L, "string");
    lpattern_install(p->L, -1, 10000000L, (size_t)16 << 20);
    lua_pop(p->L, 1);
    /* No library C call may run unbounded; string.dump goes. */
    sandbox_install(p->L);
    /* The string metatable must not be reachable from the sandbox. */
    lua_pushliteral(p->L, "");
    lua_getmetatable(p->L, -1);
    lua_pushboolean(p->L, 0);
    lua_setfield(p->L, -2, "__metatable");
    lua_pop(p->L, 2);
    char inner[1024];
    if (read_manifest(p, inner, sizeof(inner)) < 0 || config_http_hosts(p, inner, sizeof(inner)) < 0 ||
        run_runtime(p, inner, sizeof(inner)) < 0) {
        snprintf(err, errlen, "plugin %s failed to load: %s", name, inner);
        plugin_release(p);
        return NULL;
    }
    /* What compiling the runtime and the plugin left behind goes now, while
     * the next plugin loads, not at some later step of the collector. */
    lua_gc(p->L, LUA_GCCOLLECT, 0);
    return p;
}
