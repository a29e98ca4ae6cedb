/* config.c - evaluate the Lua config language in a sandbox and validate it.
 *
 * Each statement kind registered in config_schema.c becomes a global function
 * of the sandbox. Calling it records a config_block with the caller's line,
 * so that every error can name FILE:LINE. Nothing in the file can reach the
 * host: no io, os, require or load, a memory cap and an instruction budget. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "conf/config.h"
#include "lib/dict.h"
#include "conf/config_schema.h"
#include "lib/lua_json.h"
#include "lib/xalloc.h"

#define CONFIG_MEM_LIMIT (32u << 20)
#define CONFIG_INSN_LIMIT 50000000L

struct loader {
    struct config *cfg;
    const char *display;     /* the path as the user gave it */
    char *err;
    size_t errlen;
    size_t used;
    int nerrors;
    size_t mem;
    long insns;
    struct config_block **tail;
};

/* Append one "FILE:LINE: sentence" error; keep going so the user sees all. */
static void add_error(struct loader *ld, int line, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ld->used < ld->errlen) {
        int n = snprintf(ld->err + ld->used, ld->errlen - ld->used, "%s%s:%d: %s",
                         ld->nerrors ? "\n" : "", ld->display, line, msg);
        if (n > 0) ld->used += (size_t)n;
        if (ld->used > ld->errlen) ld->used = ld->errlen;
    }
    ld->nerrors++;
}

/* The allocator caps the config state's memory, so a runaway file fails. */
static void *config_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    struct loader *ld = ud;
    if (ptr == NULL) osize = 0;
    if (nsize == 0) {
        ld->mem -= osize;
        free(ptr);
        return NULL;
    }
    if (nsize > osize && ld->mem + (nsize - osize) > CONFIG_MEM_LIMIT) return NULL;
    void *p = realloc(ptr, nsize);
    if (p) ld->mem = ld->mem - osize + nsize;
    return p;
}

/* An instruction budget: a config with an endless loop is an error. */
static void config_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    struct loader *ld;
    lua_getallocf(L, (void **)&ld);
    ld->insns += 10000;
    if (ld->insns <= CONFIG_INSN_LIMIT) return;
    /* In a hook, level 0 is the Lua code that was running: name its line. */
    lua_Debug where;
    if (lua_getstack(L, 0, &where) && lua_getinfo(L, "Sl", &where) && where.currentline > 0)
        lua_pushfstring(L, "%s:%d: the config file runs too long (an endless loop?)", where.short_src, where.currentline);
    else
        lua_pushstring(L, "the config file runs too long (an endless loop?)");
    lua_error(L);
}

static struct loader *get_loader(lua_State *L) {
    struct loader *ld;
    lua_getallocf(L, (void **)&ld);
    return ld;
}

/* Line of the statement being executed in the config chunk. */
static int caller_line(lua_State *L) {
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0) return ar.currentline;
    }
    return 0;
}

/* Does the Lua value at idx have the declared type? */
static int value_has_type(lua_State *L, int idx, enum config_type t) {
    switch (t) {
    case CONFIG_STRING: return lua_type(L, idx) == LUA_TSTRING;
    case CONFIG_INT:
        if (lua_type(L, idx) == LUA_TNUMBER) {
            /* A float counts when it is a whole number in range (3.0, not
             * 1e300 or nan, whose cast to an integer is undefined). */
            int whole = 0;
            lua_tointegerx(L, idx, &whole);
            return whole;
        }
        return 0;
    case CONFIG_NUMBER: return lua_type(L, idx) == LUA_TNUMBER;
    case CONFIG_BOOL: return lua_type(L, idx) == LUA_TBOOLEAN;
    case CONFIG_TABLE: return lua_type(L, idx) == LUA_TTABLE;
    case CONFIG_STRINGS: {
        if (lua_type(L, idx) == LUA_TSTRING) return 1;
        if (lua_type(L, idx) != LUA_TTABLE) return 0;
        int ok = 1;
        for (lua_Integer i = 1; ok; i++) {
            int ty = lua_rawgeti(L, idx, i);
            lua_pop(L, 1);
            if (ty == LUA_TNIL) break;
            if (ty != LUA_TSTRING) ok = 0;
        }
        return ok;
    }
    case CONFIG_ANY: return 1;
    case CONFIG_NONE: return 0;
    }
    return 0;
}

