/* lua_api.h - the `core` table of C functions the runtime library builds
 * the plugin API from (lua/chorus/runtime.lua). Plugins never see `core`
 * itself, only what the runtime library exposes as `chorus`. */
#ifndef CHORUS_LUA_API_H
#define CHORUS_LUA_API_H
#include <lua.h>

struct job;

/* Push the core table. */
void lua_api_push_core(lua_State *L);
/* Push a job's message (and its persona) as the plain table handlers get. */
void lua_api_push_message(lua_State *L, const struct job *job);
/* Functions of lua_io.c: model, history, state, http. */
void lua_io_register(lua_State *L);
/* core.commands() (lua_commands.c): every registered command, for help. */
int lua_commands_list(lua_State *L);
/* core.ledger_record(kind, value, currency, ref, persona) (lua_ledger.c). */
int lua_ledger_record(lua_State *L);
#endif
