/* task.c - run handlers as coroutines, suspend them on I/O, bound their CPU.
 *
 * A task is resumed from the loop whenever what it waits for completes.
 * Between two yields it may run at most its plugin's slice (instructions
 * and CPU time, checked by a count hook); once the slice is spent the
 * hook raises at every instruction, so a pcall cannot swallow the stop.
 * CPU time is the wall clock while a stretch is short, and the thread's
 * CPU clock past that, so time the kernel gives other processes on a busy
 * machine is not charged to the plugin.
 * The whole run, waits included, is bounded by the plugin's deadline. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lauxlib.h>
#include "core/job.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "skills/plugin.h"
#include "core/server.h"
#include "skills/task.h"
#include "lib/xalloc.h"

#define HOOK_EVERY 1000
#define CPU_CLOCK_AFTER_NS 1000000u  /* a stretch this long reads the thread's CPU clock */
#define SPAWN_MAX 256          /* tasks one handler run may spawn, its children's included */
#define STRETCH_FLOOR_MS 20    /* a handler's stretch once its message's budget is spent */

struct spawn {
    int id;
    struct task *child;         /* NULL once it ended */
    int ok;                     /* it returned (1) or failed (0) */
    int results_ref;            /* its results packed in a table */
    struct task *joiner;        /* a task waiting in join(), or NULL */
    struct spawn *next;
};

struct task {
    struct plugin *plugin;
    struct spawn *spawns;       /* children started with chorus.spawn */
    int next_spawn_id;
    lua_State *co;
    int ref;
    struct job *job;
    task_end_fn *end;
    void *end_data;
    void *op;                   /* what the task waits for */
    void (*cancel)(void *op);
    uint64_t deadline;          /* uv_now() limit of the whole run */
    uint64_t started_ms;
    struct task *root;          /* the handler run this task belongs to (itself, or a spawner) */
    int nspawned;               /* on the root: tasks spawned in the whole run */
    struct task *prev, *next;
};

static char yield_marker;

void *task_yield_marker(void) {
    return &yield_marker;
}

/* The calling thread's CPU time in ns: a system call (~0.7 us on a VM),
 * so it is read only in stretches longer than CPU_CLOCK_AFTER_NS. */
static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU used by B's stretch at NOW: its wall time until the thread's CPU
 * clock is read (at the first check past CPU_CLOCK_AFTER_NS), then that
 * wall time plus the CPU the thread used since. */
static uint64_t stretch_used_ns(struct plugin_budget *b, uint64_t now) {
    uint64_t wall = now - b->start;
    if (!b->have_cpu) {
        if (wall < CPU_CLOCK_AFTER_NS) return wall;
        b->have_cpu = 1;
        b->cpu_base = thread_cpu_ns();
        b->cpu_base_wall = wall;
        return wall;
    }
    return b->cpu_base_wall + (thread_cpu_ns() - b->cpu_base);
}

/* Whether P's stretch has spent its CPU limit. Cheap until a check could
 * find it spent: CPU time grows no faster than the wall clock, so after a
 * reading of U ns nothing needs reading for another limit - U ns. */
static int stretch_spent(struct plugin *p) {
    struct plugin_budget *b = &p->budget;
    uint64_t now = uv_hrtime();
    if (b->limit_ms <= 0) return 1;
    if (now < b->recheck) return 0;
    uint64_t limit = (uint64_t)b->limit_ms * 1000000u;
    uint64_t used = stretch_used_ns(b, now);
    if (used > limit) return 1;
    b->recheck = now + (limit - used);
    if (!b->have_cpu && b->recheck > b->start + CPU_CLOCK_AFTER_NS) b->recheck = b->start + CPU_CLOCK_AFTER_NS;
    return 0;
}

uint64_t task_budget_used_ns(struct plugin *p) {
    return stretch_used_ns(&p->budget, uv_hrtime());
}

