/* sandbox.c - wrap every library C function a plugin can call so that no
 * single call runs unbounded: size caps where the work is in one call, and
 * a budget check after every call. */
#include <string.h>
#include <lauxlib.h>
#include "skills/sandbox.h"
#include "skills/task.h"

/* Upvalues of a wrapper: the wrapped function's own (at most NUP_KEPT, in
 * the same slots, so it finds them where it expects) and the function. */
#define NUP_KEPT 4
#define UP_FN (NUP_KEPT + 1)

typedef int (*precheck_fn)(lua_State *L);

/* Run the wrapped function in our own call frame (so its errors name the
 * function as the caller wrote it), charging the time spent so far before
 * and after it. */
static int call_wrapped(lua_State *L) {
    lua_CFunction f = lua_tocfunction(L, lua_upvalueindex(UP_FN));
    task_charge(L);       /* also before: a call that raises skips the check after it */
    int n = f(L);
    task_charge(L);
    return n;
}

/* Push a wrapper of the C function at IDX running CALL. */
static void push_wrapper(lua_State *L, int idx, lua_CFunction call) {
    idx = lua_absindex(L, idx);
    int i = 1;
    for (; i <= NUP_KEPT && lua_getupvalue(L, idx, i); i++) {}
    for (; i <= NUP_KEPT + 1; i++) lua_pushnil(L);
    lua_pop(L, 1);                     /* the loop pushed one nil too many */
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, call, UP_FN);
}

/* string.rep(s, n [, sep]): the result is capped. */
static int bounded_rep(lua_State *L) {
    size_t l, lsep = 0;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n > 0 && (double)l * (double)n + (double)lsep * (double)(n - 1) > (double)SANDBOX_MAX_STRING)
        return luaL_error(L, "string.rep result too large (at most %d bytes)", (int)SANDBOX_MAX_STRING);
    return call_wrapped(L);
}

/* table.move(a1, f, e, t [, a2]): at most SANDBOX_MAX_MOVE elements. */
static int bounded_move(lua_State *L) {
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    if (e >= f && (e - f >= SANDBOX_MAX_MOVE || e - f < 0))
        return luaL_error(L, "table.move: too many elements (at most %d per call)", SANDBOX_MAX_MOVE);
    return call_wrapped(L);
}

/* table.sort(t [, comp]): at most SANDBOX_MAX_SORT items. */
static int bounded_sort(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (luaL_len(L, 1) > SANDBOX_MAX_SORT)
        return luaL_error(L, "table.sort: too many items (at most %d per call)", SANDBOX_MAX_SORT);
    return call_wrapped(L);
}

/* os.date([format [, time]]): a short format. */
static int bounded_date(lua_State *L) {
    size_t len = 0;
    if (lua_type(L, 1) == LUA_TSTRING) lua_tolstring(L, 1, &len);
    if (len > SANDBOX_MAX_DATE_FORMAT)
        return luaL_error(L, "os.date: format too long (at most %d bytes)", SANDBOX_MAX_DATE_FORMAT);
    return call_wrapped(L);
}

/* string.gmatch: the iterator it returns is wrapped too. */
static int bounded_gmatch(lua_State *L) {
    int n = call_wrapped(L);
    if (n == 1 && lua_tocfunction(L, -1)) {
        push_wrapper(L, -1, call_wrapped);
        lua_remove(L, -2);
    }
    return n;
}

/* The wrapper for NAME in library LIB, or the plain one. */
static lua_CFunction wrapper_for(const char *lib, const char *name) {
    static const struct { const char *lib, *name; lua_CFunction fn; } special[] = {
        { "string", "rep", bounded_rep },
        { "string", "gmatch", bounded_gmatch },
        { "table", "move", bounded_move },
        { "table", "sort", bounded_sort },
        { "os", "date", bounded_date },
    };
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
        if (!strcmp(special[i].lib, lib) && !strcmp(special[i].name, name)) return special[i].fn;
    return call_wrapped;
}

/* Replace each C function of global table LIB with its wrapper. */
static void wrap_library(lua_State *L, const char *lib) {
    if (lua_getglobal(L, lib) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_iscfunction(L, -1)) {
            const char *name = lua_tostring(L, -2);
            push_wrapper(L, -1, wrapper_for(lib, name));
            lua_pushvalue(L, -3);
            lua_insert(L, -2);
            lua_rawset(L, -5);         /* t[name] = wrapper: an existing key, so next() stays valid */
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void sandbox_install(lua_State *L) {
    static const char *const libs[] = { "string", "table", "utf8", "os" };
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) wrap_library(L, libs[i]);
}
