/* testkit.h - `chorusd --test`: run plugin authors' Lua tests against the
 * real daemon on its own loop (docs/testing-plugins.md).
 *
 * The kit has its own lua_State running lua/chorus/testkit.lua (the
 * runner and the `t` API) as a coroutine; each test runs in a coroutine of
 * its own. Kit calls that wait (a message's handlers, virtual time, Redis)
 * suspend that coroutine and the loop resumes it when the daemon is quiet,
 * so tests read straight down while the loop never blocks.
 *
 *   testkit.c          options, start-up and tear-down
 *   testkit_wait.c     suspending and resuming, settling, test deadlines
 *   testkit_runtime.c  a fresh config generation and plugin set per test
 *   testkit_lua.c      the `kit` functions the runner builds `t` from
 *   testkit_http.c     requests to the daemon's own HTTP listener (webhooks)
 *   testkit_mock.c     mocked outbound HTTP, scripted failures and tool calls,
 *                      several messages at once */
#ifndef CHORUS_TESTKIT_H
#define CHORUS_TESTKIT_H
#include <lua.h>
#include <uv.h>

struct kit {
    lua_State *L;            /* the kit's own state (not sandboxed: tests are the author's code) */
    lua_State *runner;       /* runs testkit.lua */
    lua_State *test;         /* the running test, or NULL */
    int test_ref;
    lua_State *waiter;       /* the thread suspended in a kit call, or NULL */
    char what[300];          /* what it waits for, for the timeout message */
    int timed_out;           /* the running test passed its deadline */
    double timeout_s;        /* the running test's limit */
    uint64_t deadline_ns;    /* uv_hrtime() limit of the running test */
    int done;                /* the runner finished */
    int exit_code;
    char *tmp;               /* temp data dir: lua -> the real one, plugins/ per test */
    char *config_file;       /* base config of every test */
    char *redis_url;
    char *data_dir;          /* the real data dir */
};

extern struct kit kit;

/* The test mode's main(); ARGV[1] is "--test". */
int testkit_main(int argc, char **argv);

/* ---- testkit_wait.c ---- */
void kit_wait_init(uv_loop_t *loop);
void kit_wait_close(void);
/* Suspend L (its stack already cleared) until kit_wake(); WHAT names the
 * wait for a timeout message. Use as `return kit_suspend(L, what);`. */
int kit_suspend(lua_State *L, const char *what);
/* Resume the waiter on the next loop turn with the N values the caller has
 * pushed on kit.waiter's stack. */
void kit_wake(int n);
/* Resume THREAD with N values on its stack on the next loop turn. */
void kit_resume_later(lua_State *thread, int n);
/* Wake the waiter with `true` once no job, task or due timer is left
 * (PROBE: also ask Redis for due timers and kick the scheduler). */
void kit_settle(int probe);
/* Start test thread T (function and argument pushed) with a deadline. */
void kit_start_test(lua_State *t, double timeout_s);
/* Number a new waiting operation; a completion whose number is no longer
 * current (the test timed out and moved on) must drop its result. */
unsigned kit_op_begin(void);
int kit_op_current(unsigned id);
/* Is the daemon doing anything? */
int kit_busy(void);

/* ---- testkit_runtime.c ---- */
/* Load the plugins listed in table SET ({name=, dir=}...) with the plugin
 * config tables in CONFIGS ({name = table}) as a new config generation.
 * Returns 0 or -1 with err. */
int kit_build_runtime(lua_State *L, int set, int configs, char *err, size_t errlen);
/* Remove what kit_build_runtime put in the temp dir. */
void kit_clear_plugins(void);

/* ---- testkit_lua.c ---- */
/* Push the `kit` table. */
void kit_push_api(lua_State *L);

/* ---- testkit_http.c ---- */
/* Start the HTTP listener on a free loopback port (routes, health). */
int kit_http_start(char *err, size_t errlen);
/* Add http() and hmac() to the kit table on top of L's stack. */
void kit_http_register(lua_State *L);
/* ---- testkit_mock.c ---- */
/* Add http_mock(), model_fail(), model_tool_call() and say_many() to the
 * kit table on top of L's stack. */
void kit_mock_register(lua_State *L);
/* Tear-down: plugins' HTTP goes out again, the mock function is dropped. */
void kit_mock_reset(void);
#endif
