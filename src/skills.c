/* skills.c - the Lua skill host.
 *
 * One lua_State per config generation holds the runtime library
 * (lua/chorus/runtime.lua) and every plugin, each plugin in its own
 * sandboxed environment. A job runs the runtime's dispatcher in a new
 * coroutine (a task). The C functions of the `core` table below are what
 * the runtime library builds the plugin API from; those that wait on the
 * network record a pending operation and yield, and the loop resumes the
 * task when the operation completes, OpenResty style.
 *
 * Bounds: the state's memory is capped by its allocator; each resume has
 * an instruction budget and a wall-clock budget enforced by a count hook,
 * which keeps raising once tripped so pcall cannot swallow it. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "config.h"
#include "config_schema.h"
#include "job.h"
#include "log.h"
#include "lua_json.h"
#include "message.h"
#include "metrics.h"
#include "model.h"
#include "persona.h"
#include "runtime.h"
#include "server.h"
#include "skills.h"
#include "store.h"

#define HOOK_EVERY 1000

struct pending;

struct task {
    struct skill_host *h;
    lua_State *co;
    int ref;                    /* registry anchor of the coroutine */
    struct job *job;
    struct pending *op;         /* what the task waits for, or NULL */
    long insns;                 /* instructions in the current resume */
    uint64_t resume_start;      /* uv_hrtime() at resume */
    int tripped;                /* a budget ran out: keep raising */
    struct task *prev, *next;
};

enum pending_kind { PENDING_MODEL, PENDING_STORE, PENDING_SLEEP, PENDING_SEND };

struct pending {
    enum pending_kind kind;
    struct task *task;          /* NULL once the task is gone */
    struct model_call *model;
    char model_name[64];
    uv_timer_t timer;
    int yielded;                /* the task yielded waiting for this */
    int done;                   /* a send finished before we yielded */
    char *result;               /* a send's message id */
    char *error;
};

struct skill_host {
    struct runtime *rt;
    lua_State *L;
    size_t mem, mem_limit;
    long insn_limit;
    long wall_limit_ms;
    int runtime_ref;            /* the runtime library's module table */
    struct task *tasks;
    int ntasks;
    char plugins[512];
};

/* The allocator caps the skill state's memory; frees always succeed. */
static void *skill_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    struct skill_host *h = ud;
    if (!ptr) osize = 0;
    if (nsize == 0) {
        h->mem -= osize;
        free(ptr);
        return NULL;
    }
    if (nsize > osize && h->mem + (nsize - osize) > h->mem_limit) return NULL;
    void *p = realloc(ptr, nsize);
    if (p) h->mem = h->mem - osize + nsize;
    return p;
}

static struct task *task_of(lua_State *L) {
    return *(struct task **)lua_getextraspace(L);
}

/* The current task, or a Lua error when called outside a handler. */
static struct task *need_task(lua_State *L) {
    struct task *t = task_of(L);
    if (!t || t->co != L) luaL_error(L, "this call works only inside a handler");
    return t;
}

/* CPU budget: an instruction count and a wall-clock limit per resume. */
static void budget_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    struct task *t = task_of(L);
    if (!t) return;
    t->insns += HOOK_EVERY;
    if (!t->tripped) {
        uint64_t ms = (uv_hrtime() - t->resume_start) / 1000000u;
        if (t->insns <= t->h->insn_limit && (long)ms <= t->h->wall_limit_ms) return;
        t->tripped = 1;
        /* From now on raise at every instruction, so a loop around pcall
         * meets the error outside the pcall too and the handler unwinds. */
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    }
    luaL_error(L, "the skill ran out of its CPU budget (an endless loop?)");
}

static void task_resume(struct task *t, int nargs);

/* Free a task; the job is finished by the caller afterwards. */
static void task_free(struct task *t) {
    struct skill_host *h = t->h;
    if (t->prev) t->prev->next = t->next;
    else h->tasks = t->next;
    if (t->next) t->next->prev = t->prev;
    h->ntasks--;
    *(struct task **)lua_getextraspace(t->co) = NULL;
    lua_resetthread(t->co);
    luaL_unref(h->L, LUA_REGISTRYINDEX, t->ref);
    free(t);
}