/* Name the Lua type of a wrong value, for messages like "got a number". */
static const char *lua_type_word(lua_State *L, int idx) {
    if (lua_isinteger(L, idx)) return "an integer";
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return "nothing";
    case LUA_TSTRING: return "a string";
    case LUA_TNUMBER: return "a number";
    case LUA_TBOOLEAN: return "a boolean";
    case LUA_TTABLE: return "a table";
    case LUA_TFUNCTION: return "a function";
    default: return lua_typename(L, lua_type(L, idx));
    }
}

/* Short description of a block for messages: `persona "aiko"` or `listen`. */
static void block_label(const struct config_block *b, char *buf, size_t len) {
    if (b->name) snprintf(buf, len, "%s \"%s\"", b->kind, b->name);
    else snprintf(buf, len, "%s", b->kind);
}

/* The key every platform account statement takes beside its own. */
static const struct config_key identity_key = {
    "persona", CONFIG_STRING, 0, "the persona this bot account speaks as"
};

/* Check an options table against the schema's keys and store it as JSON. */
static void take_options(lua_State *L, struct loader *ld, struct config_block *b,
                         const struct config_schema *s, int idx, int line) {
    char label[160];
    block_label(b, label, sizeof(label));
    lua_pushnil(L);
    while (s->keys && lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            add_error(ld, line, "%s: keys must be names, found %s", label, lua_type_word(L, -2));
            lua_pop(L, 1);
            continue;
        }
        const char *key = lua_tostring(L, -2);
        const struct config_key *k = NULL;
        for (const struct config_key *p = s->keys; p && p->name; p++)
            if (strcmp(p->name, key) == 0) k = p;
        if (!k && s->instances && !strcmp(key, identity_key.name)) k = &identity_key;
        if (!k) {
            char known[400] = "";
            size_t used = 0;
            for (const struct config_key *p = s->keys; p && p->name && used < sizeof(known) - 40; p++)
                used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", used ? ", " : "", p->name);
            if (s->instances && used < sizeof(known) - 40)
                used += (size_t)snprintf(known + used, sizeof(known) - used, ", %s", identity_key.name);
            add_error(ld, line, "%s has an unknown key '%s' (known keys: %s)", label, key, known);
        } else if (!value_has_type(L, -1, k->type)) {
            add_error(ld, line, "%s: '%s' must be %s, not %s", label, key,
                      config_type_name(k->type), lua_type_word(L, -1));
        }
        lua_pop(L, 1);
    }
    json_t *obj = lua_json_from(L, idx);
    if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        obj = json_object();
    }
    json_decref(b->value);
    b->value = obj;
}

/* Record a new block at the end of the file's list. */
static struct config_block *new_block(struct loader *ld, const char *kind, const char *name, int line) {
    struct config_block *b = xcalloc(1, sizeof(*b));
    b->kind = xstrdup(kind);
    b->name = name ? xstrdup(name) : NULL;
    b->line = line;
    *ld->tail = b;
    ld->tail = &b->next;
    return b;
}

/* The second half of `kind "name" { ... }`: receives the options table. */
static int statement_body(lua_State *L) {
    struct loader *ld = get_loader(L);
    struct config_block *b = lua_touserdata(L, lua_upvalueindex(1));
    const struct config_schema *s = lua_touserdata(L, lua_upvalueindex(2));
    int line = b->line;
    if (lua_type(L, 1) != LUA_TTABLE) {
        char label[160];
        block_label(b, label, sizeof(label));
        add_error(ld, line, "%s must be followed by a { ... } table, not %s", label, lua_type_word(L, 1));
        return 0;
    }
    if (b->value && json_object_size(b->value) > 0) {
        add_error(ld, line, "%s \"%s\" was given two option tables", b->kind, b->name);
        return 0;
    }
    take_options(L, ld, b, s, 1, line);
    return 0;
}

