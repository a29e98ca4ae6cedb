/* dispatch.c - match a message against every handler and run the winners.
 *
 * For a message: before-middleware in order (any may stop it), then the
 * candidates ordered by priority, confidence and registration order until
 * one does not decline, then after-middleware. For an event: every handler
 * of that event. Each step is a task in its plugin's state; the job ends
 * when the last step does. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "skills/ask.h"
#include "skills/dispatch.h"
#include "core/job.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "skills/lua/lua_api.h"
#include "core/message.h"
#include "persona/persona.h"
#include "skills/plugin.h"
#include "core/runtime.h"
#include "core/server.h"
#include "skills/skills.h"
#include "skills/task.h"
#include "lib/xalloc.h"

struct candidate {
    struct handler *hd;
    double confidence;
};

struct run {
    struct skill_host *h;
    struct job *job;
    struct candidate *steps;   /* before..., chosen candidates..., after... */
    int n, i;
    int nbefore, nmain;
    int taken;                 /* a main handler took the message */
};

static const char *const kind_names[] = {
    "command", "hear", "respond", "fallback", "event", "before", "after",
    "schedule", "timer", "tool", "route"
};

void handler_free(struct handler *hd) {
    if (!hd) return;
    if (hd->plugin && hd->plugin->L) {
        luaL_unref(hd->plugin->L, LUA_REGISTRYINDEX, hd->fn_ref);
        luaL_unref(hd->plugin->L, LUA_REGISTRYINDEX, hd->matcher_ref);
    }
    free(hd->name);
    free(hd->pattern);
    free(hd->help);
    json_decref(hd->spec);
    free(hd);
}

/* Is HD ordered before OTHER? Priority first, then registration. */
static int handler_before(const struct handler *hd, const struct handler *other) {
    if (hd->priority != other->priority) return hd->priority > other->priority;
    return hd->seq < other->seq;
}

int dispatch_add(struct skill_host *h, struct handler *hd, char *err, size_t errlen) {
    if ((hd->kind == HANDLER_COMMAND || hd->kind == HANDLER_TOOL || hd->kind == HANDLER_ROUTE) &&
        dispatch_find(h, hd->kind, hd->name)) {
        snprintf(err, errlen, "plugin %s: %s \"%s\" is already registered by plugin %s", hd->plugin->name,
                 kind_names[hd->kind], hd->name, dispatch_find(h, hd->kind, hd->name)->plugin->name);
        return -1;
    }
    struct handler **pp = &h->handlers;
    while (*pp && !handler_before(hd, *pp)) pp = &(*pp)->next;
    hd->next = *pp;
    *pp = hd;
    return 0;
}

void dispatch_remove_plugin(struct skill_host *h, struct plugin *p) {
    struct handler **pp = &h->handlers;
    while (*pp) {
        struct handler *hd = *pp;
        if (hd->plugin == p) {
            *pp = hd->next;
            handler_free(hd);
        } else {
            pp = &hd->next;
        }
    }
}

struct handler *dispatch_find(struct skill_host *h, enum handler_kind kind, const char *name) {
    for (struct handler *hd = h->handlers; hd; hd = hd->next)
        if (hd->kind == kind && hd->name && name && !strcmp(hd->name, name)) return hd;
    return NULL;
}

struct handler *dispatch_next(struct skill_host *h, struct handler *prev) {
    return prev ? prev->next : h->handlers;
}

/* Run a Lua test synchronously in HD's plugin under its CPU budget:
 * the pattern (string.find) or the matcher function. Returns a confidence
 * in (0, 1], or 0 for no match. */