/* The dispatcher returned or failed: end the task, then the job. The job's
 * end may free this host (a reload's last job), so nothing touches it after. */
static void task_end(struct task *t) {
    struct job *job = t->job;
    task_free(t);
    job_finish(job);
}

static void pending_free(struct pending *op) {
    free(op->result);
    free(op->error);
    free(op);
}

static void on_timer_closed(uv_handle_t *h) {
    pending_free(h->data);
}

/* Resume T with the NARGS values already pushed on its stack. */
static void task_resume(struct task *t, int nargs) {
    int nres = 0;
    t->insns = 0;
    t->resume_start = uv_hrtime();
    int st = lua_resume(t->co, t->h->L, nargs, &nres);
    if (st == LUA_YIELD) {
        lua_pop(t->co, nres);
        if (t->op) return;
        log_error("skill: a handler yielded outside the chorus API; stopping it");
    } else if (st != LUA_OK) {
        const char *msg = lua_tostring(t->co, -1);
        luaL_traceback(t->h->L, t->co, msg ? msg : "(error object is not a string)", 0);
        log_error("skill: %s", lua_tostring(t->h->L, -1));
        lua_pop(t->h->L, 1);
        metrics_inc(METRIC_SKILL_ERRORS, "dispatch", 1);
    }
    task_end(t);
}

/* Yield the current task until OP completes. */
static int wait_for(lua_State *L, struct task *t, struct pending *op) {
    op->task = t;
    op->yielded = 1;
    t->op = op;
    return lua_yield(L, 0);
}

/* Take OP off its task; NULL when the task was cancelled meanwhile. */
static struct task *complete(struct pending *op) {
    struct task *t = op->task;
    if (t) t->op = NULL;
    return t;
}

/* ---- core.model_chat(model, messages) -> reply | nil, err ---- */

static void on_model_done(const struct model_result *res, void *data) {
    struct pending *op = data;
    struct task *t = complete(op);
    metrics_inc(METRIC_MODEL_CALLS, op->model_name, 1);
    metrics_observe(METRIC_MODEL_SECONDS, op->model_name, res->latency_ms / 1000.0);
    if (res->error) {
        metrics_inc(METRIC_MODEL_ERRORS, op->model_name, 1);
        log_warn("model %s: %s", op->model_name, res->error);
    }
    if (!t) {
        pending_free(op);
        return;
    }
    lua_State *co = t->co;
    int n;
    if (res->text) {
        lua_createtable(co, 0, 5);
        lua_pushstring(co, res->text);
        lua_setfield(co, -2, "text");
        lua_pushstring(co, op->model_name);
        lua_setfield(co, -2, "model");
        lua_createtable(co, 0, 2);
        lua_pushinteger(co, res->prompt_tokens);
        lua_setfield(co, -2, "prompt_tokens");
        lua_pushinteger(co, res->completion_tokens);
        lua_setfield(co, -2, "completion_tokens");
        lua_setfield(co, -2, "usage");
        lua_pushnumber(co, res->latency_ms);
        lua_setfield(co, -2, "latency_ms");
        n = 1;
    } else {
        lua_pushnil(co);
        lua_pushstring(co, res->error);
        n = 2;
    }
    pending_free(op);
    task_resume(t, n);
}

