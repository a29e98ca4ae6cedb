/* task.h - a handler's coroutine, as the C functions that wait see it.
 *
 * Every handler run is a task: a coroutine in its plugin's lua_State. A C
 * API function that waits (a model call, a Redis command, a timer) starts
 * its operation, then `return task_wait(L, t, op, cancel);`. When the
 * operation completes it pushes its results on task_stack(t) and calls
 * task_resume(t, n). If the task is stopped first (its deadline passed, the
 * daemon is shutting down), CANCEL(op) runs instead and must make sure the
 * operation never touches the task again.
 *
 * Waits also work from coroutines the skill creates itself: the runtime
 * library's coroutine.resume passes our yields up to the task (see
 * lua/chorus/runtime.lua), as OpenResty does. */
#ifndef CHORUS_TASK_H
#define CHORUS_TASK_H
#include <stdint.h>
#include <lua.h>

struct task;
struct plugin;
struct job;

/* How a task ended, for its owner. */
enum task_end { TASK_DONE, TASK_DECLINED, TASK_FAILED };

typedef void task_end_fn(struct task *t, enum task_end how, void *data);

/* Start FN (a function in PLUGIN's state, pushed by PUSH_ARGS) as a task.
 * PUSH_ARGS pushes the arguments on the new coroutine and returns their
 * count. END runs once when the task ends (it may run before task_start
 * returns), with the handler's results still on task_stack(); the task is
 * freed after it. */
void task_start(struct plugin *p, int fn_ref, struct job *job,
                int (*push_args)(lua_State *co, void *arg), void *arg,
                task_end_fn *end, void *data);
/* The task running in L, or a Lua error when called outside a handler. */
struct task *task_check(lua_State *L);
struct job *task_job(const struct task *t);
struct plugin *task_plugin(const struct task *t);
/* Milliseconds left before the task's total deadline (at least 1). */
long task_remaining_ms(const struct task *t);
/* Suspend the task until task_resume(). */
int task_wait(lua_State *L, struct task *t, void *op, void (*cancel)(void *op));
lua_State *task_stack(struct task *t);
void task_resume(struct task *t, int nargs);
/* Stop a task where it is: its wait is cancelled and it ends as failed. */
void task_cancel(struct task *t, const char *why);
/* Install the budget hook on a plugin's main thread. */
void task_install_hook(lua_State *L);
/* Budgets for Lua run outside tasks (loading, matchers): limits for the
 * next stretch of code run in P's state. */
void task_budget_begin(struct plugin *p);
/* The same, for work done for JOB's message: the stretch ends where the
 * message's CPU budget does, but is never shorter than FLOOR_MS. */
void task_budget_begin_job(struct plugin *p, const struct job *job, long floor_ms);
/* Milliseconds of CPU JOB's message may still use in P (may be <= 0). */
long task_message_left_ms(const struct plugin *p, const struct job *job);

/* The CPU P's current stretch has used, in ns (see task.c), to charge
 * to its message's budget. */
uint64_t task_budget_used_ns(struct plugin *p);
/* After a C function the sandbox exposes: raise the budget error when the
 * stretch is over, since the count hook cannot fire inside a C call. */
void task_charge(lua_State *L);
/* core.abandon(): the runtime library could not pass a wait up (its yield
 * would cross a C call); cancel what the running task armed. */
int task_lua_abandon(lua_State *L);
/* chorus.spawn(fn, ...) and chorus.join(handle): concurrent work inside a
 * handler. Children share the handler's message; a child still running
 * when its parent ends is stopped. Lua C functions. */
int task_lua_spawn(lua_State *L);
int task_lua_join(lua_State *L);
/* The marker our yields carry, so the runtime library can tell them apart
 * from a skill's own coroutine.yield. */
void *task_yield_marker(void);
#endif