/* Stands in for the body of a refused statement, so `kind "x" { ... }`
 * after an error reads the table and goes on to the next statement. */
static int swallow_body(lua_State *L) {
    (void)L;
    return 0;
}

/* The unnamed statement of KIND, or NULL. */
static struct config_block *unnamed_block(const struct config *cfg, const char *kind) {
    for (struct config_block *b = config_first(cfg, kind); b; b = config_next(b, kind))
        if (!b->name) return b;
    return NULL;
}

/* A platform account: `kind { ... }` (one) or `kind "name" { ... }` (one
 * per name), so several bot identities of a platform can run side by side. */
static int identity_statement(lua_State *L, struct loader *ld, const struct config_schema *s, int line) {
    if (lua_type(L, 1) == LUA_TSTRING) {
        const char *name = lua_tostring(L, 1);
        struct config_block *prev = config_find(ld->cfg, s->kind, name);
        if (prev) {
            add_error(ld, line, "%s \"%s\" is defined twice (first at line %d); each identity needs its own name",
                      s->kind, name, prev->line);
            lua_pushcfunction(L, swallow_body);
            return 1;
        }
        if (!*name || strchr(name, ':') || strchr(name, ' ') || strlen(name) > 40) {
            add_error(ld, line, "%s \"%s\": an identity's name is 1 to 40 characters without ':' or spaces",
                      s->kind, name);
            lua_pushcfunction(L, swallow_body);
            return 1;
        }
        struct config_block *b = new_block(ld, s->kind, name, line);
        if (lua_type(L, 2) == LUA_TTABLE) {
            take_options(L, ld, b, s, 2, line);
            return 0;
        }
        lua_pushlightuserdata(L, b);
        lua_pushlightuserdata(L, (void *)s);
        lua_pushcclosure(L, statement_body, 2);
        return 1;
    }
    struct config_block *prev = unnamed_block(ld->cfg, s->kind);
    if (prev) {
        add_error(ld, line, "%s is set twice without a name (first at line %d); to run several identities, "
                  "name each one: %s \"aiko\" { ... }", s->kind, prev->line, s->kind);
        return 0;
    }
    if (lua_type(L, 1) != LUA_TTABLE) {
        add_error(ld, line, "%s must be given a { ... } table or a name then a table, not %s", s->kind,
                  lua_type_word(L, 1));
        return 0;
    }
    struct config_block *b = new_block(ld, s->kind, NULL, line);
    take_options(L, ld, b, s, 1, line);
    return 0;
}