static int core_model_chat(lua_State *L) {
    struct task *t = need_task(L);
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const struct model *m = model_find(t->h->rt->models, name);
    if (!m) {
        lua_pushnil(L);
        lua_pushfstring(L, "model \"%s\" is not defined", name);
        return 2;
    }
    json_t *messages = lua_json_from(L, 2);
    if (!json_is_array(messages)) {
        json_decref(messages);
        return luaL_error(L, "messages must be a list of {role=..., content=...}");
    }
    struct pending *op = calloc(1, sizeof(*op));
    op->kind = PENDING_MODEL;
    snprintf(op->model_name, sizeof(op->model_name), "%s", m->name);
    char err[256];
    op->model = model_chat(server.loop, server.http, m, messages, on_model_done, op, err, sizeof(err));
    json_decref(messages);
    if (!op->model) {
        pending_free(op);
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    return wait_for(L, t, op);
}

/* ---- core.history_load(persona) -> turns | nil, err ---- */

static void on_history(json_t *turns, const char *err, void *data) {
    struct pending *op = data;
    struct task *t = complete(op);
    if (err) metrics_inc(METRIC_REDIS_ERRORS, "history_load", 1);
    if (t) {
        if (turns) {
            lua_json_push(t->co, turns);
        } else {
            lua_pushnil(t->co);
            lua_pushstring(t->co, err);
        }
    }
    pending_free(op);
    if (t) task_resume(t, turns ? 1 : 2);
}

static int core_history_load(lua_State *L) {
    struct task *t = need_task(L);
    const char *persona = luaL_checkstring(L, 1);
    struct chat_message *m = t->job->msg;
    struct pending *op = calloc(1, sizeof(*op));
    op->kind = PENDING_STORE;
    if (store_history_load(server.redis, m->platform, m->channel, persona,
                           t->h->rt->limits.history_turns, on_history, op) < 0) {
        pending_free(op);
        lua_pushnil(L);
        lua_pushstring(L, "Redis is not available");
        return 2;
    }
    return wait_for(L, t, op);
}

/* ---- core.history_append(persona, turns) -> true | nil, err ---- */

static void on_appended(const char *err, void *data) {
    struct pending *op = data;
    struct task *t = complete(op);
    if (err) metrics_inc(METRIC_REDIS_ERRORS, "history_append", 1);
    if (t) {
        if (err) {
            lua_pushnil(t->co);
            lua_pushstring(t->co, err);
        } else {
            lua_pushboolean(t->co, 1);
        }
    }
    pending_free(op);
    if (t) task_resume(t, err ? 2 : 1);
}

static int core_history_append(lua_State *L) {
    struct task *t = need_task(L);
    const char *persona = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    json_t *turns = lua_json_from(L, 2);
    if (!json_is_array(turns) || json_array_size(turns) > 64) {
        json_decref(turns);
        return luaL_error(L, "turns must be a list of 1 to 64 {role=..., content=...} tables");
    }
    struct chat_message *m = t->job->msg;
    struct pending *op = calloc(1, sizeof(*op));
    op->kind = PENDING_STORE;
    int rc = store_history_append(server.redis, m->platform, m->channel, persona, turns,
                                  &t->h->rt->limits, on_appended, op);
    json_decref(turns);
    if (rc < 0) {
        pending_free(op);
        lua_pushnil(L);
        lua_pushstring(L, "Redis is not available");
        return 2;
    }
    return wait_for(L, t, op);
}

/* ---- core.reply(text) -> message id | nil, err ---- */

static void on_sent(const char *id, const char *err, void *data) {
    struct pending *op = data;
    if (!op->yielded) {   /* finished inside send(): reply() returns directly */
        op->done = 1;
        op->result = id ? strdup(id) : NULL;
        op->error = err ? strdup(err) : NULL;
        return;
    }
    struct task *t = complete(op);
    if (t) {
        if (err) {
            lua_pushnil(t->co);
            lua_pushstring(t->co, err);
        } else {
            lua_pushstring(t->co, id ? id : "");
        }
    }
    pending_free(op);
    if (t) task_resume(t, err ? 2 : 1);
}

static int core_reply(lua_State *L) {
    struct task *t = need_task(L);
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    struct pending *op = calloc(1, sizeof(*op));
    op->kind = PENDING_SEND;
    if (job_reply(t->job, text, len, on_sent, op) < 0) {
        pending_free(op);
        lua_pushnil(L);
        lua_pushstring(L, "the platform could not send the reply");
        return 2;
    }
    if (!op->done) return wait_for(L, t, op);
    int n = op->error ? 2 : 1;
    if (op->error) {
        lua_pushnil(L);
        lua_pushstring(L, op->error);
    } else {
        lua_pushstring(L, op->result ? op->result : "");
    }
    pending_free(op);
    return n;
}

static int core_typing(lua_State *L) {
    struct task *t = need_task(L);
    lua_pushboolean(L, job_typing(t->job) == 0);
    return 1;
}

/* ---- core.sleep(seconds) ---- */

static void on_sleep(uv_timer_t *timer) {
    struct pending *op = timer->data;
    struct task *t = complete(op);
    uv_close((uv_handle_t *)timer, on_timer_closed);
    if (t) task_resume(t, 0);
}

static int core_sleep(lua_State *L) {
    struct task *t = need_task(L);
    lua_Number secs = luaL_checknumber(L, 1);
    if (secs < 0) secs = 0;
    struct pending *op = calloc(1, sizeof(*op));
    op->kind = PENDING_SLEEP;
    uv_timer_init(server.loop, &op->timer);
    op->timer.data = op;
    uv_timer_start(&op->timer, on_sleep, (uint64_t)(secs * 1000), 0);
    return wait_for(L, t, op);
}

/* ---- non-yielding utilities ---- */

static int core_log(lua_State *L) {
    const char *level = luaL_checkstring(L, 1);
    const char *plugin = luaL_checkstring(L, 2);
    const char *msg = luaL_checkstring(L, 3);
    if (strcmp(level, "debug") == 0) log_debug("plugin %s: %s", plugin, msg);
    else if (strcmp(level, "warn") == 0) log_warn("plugin %s: %s", plugin, msg);
    else if (strcmp(level, "error") == 0) log_error("plugin %s: %s", plugin, msg);
    else log_info("plugin %s: %s", plugin, msg);
    return 0;
}

static int core_now(lua_State *L) {
    lua_pushnumber(L, server_now());
    return 1;
}

static int core_json_encode(lua_State *L) {
    luaL_checkany(L, 1);
    json_t *v = lua_json_from(L, 1);
    if (!v) {
        lua_pushnil(L);
        lua_pushstring(L, "value cannot be encoded as JSON");
        return 2;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    lua_pushstring(L, s ? s : "null");
    free(s);
    return 1;
}

static int core_json_decode(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    json_error_t err;
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY, &err);
    if (!v) {
        lua_pushnil(L);
        lua_pushfstring(L, "invalid JSON at position %d: %s", err.position, err.text);
        return 2;
    }
    lua_json_push(L, v);
    json_decref(v);
    return 1;
}

/* Read a plugin's file; only the runtime library can call this. */
static int core_read_file(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    FILE *f = fopen(path, "rb");
    if (!f) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot read %s: %s", path, strerror(errno));
        return 2;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) luaL_addlstring(&b, buf, n);
    fclose(f);
    luaL_pushresult(&b);
    return 1;
}

