/* testkit_lua.c - the `kit` table: the few primitives lua/chorus/testkit.lua
 * builds the test API from. Calls that wait suspend the calling coroutine
 * (kit_suspend) and return when the daemon has settled. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "lib/lua_json.h"
#include "io/redis_client.h"
#include "core/runtime.h"
#include "skills/ask.h"
#include "skills/scheduler.h"
#include "model/script_model.h"
#include "core/server.h"
#include "skills/skills.h"
#include "platforms/test/testchat.h"
#include "app/testkit.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"


/* kit.run(fn, t, timeout_s) -> ok, message, traceback: run one test. */
static int kit_run(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    double timeout = luaL_checknumber(L, 3);
    lua_State *t = lua_newthread(kit.L);
    kit.test_ref = luaL_ref(kit.L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_xmove(L, t, 2);
    lua_settop(L, 0);
    kit_start_test(t, timeout > 0 ? timeout : 10);
    kit.waiter = NULL;   /* the runner is resumed by end_test, not by a wake */
    return lua_yield(L, 0);
}

/* kit.drain(): stop whatever still runs from the last test. */
static int kit_drain(lua_State *L) {
    lua_settop(L, 0);
    if (!kit_busy()) {
        lua_pushboolean(L, 1);
        return 1;
    }
    server.stopping = 2;
    skills_cancel_all(server.rt->skills);
    kit_settle(0);
    return kit_suspend(L, "the last test's handlers to stop");
}

/* kit.build(set, configs) -> true | nil, err: a fresh generation. */
static int kit_build(lua_State *L) {
    char err[4096];
    luaL_checktype(L, 1, LUA_TTABLE);
    server.stopping = 0;
    if (kit_build_runtime(L, 1, 2, err, sizeof(err)) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    scheduler_sync(server.rt->skills);
    lua_pushboolean(L, 1);
    return 1;
}

/* kit.clear(): forget the rooms' transcript and the scripted model. */
static int kit_clear(lua_State *L) {
    (void)L;
    testchat_reset();
    script_model_reset();
    return 0;
}

/* kit.settle() -> true once nothing runs and no timer is due. */
static int kit_settle_fn(lua_State *L) {
    lua_settop(L, 0);
    kit_settle(1);
    return kit_suspend(L, "the daemon to finish its work");
}

struct sleep_op {
    uv_timer_t timer;
    unsigned id;
};

/* The sleep's memory goes once libuv is done with its timer. */
static void on_sleep_closed(uv_handle_t *h) {
    free(h->data);
}

/* The sleep ended: wake the sleeper unless it gave up (timed out). */
static void on_sleep(uv_timer_t *t) {
    struct sleep_op *op = t->data;
    if (kit_op_current(op->id)) {
        lua_pushboolean(kit.waiter, 1);
        kit_wake(1);
    }
    uv_close((uv_handle_t *)t, on_sleep_closed);
}

/* kit.sleep(seconds): real time, for retries (Redis still connecting). */
static int kit_sleep(lua_State *L) {
    double s = luaL_checknumber(L, 1);
    lua_settop(L, 0);
    struct sleep_op *op = xcalloc(1, sizeof(*op));
    op->id = kit_op_begin();
    uv_timer_init(server.loop, &op->timer);
    op->timer.data = op;
    uv_timer_start(&op->timer, on_sleep, (uint64_t)(s > 0 ? s * 1000 : 0), 0);
    return kit_suspend(L, "a pause");
}

/* Push a Redis reply as Lua values; returns the count. */
static int push_reply(lua_State *L, const redisReply *r) {
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: lua_pushlstring(L, r->str, r->len); return 1;
    case REDIS_REPLY_INTEGER: lua_pushinteger(L, r->integer); return 1;
    case REDIS_REPLY_ARRAY:
        lua_createtable(L, (int)r->elements, 0);
        for (size_t i = 0; i < r->elements; i++) {
            if (push_reply(L, r->element[i]) == 2) lua_pop(L, 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return 1;
    case REDIS_REPLY_ERROR:
        lua_pushnil(L);
        lua_pushlstring(L, r->str, r->len);
        return 2;
    default: lua_pushnil(L); return 1;
    }
}

/* A reply for kit.redis: hand it to the waiter if it still waits. */
static void on_redis(redisReply *r, const char *err, void *data) {
    unsigned id = (unsigned)(uintptr_t)data;
    if (!kit_op_current(id)) return;
    lua_State *w = kit.waiter;
    if (err) {
        lua_pushnil(w);
        lua_pushstring(w, err);
        kit_wake(2);
        return;
    }
    kit_wake(push_reply(w, r));
}

/* kit.redis(cmd, args...) -> reply | nil, err (the daemon's connection). */
static int kit_redis(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 64) return luaL_error(L, "redis: give a command and up to 63 arguments");
    const char *argv[64];
    size_t lens[64];
    for (int i = 0; i < argc; i++) argv[i] = luaL_checklstring(L, i + 1, &lens[i]);
    unsigned id = kit_op_begin();
    if (redis_command(server.redis, on_redis, (void *)(uintptr_t)id, argc, argv, lens) < 0) {
        lua_settop(L, 0);
        lua_pushnil(L);
        lua_pushstring(L, "Redis is not available");
        return 2;
    }
    char what[200];
    snprintf(what, sizeof(what), "Redis to answer %s", argv[0]);
    lua_settop(L, 0);
    return kit_suspend(L, what);
}

/* A string field of the table at 1, or DEF. */
static const char *field(lua_State *L, const char *key, const char *def) {
    lua_getfield(L, 1, key);
    const char *s = lua_isstring(L, -1) ? lua_tostring(L, -1) : def;
    lua_pop(L, 1);   /* the table keeps the string alive */
    return s;
}

/* kit.say{channel, user_id, user, text | event, reaction, reply_to, direct}
 * -> id, true once its handlers (and whatever they started) are done. */
static int kit_say(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "direct");
    int direct = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    struct testchat_say s = {
        .channel = field(L, "channel", "lobby"), .user_id = field(L, "user_id", "test:user"),
        .user_name = field(L, "user", "user"), .text = field(L, "text", NULL), .event = field(L, "event", NULL),
        .reaction = field(L, "reaction", NULL), .reply_to = field(L, "reply_to", NULL), .direct = direct,
    };
    if (!s.text && !s.event) return luaL_error(L, "say: text or event is required");
    char what[400];
    snprintf(what, sizeof(what), "the handlers of %s \"%.200s\" in %.100s", s.event ? "event" : "message",
             s.event ? s.event : s.text, s.channel);
    const char *id = testchat_say(&s);
    lua_settop(L, 0);
    if (!id) {
        lua_pushnil(L);
        lua_pushstring(L, "the channel's queue is full");
        return 2;
    }
    lua_pushstring(L, id);
    kit_settle(1);
    return kit_suspend(L, what);
}

/* kit.advance(seconds): move virtual time; due timers and schedules run. */
static int kit_advance(lua_State *L) {
    double s = luaL_checknumber(L, 1);
    if (s < 0) return luaL_error(L, "advance: time only moves forward");
    lua_settop(L, 0);
    vclock_advance(s);
    scheduler_kick();
    ask_kick();
    kit_settle(1);
    return kit_suspend(L, "timers due after advancing the clock");
}

/* kit.transcript(): everything said so far, for the room helpers. */
static int kit_transcript(lua_State *L) {
    lua_json_push(L, testchat_transcript());
    return 1;
}

/* kit.model_push(text [, error]): queue the scripted model's next answer. */
static int kit_model_push(lua_State *L) {
    const char *text = luaL_optstring(L, 1, "");
    const char *error = luaL_optstring(L, 2, NULL);
    script_model_push(text, error);
    return 0;
}

/* kit.model_requests(): what plugins asked the scripted model. */
static int kit_model_requests(lua_State *L) {
    lua_json_push(L, script_model_requests());
    return 1;
}

/* kit.now(): the virtual time skills see. */
static int kit_now(lua_State *L) {
    lua_pushnumber(L, vclock_now());
    return 1;
}

/* Keep test files in name order. */
static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* kit.test_files(dir) -> { "dir/test.lua", "dir/test/a.lua", ... } */
static int kit_test_files(lua_State *L) {
    const char *dir = luaL_checkstring(L, 1);
    char path[PATH_MAX];
    int n = 0;
    lua_newtable(L);
    snprintf(path, sizeof(path), "%s/test.lua", dir);
    if (access(path, R_OK) == 0) {
        lua_pushstring(L, path);
        lua_rawseti(L, -2, ++n);
    }
    snprintf(path, sizeof(path), "%s/test", dir);
    DIR *d = opendir(path);
    if (!d) return 1;
    char *names[256];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) && count < 256) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] != '.' && len > 4 && !strcmp(e->d_name + len - 4, ".lua")) names[count++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof(char *), compare_names);
    for (int i = 0; i < count; i++) {
        lua_pushfstring(L, "%s/test/%s", dir, names[i]);
        lua_rawseti(L, -2, ++n);
        free(names[i]);
    }
    return 1;
}

/* kit.realpath(p) -> absolute path | nil, err */
static int kit_realpath(lua_State *L) {
    char out[PATH_MAX];
    if (!realpath(luaL_checkstring(L, 1), out)) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    lua_pushstring(L, out);
    return 1;
}

/* The only door from the runner into the daemon. */
void kit_push_api(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "run", kit_run },
        { "drain", kit_drain },
        { "build", kit_build },
        { "clear", kit_clear },
        { "settle", kit_settle_fn },
        { "sleep", kit_sleep },
        { "redis", kit_redis },
        { "say", kit_say },
        { "advance", kit_advance },
        { "transcript", kit_transcript },
        { "model_push", kit_model_push },
        { "model_requests", kit_model_requests },
        { "now", kit_now },
        { "test_files", kit_test_files },
        { "realpath", kit_realpath },
        { NULL, NULL }
    };
    luaL_newlib(L, fns);
    lua_pushstring(L, kit.tmp);
    lua_setfield(L, -2, "tmp");
    kit_http_register(L);
    kit_mock_register(L);
}
