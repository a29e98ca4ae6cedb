/* lua_recall.c - long-term recall for skills: core.recall(text, exclude)
 * finds the channel's past turns most like TEXT; core.recall_index(turns,
 * record, at) stores turns with their embeddings. Both wait on the loop
 * like a model call; a failing embedding server gives no recall and a
 * warning in the log, never an error in the skill. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "core/job.h"
#include "core/message.h"
#include "core/runtime.h"
#include "core/server.h"
#include "lib/log.h"
#include "lib/lua_json.h"
#include "lib/xalloc.h"
#include "model/model.h"
#include "persona/persona.h"
#include "persona/persona_state.h"
#include "persona/recall_store.h"
#include "skills/plugin.h"
#include "skills/task.h"

struct recall_lua_op {
    struct task *task;
    struct recall_op *op;
    char persona[64];
};

static void cancel_recall(void *data) {
    struct recall_lua_op *l = data;
    recall_cancel(l->op);
    free(l);
}

/* The job's persona and its embedding model, or NULL when recall is off. */
static const struct model *recall_model(lua_State *L, struct task *t, struct job **jobp) {
    struct job *job = task_job(t);
    if (!job) luaL_error(L, "recall needs a message");
    if (!plugin_of(L)->allow_state) luaL_error(L, "plugin %s may not keep state", plugin_of(L)->name);
    *jobp = job;
    if (!job->persona->embedding_model) return NULL;
    return model_find(job->rt->models, job->persona->embedding_model);
}

static void opts_of(const struct job *job, long exclude, struct recall_opts *o) {
    o->k = job->persona->recall_k;
    o->min_score = (float)job->persona->recall_min_score;
    o->exclude = exclude > 0 ? exclude : 0;
    o->max_turns = job->persona->recall_max_turns;
    o->ttl_s = job->rt->limits.ttl_s;
}

static void on_found(json_t *hits, const char *err, const int8_t *query, int dim, void *data) {
    struct recall_lua_op *l = data;
    struct task *t = l->task;
    lua_State *co = task_stack(t);
    if (err) log_warn("recall for persona %s: %s; answering without it", l->persona, err);
    if (hits) lua_json_push(co, hits);
    else lua_newtable(co);
    if (query) lua_pushlstring(co, (const char *)query, (size_t)dim);
    else lua_pushnil(co);
    if (err) lua_pushstring(co, err);
    else lua_pushnil(co);
    free(l);
    task_resume(t, 3);
}

/* core.recall(text, exclude) -> hits, record, err: the past turns most like TEXT beyond the newest EXCLUDE. */
static int core_recall(lua_State *L) {
    struct task *t = task_check(L);
    const char *text = luaL_checkstring(L, 1);
    long exclude = (long)luaL_optinteger(L, 2, 0);
    struct job *job;
    const struct model *m = recall_model(L, t, &job);
    if (!m || !*text) {
        lua_newtable(L);
        return 1;
    }
    struct recall_lua_op *l = xcalloc(1, sizeof(*l));
    l->task = t;
    snprintf(l->persona, sizeof(l->persona), "%s", job->persona->name);
    struct recall_where w = { job->msg->platform, job->msg->channel, job->persona->name };
    struct recall_opts o;
    opts_of(job, exclude, &o);
    l->op = recall_find(server.loop, server.redis, server.http, m, &w, text, &o, on_found, l);
    if (!l->op) {
        free(l);
        lua_newtable(L);
        lua_pushnil(L);
        lua_pushstring(L, "the embedding call could not start");
        return 3;
    }
    return task_wait(L, t, l, cancel_recall);
}

static void on_stored(long n, const char *err, void *data) {
    struct recall_lua_op *l = data;
    struct task *t = l->task;
    lua_State *co = task_stack(t);
    if (err) {
        log_warn("recall for persona %s: turns not indexed: %s", l->persona, err);
        lua_pushnil(co);
        lua_pushstring(co, err);
    } else {
        lua_pushinteger(co, n);
        lua_pushnil(co);
    }
    free(l);
    task_resume(t, 2);
}

/* core.recall_index(turns, record, at) -> records kept | nil, err: store
 * TURNS with their embeddings; RECORD (from core.recall) is turn AT's. */
static int core_recall_index(lua_State *L) {
    struct task *t = task_check(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t dim = 0;
    const char *rec = lua_isstring(L, 2) ? lua_tolstring(L, 2, &dim) : NULL;
    int at = (int)luaL_optinteger(L, 3, 0) - 1;
    struct job *job;
    const struct model *m = recall_model(L, t, &job);
    if (!m) {
        lua_pushinteger(L, 0);
        return 1;
    }
    json_t *turns = lua_json_from(L, 1);
    if (!json_is_array(turns)) {
        json_decref(turns);
        return luaL_error(L, "recall_index needs a list of turns");
    }
    struct recall_lua_op *l = xcalloc(1, sizeof(*l));
    l->task = t;
    snprintf(l->persona, sizeof(l->persona), "%s", job->persona->name);
    struct recall_where w = { job->msg->platform, job->msg->channel, job->persona->name };
    struct recall_opts o;
    opts_of(job, 0, &o);
    l->op = recall_store(server.loop, server.redis, server.http, m, &w, turns, (const int8_t *)rec, (int)dim, at, &o,
                         on_stored, l);
    json_decref(turns);
    if (!l->op) {
        free(l);
        lua_pushnil(L);
        lua_pushstring(L, "nothing to index, or the embedding call could not start");
        return 2;
    }
    return task_wait(L, t, l, cancel_recall);
}

void recall_lua_register(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "recall", core_recall },
        { "recall_index", core_recall_index },
        { NULL, NULL }
    };
    luaL_setfuncs(L, fns, 0);
}