/* ---- host life cycle ---- */

/* The persona and message as a plain table for the dispatcher. */
static void push_message(lua_State *co, const struct job *job) {
    const struct chat_message *m = job->msg;
    const struct persona *p = job->persona;
    lua_createtable(co, 0, 12);
    lua_pushstring(co, m->text);
    lua_setfield(co, -2, "text");
    lua_pushstring(co, m->platform);
    lua_setfield(co, -2, "platform");
    lua_pushstring(co, m->channel);
    lua_setfield(co, -2, "channel");
    if (m->id) {
        lua_pushstring(co, m->id);
        lua_setfield(co, -2, "id");
    }
    if (m->reply_to) {
        lua_pushstring(co, m->reply_to);
        lua_setfield(co, -2, "reply_to");
    }
    lua_pushboolean(co, m->direct);
    lua_setfield(co, -2, "direct");
    lua_createtable(co, 0, 3);
    lua_pushstring(co, m->author.id ? m->author.id : "");
    lua_setfield(co, -2, "id");
    lua_pushstring(co, m->author.name ? m->author.name : "");
    lua_setfield(co, -2, "name");
    lua_pushboolean(co, m->author.guest);
    lua_setfield(co, -2, "guest");
    lua_setfield(co, -2, "author");
    lua_createtable(co, m->nmentions, 0);
    for (int i = 0; i < m->nmentions; i++) {
        lua_pushstring(co, m->mentions[i]);
        lua_rawseti(co, -2, i + 1);
    }
    lua_setfield(co, -2, "mentions");
    lua_createtable(co, 0, 6);
    lua_pushstring(co, p->name);
    lua_setfield(co, -2, "name");
    lua_pushstring(co, p->display_name);
    lua_setfield(co, -2, "display_name");
    lua_pushstring(co, p->prompt);
    lua_setfield(co, -2, "prompt");
    lua_pushstring(co, p->model);
    lua_setfield(co, -2, "model");
    lua_pushstring(co, p->apology);
    lua_setfield(co, -2, "apology");
    lua_setfield(co, -2, "persona");
}