/* A statement call: `kind value` or `kind "name"` (then maybe a table). */
static int statement(lua_State *L) {
    struct loader *ld = get_loader(L);
    const struct config_schema *s = lua_touserdata(L, lua_upvalueindex(1));
    int line = caller_line(L);
    if (s->instances) return identity_statement(L, ld, s, line);
    if (!s->repeatable && !s->named && config_first(ld->cfg, s->kind)) {
        add_error(ld, line, "%s is set twice (first at line %d)", s->kind, config_first(ld->cfg, s->kind)->line);
        return 0;
    }
    if (s->named && s->name_optional && config_first(ld->cfg, s->kind)) {
        add_error(ld, line, "%s is set twice (first at line %d)", s->kind, config_first(ld->cfg, s->kind)->line);
        lua_pushcfunction(L, swallow_body);
        return lua_type(L, 1) == LUA_TSTRING ? 1 : 0;
    }
    if (s->named && s->name_optional && lua_type(L, 1) == LUA_TTABLE) {   /* kind { ... } */
        struct config_block *b = new_block(ld, s->kind, NULL, line);
        take_options(L, ld, b, s, 1, line);
        return 0;
    }
    if (s->named) {
        if (lua_type(L, 1) != LUA_TSTRING) {
            add_error(ld, line, "%s needs a name string first, not %s", s->kind, lua_type_word(L, 1));
            lua_pushcfunction(L, swallow_body);
            return 1;
        }
        const char *name = lua_tostring(L, 1);
        struct config_block *prev = config_find(ld->cfg, s->kind, name);
        if (prev && !s->repeatable) {
            add_error(ld, line, "%s \"%s\" is defined twice (first at line %d)", s->kind, name, prev->line);
            lua_pushcfunction(L, swallow_body);
            return 1;
        }
        struct config_block *b = new_block(ld, s->kind, name, line);
        if (lua_type(L, 2) == LUA_TTABLE) {  /* kind("name", { ... }) */
            take_options(L, ld, b, s, 2, line);
            return 0;
        }
        lua_pushlightuserdata(L, b);
        lua_pushlightuserdata(L, (void *)s);
        lua_pushcclosure(L, statement_body, 2);
        return 1;
    }
    if (!value_has_type(L, 1, s->value)) {
        add_error(ld, line, "%s must be given %s, not %s", s->kind, config_type_name(s->value), lua_type_word(L, 1));
        return 0;
    }
    struct config_block *b = new_block(ld, s->kind, NULL, line);
    if (s->value == CONFIG_TABLE && s->keys) take_options(L, ld, b, s, 1, line);
    else b->value = lua_json_from(L, 1);
    return 0;
}

/* env("NAME", default): the variable, or the default (nil when absent). */
static int config_env(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    const char *v = getenv(name);
    if (v && *v) lua_pushstring(L, v);
    else if (lua_gettop(L) >= 2) lua_pushvalue(L, 2);
    else lua_pushnil(L);
    return 1;
}

/* file("path"): a secret read from a file, minus one trailing newline. */
static int config_file(lua_State *L) {
    struct loader *ld = get_loader(L);
    const char *name = luaL_checkstring(L, 1);
    char *path = config_path(ld->cfg, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        lua_pushfstring(L, "cannot read file '%s': %s", path, strerror(e));
        free(path);
        return luaL_error(L, "%s", lua_tostring(L, -1));
    }
    free(path);
    luaL_Buffer buf;
    luaL_buffinit(L, &buf);
    char chunk[4096];
    size_t n, total = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && total < (1u << 20)) {
        luaL_addlstring(&buf, chunk, n);
        total += n;
    }
    fclose(f);
    luaL_pushresult(&buf);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (len && s[len - 1] == '\n') len--;
    if (len && s[len - 1] == '\r') len--;
    lua_pushlstring(L, s, len);
    return 1;
}

/* Reading an unknown global is almost always a misspelt statement. */
static int unknown_global(lua_State *L) {
    const char *name = lua_tostring(L, 2);
    if (!name) name = "?";
    /* A long bare word may be a secret missing its quotes: don't echo it. */
    if (strlen(name) > 24)
        return luaL_error(L, "unknown statement or name '%.4s...' (a string missing its quotes?)", name);
    return luaL_error(L, "unknown statement or name '%s'", name);
}