static double match_in_plugin(struct handler *hd, struct job *job) {
    struct plugin *p = hd->plugin;
    lua_State *L = p->L;
    int top = lua_gettop(L);
    double conf = 0;
    /* All matchers of a message share its one CPU budget. */
    if (task_message_left_ms(p, job) <= 0) {
        if (!job->budget_logged) {
            job->budget_logged = 1;
            log_warn("message %s:%s used its CPU budget (%ld ms) in matchers; the remaining ones are skipped "
                     "(plugin %s was next)", job->msg->platform, job->msg->channel, p->message_ms, p->name);
        }
        return 0;
    }
    task_budget_begin_job(p, job, 0);
    if (hd->matcher_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, hd->matcher_ref);
        lua_api_push_message(L, job);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            log_warn("plugin %s: a matcher failed: %s", p->name, lua_tostring(L, -1));
        } else if (lua_isnumber(L, -1)) {
            conf = lua_tonumber(L, -1);
        } else if (lua_toboolean(L, -1)) {
            conf = 1;
        }
    } else {
        lua_getglobal(L, "string");
        lua_getfield(L, -1, "find");
        lua_pushstring(L, job->msg->text ? job->msg->text : "");
        lua_pushstring(L, hd->pattern);
        if (lua_pcall(L, 2, 1, 0) != LUA_OK)
            log_warn("plugin %s: pattern \"%s\" failed: %s", p->name, hd->pattern, lua_tostring(L, -1));
        else if (!lua_isnil(L, -1))
            conf = 1;
    }
    lua_settop(L, top);
    job->cpu_ns += task_budget_used_ns(p);
    if (conf > 1) conf = 1;
    return conf > 0 ? conf : 0;
}

/* Does command handler HD match "<prefix><name>" at the start of TEXT? */
static int command_matches(const struct skill_host *h, const struct handler *hd, const char *text) {
    size_t pl = strlen(h->command_prefix), nl = strlen(hd->name);
    if (strncmp(text, h->command_prefix, pl) != 0 || strncmp(text + pl, hd->name, nl) != 0) return 0;
    char next = text[pl + nl];
    return next == '\0' || next == ' ' || next == '\t' || next == '\n';
}

/* How well HD matches the job's message: 0 (not at all) to 1. */
static double candidate_score(struct skill_host *h, struct handler *hd, struct job *job) {
    const char *text = job->msg->text ? job->msg->text : "";
    switch (hd->kind) {
    case HANDLER_COMMAND: return command_matches(h, hd, text) ? 1 : 0;
    case HANDLER_HEAR: return match_in_plugin(hd, job);
    case HANDLER_RESPOND:
        if (!job->msg->direct && !job->invited) return 0;
        return hd->pattern || hd->matcher_ref != LUA_NOREF ? match_in_plugin(hd, job) : 1;
    case HANDLER_FALLBACK: return job->msg->direct || job->invited ? 0.001 : 0;   /* chatter not meant for us */
    default: return 0;
    }
}

static int compare_candidates(const void *a, const void *b) {
    const struct candidate *x = a, *y = b;
    if (x->hd->priority != y->hd->priority) return y->hd->priority - x->hd->priority;
    if (x->confidence != y->confidence) return x->confidence < y->confidence ? 1 : -1;
    /* "!quiz start" is the subcommand "quiz start" before the command "quiz". */
    if (x->hd->kind == HANDLER_COMMAND && y->hd->kind == HANDLER_COMMAND) {
        size_t xl = strlen(x->hd->name), yl = strlen(y->hd->name);
        if (xl != yl) return xl > yl ? -1 : 1;
    }
    return x->hd->seq < y->hd->seq ? -1 : 1;
}

