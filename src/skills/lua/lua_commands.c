/* lua_commands.c - core.commands(): the commands every plugin registered,
 * so a plugin (help) can list them with their help text and arguments. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "skills/dispatch.h"
#include "skills/lua/lua_api.h"
#include "lib/lua_json.h"
#include "skills/plugin.h"
#include "skills/skills.h"
#include "lib/xalloc.h"

/* Order commands by name for a stable listing. */
static int by_name(const void *a, const void *b) {
    const struct handler *x = *(struct handler *const *)a, *y = *(struct handler *const *)b;
    return strcmp(x->name, y->name);
}

/* core.commands() -> prefix, { {name, plugin, help, args, ...spec}, ... } */
int lua_commands_list(lua_State *L) {
    struct skill_host *h = plugin_of(L)->host;
    int n = 0, cap = 16;
    struct handler **list = xmalloc(sizeof(*list) * (size_t)cap);
    for (struct handler *hd = dispatch_next(h, NULL); hd; hd = dispatch_next(h, hd)) {
        if (hd->kind != HANDLER_COMMAND || hd->plugin->retired || !hd->name) continue;
        if (n == cap) list = xrealloc(list, sizeof(*list) * (size_t)(cap *= 2));
        list[n++] = hd;
    }
    qsort(list, (size_t)n, sizeof(*list), by_name);
    lua_pushstring(L, h->command_prefix);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_json_push(L, list[i]->spec);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            lua_newtable(L);
        }
        lua_pushstring(L, list[i]->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, list[i]->plugin->name);
        lua_setfield(L, -2, "plugin");
        lua_rawseti(L, -2, i + 1);
    }
    free(list);
    return 2;
}