/* Build the sandbox: safe libraries, the statements and env()/file(). */
static void build_env(lua_State *L) {
    static const char *const safe_base[] = {
        "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
        "tonumber", "tostring", "type", "xpcall", NULL
    };
    static const char *const libs[] = { "string", "table", "math", "utf8", NULL };
    lua_newtable(L);
    lua_pushglobaltable(L);
    for (int i = 0; safe_base[i]; i++) {
        lua_getfield(L, -1, safe_base[i]);
        lua_setfield(L, -3, safe_base[i]);
    }
    for (int i = 0; libs[i]; i++) {
        lua_getfield(L, -1, libs[i]);
        lua_setfield(L, -3, libs[i]);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, config_env);
    lua_setfield(L, -2, "env");
    lua_pushcfunction(L, config_file);
    lua_setfield(L, -2, "file");
    const struct config_schema *s;
    for (int i = 0; (s = config_schema_at(i)); i++) {
        lua_pushlightuserdata(L, (void *)s);
        lua_pushcclosure(L, statement, 1);
        lua_setfield(L, -2, s->kind);
    }
    lua_newtable(L);
    lua_pushcfunction(L, unknown_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

/* Absolute path and folder of the config file. */
static int set_paths(struct config *cfg, const char *file) {
    char buf[PATH_MAX];
    if (!realpath(file, buf)) return -1;
    cfg->path = xstrdup(buf);
    char *slash = strrchr(buf, '/');
    if (slash == buf) slash[1] = '\0';
    else *slash = '\0';
    cfg->dir = xstrdup(buf);
    return 0;
}

/* Read the scalar value of a single statement. */
static const char *top_string(const struct config *cfg, const char *kind) {
    struct config_block *b = config_first(cfg, kind);
    return b && json_is_string(b->value) ? json_string_value(b->value) : NULL;
}

/* Fill the resolved top-level fields from the blocks. */
static int resolve_top(struct loader *ld) {
    struct config *cfg = ld->cfg;
    const char *listen = top_string(cfg, "listen");
    struct config_block *lb = config_first(cfg, "listen");
    if (!listen) listen = "127.0.0.1:8080";
    if (config_parse_hostport(listen, &cfg->listen_host, &cfg->listen_port) < 0)
        add_error(ld, lb ? lb->line : 0, "listen \"%s\" is not host:port (for example \"127.0.0.1:8080\")", listen);
    struct config_block *rb = config_first(cfg, "redis");
    /* The Sentinel form has no URL: a label that only tells a reload it changed. */
    cfg->redis_url = xstrdup(rb && rb->name ? rb->name : rb ? "sentinel:" : "redis://127.0.0.1:6379/0");
    if (rb && rb->value) cfg->redis_opts = json_incref(rb->value);
    const char *s;
    if ((s = top_string(cfg, "admin_socket"))) cfg->admin_socket = strcmp(s, "off") ? config_path(cfg, s) : xstrdup("off");
    cfg->log_level = xstrdup((s = top_string(cfg, "log_level")) ? s : "info");
    if ((s = top_string(cfg, "default_persona"))) cfg->default_persona = xstrdup(s);
    if ((s = top_string(cfg, "web_root"))) cfg->web_root = config_path(cfg, s);
    struct config_block *b = config_first(cfg, "shutdown_timeout_ms");
    cfg->shutdown_timeout_ms = b ? (long)json_number_value(b->value) : 5000;
    b = config_first(cfg, "reply_max_chars");
    cfg->reply_max_chars = b ? (long)json_number_value(b->value) : 4000;
    int n = 0;
    for (b = config_first(cfg, "plugins_dir"); b; b = config_next(b, "plugins_dir")) n++;
    cfg->plugin_dirs = xcalloc((size_t)n + 1, sizeof(char *));
    n = 0;
    for (b = config_first(cfg, "plugins_dir"); b; b = config_next(b, "plugins_dir"))
        cfg->plugin_dirs[n++] = config_path(cfg, json_string_value(b->value));
    return 0;
}

/* Required keys and module cross-checks, after the whole file is read. */
static void check_blocks(struct loader *ld) {
    for (struct config_block *b = ld->cfg->blocks; b; b = b->next) {
        const struct config_schema *s = config_schema_find(b->kind);
        char label[160];
        block_label(b, label, sizeof(label));
        if (s->named && s->keys && s->keys[0].name) {
            int needs_body = 0;
            for (const struct config_key *k = s->keys; k->name; k++)
                if (k->required) needs_body = 1;
            if (!b->value && needs_body) {
                add_error(ld, b->line, "%s needs a { ... } table after its name", label);
                continue;
            }
            for (const struct config_key *k = s->keys; k->name; k++)
                if (k->required && b->value && !json_object_get(b->value, k->name))
                    add_error(ld, b->line, "%s is missing the required key '%s' (%s)", label, k->name, k->help);
        }
        const char *bound = s->instances ? config_identity_persona(b) : NULL;
        if (bound && !config_find(ld->cfg, "persona", bound))
            add_error(ld, b->line, "%s speaks as persona \"%s\", which is not defined (add persona \"%s\" { ... })",
                      label, bound, bound);
        if (s->validate) {
            char err[400];
            if (s->validate(ld->cfg, b, err, sizeof(err)) < 0) add_error(ld, b->line, "%s", err);
        }
    }
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each .lua file in a `personas_dir` folder returns one persona's table (with its
 * `name`); it becomes a `persona` statement, checked like one written in
 * the config, with errors naming that file. */
static void load_personas_dir(lua_State *L, struct loader *ld, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        add_error(ld, 0, "personas_dir: cannot open %s: %s", dir, strerror(errno));
        return;
    }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] != '.' && len > 4 && !strcmp(e->d_name + len - 4, ".lua")) names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), compare_names);
    const struct config_schema *s = config_schema_find("persona");
    const char *display = ld->display;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        ld->display = path;
        int top = lua_gettop(L);
        if (luaL_loadfilex(L, path, "t") != LUA_OK) {
            add_error(ld, 0, "%s", lua_tostring(L, -1));
        } else {
            lua_newtable(L);                 /* data only: no statements, no helpers */
            lua_setupvalue(L, -2, 1);
            if (lua_pcall(L, 0, 1, 0) != LUA_OK) add_error(ld, 0, "%s", lua_tostring(L, -1));
            else if (!lua_istable(L, -1) || lua_getfield(L, -1, "name") != LUA_TSTRING)
                add_error(ld, 1, "a persona file must return a table with a name, like return { name = \"aiko\", prompt = \"...\" }");
            else {
                const char *name = lua_tostring(L, -1);
                if (config_find(ld->cfg, "persona", name)) {
                    add_error(ld, 1, "persona \"%s\" is defined twice", name);
                } else {
                    struct config_block *b = new_block(ld, "persona", name, 1);
                    lua_pop(L, 1);
                    lua_pushnil(L);
                    lua_setfield(L, -2, "name");
                    take_options(L, ld, b, s, lua_gettop(L), 1);
                }
            }
        }
        lua_settop(L, top);
        free(names[i]);
    }
    ld->display = display;
}

