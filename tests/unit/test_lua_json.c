/* test_lua_json.c - unit tests for src/lua_json.c.
 *
 * The story: a skill written in Lua hands the daemon a reply table, and the
 * daemon hands the skill JSON from a model API. Values must survive the trip
 * both ways, and things JSON cannot carry are refused, not mangled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "tap.h"
#include "lib/lua_json.h"

static lua_State *L;

/* Evaluate a Lua expression and convert its value; the stack is left as found. */
static json_t *from_lua(const char *expr) {
    char chunk[4096];
    json_t *v;
    int top = lua_gettop(L);

    snprintf(chunk, sizeof chunk, "return %s", expr);
    if (luaL_dostring(L, chunk) != LUA_OK) {
        printf("# lua error: %s\n", lua_tostring(L, -1));
        lua_settop(L, top);
        return NULL;
    }
    v = lua_json_from(L, -1);
    lua_settop(L, top);
    return v;
}

/* Compare a JSON value with the compact dump expected. */
static void is_json(json_t *v, const char *expected, const char *what) {
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;

    is_str(s, expected, "%s", what);
    free(s);
}

/* Lua to JSON, one value at a time. */
static void test_from_lua(void) {
    json_t *v;

    v = from_lua("{ 'a', 'b', 'c' }");
    ok(json_is_array(v), "a sequence becomes an array");
    is_json(v, "[\"a\",\"b\",\"c\"]", "  in order");
    json_decref(v);

    v = from_lua("{ text = 'hello', persona = 'aiko' }");
    ok(json_is_object(v), "a table with names becomes an object");
    is_json(v, "{\"persona\":\"aiko\",\"text\":\"hello\"}", "  with its keys");
    json_decref(v);

    v = from_lua("{ reply = { parts = { 'hi', { emoji = true } }, meta = { n = 2 } } }");
    is_json(v, "{\"reply\":{\"meta\":{\"n\":2},\"parts\":[\"hi\",{\"emoji\":true}]}}", "nested tables");
    json_decref(v);

    v = from_lua("3");
    ok(json_is_integer(v) && json_integer_value(v) == 3, "a Lua integer becomes a JSON integer");
    json_decref(v);
    v = from_lua("3.0");
    ok(json_is_real(v) && json_real_value(v) == 3.0, "a Lua float 3.0 stays a real");
    json_decref(v);
    v = from_lua("0.25");
    ok(json_is_real(v) && json_real_value(v) == 0.25, "0.25 is a real");
    json_decref(v);
    v = from_lua("math.maxinteger");
    ok(json_is_integer(v) && json_integer_value(v) == LUA_MAXINTEGER, "math.maxinteger survives exactly");
    json_decref(v);
    v = from_lua("-7");
    ok(json_is_integer(v) && json_integer_value(v) == -7, "a negative integer");
    json_decref(v);

    v = from_lua("true");
    ok(json_is_true(v), "true becomes true");
    json_decref(v);
    v = from_lua("false");
    ok(json_is_false(v), "false becomes false");
    json_decref(v);
    v = from_lua("nil");
    ok(json_is_null(v), "nil becomes null");
    json_decref(v);

    v = from_lua("{}");
    ok(json_is_object(v) && json_object_size(v) == 0, "an empty table becomes an empty object");
    json_decref(v);

    v = from_lua("'caf\\xC3\\xA9'");
    ok(json_is_string(v) && strcmp(json_string_value(v), "caf\xC3\xA9") == 0, "valid UTF-8 is kept as is");
    json_decref(v);
    v = from_lua("'a\\xFFb'");
    ok(json_is_string(v), "a string with invalid UTF-8 still converts");
    is_mem(json_string_value(v), v ? json_string_length(v) : 0, "a\xEF\xBF\xBD" "b", 5,
           "  with the bad byte replaced by U+FFFD");
    json_decref(v);
    v = from_lua("{ name = 'x\\xC3' }");
    is_mem(json_string_value(json_object_get(v, "name")),
           json_string_length(json_object_get(v, "name")), "x\xEF\xBF\xBD", 4,
           "  also inside a table (a cut-off sequence)");
    json_decref(v);
    v = from_lua("'nul\\0byte'");
    is_mem(json_string_value(v), v ? json_string_length(v) : 0, "nul\0byte", 8,
           "a string with a NUL keeps its full length");
    json_decref(v);
}

/* Values JSON cannot carry give NULL, with the Lua stack left balanced. */
static void test_refused(void) {
    json_t *v;
    int top = lua_gettop(L);

    v = from_lua("function() end");
    ok(v == NULL, "a function value returns NULL");
    v = from_lua("{ reply = 'hi', cb = print }");
    ok(v == NULL, "a function inside an object returns NULL");
    v = from_lua("{ 1, 2, print }");
    ok(v == NULL, "a function inside an array returns NULL");
    v = from_lua("coroutine.create(function() end)");
    ok(v == NULL, "a thread returns NULL");
    v = from_lua("(function() local t = {} t.self = t return t end)()");
    ok(v == NULL, "a table that contains itself returns NULL");
    is_int(lua_gettop(L), top, "  and the Lua stack is balanced after each refusal");
}

