/* lua_json.c - Lua <-> JSON, shared by the config loader and the skill API. */
#include <stdlib.h>
#include <lauxlib.h>
#include "lib/lua_json.h"
#include "lib/utf8.h"

/* A Lua string as a JSON string; JSON can only carry valid UTF-8. */
static json_t *string_from(lua_State *L, int idx) {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (utf8_valid(s, len)) return json_stringn(s, len);
    size_t fixed_len;
    char *fixed = utf8_repair(s, len, &fixed_len);
    json_t *v = fixed ? json_stringn(fixed, fixed_len) : NULL;
    free(fixed);
    return v;
}

static json_t *from(lua_State *L, int idx, int depth) {
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return json_null();
    case LUA_TSTRING: return string_from(L, idx);
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) return json_integer(lua_tointeger(L, idx));
        return json_real(lua_tonumber(L, idx));
    case LUA_TTABLE: break;
    default: return NULL;
    }
    if (depth > 32 || !lua_checkstack(L, 4)) return NULL;
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n > 0) {
        json_t *arr = json_array();
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            json_t *v = from(L, -1, depth + 1);
            lua_pop(L, 1);
            if (!v) {
                json_decref(arr);
                return NULL;
            }
            json_array_append_new(arr, v);
        }
        return arr;
    }
    json_t *obj = json_object();
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            json_t *v = from(L, -1, depth + 1);
            if (!v) {
                lua_pop(L, 2);
                json_decref(obj);
                return NULL;
            }
            json_object_set_new(obj, lua_tostring(L, -2), v);
        }
        lua_pop(L, 1);
    }
    return obj;
}

json_t *lua_json_from(lua_State *L, int idx) {
    return from(L, idx, 0);
}

void lua_json_push(lua_State *L, const json_t *v) {
    luaL_checkstack(L, 4, "JSON nesting too deep");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_foreach((json_t *)v, key, val) {
            lua_json_push(L, val);
            lua_setfield(L, -2, key);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *val;
        lua_createtable(L, (int)json_array_size(v), 0);
        json_array_foreach(v, i, val) {
            lua_json_push(L, val);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    case JSON_NULL: lua_pushnil(L); break;
    }
}