/* Put B in the lookup tables of CFG (made when the file is loaded). */
static void index_block(struct config *cfg, struct config_block *b) {
    if (!dict_get(cfg->first_of_kind, b->kind)) dict_set(cfg->first_of_kind, b->kind, b);
    if (b->name) {
        char key[512];
        dict_key2(key, sizeof(key), b->kind, b->name);
        if (!dict_get(cfg->named, key)) dict_set(cfg->named, key, b);
    }
}

int config_load(const char *file, struct config **out, char *err, size_t errlen) {
    struct loader ld = { .display = file, .err = err, .errlen = errlen };
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    *out = NULL;
    err[0] = '\0';
    ld.cfg = cfg;
    ld.tail = &cfg->blocks;
    if (set_paths(cfg, file) < 0) {
        snprintf(err, errlen, "%s: cannot open the config file: %s", file, strerror(errno));
        config_free(cfg);
        return -1;
    }
    lua_State *L = lua_newstate(config_alloc, &ld);
    if (!L) {
        snprintf(err, errlen, "%s: out of memory", file);
        config_free(cfg);
        return -1;
    }
    lua_sethook(L, config_hook, LUA_MASKCOUNT, 10000);
    luaL_openlibs(L);
    /* Chunk name "@FILE" makes Lua's own messages read "FILE:LINE: ...". */
    char chunkname[PATH_MAX + 2];
    snprintf(chunkname, sizeof(chunkname), "@%s", file);
    FILE *f = fopen(cfg->path, "rb");
    char *text = NULL;
    size_t len = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (sz >= 0 && sz < (4 << 20)) {
            text = xmalloc((size_t)sz + 1);
            len = fread(text, 1, (size_t)sz, f);
        }
        fclose(f);
    }
    if (!text) {
        snprintf(err, errlen, "%s: cannot read the config file (missing, unreadable or over 4 MiB)", file);
        lua_close(L);
        config_free(cfg);
        return -1;
    }
    int rc = luaL_loadbufferx(L, text, len, chunkname, "t");
    free(text);
    if (rc == LUA_OK) {
        build_env(L);
        lua_setupvalue(L, -2, 1);
        rc = lua_pcall(L, 0, 0, 0);
    }
    if (rc == LUA_OK) {
        for (struct config_block *b = config_first(cfg, "personas_dir"); b; b = config_next(b, "personas_dir")) {
            char *dir = config_path(cfg, json_string_value(b->value));
            load_personas_dir(L, &ld, dir);
            free(dir);
        }
    }
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        char line[1024];
        size_t dl = strlen(file);
        /* Lua's own messages name FILE:LINE (a long path cut to "...tail");
         * a few (a binary chunk, out of memory) name nothing: add the file. */
        if (msg && ((!strncmp(msg, file, dl) && msg[dl] == ':') || !strncmp(msg, "...", 3))) snprintf(line, sizeof(line), "%s", msg);
        else snprintf(line, sizeof(line), "%s: %s", file, msg ? msg : "error");
        if (ld.used < errlen)
            ld.used += (size_t)snprintf(err + ld.used, errlen - ld.used, "%s%s", ld.nerrors ? "\n" : "", line);
        ld.nerrors++;
    }
    lua_close(L);
    if (ld.nerrors == 0) {
        resolve_top(&ld);
        check_blocks(&ld);
    }
    if (ld.nerrors) {
        config_free(cfg);
        return -1;
    }
    /* Statements are looked up by kind on every message (limits, owners,
     * flood...): a table instead of a walk with a strcmp per statement. */
    cfg->first_of_kind = dict_new();
    cfg->named = dict_new();
    for (struct config_block *b = cfg->blocks; b; b = b->next) index_block(cfg, b);
    *out = cfg;
    return 0;
}

