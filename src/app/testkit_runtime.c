/* testkit_runtime.c - a fresh config generation for each test: the plugins
 * under test (linked into the kit's temp data dir, which holds nothing
 * else, so no shipped plugin joins in uninvited) and their config. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>
#include "conf/config.h"
#include "lib/lua_json.h"
#include "core/runtime.h"
#include "core/server.h"
#include "app/testkit.h"
#include "lib/xalloc.h"

/* Empty the temp plugins folder: the next test links its own set. */
void kit_clear_plugins(void) {
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/plugins", kit.tmp);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096 + 256];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* Link every {name=, dir=} of the table at SET into the temp plugins dir. */
static int link_plugins(lua_State *L, int set, char *err, size_t errlen) {
    kit_clear_plugins();
    lua_Integer n = (lua_Integer)lua_rawlen(L, set);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, set, i);
        lua_getfield(L, -1, "name");
        lua_getfield(L, -2, "dir");
        const char *name = lua_tostring(L, -2), *dir = lua_tostring(L, -1);
        char link[4096];
        snprintf(link, sizeof(link), "%s/plugins/%s", kit.tmp, name ? name : "?");
        if (!name || !dir || symlink(dir, link) < 0) {
            snprintf(err, errlen, "cannot use plugin folder %s: %s", dir ? dir : "?", strerror(errno));
            lua_pop(L, 3);
            return -1;
        }
        lua_pop(L, 3);
    }
    return 0;
}

/* Set `plugin "NAME" { ... }` of CFG to V (taken over). */
static void set_plugin_config(struct config *cfg, const char *name, json_t *v) {
    struct config_block *b = config_find(cfg, "plugin", name);
    if (b) {
        json_decref(b->value);
        b->value = v;
        return;
    }
    b = xcalloc(1, sizeof(*b));
    b->kind = xstrdup("plugin");
    b->name = xstrdup(name);
    b->value = v;
    config_append(cfg, b);
}

/* Apply the {name = table} of CONFIGS over CFG's plugin blocks. */
static int apply_configs(lua_State *L, int configs, struct config *cfg, char *err, size_t errlen) {
    if (!lua_istable(L, configs)) return 0;
    lua_pushnil(L);
    while (lua_next(L, configs)) {
        json_t *v = lua_type(L, -2) == LUA_TSTRING ? lua_json_from(L, -1) : NULL;
        if (!json_is_object(v)) {
            json_decref(v);
            snprintf(err, errlen, "config(): a plugin's config must be a table with string keys");
            lua_pop(L, 2);
            return -1;
        }
        set_plugin_config(cfg, lua_tostring(L, -2), v);
        lua_pop(L, 1);
    }
    return 0;
}

/* Fresh plugin states and config for each test, swapped in as a reload would. */
int kit_build_runtime(lua_State *L, int set, int configs, char *err, size_t errlen) {
    struct config *cfg;
    if (link_plugins(L, set, err, errlen) < 0) return -1;
    if (config_load(kit.config_file, &cfg, err, errlen) < 0) return -1;
    /* Only the plugins under test: folders named in the config stay out. */
    for (char **p = cfg->plugin_dirs; p && *p; p++) free(*p);
    free(cfg->plugin_dirs);
    cfg->plugin_dirs = NULL;
    free(cfg->redis_url);
    cfg->redis_url = xstrdup(kit.redis_url);
    if (apply_configs(L, configs, cfg, err, errlen) < 0) {
        config_free(cfg);
        return -1;
    }
    struct runtime *rt = runtime_new(cfg, err, errlen);
    if (!rt) return -1;
    struct runtime *old = server.rt;
    server.rt = rt;
    runtime_release(old);
    return 0;
}