/* The CPU budget: count instructions and CPU time since the last resume. */
static void budget_hook(lua_State *L, lua_Debug *ar) {
    struct plugin *p = plugin_of(L);
    struct plugin_budget *b = &p->budget;
    (void)ar;
    b->insns += HOOK_EVERY;
    if (!b->tripped) {
        if (b->insns <= p->slice_insns && !stretch_spent(p)) return;
        b->tripped = 1;
        /* From now on raise at every instruction, so a loop around pcall
         * meets the error outside the pcall too and the run unwinds. */
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    }
    luaL_error(L, "plugin %s ran out of its CPU budget (an endless loop?)", p->name);
}

void task_install_hook(lua_State *L) {
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

void task_budget_begin(struct plugin *p) {
    p->budget.insns = 0;
    p->budget.start = uv_hrtime();
    p->budget.limit_ms = p->slice_ms;
    p->budget.recheck = p->budget.start;
    p->budget.have_cpu = 0;
    p->budget.tripped = 0;
    lua_sethook(p->L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

long task_message_left_ms(const struct plugin *p, const struct job *job) {
    long used = job ? (long)(job->cpu_ns / 1000000u) : 0;
    return p->message_ms - used;
}

void task_budget_begin_job(struct plugin *p, const struct job *job, long floor_ms) {
    task_budget_begin(p);
    if (!job) return;
    long left = task_message_left_ms(p, job);
    if (left < floor_ms) left = floor_ms;
    if (left < p->budget.limit_ms) p->budget.limit_ms = left;
}

void task_charge(lua_State *L) {
    struct plugin *p = plugin_of(L);
    struct plugin_budget *b = &p->budget;
    if (!b->tripped) {
        if (!stretch_spent(p)) return;
        b->tripped = 1;
    }
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "plugin %s ran out of its CPU budget (an endless loop?)", p->name);
}

struct task *task_check(lua_State *L) {
    struct plugin *p = plugin_of(L);
    if (!p->running) luaL_error(L, "this call works only inside a handler");
    return p->running;
}

struct job *task_job(const struct task *t) {
    return t->job;
}

struct plugin *task_plugin(const struct task *t) {
    return t->plugin;
}

long task_remaining_ms(const struct task *t) {
    uint64_t now = uv_now(server.loop);
    return t->deadline > now + 1 ? (long)(t->deadline - now) : 1;
}

lua_State *task_stack(struct task *t) {
    return t->co;
}

/* Drop whatever T still waits for: a wait that never yielded, or one
 * left when T ends. */
static void cancel_pending(struct task *t) {
    void *op = t->op;
    void (*cancel)(void *) = t->cancel;
    t->op = NULL;
    t->cancel = NULL;
    if (op && cancel) cancel(op);
}

int task_wait(lua_State *L, struct task *t, void *op, void (*cancel)(void *op)) {
    cancel_pending(t);
    if (!lua_isyieldable(L)) {
        /* Inside a C-called callback (a table.sort comparator, a gsub
         * function, a metamethod): the yield would fail, so what was
         * armed must never resume this task. */
        if (cancel) cancel(op);
        return luaL_error(L, "chorus calls that wait cannot wait here (inside a table.sort comparator, "
                             "a string.gsub function, a metamethod or another C-called function)");
    }
    t->op = op;
    t->cancel = cancel;
    lua_pushlightuserdata(L, &yield_marker);
    return lua_yield(L, 1);
}

int task_lua_abandon(lua_State *L) {
    struct plugin *p = plugin_of(L);
    if (p->running) cancel_pending(p->running);
    return 0;
}

static void stop_children(struct task *t);

/* Unlink and free T after telling its owner how it ended. */
static void task_finish(struct task *t, enum task_end how) {
    struct plugin *p = t->plugin;
    cancel_pending(t);
    stop_children(t);
    if (t->prev) t->prev->next = t->next;
    else p->tasks = t->next;
    if (t->next) t->next->prev = t->prev;
    p->ntasks--;
    metrics_observe(METRIC_SKILL_SECONDS, p->name, (double)(uv_now(server.loop) - t->started_ms) / 1000.0);
    /* The owner may read the results still on the coroutine's stack. */
    t->end(t, how, t->end_data);
    lua_resetthread(t->co);
    luaL_unref(p->L, LUA_REGISTRYINDEX, t->ref);
    free(t);
    plugin_release(p);
}

/* Log a failed run with the plugin's name and a traceback. */
static void log_failure(struct task *t) {
    struct plugin *p = t->plugin;
    const char *msg = lua_type(t->co, -1) == LUA_TSTRING ? lua_tostring(t->co, -1)
                                                        : "(the error is not a string)";
    luaL_traceback(p->L, t->co, NULL, 0);
    log_traceback(LOG_LEVEL_ERROR, lua_tostring(p->L, -1), "plugin %s: handler failed: %s", p->name, msg);
    lua_pop(p->L, 1);
    metrics_inc(METRIC_SKILL_ERRORS, p->name, 1);
}

/* Resume T with NARGS values on its stack and act on how it stops. */
static void task_run(struct task *t, int nargs) {
    struct plugin *p = t->plugin;
    int nres = 0;
    /* At the deadline is past it: a wait cut short to the deadline (a long
     * chorus.sleep) ends the run, even when its timer fires on the very ms. */
    if (uv_now(server.loop) >= t->deadline) {
        log_error("plugin %s: handler stopped: it ran past its %ld ms deadline", p->name, p->deadline_ms);
        metrics_inc(METRIC_SKILL_ERRORS, p->name, 1);
        task_finish(t, TASK_FAILED);
        return;
    }
    struct task *outer = p->running;
    p->running = t;
    /* A task started from inside another (chorus.spawn) runs on its
     * spawner's budget: spawning must not buy a fresh one. */
    if (!outer) task_budget_begin_job(p, t->job, STRETCH_FLOOR_MS);
    lua_sethook(t->co, budget_hook, LUA_MASKCOUNT, p->budget.tripped ? 1 : HOOK_EVERY);
    int st = lua_resume(t->co, p->L, nargs, &nres);
    p->running = outer;
    if (!outer && t->job) t->job->cpu_ns += task_budget_used_ns(p);
    if (st == LUA_YIELD) {
        int ours = nres >= 1 && lua_touserdata(t->co, -1) == &yield_marker;
        lua_pop(t->co, nres);
        if (t->op && ours) return;
        log_error("plugin %s: a handler yielded outside the chorus API; stopping it", p->name);
        task_finish(t, TASK_FAILED);
        return;
    }
    if (st != LUA_OK) {
        log_failure(t);
        task_finish(t, TASK_FAILED);
        return;
    }
    int declined = nres >= 1 && lua_isboolean(t->co, -nres) && !lua_toboolean(t->co, -nres);
    task_finish(t, declined ? TASK_DECLINED : TASK_DONE);
}

void task_start(struct plugin *p, int fn_ref, struct job *job,
                int (*push_args)(lua_State *co, void *arg), void *arg,
                task_end_fn *end, void *data) {
    struct task *t = xcalloc(1, sizeof(*t));
    t->plugin = plugin_acquire(p);
    t->started_ms = uv_now(server.loop);
    metrics_inc(METRIC_SKILL_RUNS, p->name, 1);
    t->job = job;
    t->end = end;
    t->end_data = data;
    t->deadline = uv_now(server.loop) + (uint64_t)p->deadline_ms;
    t->root = t;
    if (p->running && p->running->job == job) t->root = p->running->root;
    t->co = lua_newthread(p->L);
    t->ref = luaL_ref(p->L, LUA_REGISTRYINDEX);
    t->next = p->tasks;
    if (p->tasks) p->tasks->prev = t;
    p->tasks = t;
    p->ntasks++;
    lua_rawgeti(t->co, LUA_REGISTRYINDEX, fn_ref);
    int n = push_args ? push_args(t->co, arg) : 0;
    task_run(t, n);
}

void task_resume(struct task *t, int nargs) {
    t->op = NULL;
    t->cancel = NULL;
    task_run(t, nargs);
}

/* Stop T where it is, telling the log at LEVEL why. */
static void task_stop(struct task *t, const char *why, int quiet) {
    cancel_pending(t);
    if (quiet) log_debug("plugin %s: handler stopped: %s", t->plugin->name, why);
    else log_warn("plugin %s: handler stopped: %s", t->plugin->name, why);
    task_finish(t, TASK_FAILED);
}

void task_cancel(struct task *t, const char *why) {
    task_stop(t, why, 0);
}

/* ---- spawn and join ---- */

/* Push the arguments of a spawned function: moved from the parent. */
struct spawn_args {
    lua_State *from;
    int first, n;
};

static int push_spawn_args(lua_State *co, void *arg) {
    struct spawn_args *a = arg;
    for (int i = 0; i < a->n; i++) lua_pushvalue(a->from, a->first + i);
    lua_xmove(a->from, co, a->n);
    return a->n;
}

/* Push a finished child's outcome: true, results... or false, error. */
static int push_outcome(lua_State *L, struct spawn *s) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->results_ref);
    int n = (int)lua_rawlen(L, -1);
    lua_pushboolean(L, s->ok);
    for (int i = 1; i <= n; i++) lua_rawgeti(L, -(i + 1), i);
    lua_remove(L, -(n + 2));
    return n + 1;
}

