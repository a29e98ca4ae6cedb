/* lua_json.h - convert between Lua values and jansson values. */
#ifndef CHORUS_LUA_JSON_H
#define CHORUS_LUA_JSON_H
#include <jansson.h>
#include <lua.h>

/* A table with keys 1..n (n > 0) becomes an array, any other table an
 * object (string keys only); strings with invalid UTF-8 are repaired.
 * Returns NULL for functions, userdata, cycles or nesting deeper than 32. */
json_t *lua_json_from(lua_State *L, int idx);
/* Push V as a Lua value (null becomes nil). */
void lua_json_push(lua_State *L, const json_t *v);
#endif
