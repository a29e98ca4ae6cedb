/* fuzz_command_args.c - the command argument parser that turns a chat
 * message such as `!remind 1h30m "feed the cat" now` into a handler's
 * arguments (parse_args in lua/chorus/runtime.lua), run as the daemon runs
 * it: the real runtime library in a Lua state whose string functions are
 * the budgeted ones (lib/lpattern.c), with commands of every argument type.
 * The text reaches a handler only when it starts the way the dispatcher's
 * command_matches() requires. Every call must end in the handler with
 * well-typed arguments or in a usage reply, never in a Lua error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include "lib/lpattern.h"
#include "fuzz_input.h"

#ifndef CHORUS_SRCDIR
#define CHORUS_SRCDIR "."
#endif

/* A stand-in for the C `core` table: just what parsing a command needs. */
static const char core_lua[] =
    "local init = ...\n"
    "local core = { handlers = {}, replies = {} }\n"
    "function core.read_file(path) return init end\n"
    "function core.register(kind, spec, fn) core.handlers[#core.handlers + 1] = { spec = spec, fn = fn } end\n"
    "function core.reply(text) rawset(core, 'nreplies', (rawget(core, 'nreplies') or 0) + 1); return 'r1' end\n"
    "return setmetatable(core, { __index = function() return function() return nil end end })\n";

/* The plugin: one command per argument shape; each handler checks what it got. */
static const char init_lua[] =
    "local function word(v, opt)\n"
    "  if v == nil then assert(opt, 'a required word is nil') return end\n"
    "  assert(type(v) == 'string', 'a word is not a string')\n"
    "end\n"
    "local function rest(v, opt)\n"
    "  if v == nil then assert(opt, 'a required rest is nil') return end\n"
    "  assert(type(v) == 'string' and v ~= '' and not v:find('^%s') and not v:find('%s$'), 'rest not trimmed')\n"
    "end\n"
    "local function dur(v, opt)\n"
    "  if v == nil then assert(opt, 'a required duration is nil') return end\n"
    "  assert(type(v) == 'number' and v >= 0 and v == v, 'a bad duration')\n"
    "end\n"
    "local function int(v, opt)\n"
    "  if v == nil then assert(opt, 'a required integer is nil') return end\n"
    "  assert(math.type(v) == 'integer', 'an integer argument is ' .. tostring(math.type(v)))\n"
    "end\n"
    "local function num(v, opt)\n"
    "  if v == nil then assert(opt, 'a required number is nil') return end\n"
    "  assert(type(v) == 'number', 'a number argument is ' .. type(v))\n"
    "end\n"
    "chorus.command('remind', { args = { { name = 'when', type = 'duration' }, { name = 'what', type = 'rest' } } },\n"
    "  function(msg, a) dur(a.when) rest(a.what) end)\n"
    "chorus.command('roll', { args = { { name = 'n', type = 'integer' }, { name = 'sides', type = 'number', optional = true } } },\n"
    "  function(msg, a) int(a.n) num(a.sides, true) end)\n"
    "chorus.command('say', { args = { { name = 'who' }, { name = 'text', type = 'rest', optional = true } } },\n"
    "  function(msg, a) word(a.who) rest(a.text, true) end)\n"
    "chorus.command('all', { args = { { name = 'a', optional = true }, { name = 'b', type = 'duration', optional = true },\n"
    "    { name = 'c', type = 'integer', optional = true }, { name = 'd', type = 'number', optional = true } } },\n"
    "  function(msg, a) word(a.a, true) dur(a.b, true) int(a.c, true) num(a.d, true)\n"
    "    assert(#a <= 4, 'too many positional arguments') end)\n"
    "chorus.command('none', function(msg, a) assert(type(a) == 'table') end)\n";

static lua_State *L;
static int invoke_ref, core_ref;

/* The runtime library loaded once, as plugin.c loads it. */
static void setup(void) {
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_getglobal(L, "string");
    lpattern_install(L, -1, 10000000L, (size_t)16 << 20);
    lua_pop(L, 1);
    if (luaL_loadfilex(L, CHORUS_SRCDIR "/lua/chorus/runtime.lua", "t") != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        abort();
    }
    if (luaL_loadbuffer(L, core_lua, sizeof(core_lua) - 1, "=core") != LUA_OK) abort();
    lua_pushstring(L, init_lua);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) abort();
    lua_pushvalue(L, -1);
    core_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushstring(L, "fuzz");
    lua_pushstring(L, "/nonexistent");
    lua_newtable(L);
    lua_pushlightuserdata(L, (void *)&invoke_ref);
    if (lua_pcall(L, 5, 1, 0) != LUA_OK) {
        fprintf(stderr, "runtime: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_getfield(L, -1, "invoke");
    invoke_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!L) setup();
    struct fuzz_input in = { data, size };
    unsigned which = fuzz_byte(&in);
    size_t len;
    const char *rest = (const char *)fuzz_rest(&in, &len);
    if (memchr(rest, '\0', len)) return 0;            /* message texts are C strings */

    lua_rawgeti(L, LUA_REGISTRYINDEX, core_ref);
    lua_getfield(L, -1, "handlers");
    int n = (int)luaL_len(L, -1);
    lua_rawgeti(L, -1, (lua_Integer)(which % (unsigned)n) + 1);
    lua_getfield(L, -1, "spec");
    lua_getfield(L, -1, "name");
    size_t nlen;
    const char *name = lua_tolstring(L, -1, &nlen);
    /* "!" name rest, dispatched only when the name ends at a blank or the end. */
    if (len && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\n') {
        lua_settop(L, 0);
        return 0;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '!');
    luaL_addlstring(&b, name, nlen);
    luaL_addlstring(&b, rest, len);
    luaL_pushresult(&b);                              /* text */
    int text = lua_gettop(L);

    lua_rawgeti(L, LUA_REGISTRYINDEX, invoke_ref);
    lua_getfield(L, text - 3, "fn");                  /* the handler entry's fn */
    lua_pushstring(L, "command");
    lua_newtable(L);                                  /* the message */
    lua_pushvalue(L, text);
    lua_setfield(L, -2, "text");
    lua_pushstring(L, "test");
    lua_setfield(L, -2, "platform");
    lua_pushstring(L, "c1");
    lua_setfield(L, -2, "channel");
    lua_newtable(L);                                  /* its author, as dispatch builds it */
    lua_pushstring(L, "u1");
    lua_setfield(L, -2, "id");
    lua_pushstring(L, "user");
    lua_setfield(L, -2, "role");
    lua_setfield(L, -2, "author");
    lua_pushstring(L, "!");
    if (lua_pcall(L, 4, 0, 0) != LUA_OK) {
        fprintf(stderr, "\"%s\": %s\n", lua_tostring(L, text), lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