void config_free(struct config *cfg) {
    if (!cfg) return;
    struct config_block *b = cfg->blocks;
    while (b) {
        struct config_block *next = b->next;
        free(b->kind);
        free(b->name);
        json_decref(b->value);
        free(b);
        b = next;
    }
    for (char **p = cfg->plugin_dirs; p && *p; p++) free(*p);
    free(cfg->plugin_dirs);
    json_decref(cfg->redis_opts);
    dict_free(cfg->first_of_kind);
    dict_free(cfg->named);
    free(cfg->path);
    free(cfg->dir);
    free(cfg->listen_host);
    free(cfg->redis_url);
    free(cfg->admin_socket);
    free(cfg->log_level);
    free(cfg->default_persona);
    free(cfg->web_root);
    free(cfg);
}

void config_append(struct config *cfg, struct config_block *b) {
    struct config_block **tail = &cfg->blocks;
    while (*tail) tail = &(*tail)->next;
    b->next = NULL;
    *tail = b;
    if (cfg->first_of_kind) index_block(cfg, b);
}

struct config_block *config_first(const struct config *cfg, const char *kind) {
    if (cfg->first_of_kind) return dict_get(cfg->first_of_kind, kind);
    for (struct config_block *b = cfg->blocks; b; b = b->next)
        if (strcmp(b->kind, kind) == 0) return b;
    return NULL;
}

