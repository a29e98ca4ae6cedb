/* testkit_wait.c - suspend kit calls until the daemon is quiet, resume them
 * from the loop, and bound every test by its deadline.
 *
 * "Quiet" means no message queued or in flight, no plugin task running and
 * no timer due in Redis. The last needs a Redis round trip: a ZCOUNT of due
 * entries sent on the daemon's own connection is answered after any claim
 * the scheduler sent before it, so a zero there (with nothing running)
 * means every due timer has fired and finished. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "io/redis_client.h"
#include "core/runtime.h"
#include "skills/ask.h"
#include "skills/scheduler.h"
#include "core/server.h"
#include "skills/skills.h"
#include "app/testkit.h"
#include "lib/vclock.h"

static uv_timer_t resume_timer;      /* resumes on a fresh loop turn, never inside a callback */
static uv_timer_t deadline_timer;    /* the running test's limit */
static uv_prepare_t settle_check;    /* looks for quiet before the loop blocks */
static lua_State *resume_thread;
static int resume_nargs;
static int settling;                 /* 0: no, 1: drain only, 2: drain and probe Redis */
static int probing;                  /* a ZCOUNT is in flight */
static unsigned settle_gen;          /* bumps when a settle ends, so late replies are ignored */

static unsigned op_seq;              /* the newest waiting operation */

static void resume_now(lua_State *co, int nargs);

/* Number an operation so its completion can tell whether anyone still waits. */
unsigned kit_op_begin(void) {
    return ++op_seq;
}

/* A completion delivers only while its operation is the one waited for. */
int kit_op_current(unsigned id) {
    return id == op_seq && kit.waiter != NULL;
}

/* Work the daemon still has: jobs queued or running, plugin tasks alive.
 * A handler waiting in msg:ask for a person (not yet timed out) is not
 * work: its job and its task do not count. */
int kit_busy(void) {
    int idle = ask_idle();
    return server.jobs_in_flight - idle > 0 || server.jobs_queued > 0 || scheduler_held() > 0 ||
           (server.rt && skill_host_tasks(server.rt->skills) - idle > 0);
}

/* After a yield, report a timeout instead of results once the test is late. */
static int kit_continue(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    (void)ctx;
    if (L == kit.test && kit.timed_out) {
        char n[32];
        snprintf(n, sizeof(n), "%g", kit.timeout_s);
        lua_settop(L, 0);
        lua_pushnil(L);
        lua_pushfstring(L, "timed out after %s s waiting for %s", n, kit.what);
        return 2;
    }
    return lua_gettop(L);
}

/* Park the calling coroutine; the loop carries on and kit_wake resumes it. */
int kit_suspend(lua_State *L, const char *what) {
    if (L == kit.test && kit.timed_out) return kit_continue(L, LUA_OK, 0);
    kit.waiter = L;
    snprintf(kit.what, sizeof(kit.what), "%s", what);
    return lua_yieldk(L, 0, 0, kit_continue);
}

/* The 0 ms timer: resume the staged thread outside any other callback. */
static void on_resume_timer(uv_timer_t *t) {
    lua_State *co = resume_thread;
    int n = resume_nargs;
    (void)t;
    resume_thread = NULL;
    if (co) resume_now(co, n);
}

/* Defer a resume to a fresh loop turn, so no callback re-enters Lua. */
void kit_resume_later(lua_State *thread, int n) {
    if (resume_thread) fprintf(stderr, "chorus-test: internal error: two resumes at once\n");
    resume_thread = thread;
    resume_nargs = n;
    uv_timer_start(&resume_timer, on_resume_timer, 0, 0);
}

/* The awaited thing happened: resume the waiter with the values pushed. */
void kit_wake(int n) {
    lua_State *w = kit.waiter;
    kit.waiter = NULL;
    if (w) kit_resume_later(w, n);
}

/* Stop settling (done, or the test timed out). */
static void settle_end(void) {
    settling = 0;
    settle_gen++;
    uv_prepare_stop(&settle_check);
}

/* Redis said how many timers are due: kick the scheduler, or finish. */
static void on_probe(redisReply *r, const char *err, void *data) {
    unsigned gen = (unsigned)(uintptr_t)data;
    probing = 0;
    if (gen != settle_gen || !settling) return;
    if (!err && r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        scheduler_kick();
        return;
    }
    if (kit_busy()) return;
    settle_end();
    lua_pushboolean(kit.waiter, 1);
    kit_wake(1);
}

