/* fuzz_lpattern.c - plugins' string patterns on the budgeted matcher
 * (lib/lpattern.c), differentially against stock Lua 5.4: find, match,
 * gmatch and gsub (string, table and function replacements) must give the
 * same results or the same error message, unless ours stopped at its step
 * budget or output cap, which is the point of it. Ours runs first, so a
 * pattern bomb never reaches the stock matcher. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include "lib/lpattern.h"
#include "fuzz_input.h"

#define STEPS 200000L
#define MAX_OUT (256u << 10)

static const char compare_lua[] =
    "local O, M, BUDGET, OUTMSG = ...\n"
    "local pack, concat, fmt = table.pack, table.concat, string.format\n"
    "local function ser(r)\n"
    "  local out = {}\n"
    "  for i = 1, r.n do\n"
    "    local v = r[i]\n"
    "    if type(v) == 'string' then out[i] = fmt('%q', v)\n"
    "    elseif type(v) == 'number' then out[i] = math.type(v) .. ':' .. fmt('%q', v)\n"
    "    else out[i] = tostring(v) end\n"
    "  end\n"
    "  return concat(out, ',')\n"
    "end\n"
    "local TAB = { a = 'A', b = false, ab = 7, [''] = 'E', x = 1.5, y = true }\n"
    "local function FN(a, ...) local k = select('#', ...) + #tostring(a)\n"
    "  if k % 4 == 0 then return nil elseif k % 4 == 1 then return '<' .. tostring(a) .. '>'\n"
    "  elseif k % 4 == 2 then return k else return false end end\n"
    "local function run(F, op, s, p, init, repl, n, rkind)\n"
    "  if op == 'gmatch' then\n"
    "    return pack(pcall(function()\n"
    "      local out, it = {}, F.gmatch(s, p, init)\n"
    "      for i = 1, 100 do local r = pack(it()); if r[1] == nil then break end; out[i] = ser(r) end\n"
    "      return concat(out, '|')\n"
    "    end))\n"
    "  elseif op == 'gsub' then\n"
    "    local r = rkind == 1 and TAB or rkind == 2 and FN or repl\n"
    "    return pack(pcall(F.gsub, s, p, r, n))\n"
    "  elseif op == 'find' then\n"
    "    return pack(pcall(F.find, s, p, init, rkind == 1))\n"
    "  end\n"
    "  return pack(pcall(F.match, s, p, init))\n"
    "end\n"
    "return function(op, s, p, init, repl, n, rkind)\n"
    "  local got = run(M, op, s, p, init, repl, n, rkind)\n"
    "  if not got[1] and (tostring(got[2]):find(BUDGET, 1, true) or tostring(got[2]):find(OUTMSG, 1, true)) then\n"
    "    return true\n"
    "  end\n"
    "  local want = run(O, op, s, p, init, repl, n, rkind)\n"
    "  local a, b = ser(want), ser(got)\n"
    "  if a == b then return true end\n"
    "  return false, fmt('%s(%q, %q, %s): stock %s, ours %s', op, s, p, tostring(init), a, b)\n"
    "end\n";

static lua_State *L;

/* One Lua state for the whole run: stock functions in O, ours in M. */
static void setup(void) {
    L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_loadbuffer(L, compare_lua, sizeof(compare_lua) - 1, "=compare") != LUA_OK) abort();
    lua_newtable(L);                                 /* O */
    lua_getglobal(L, "string");
    lua_newtable(L);                                 /* M: a copy of string */
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
    lpattern_install(L, -1, STEPS, MAX_OUT);
    static const char *const ops[] = { "find", "match", "gmatch", "gsub" };
    for (int i = 0; i < 4; i++) {                    /* O = stock string.* */
        lua_getfield(L, -2, ops[i]);
        lua_setfield(L, -4, ops[i]);
    }
    lua_remove(L, -2);                               /* the string table */
    lua_pushstring(L, LPATTERN_BUDGET_MSG);
    lua_pushstring(L, LPATTERN_OUTPUT_MSG);
    if (lua_pcall(L, 4, 1, 0) != LUA_OK) abort();
    lua_setglobal(L, "compare");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const ops[] = { "find", "match", "gmatch", "gsub" };
    if (!L) setup();
    struct fuzz_input in = { data, size };
    unsigned op = fuzz_byte(&in);
    int init = (int)(int8_t)fuzz_byte(&in);
    int n = (int)(fuzz_byte(&in) % 8) - 1;
    size_t plen, rlen, slen;
    char *pat = fuzz_str(&in, 0, &plen);
    char *repl = fuzz_str(&in, 0, &rlen);
    const char *subj = (const char *)fuzz_rest(&in, &slen);

    lua_getglobal(L, "compare");
    lua_pushstring(L, ops[op & 3]);
    lua_pushlstring(L, subj, slen);
    lua_pushlstring(L, pat, plen);
    if (op & 4) lua_pushinteger(L, init);
    else lua_pushnil(L);
    lua_pushlstring(L, repl, rlen);
    if (n >= 0) lua_pushinteger(L, n);
    else lua_pushnil(L);
    lua_pushinteger(L, (op >> 3) % 3);
    if (lua_pcall(L, 7, 2, 0) != LUA_OK) {
        fprintf(stderr, "compare failed: %s\n", lua_tostring(L, -1));
        abort();
    }
    if (!lua_toboolean(L, -2)) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    free(pat);
    free(repl);
    return 0;
}
