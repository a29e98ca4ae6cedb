/* lua_ledger.c - core.ledger_record(kind, value, currency, ref, persona):
 * a skill reports an outcome a persona produced (persona/ledger.c). */
#include <lauxlib.h>
#include "core/job.h"
#include "core/message.h"
#include "core/runtime.h"
#include "core/server.h"
#include "persona/ledger.h"
#include "persona/persona.h"
#include "skills/lua/lua_api.h"
#include "skills/plugin.h"
#include "skills/task.h"

/* The persona is the job's, or one named when no message is at hand. */
int lua_ledger_record(lua_State *L) {
    struct task *t = task_check(L);
    struct job *job = task_job(t);
    const char *persona_name = luaL_optstring(L, 5, NULL);
    struct ledger_outcome o = {
        .kind = luaL_checkstring(L, 1),
        .value = luaL_optnumber(L, 2, 0),
        .currency = luaL_optstring(L, 3, "USD"),
        .ref = luaL_optstring(L, 4, ""),
    };
    if (!job && !(persona_name && persona_find(server.rt->personas, persona_name)))
        return luaL_error(L, "ledger.record needs a message or persona = \"name\" (the persona it credits)");
    if (!plugin_of(L)->allow_state) return luaL_error(L, "plugin %s may not keep state", plugin_of(L)->name);
    o.persona = job ? job->persona->name : persona_name;
    o.plugin = plugin_of(L)->name;
    o.channel = job ? job->msg->channel : NULL;
    o.user = job ? job->msg->author.id : NULL;
    if (ledger_record(&o) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, "Redis is not available");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}