void skills_dispatch(struct skill_host *h, struct job *job) {
    lua_State *L = h->L;
    struct task *t = calloc(1, sizeof(*t));
    t->h = h;
    t->job = job;
    t->co = lua_newthread(L);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    *(struct task **)lua_getextraspace(t->co) = t;
    lua_sethook(t->co, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
    t->next = h->tasks;
    if (h->tasks) h->tasks->prev = t;
    h->tasks = t;
    h->ntasks++;
    lua_rawgeti(t->co, LUA_REGISTRYINDEX, h->runtime_ref);
    lua_getfield(t->co, -1, "dispatch");
    lua_remove(t->co, -2);
    push_message(t->co, job);
    task_resume(t, 1);
}

/* Stop one task where it waits: cancel what can be cancelled, orphan the rest. */
static void task_cancel(struct task *t) {
    struct pending *op = t->op;
    t->op = NULL;
    if (op) {
        op->task = NULL;
        if (op->kind == PENDING_MODEL) {
            model_call_cancel(op->model);
            pending_free(op);
        } else if (op->kind == PENDING_SLEEP) {
            uv_timer_stop(&op->timer);
            uv_close((uv_handle_t *)&op->timer, on_timer_closed);
        }
    }
    task_end(t);
}

void skills_cancel_all(struct skill_host *h) {
    /* Each task_end may free H when it held the last job of a reloaded
     * runtime, so count first and never touch H after the last one. */
    int n = h->ntasks;
    while (n-- > 0) task_cancel(h->tasks);
}

int skill_host_tasks(const struct skill_host *h) {
    return h ? h->ntasks : 0;
}

const char *skill_host_plugins(const struct skill_host *h) {
    return h ? h->plugins : "";
}

/* Load the runtime library: lua/chorus/runtime.lua, given the core table. */
static int load_runtime(struct skill_host *h, char *err, size_t errlen) {
    static const luaL_Reg core[] = {
        { "model_chat", core_model_chat },
        { "history_load", core_history_load },
        { "history_append", core_history_append },
        { "reply", core_reply },
        { "typing", core_typing },
        { "sleep", core_sleep },
        { "log", core_log },
        { "now", core_now },
        { "json_encode", core_json_encode },
        { "json_decode", core_json_decode },
        { "read_file", core_read_file },
        { NULL, NULL }
    };
    lua_State *L = h->L;
    char path[4096];
    snprintf(path, sizeof(path), "%s/lua/chorus/runtime.lua", server.data_dir);
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        snprintf(err, errlen, "cannot load the Lua runtime library: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    luaL_newlib(L, core);
    lua_pushstring(L, server.data_dir);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        snprintf(err, errlen, "the Lua runtime library failed: %s",
                 lua_isstring(L, -1) ? lua_tostring(L, -1) : "it returned no module table");
        lua_pop(L, 1);
        return -1;
    }
    h->runtime_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Is there a plugin of this name already loaded? Earlier dirs win. */
static int plugin_loaded(struct skill_host *h, const char *name) {
    size_t n = strlen(name);
    for (const char *p = h->plugins; (p = strstr(p, name)); p += n)
        if ((p == h->plugins || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

/* Load one plugin through the runtime library. */
static int load_plugin(struct skill_host *h, const char *name, const char *dir, char *err, size_t errlen) {
    lua_State *L = h->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->runtime_ref);
    lua_getfield(L, -1, "load_plugin");
    lua_pushstring(L, name);
    lua_pushstring(L, dir);
    struct config_block *b = config_find(h->rt->cfg, "plugin", name);
    if (b && b->value) lua_json_push(L, b->value);
    else lua_newtable(L);
    int rc = lua_pcall(L, 3, 0, 0);
    if (rc != LUA_OK) {
        snprintf(err, errlen, "plugin %s failed to load: %s", name, lua_tostring(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    lua_pop(L, 1);
    size_t used = strlen(h->plugins);
    snprintf(h->plugins + used, sizeof(h->plugins) - used, "%s%s", used ? "," : "", name);
    return 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every plugins/<name>/init.lua of DIR, in name order. */
static int load_plugin_dir(struct skill_host *h, const char *dir, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        log_warn("skills: cannot open plugin folder %s: %s", dir, strerror(errno));
        return 0;
    }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        if (e->d_name[0] == '.') continue;
        char init[4096];
        struct stat st;
        snprintf(init, sizeof(init), "%s/%s/init.lua", dir, e->d_name);
        if (stat(init, &st) == 0 && S_ISREG(st.st_mode)) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), compare_names);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (rc == 0 && !plugin_loaded(h, names[i])) rc = load_plugin(h, names[i], path, err, errlen);
        free(names[i]);
    }
    return rc;
}

struct skill_host *skill_host_new(struct runtime *rt, char *err, size_t errlen) {
    struct skill_host *h = calloc(1, sizeof(*h));
    struct config_block *sb = config_first(rt->cfg, "skills");
    h->rt = rt;
    h->mem_limit = (size_t)config_int(sb, "memory_mb", 256) << 20;
    h->insn_limit = config_int(sb, "instructions", 50000000L);
    h->wall_limit_ms = config_int(sb, "cpu_ms", 2000);
    h->L = lua_newstate(skill_alloc, h);
    if (!h->L) {
        snprintf(err, errlen, "out of memory creating the skill state");
        free(h);
        return NULL;
    }
    *(struct task **)lua_getextraspace(h->L) = NULL;
    luaL_openlibs(h->L);
    /* Plugins must not reach the shared string metatable. */
    lua_pushliteral(h->L, "");
    lua_getmetatable(h->L, -1);
    lua_pushboolean(h->L, 0);
    lua_setfield(h->L, -2, "__metatable");
    lua_pop(h->L, 2);
    if (load_runtime(h, err, errlen) < 0) {
        skill_host_free(h);
        return NULL;
    }
    for (char **dir = rt->cfg->plugin_dirs; dir && *dir; dir++) {
        if (load_plugin_dir(h, *dir, err, errlen) < 0) {
            skill_host_free(h);
            return NULL;
        }
    }
    char shipped[4096];
    snprintf(shipped, sizeof(shipped), "%s/plugins", server.data_dir);
    if (load_plugin_dir(h, shipped, err, errlen) < 0) {
        skill_host_free(h);
        return NULL;
    }
    log_info("skills: loaded plugins: %s", h->plugins[0] ? h->plugins : "(none)");
    return h;
}

void skill_host_free(struct skill_host *h) {
    if (!h) return;
    while (h->tasks) {
        struct task *t = h->tasks;
        if (t->op) t->op->task = NULL;
        task_free(t);
    }
    lua_gc(h->L, LUA_GCCOLLECT, 0);
    lua_close(h->L);
    free(h);
}
