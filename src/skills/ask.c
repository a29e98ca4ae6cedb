/* ask.c - waiters for a person's next message in a channel (ask.h). */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <uv.h>
#include "core/job.h"
#include "core/message.h"
#include "core/server.h"
#include "lib/log.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"
#include "skills/ask.h"
#include "skills/lua/lua_api.h"
#include "skills/plugin.h"
#include "skills/task.h"

struct ask {
    struct task *task;
    struct job *job;            /* the asking job, out of its channel's queue */
    char *platform, *channel, *author;
    double due;                 /* vclock_now() when it times out */
    struct ask *next;
};

static struct ask *asks;        /* oldest first: the first asker gets the answer */
static uv_timer_t ask_timer;
static int timer_ready;

static void ask_free(struct ask *a) {
    free(a->platform);
    free(a->channel);
    free(a->author);
    free(a);
}

/* Take A out of the list. */
static void unlink_ask(struct ask *a) {
    for (struct ask **pp = &asks; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            return;
        }
}

static void on_ask_timer(uv_timer_t *t);

/* Arm the timer for the earliest wait, or stop it when none is left. */
static void arm(void) {
    if (!timer_ready) {
        uv_timer_init(server.loop, &ask_timer);
        timer_ready = 1;
    }
    if (!asks) {
        uv_timer_stop(&ask_timer);
        return;
    }
    double first = asks->due;
    for (struct ask *a = asks; a; a = a->next)
        if (a->due < first) first = a->due;
    double ms = (first - vclock_now()) * 1000.0;
    uv_timer_start(&ask_timer, on_ask_timer, ms > 0 ? (uint64_t)ms + 1 : 0, 0);
}

/* Time out every due wait; each resumes with nil, "timeout". */
static void on_ask_timer(uv_timer_t *t) {
    (void)t;
    for (;;) {
        double now = vclock_now();
        struct ask *a = asks;
        while (a && a->due > now) a = a->next;
        if (!a) break;
        unlink_ask(a);
        struct task *waiter = a->task;
        ask_free(a);
        lua_State *co = task_stack(waiter);
        lua_pushnil(co);
        lua_pushstring(co, "timeout");
        task_resume(waiter, 2);   /* may add or end other waits: scan again */
    }
    arm();
}

void ask_kick(void) {
    if (asks) {
        arm();
        if (timer_ready) uv_timer_start(&ask_timer, on_ask_timer, 0, 0);
    }
}

int ask_idle(void) {
    int n = 0;
    double now = vclock_now();
    for (struct ask *a = asks; a; a = a->next)
        if (a->due > now) n++;
    return n;
}

/* The task was stopped (deadline, shutdown, reload): forget its wait. */
static void cancel_ask(void *op) {
    struct ask *a = op;
    unlink_ask(a);
    ask_free(a);
    arm();
}

int ask_lua_wait(lua_State *L) {
    struct task *t = task_check(L);
    lua_Number secs = luaL_optnumber(L, 1, 60);
    struct job *job = task_job(t);
    if (!job || job->msg->event) return luaL_error(L, "msg:ask needs a message to answer (it cannot run from a timer or an event)");
    if (!job->msg->author.id) return luaL_error(L, "msg:ask needs a message with an author");
    for (struct ask *a = asks; a; a = a->next)
        if (a->job == job) return luaL_error(L, "msg:ask: this message already waits for an answer");
    if (server.stopping) {
        lua_pushnil(L);
        lua_pushstring(L, "shutdown");
        return 2;
    }
    long ms = secs > 0 ? (long)(secs * 1000) : 0;
    /* The handler's deadline_ms bounds every wait: end it a little before,
     * so the handler still gets its "timeout" and can say so. */
    long left = task_remaining_ms(t);
    left = left > 100 ? left - 50 : left / 2;
    if (ms > left) ms = left;
    struct ask *a = xcalloc(1, sizeof(*a));
    a->task = t;
    a->job = job;
    a->platform = xstrdup(job->msg->platform);
    a->channel = xstrdup(job->msg->channel);
    a->author = xstrdup(job->msg->author.id);
    a->due = vclock_now() + (double)ms / 1000.0;
    struct ask **tail = &asks;
    while (*tail) tail = &(*tail)->next;
    *tail = a;
    /* Let the channel move on: the answer is queued behind this job. */
    job_detach(job);
    arm();
    return task_wait(L, t, a, cancel_ask);
}

int ask_take(struct job *job) {
    const struct chat_message *m = job->msg;
    if (m->event || !m->author.id) return 0;
    struct ask *a = asks;
    /* The same bot account too: with two bots in a channel, each hears the answer. */
    while (a && !(a->job != job && a->job->platform == job->platform && !strcmp(a->author, m->author.id) &&
                  !strcmp(a->channel, m->channel) && !strcmp(a->platform, m->platform)))
        a = a->next;
    if (!a) return 0;
    unlink_ask(a);
    struct task *waiter = a->task;
    ask_free(a);
    arm();
    lua_api_push_message(task_stack(waiter), job);
    /* The answer belongs to the asker's conversation: no apology here. */
    job->silent = 1;
    job_finish(job);
    task_resume(waiter, 1);
    return 1;
}

void ask_end_all(const char *why) {
    while (asks) {
        struct ask *a = asks;
        asks = a->next;
        struct task *waiter = a->task;
        ask_free(a);
        lua_State *co = task_stack(waiter);
        lua_pushnil(co);
        lua_pushstring(co, why);
        task_resume(waiter, 2);
    }
    arm();
}

void ask_stop(void) {
    if (!timer_ready) return;
    uv_timer_stop(&ask_timer);
    uv_close((uv_handle_t *)&ask_timer, NULL);
    timer_ready = 0;
}