/* Gather the steps of a message or event run. */
static void plan(struct run *r) {
    struct skill_host *h = r->h;
    const struct chat_message *m = r->job->msg;
    int cap = 8, n = 0;
    for (struct handler *hd = h->handlers; hd; hd = hd->next) cap++;
    r->steps = xcalloc((size_t)cap, sizeof(*r->steps));
    if (m->event) {
        for (struct handler *hd = h->handlers; hd; hd = hd->next)
            if (hd->kind == HANDLER_EVENT && hd->name && !strcmp(hd->name, m->event) && !hd->plugin->retired &&
                (!r->job->persona || persona_allows_skill(r->job->persona, hd->plugin->name)))
                r->steps[n++] = (struct candidate){ hd, 1 };
        r->nmain = n;
        r->n = n;
        return;
    }
    for (struct handler *hd = h->handlers; hd; hd = hd->next)
        if (hd->kind == HANDLER_BEFORE && !hd->plugin->retired) r->steps[n++] = (struct candidate){ hd, 1 };
    r->nbefore = n;
    for (struct handler *hd = h->handlers; hd; hd = hd->next) {
        if (hd->plugin->retired || !persona_allows_skill(r->job->persona, hd->plugin->name) ||
            job_skill_disabled(r->job, hd->plugin->name))
            continue;
        double c = candidate_score(h, hd, r->job);
        if (c > 0) r->steps[n++] = (struct candidate){ hd, c };
    }
    r->nmain = n - r->nbefore;
    qsort(r->steps + r->nbefore, (size_t)r->nmain, sizeof(*r->steps), compare_candidates);
    for (struct handler *hd = h->handlers; hd; hd = hd->next)
        if (hd->kind == HANDLER_AFTER && !hd->plugin->retired) r->steps[n++] = (struct candidate){ hd, 1 };
    r->n = n;
}

struct step_args {
    struct handler *hd;
    struct run *r;
};

/* Arguments of the runtime's invoke(fn, kind, message, prefix). */
static int push_step(lua_State *co, void *arg) {
    struct step_args *a = arg;
    lua_rawgeti(co, LUA_REGISTRYINDEX, a->hd->fn_ref);
    lua_pushstring(co, kind_names[a->hd->kind]);
    lua_api_push_message(co, a->r->job);
    lua_pushstring(co, a->r->h->command_prefix);
    return 4;
}

static void run_next(struct run *r);

/* Did the handler's run return true (its first result)? */
static int returned_true(struct task *t) {
    lua_State *co = task_stack(t);
    return lua_gettop(co) >= 1 && lua_isboolean(co, 1) && lua_toboolean(co, 1);
}

/* A step ended: decide what runs next. */
static void on_step_end(struct task *t, enum task_end how, void *data) {
    struct run *r = data;
    int i = r->i++;
    if (i < r->nbefore) {
        if (how == TASK_DECLINED) {   /* a middleware stopped it: nothing more runs, no apology */
            r->i = r->n;
            r->job->silent = 1;
            metrics_inc(METRIC_MESSAGES_DROPPED, r->steps[i].hd->plugin->name, 1);
        }
    } else if (i < r->nbefore + r->nmain && !r->job->msg->event) {
        if (how == TASK_DONE && returned_true(t)) r->job->handled = 1;
        if (how != TASK_DECLINED) {
            r->taken = 1;
            r->i = r->nbefore + r->nmain;   /* taken (or failed): on to after-middleware */
        }
    }
    run_next(r);
}

/* Start the next step, or finish the job. */
static void run_next(struct run *r) {
    while (r->i < r->n) {
        struct handler *hd = r->steps[r->i].hd;
        if (hd->plugin->retired || server.stopping >= 2) {
            r->i++;
            continue;
        }
        struct step_args a = { hd, r };
        /* The step may end (and the job with it) before task_start
         * returns: nothing here may be touched after it. */
        task_start(hd->plugin, hd->plugin->invoke_ref, r->job, push_step, &a, on_step_end, r);
        return;
    }
    struct job *job = r->job;
    free(r->steps);
    free(r);
    job_finish(job);
}

void dispatch_job(struct skill_host *h, struct job *job) {
    /* The author's answer to a handler waiting in msg:ask is its alone. */
    if (ask_take(job)) return;
    struct run *r = xcalloc(1, sizeof(*r));
    r->h = h;
    r->job = job;
    plan(r);
    run_next(r);
}