/* A child ended: keep its results for join(), wake a waiting joiner. */
static void on_child_end(struct task *child, enum task_end how, void *data) {
    struct spawn *s = data;
    lua_State *L = child->plugin->L;
    lua_State *co = child->co;
    s->child = NULL;
    s->ok = how != TASK_FAILED;
    lua_newtable(L);
    if (s->ok) {
        int n = lua_gettop(co);
        lua_xmove(co, L, n);
        for (int i = n; i >= 1; i--) lua_rawseti(L, -(i + 1), i);
    } else {
        if (lua_type(co, -1) == LUA_TSTRING) lua_xmove(co, L, 1);
        else lua_pushstring(L, "the spawned function failed (see the log)");
        lua_rawseti(L, -2, 1);
    }
    s->results_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (s->joiner) {
        struct task *j = s->joiner;
        s->joiner = NULL;
        task_resume(j, push_outcome(task_stack(j), s));
    }
}

int task_lua_spawn(lua_State *L) {
    struct task *t = task_check(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    struct plugin *p = t->plugin;
    if (t->root->nspawned >= SPAWN_MAX)
        return luaL_error(L, "chorus.spawn: too many spawned tasks (at most %d per handler run)", SPAWN_MAX);
    t->root->nspawned++;
    struct spawn *s = xcalloc(1, sizeof(*s));
    s->id = ++t->next_spawn_id;
    s->results_ref = LUA_NOREF;
    s->next = t->spawns;
    t->spawns = s;
    lua_pushvalue(L, 1);
    int fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    struct spawn_args a = { L, 2, lua_gettop(L) - 1 };
    s->child = (struct task *)1;   /* running until on_child_end says otherwise */
    task_start(p, fn_ref, t->job, push_spawn_args, &a, on_child_end, s);
    luaL_unref(L, LUA_REGISTRYINDEX, fn_ref);
    lua_pushinteger(L, s->id);
    return 1;
}

/* The joiner was stopped: forget it. */
static void cancel_join(void *op) {
    struct spawn *s = op;
    s->joiner = NULL;
}

int task_lua_join(lua_State *L) {
    struct task *t = task_check(L);
    lua_Integer id = luaL_checkinteger(L, 1);
    struct spawn *s = t->spawns;
    while (s && s->id != id) s = s->next;
    if (!s) return luaL_error(L, "join: no spawned task %d in this handler", (int)id);
    if (!s->child) return push_outcome(L, s);
    s->joiner = t;
    return task_wait(L, t, s, cancel_join);
}

/* The parent ends: children still running are stopped, records freed. */
static void stop_children(struct task *t) {
    struct plugin *p = t->plugin;
    int stopped = 0;
    while (t->spawns) {
        struct spawn *s = t->spawns;
        t->spawns = s->next;
        s->joiner = NULL;
        for (struct task *c = p->tasks; c && s->child; c = c->next)
            if (c->end_data == s && c->end == on_child_end) {
                task_stop(c, "its parent handler ended first", 1);
                stopped++;
                break;
            }
        luaL_unref(p->L, LUA_REGISTRYINDEX, s->results_ref);
        free(s);
    }
    if (stopped) log_warn("plugin %s: %d spawned task%s stopped: the handler that spawned them ended first",
                          p->name, stopped, stopped == 1 ? "" : "s");
}