/* Before the loop blocks: if nothing runs, ask Redis (or finish a drain). */
static void on_settle_check(uv_prepare_t *h) {
    (void)h;
    if (!settling || probing || kit_busy()) return;
    if (settling == 1) {
        settle_end();
        lua_pushboolean(kit.waiter, 1);
        kit_wake(1);
        return;
    }
    char key[300], now[64];
    snprintf(key, sizeof(key), "%stimers", redis_client_prefix(server.redis));
    snprintf(now, sizeof(now), "%.3f", vclock_now());
    const char *argv[4] = { "ZCOUNT", key, "-inf", now };
    if (redis_command(server.redis, on_probe, (void *)(uintptr_t)settle_gen, 4, argv, NULL) == 0) {
        probing = 1;
        return;
    }
    settle_end();   /* Redis is down: nothing more can fire */
    lua_pushboolean(kit.waiter, 1);
    kit_wake(1);
}

/* Wait for quiet: checked before each time the loop would block. */
void kit_settle(int probe) {
    settling = probe ? 2 : 1;
    uv_prepare_start(&settle_check, on_settle_check);
}

/* The running test passed its limit while waiting: end the wait. */
static void on_deadline(uv_timer_t *t) {
    (void)t;
    kit.timed_out = 1;
    if (kit.waiter == kit.test && kit.test) {
        if (settling) settle_end();
        kit_wake(0);
    }
}

/* A count hook on the test's coroutine: a busy loop meets the deadline too.
 * Once late, it raises at every instruction so pcall cannot keep it going. */
static void kit_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (uv_hrtime() < kit.deadline_ns) return;
    kit.timed_out = 1;
    lua_sethook(L, kit_hook, LUA_MASKCOUNT, 1);
    char n[32];
    snprintf(n, sizeof(n), "%g", kit.timeout_s);
    lua_pushfstring(L, "timed out after %s s (busy in Lua: an endless loop in the test?)", n);
    luaL_where(L, 0);
    lua_insert(L, -2);
    lua_concat(L, 2);
    lua_error(L);
}

/* A test ended: hand (ok, message, traceback) to the runner. */
static void end_test(int ok, lua_State *co) {
    uv_timer_stop(&deadline_timer);
    if (settling) settle_end();
    lua_State *r = kit.runner;
    lua_pushboolean(r, ok);
    if (ok) {
        lua_pushnil(r);
        lua_pushnil(r);
    } else {
        const char *msg = lua_tostring(co, -1);
        if (!msg) msg = luaL_typename(co, -1);
        lua_pushstring(r, msg);
        luaL_traceback(r, co, NULL, 0);
    }
    luaL_unref(kit.L, LUA_REGISTRYINDEX, kit.test_ref);
    kit.test = NULL;
    kit.waiter = NULL;
    kit_resume_later(r, 3);
}

/* Resume CO and act on how it stops. */
static void resume_now(lua_State *co, int nargs) {
    int nres = 0;
    int st = lua_resume(co, kit.L, nargs, &nres);
    if (st == LUA_YIELD && (kit.waiter == co || co == kit.runner)) return;   /* waiting on a call or a test */
    if (co == kit.test) {
        if (st == LUA_YIELD) {
            lua_pushstring(co, "the test yielded by itself (coroutine.yield outside a coroutine of its own)");
            st = LUA_ERRRUN;
        }
        end_test(st == LUA_OK, co);
        return;
    }
    if (st == LUA_OK) {
        kit.exit_code = lua_isinteger(co, -1) && lua_tointeger(co, -1) == 0 ? 0 : 1;
    } else {
        fprintf(stderr, "chorus-test: internal error: %s\n", lua_tostring(co, -1));
        kit.exit_code = 2;
    }
    kit.done = 1;
    uv_stop(server.loop);
}

/* Every test runs under a deadline: a timer while it waits, a hook while it runs. */
void kit_start_test(lua_State *t, double timeout_s) {
    kit.test = t;
    kit.timed_out = 0;
    kit.timeout_s = timeout_s;
    kit.deadline_ns = uv_hrtime() + (uint64_t)(timeout_s * 1e9);
    lua_sethook(t, kit_hook, LUA_MASKCOUNT, 1000);
    uv_timer_start(&deadline_timer, on_deadline, (uint64_t)(timeout_s * 1000), 0);
    kit_resume_later(t, 1);
}

/* The handles live as long as the test run. */
void kit_wait_init(uv_loop_t *loop) {
    uv_timer_init(loop, &resume_timer);
    uv_timer_init(loop, &deadline_timer);
    uv_prepare_init(loop, &settle_check);
}

/* Close the handles at tear-down so the loop can end. */
void kit_wait_close(void) {
    uv_close((uv_handle_t *)&resume_timer, NULL);
    uv_close((uv_handle_t *)&deadline_timer, NULL);
    uv_close((uv_handle_t *)&settle_check, NULL);
}