struct config_block *config_next(struct config_block *b, const char *kind) {
    for (b = b->next; b; b = b->next)
        if (strcmp(b->kind, kind) == 0) return b;
    return NULL;
}

struct config_block *config_find(const struct config *cfg, const char *kind, const char *name) {
    if (cfg->named && strlen(kind) + strlen(name) < 500) {
        char key[512];
        dict_key2(key, sizeof(key), kind, name);
        return dict_get(cfg->named, key);
    }
    for (struct config_block *b = cfg->blocks; b; b = b->next)
        if (strcmp(b->kind, kind) == 0 && b->name && strcmp(b->name, name) == 0) return b;
    return NULL;
}

const char *config_str(const struct config_block *b, const char *key, const char *def) {
    json_t *v = b && b->value ? json_object_get(b->value, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : def;
}

/* A number key as a long; a real out of range saturates, so a key of
 * type number given 1e300 cannot make the cast undefined. */
long config_int(const struct config_block *b, const char *key, long def) {
    json_t *v = b && b->value ? json_object_get(b->value, key) : NULL;
    if (json_is_integer(v)) return (long)json_integer_value(v);
    if (!json_is_real(v)) return def;
    double d = json_real_value(v);
    if (d >= 9223372036854775807.0) return LONG_MAX;
    if (d <= -9223372036854775808.0) return LONG_MIN;
    return (long)d;
}

int config_bool(const struct config_block *b, const char *key, int def) {
    json_t *v = b && b->value ? json_object_get(b->value, key) : NULL;
    return json_is_boolean(v) ? json_is_true(v) : def;
}

char *config_path(const struct config *cfg, const char *path) {
    if (path[0] == '/' || !cfg->dir) return xstrdup(path);
    size_t n = strlen(cfg->dir) + strlen(path) + 2;
    char *out = xmalloc(n);
    snprintf(out, n, "%s/%s", cfg->dir, path);
    return out;
}

int config_parse_hostport(const char *s, char **host, int *port) {
    const char *colon;
    char *end;
    if (!strcmp(s, "off")) {   /* no HTTP listener: no web chat, health or metrics */
        *host = xstrdup("off");
        *port = -1;
        return *host ? 0 : -1;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return -1;
        colon = close + 1;
        *host = xstrndup(s + 1, (size_t)(close - s - 1));
    } else {
        colon = strrchr(s, ':');
        if (!colon || colon == s) return -1;
        *host = xstrndup(s, (size_t)(colon - s));
    }
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535) {
        free(*host);
        *host = NULL;
        return -1;
    }
    *port = (int)p;
    return 0;
}

int config_apply_env(struct config *cfg, char *err, size_t errlen) {
    const char *v = getenv("CHORUS_LISTEN");
    if (v && *v && !strcmp(v, "off")) {
        free(cfg->listen_host);
        cfg->listen_host = xstrdup("off");
        cfg->listen_port = -1;
    } else if (v && *v) {
        char *host;
        int port;
        if (config_parse_hostport(v, &host, &port) < 0) {
            snprintf(err, errlen, "CHORUS_LISTEN=\"%s\" is not host:port", v);
            return -1;
        }
        free(cfg->listen_host);
        cfg->listen_host = host;
        cfg->listen_port = port;
    }
    v = getenv("CHORUS_REDIS_URL");
    if (v && *v) {
        free(cfg->redis_url);
        cfg->redis_url = xstrdup(v);
        /* The URL names one server: Sentinel discovery is off. */
        if (cfg->redis_opts && json_object_get(cfg->redis_opts, "sentinels")) {
            json_t *o = json_deep_copy(cfg->redis_opts);
            const char *const drop[] = { "sentinels", "master", "user", "password", "sentinel_password", "db" };
            for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) json_object_del(o, drop[i]);
            json_decref(cfg->redis_opts);
            cfg->redis_opts = o;
        }
    }
    return 0;
}