/* A table nested N deep, as a Lua expression: {x={x={...{}...}}}. */
static json_t *nested(int depth) {
    char expr[512];
    size_t n = 0;

    for (int i = 0; i < depth - 1; i++) n += (size_t)snprintf(expr + n, sizeof expr - n, "{x=");
    n += (size_t)snprintf(expr + n, sizeof expr - n, "{}");
    for (int i = 0; i < depth - 1; i++) n += (size_t)snprintf(expr + n, sizeof expr - n, "}");
    return from_lua(expr);
}

static void test_depth(void) {
    json_t *v;

    v = nested(10);
    ok(v != NULL, "tables nested 10 deep convert");
    json_decref(v);
    v = nested(32);
    ok(v != NULL, "tables nested 32 deep convert");
    json_decref(v);
    v = nested(34);
    ok(v == NULL, "tables nested 34 deep return NULL");
    v = nested(60);
    ok(v == NULL, "tables nested 60 deep return NULL");
    {
        char expr[128];
        memset(expr, '{', 40);
        expr[40] = '1';
        memset(expr + 41, '}', 40);
        expr[81] = '\0';
        v = from_lua(expr);
    }
    ok(v == NULL, "arrays nested 40 deep return NULL");
}

/* JSON to Lua and back: the value is equal, types included. */
static void round_trip(const char *json, const char *what) {
    json_error_t jerr;
    json_t *in = json_loads(json, JSON_DECODE_ANY, &jerr), *out;
    int top = lua_gettop(L);

    if (!in) {
        ok(0, "%s: fixture parses (%s)", what, jerr.text);
        return;
    }
    lua_json_push(L, in);
    is_int(lua_gettop(L), top + 1, "%s: push leaves one value", what);
    out = lua_json_from(L, -1);
    lua_settop(L, top);
    if (!ok(out && json_equal(in, out), "%s: comes back equal", what)) {
        char *s = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        printf("#      got: %s\n# expected: %s\n", s ? s : "NULL", json);
        free(s);
    }
    json_decref(in);
    json_decref(out);
}

static void test_round_trips(void) {
    round_trip("[1,2,3]", "an array of integers");
    round_trip("[1.5,2.0,-0.25]", "an array of reals (2.0 stays real)");
    round_trip("{\"a\":1,\"b\":\"two\",\"c\":true,\"d\":false}", "an object of scalars");
    round_trip("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}],\"usage\":{\"total_tokens\":12}}",
               "a model API reply");
    round_trip("[[1,[2,[3]]],{\"x\":[{\"y\":{}}]}]", "nested arrays and objects");
    round_trip("{}", "an empty object");
    round_trip("\"caf\\u00e9 \\u2603\"", "a string with non-ASCII text");
    round_trip("9007199254740993", "a large integer keeps its exact value");
    round_trip("-42", "a negative integer");
    round_trip("true", "true");

    /* What a skill sees of specific JSON values. */
    {
        json_t *v = json_pack("{s:i, s:f, s:n, s:[]}", "count", 3, "ratio", 0.5, "none", "empty");
        lua_json_push(L, v);
        lua_getfield(L, -1, "count");
        ok(lua_isinteger(L, -1) && lua_tointeger(L, -1) == 3, "a JSON integer is a Lua integer");
        lua_pop(L, 1);
        lua_getfield(L, -1, "ratio");
        ok(lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1) && lua_tonumber(L, -1) == 0.5,
           "a JSON real is a Lua float");
        lua_pop(L, 1);
        lua_getfield(L, -1, "none");
        ok(lua_isnil(L, -1), "a JSON null is nil");
        lua_pop(L, 1);
        lua_getfield(L, -1, "empty");
        ok(lua_istable(L, -1) && lua_rawlen(L, -1) == 0, "an empty JSON array is an empty table");
        lua_pop(L, 2);
        json_decref(v);
    }
    {
        json_t *v = json_pack("[s,s,s]", "a", "b", "c");
        lua_json_push(L, v);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 3);
        ok(lua_rawlen(L, -3) == 3 && strcmp(lua_tostring(L, -2), "a") == 0 &&
           strcmp(lua_tostring(L, -1), "c") == 0, "a JSON array is a 1-based Lua sequence");
        lua_pop(L, 3);
        json_decref(v);
    }
}

int main(void) {
    L = luaL_newstate();
    luaL_openlibs(L);
    test_from_lua();
    test_refused();
    test_depth();
    test_round_trips();
    lua_close(L);
    return done_testing();
}
