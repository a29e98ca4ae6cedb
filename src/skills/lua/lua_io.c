/* lua_io.c - the core functions that wait on the network: models, history
 * and plugin state in Redis, and HTTP requests. Each checks the plugin's
 * manifest permissions first, then starts its operation and yields. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <lauxlib.h>
#include "io/http_client.h"
#include "core/job.h"
#include "core/limits.h"
#include "lib/log.h"
#include "skills/lua/lua_api.h"
#include "lib/lua_json.h"
#include "core/message.h"
#include "lib/metrics.h"
#include "skills/dispatch.h"
#include "model/model.h"
#include "skills/skills.h"
#include "model/router.h"
#include "persona/persona.h"
#include "skills/plugin.h"
#include "io/redis_client.h"
#include "core/runtime.h"
#include "core/server.h"
#include "io/store.h"
#include "skills/task.h"
#include "lib/xalloc.h"

/* Refuse a call the manifest does not allow. */
static int denied(lua_State *L, const char *what) {
    struct plugin *p = plugin_of(L);
    return luaL_error(L, "plugin %s may not %s (add it to permissions in its manifest.lua)", p->name, what);
}

/* ---- core.model_chat(route, messages, opts) -> reply | nil, err, kind ---- */

struct model_op {
    struct task *task;
    struct route_call *call;
    struct plugin *plugin;     /* for a Lua stream callback */
    int stream_ref;            /* that callback, or LUA_NOREF */
    struct job *job;           /* for streaming to the platform */
    int stream_to_platform;
    char *platform, *user;     /* whose per-user model limit this call counts on */
};

/* A piece of streamed text: to the platform, or to the skill's callback. */
static void on_delta(const char *text, size_t len, void *data) {
    struct model_op *op = data;
    if (!op->task) return;
    if (op->stream_to_platform && op->job) job_stream_delta(op->job, text, len);
    if (op->stream_ref != LUA_NOREF) {
        lua_State *L = op->plugin->L;
        task_budget_begin(op->plugin);
        lua_rawgeti(L, LUA_REGISTRYINDEX, op->stream_ref);
        lua_pushlstring(L, text, len);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
            log_warn("plugin %s: the stream callback failed: %s", op->plugin->name, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
}

static void model_op_free(struct model_op *op) {
    if (op->stream_ref != LUA_NOREF) luaL_unref(op->plugin->L, LUA_REGISTRYINDEX, op->stream_ref);
    if (op->user) limits_model_release(op->platform, op->user);
    free(op->platform);
    free(op->user);
    free(op);
}

static void on_routed(const struct route_result *res, void *data) {
    struct model_op *op = data;
    struct task *t = op->task;
    lua_State *co = task_stack(t);
    int n = 1;
    if (res->kind == MODEL_OK) {
        lua_createtable(co, 0, 8);
        lua_pushstring(co, res->text ? res->text : "");
        lua_setfield(co, -2, "text");
        lua_pushstring(co, res->model);
        lua_setfield(co, -2, "model");
        lua_pushstring(co, res->decision ? res->decision : "");
        lua_setfield(co, -2, "decision");
        lua_createtable(co, 0, 2);
        lua_pushinteger(co, res->prompt_tokens);
        lua_setfield(co, -2, "prompt_tokens");
        lua_pushinteger(co, res->completion_tokens);
        lua_setfield(co, -2, "completion_tokens");
        lua_setfield(co, -2, "usage");
        lua_createtable(co, 0, 2);
        lua_pushinteger(co, (lua_Integer)res->cost_micro);
        lua_setfield(co, -2, "micro");
        lua_pushstring(co, res->currency ? res->currency : "USD");
        lua_setfield(co, -2, "currency");
        lua_setfield(co, -2, "cost");
        lua_pushnumber(co, res->latency_ms);
        lua_setfield(co, -2, "latency_ms");
        lua_pushnumber(co, res->ttft_ms);
        lua_setfield(co, -2, "ttft_ms");
        if (res->tool_calls) {
            lua_json_push(co, res->tool_calls);
            lua_setfield(co, -2, "tool_calls");
        }
    } else {
        lua_pushnil(co);
        lua_pushstring(co, res->error);
        lua_pushstring(co, res->budget_exceeded ? "budget" : model_error_name(res->kind));
        n = 3;
    }
    model_op_free(op);
    task_resume(t, n);
}

static void cancel_model(void *data) {
    struct model_op *op = data;
    router_cancel(op->call);
    model_op_free(op);
}

static int core_model_chat(lua_State *L) {
    struct task *t = task_check(L);
    const char *route = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    struct plugin *p = plugin_of(L);
    if (!p->allow_model) return denied(L, "call models");
    json_t *messages = lua_json_from(L, 2);
    if (!json_is_array(messages)) {
        json_decref(messages);
        return luaL_error(L, "messages must be a list of {role = ..., content = ...}");
    }
    struct job *job = task_job(t);
    struct route_request req = {
        .route = route, .messages = messages, .plugin = p->name,
        .persona = job ? job->persona->name : NULL, .platform = job ? job->msg->platform : NULL,
        .channel = job ? job->msg->channel : NULL, .user = job ? job->msg->author.id : NULL
    };
    char why[200];
    if (job && limits_model_take(job->msg->platform, job->msg->author.id, why, sizeof(why)) < 0) {
        json_decref(messages);
        lua_pushnil(L);
        lua_pushstring(L, why);
        lua_pushstring(L, "rate_limit");
        return 3;
    }
    struct model_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    op->plugin = p;
    op->job = job;
    op->stream_ref = LUA_NOREF;
    if (job && job->msg->author.id) {
        op->platform = xstrdup(job->msg->platform);
        op->user = xstrdup(job->msg->author.id);
    }
    if (lua_istable(L, 3)) {
        if (lua_getfield(L, 3, "tools") == LUA_TTABLE) req.tools = lua_json_from(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, 3, "max_tokens") == LUA_TNUMBER) req.max_tokens = (long)lua_tointeger(L, -1);
        lua_pop(L, 1);
        int st = lua_getfield(L, 3, "stream");
        if (st == LUA_TFUNCTION) op->stream_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        else {
            op->stream_to_platform = lua_toboolean(L, -1) && job != NULL;
            lua_pop(L, 1);
        }
    }
    if (op->stream_ref != LUA_NOREF || op->stream_to_platform) {
        req.on_delta = on_delta;
        req.delta_data = op;
    }
    char err[300];
    op->call = router_chat(server.rt, &req, on_routed, op, err, sizeof(err));
    json_decref(messages);
    json_decref(req.tools);
    if (!op->call) {
        model_op_free(op);
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, "unknown_route");
        return 3;
    }
    return task_wait(L, t, op, cancel_model);
}

/* ---- Redis operations: one op type, orphaned when the task stops ---- */

/* How a reply becomes Lua values. */
enum reply_shape {
    SHAPE_RAW,       /* as Redis sent it */
    SHAPE_DECODE,    /* strings decoded as the JSON the state API stored */
    SHAPE_HASH,      /* HGETALL: {field = decoded value} */
    SHAPE_NUMBER,    /* ZINCRBY, ZSCORE: a number (nil stays nil) */
    SHAPE_SCORED     /* ZRANGE WITHSCORES: {{member =, score =}, ...} */
};

struct redis_op {
    struct task *task;     /* NULL once cancelled: the reply is dropped */
    int decode;            /* an enum reply_shape */
};

static void cancel_redis(void *data) {
    struct redis_op *op = data;
    op->task = NULL;
}

/* Push a value stored by the state API: JSON, or the raw string. */
static void push_stored(lua_State *L, const char *s, size_t len) {
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY, NULL);
    if (v) {
        lua_json_push(L, v);
        json_decref(v);
    } else {
        lua_pushlstring(L, s, len);
    }
}

/* Push a Redis reply for a skill; returns the count pushed. */
static int push_reply(lua_State *L, redisReply *r, int decode) {
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        if (decode && r->type == REDIS_REPLY_STRING) push_stored(L, r->str, r->len);
        else lua_pushlstring(L, r->str, r->len);
        return 1;
    case REDIS_REPLY_INTEGER: lua_pushinteger(L, r->integer); return 1;
    case REDIS_REPLY_NIL: lua_pushnil(L); return 1;
    case REDIS_REPLY_ARRAY:
        lua_createtable(L, (int)r->elements, 0);
        for (size_t i = 0; i < r->elements; i++) {
            push_reply(L, r->element[i], decode);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return 1;
    case REDIS_REPLY_ERROR:
        lua_pushnil(L);
        lua_pushlstring(L, r->str, r->len);
        return 2;
    default:
        lua_pushnil(L);
        return 1;
    }
}

/* Push a reply in SHAPE; errors and nil replies go through push_reply. */
static int push_shaped(lua_State *L, redisReply *r, int shape) {
    if (shape == SHAPE_NUMBER && r->type == REDIS_REPLY_STRING) {
        lua_pushnumber(L, strtod(r->str, NULL));
        return 1;
    }
    if ((shape == SHAPE_HASH || shape == SHAPE_SCORED) && r->type == REDIS_REPLY_ARRAY) {
        lua_createtable(L, shape == SHAPE_SCORED ? (int)r->elements / 2 : 0, shape == SHAPE_HASH ? (int)r->elements / 2 : 0);
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            redisReply *a = r->element[i], *b = r->element[i + 1];
            if (shape == SHAPE_HASH) {
                lua_pushlstring(L, a->str ? a->str : "", a->len);
                push_stored(L, b->str ? b->str : "", b->len);
                lua_rawset(L, -3);
            } else {
                lua_createtable(L, 0, 2);
                lua_pushlstring(L, a->str ? a->str : "", a->len);
                lua_setfield(L, -2, "member");
                lua_pushnumber(L, b->str ? strtod(b->str, NULL) : 0);
                lua_setfield(L, -2, "score");
                lua_rawseti(L, -2, (lua_Integer)(i / 2) + 1);
            }
        }
        return 1;
    }
    return push_reply(L, r, shape == SHAPE_DECODE || shape == SHAPE_HASH);
}

/* What a state call returns while Redis is down (docs/plugins.md): never
 * nil alone, which would read as an empty key. */
#define REDIS_UNAVAILABLE "redis unavailable"

static void on_redis_reply(redisReply *r, const char *err, void *data) {
    struct redis_op *op = data;
    struct task *t = op->task;
    int decode = op->decode;
    free(op);
    if (err) metrics_inc(METRIC_REDIS_ERRORS, "state", 1);
    if (!t) return;
    lua_State *co = task_stack(t);
    if (err || !r) {
        log_debug("plugin state call failed: %s", err ? err : "no reply");
        lua_pushnil(co);
        lua_pushstring(co, REDIS_UNAVAILABLE);
        task_resume(t, 2);
        return;
    }
    task_resume(t, push_shaped(co, r, decode));
}

/* Send ARGV and yield until it answers; nil, err at once when Redis is down. */
static int redis_call(lua_State *L, struct task *t, int argc, const char **argv, const size_t *lens, int decode) {
    struct redis_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    op->decode = decode;
    if (redis_command(server.redis, on_redis_reply, op, argc, argv, lens) < 0) {
        free(op);
        lua_pushnil(L);
        lua_pushstring(L, REDIS_UNAVAILABLE);
        return 2;
    }
    return task_wait(L, t, op, cancel_redis);
}

/* Build a state key: the plugin's name is always part of it. */
static void state_key(lua_State *L, struct plugin *p, char *out, size_t outlen) {
    const char *scope = luaL_checkstring(L, 1);
    const char *key = luaL_checkstring(L, 4);
    char suffix[600];
    snprintf(suffix, sizeof(suffix), ":plugin:%s:%s", p->name, key);
    if (!strcmp(scope, "plugin")) {
        char part[600];
        store_escape(suffix + 1, part, sizeof(part));
        snprintf(out, outlen, "%s%s", redis_client_prefix(server.redis), part);
    } else if (!strcmp(scope, "channel")) {
        store_channel_key(server.redis, luaL_checkstring(L, 2), luaL_checkstring(L, 3), suffix, out, outlen);
    } else if (!strcmp(scope, "user")) {
        char who[600], part[600];
        snprintf(who, sizeof(who), "user:%s:%s", luaL_checkstring(L, 2), luaL_checkstring(L, 3));
        store_escape(who, part, sizeof(part));
        char rest[600];
        store_escape(suffix, rest, sizeof(rest));
        snprintf(out, outlen, "%s%s%s", redis_client_prefix(server.redis), part, rest);
    } else {
        luaL_error(L, "unknown state scope '%s'", scope);
    }
}

/* Encode the Lua value at IDX as stored text (JSON). */
static char *encode_value(lua_State *L, int idx) {
    json_t *v = lua_json_from(L, idx);
    if (!v) luaL_error(L, "the value cannot be stored (functions and deep nesting cannot)");
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return s;
}

/* The Lua value at IDX as a member or field name: strings and numbers. */
static const char *member_arg(lua_State *L, int idx, const char *what) {
    if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
        luaL_error(L, "the %s must be a string or a number", what);
    return lua_tostring(L, idx);
}

/* A score or increment at IDX, as Redis reads it. */
static void score_arg(lua_State *L, int idx, char *out, size_t outlen) {
    if (lua_isinteger(L, idx)) snprintf(out, outlen, "%lld", (long long)lua_tointeger(L, idx));
    else snprintf(out, outlen, "%.17g", luaL_checknumber(L, idx));
}

/* A boolean option of the table at IDX (absent: false). */
static int opt_flag(lua_State *L, int idx, const char *name) {
    if (!lua_istable(L, idx)) return 0;
    lua_getfield(L, idx, name);
    int on = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return on;
}

/* core.state(scope, a, b, key, op, ...): strings and lists (get set del
 * incr expire push range trim len), hashes (hset hget hgetall hincrby
 * hdel) and sorted sets (zadd zincrby zrange zrank zscore zrem), each one
 * Redis command, so atomic there. Arguments follow Redis's order. */
static int core_state(lua_State *L) {
    struct task *t = task_check(L);
    struct plugin *p = plugin_of(L);
    if (!p->allow_state) return denied(L, "keep state");
    char key[1400];
    state_key(L, p, key, sizeof(key));
    const char *op = luaL_checkstring(L, 5);
    const char *argv[8];
    size_t lens[8];
    char num1[32], num2[32];
    char *value = NULL;
    int value_at = 2;
    int argc = 0, decode = SHAPE_RAW, rc;
    argv[1] = key;
    if (!strcmp(op, "get")) {
        argv[0] = "GET"; argc = 2; decode = SHAPE_DECODE;
    } else if (!strcmp(op, "set")) {
        value = encode_value(L, 6);
        argv[0] = "SET"; argv[2] = value; argc = 3;
        if (!lua_isnoneornil(L, 7)) {
            snprintf(num1, sizeof(num1), "%lld", (long long)luaL_checkinteger(L, 7));
            argv[3] = "EX"; argv[4] = num1; argc = 5;
        }
    } else if (!strcmp(op, "del")) {
        argv[0] = "DEL"; argc = 2;
    } else if (!strcmp(op, "incr")) {
        snprintf(num1, sizeof(num1), "%lld", (long long)luaL_optinteger(L, 6, 1));
        argv[0] = "INCRBY"; argv[2] = num1; argc = 3;
    } else if (!strcmp(op, "expire")) {
        snprintf(num1, sizeof(num1), "%lld", (long long)luaL_checkinteger(L, 6));
        argv[0] = "EXPIRE"; argv[2] = num1; argc = 3;
    } else if (!strcmp(op, "push")) {
        value = encode_value(L, 6);
        argv[0] = "RPUSH"; argv[2] = value; argc = 3;
    } else if (!strcmp(op, "range") || !strcmp(op, "trim")) {
        snprintf(num1, sizeof(num1), "%lld", (long long)luaL_optinteger(L, 6, 0));
        snprintf(num2, sizeof(num2), "%lld", (long long)luaL_optinteger(L, 7, -1));
        argv[0] = !strcmp(op, "range") ? "LRANGE" : "LTRIM"; argv[2] = num1; argv[3] = num2; argc = 4;
        decode = SHAPE_DECODE;
    } else if (!strcmp(op, "len")) {
        argv[0] = "LLEN"; argc = 2;
    } else if (!strcmp(op, "hset")) {
        argv[2] = member_arg(L, 6, "field");
        value = encode_value(L, 7);
        argv[0] = "HSET"; argv[3] = value; argc = 4; value_at = 3;
    } else if (!strcmp(op, "hget")) {
        argv[0] = "HGET"; argv[2] = member_arg(L, 6, "field"); argc = 3; decode = SHAPE_DECODE;
    } else if (!strcmp(op, "hgetall")) {
        argv[0] = "HGETALL"; argc = 2; decode = SHAPE_HASH;
    } else if (!strcmp(op, "hincrby")) {
        snprintf(num1, sizeof(num1), "%lld", (long long)luaL_optinteger(L, 7, 1));
        argv[0] = "HINCRBY"; argv[2] = member_arg(L, 6, "field"); argv[3] = num1; argc = 4;
    } else if (!strcmp(op, "hdel")) {
        argv[0] = "HDEL"; argv[2] = member_arg(L, 6, "field"); argc = 3;
    } else if (!strcmp(op, "zadd") || !strcmp(op, "zincrby")) {
        score_arg(L, 6, num1, sizeof(num1));
        argv[0] = op[1] == 'a' ? "ZADD" : "ZINCRBY"; argv[2] = num1; argv[3] = member_arg(L, 7, "member"); argc = 4;
        if (op[1] == 'i') decode = SHAPE_NUMBER;
    } else if (!strcmp(op, "zscore")) {
        argv[0] = "ZSCORE"; argv[2] = member_arg(L, 6, "member"); argc = 3; decode = SHAPE_NUMBER;
    } else if (!strcmp(op, "zrem")) {
        argv[0] = "ZREM"; argv[2] = member_arg(L, 6, "member"); argc = 3;
    } else if (!strcmp(op, "zrank")) {
        argv[0] = opt_flag(L, 7, "rev") ? "ZREVRANK" : "ZRANK"; argv[2] = member_arg(L, 6, "member"); argc = 3;
    } else if (!strcmp(op, "zrange")) {
        snprintf(num1, sizeof(num1), "%lld", (long long)luaL_optinteger(L, 6, 0));
        snprintf(num2, sizeof(num2), "%lld", (long long)luaL_optinteger(L, 7, -1));
        argv[0] = "ZRANGE"; argv[2] = num1; argv[3] = num2; argc = 4;
        if (opt_flag(L, 8, "rev")) argv[argc++] = "REV";
        if (opt_flag(L, 8, "withscores")) {
            argv[argc++] = "WITHSCORES";
            decode = SHAPE_SCORED;
        }
    } else {
        return luaL_error(L, "unknown state operation '%s'", op);
    }
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    /* The value lives on the Lua stack during the call: a yield does not
     * return here (lua_yield longjmps), so nothing may be freed after it. */
    if (value) {
        lua_pushstring(L, value);
        free(value);
        argv[value_at] = lua_tostring(L, -1);
    }
    rc = redis_call(L, t, argc, argv, lens, decode);
    return rc;
}

/* ---- history of the job's channel with a persona ---- */

struct history_op {
    struct task *task;
};

static void on_history(json_t *turns, const char *err, void *data) {
    struct history_op *op = data;
    struct task *t = op->task;
    free(op);
    if (err) metrics_inc(METRIC_REDIS_ERRORS, "history", 1);
    if (!t) return;
    lua_State *co = task_stack(t);
    if (turns) {
        lua_json_push(co, turns);
        task_resume(t, 1);
    } else {
        lua_pushnil(co);
        lua_pushstring(co, err);
        task_resume(t, 2);
    }
}

static void on_appended(const char *err, void *data) {
    struct history_op *op = data;
    struct task *t = op->task;
    free(op);
    if (err) metrics_inc(METRIC_REDIS_ERRORS, "history", 1);
    if (!t) return;
    lua_State *co = task_stack(t);
    if (err) {
        lua_pushnil(co);
        lua_pushstring(co, err);
        task_resume(t, 2);
    } else {
        lua_pushboolean(co, 1);
        task_resume(t, 1);
    }
}

static void cancel_history(void *data) {
    struct history_op *op = data;
    op->task = NULL;
}

static struct job *history_job(lua_State *L, struct task *t) {
    struct job *job = task_job(t);
    if (!job) luaL_error(L, "history needs a message's channel");
    if (!plugin_of(L)->allow_state) denied(L, "keep state");
    return job;
}

static int core_history_load(lua_State *L) {
    struct task *t = task_check(L);
    const char *persona = luaL_checkstring(L, 1);
    struct job *job = history_job(L, t);
    struct history_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    long max = job->rt->limits.history_turns;
    if (max < 2 * job->persona->history_turns) max = 2 * job->persona->history_turns;
    if (store_history_load(server.redis, job->msg->platform, job->msg->channel, persona, max, on_history, op) < 0) {
        free(op);
        lua_pushnil(L);
        lua_pushstring(L, "Redis is not available");
        return 2;
    }
    return task_wait(L, t, op, cancel_history);
}

static int core_history_append(lua_State *L) {
    struct task *t = task_check(L);
    const char *persona = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    struct job *job = history_job(L, t);
    json_t *turns = lua_json_from(L, 2);
    if (!json_is_array(turns) || json_array_size(turns) > 64) {
        json_decref(turns);
        return luaL_error(L, "turns must be a list of 1 to 64 {role = ..., content = ...} tables");
    }
    struct history_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    /* Keep room for a persona's window plus what waits to be summarised. */
    struct store_limits lim = job->rt->limits;
    if (lim.history_turns < 2 * job->persona->history_turns) lim.history_turns = 2 * job->persona->history_turns;
    int rc = store_history_append(server.redis, job->msg->platform, job->msg->channel, persona, turns,
                                  &lim, on_appended, op);
    json_decref(turns);
    if (rc < 0) {
        free(op);
        lua_pushnil(L);
        lua_pushstring(L, "Redis is not available");
        return 2;
    }
    return task_wait(L, t, op, cancel_history);
}

/* ---- core.http_request{method, url, headers, body, timeout} ---- */

struct http_op {
    struct task *task;
    struct http_call *call;
    void *mocked;              /* the test kit's handle instead of a call */
};

static const struct lua_http_mock *http_mock;

void lua_io_set_http_mock(const struct lua_http_mock *mock) {
    http_mock = mock;
}

/* Push the response's header lines as a table: lower-case names, repeated
 * headers joined with ", " (Set-Cookie too, as most HTTP libraries do). */
static void push_headers(lua_State *co, const char *lines) {
    lua_newtable(co);
    for (const char *p = lines; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon && colon > p) {
            size_t nlen = (size_t)(colon - p);
            const char *v = colon + 1, *end = p + len;
            while (v < end && (*v == ' ' || *v == '\t')) v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
            luaL_Buffer b;
            luaL_buffinit(co, &b);
            for (size_t i = 0; i < nlen; i++) luaL_addchar(&b, (char)tolower((unsigned char)p[i]));
            luaL_pushresult(&b);
            lua_pushvalue(co, -1);
            if (lua_rawget(co, -3) == LUA_TSTRING) {
                lua_pushliteral(co, ", ");
                lua_pushlstring(co, v, (size_t)(end - v));
                lua_concat(co, 3);
            } else {
                lua_pop(co, 1);
                lua_pushlstring(co, v, (size_t)(end - v));
            }
            lua_rawset(co, -3);
        }
        p = eol ? eol + 2 : p + len;
    }
}

static void on_http_done(const struct http_response *res, void *data) {
    struct http_op *op = data;
    struct task *t = op->task;
    free(op);
    lua_State *co = task_stack(t);
    if (res->error) {
        lua_pushnil(co);
        lua_pushstring(co, res->error);
        task_resume(t, 2);
        return;
    }
    lua_createtable(co, 0, 3);
    lua_pushinteger(co, res->status);
    lua_setfield(co, -2, "status");
    lua_pushlstring(co, res->body, res->body_len);
    lua_setfield(co, -2, "body");
    push_headers(co, res->headers);
    lua_setfield(co, -2, "headers");
    task_resume(t, 1);
}

static void cancel_http(void *data) {
    struct http_op *op = data;
    if (op->mocked) http_mock->cancel(op->mocked);
    else http_cancel(op->call);
    free(op);
}

/* The host of URL, for the manifest's allow-list; 0 or -1. */
static int url_host(const char *url, char *host, size_t len) {
    CURLU *u = curl_url();
    char *h = NULL, *scheme = NULL;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        (!strcmp(scheme, "http") || !strcmp(scheme, "https")) &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
        snprintf(host, len, "%s", h);
        rc = 0;
    }
    curl_free(h);
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

static int core_http_request(lua_State *L) {
    struct task *t = task_check(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "url");
    const char *url = luaL_checkstring(L, -1);
    char host[256];
    if (url_host(url, host, sizeof(host)) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, "the URL must be http:// or https:// with a host");
        return 2;
    }
    if (!plugin_http_allowed(plugin_of(L), host)) {
        lua_pushnil(L);
        lua_pushfstring(L, "plugin %s may not call %s (add the host to permissions.http in its manifest.lua, or to http = {...} in its plugin block of the config)",
                        plugin_of(L)->name, host);
        return 2;
    }
    lua_getfield(L, 1, "method");
    const char *method = luaL_optstring(L, -1, "GET");
    lua_getfield(L, 1, "body");
    size_t body_len = 0;
    const char *body = lua_isstring(L, -1) ? lua_tolstring(L, -1, &body_len) : NULL;
    lua_getfield(L, 1, "timeout");
    long timeout_ms = (long)(luaL_optnumber(L, -1, 30) * 1000);
    if (timeout_ms > task_remaining_ms(t)) timeout_ms = task_remaining_ms(t);
    const char *headers[33];
    int nh = 0;
    if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2) && nh < 32) {
            if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1)) {
                lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
                headers[nh++] = lua_tostring(L, -1);
                lua_insert(L, 2);   /* keep the string alive below the iteration */
            }
            lua_pop(L, 1);
        }
    }
    headers[nh] = NULL;
    struct http_request req = {
        .method = method, .url = url, .headers = headers, .body = body, .body_len = body_len,
        .connect_timeout_ms = timeout_ms < 10000 ? timeout_ms : 10000, .timeout_ms = timeout_ms,
        .max_body = 4u << 20
    };
    struct http_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    if (http_mock) {
        char why[512] = "";
        op->mocked = http_mock->start(&req, on_http_done, op, why, sizeof(why));
        if (op->mocked) return task_wait(L, t, op, cancel_http);
        if (why[0]) {
            free(op);
            lua_pushnil(L);
            lua_pushstring(L, why);
            return 2;
        }
    }
    op->call = http_start(server.http, &req, on_http_done, op);
    if (!op->call) {
        free(op);
        lua_pushnil(L);
        lua_pushstring(L, "the request could not be started");
        return 2;
    }
    return task_wait(L, t, op, cancel_http);
}

/* ---- tools: what models may call, and calling them ---- */

/* core.tools() -> the registered tools in the OpenAI tools format */
static int core_tools(lua_State *L) {
    struct skill_host *h = server.rt->skills;
    struct task *t = plugin_of(L)->running;
    const struct job *job = t ? task_job(t) : NULL;
    json_t *list = json_array();
    for (struct handler *hd = dispatch_next(h, NULL); hd; hd = dispatch_next(h, hd)) {
        if (hd->kind != HANDLER_TOOL) continue;
        /* One persona's tools are not another's (persona "aiko" { plugins = {...} }). */
        if (job && job->persona && !persona_allows_skill(job->persona, hd->plugin->name)) continue;
        json_t *params = json_object_get(hd->spec, "parameters");
        json_t *fn = json_pack("{s:s, s:s, s:O}", "name", hd->name,
                               "description", json_string_value(json_object_get(hd->spec, "description"))
                                                  ? json_string_value(json_object_get(hd->spec, "description")) : "",
                               "parameters", params ? params : json_pack("{s:s, s:{}}", "type", "object", "properties"));
        if (!params) json_decref(json_object_get(fn, "parameters"));
        json_array_append_new(list, json_pack("{s:s, s:o}", "type", "function", "function", fn));
    }
    lua_json_push(L, list);
    json_decref(list);
    return 1;
}

struct tool_op {
    struct task *caller;       /* NULL once the caller stopped */
    json_t *args;
    int fn_ref;
    struct runtime *rt;
    struct job *job;           /* the caller's message, for the tool's ctx */
    int waiting;               /* the caller yielded for the result */
    int done;                  /* the tool finished before the caller yielded */
    char *result;
};

/* invoke(fn, "tool", args, "", message): the message whose handler asked
 * the model becomes the tool's ctx.msg (nil when none, e.g. from a timer). */
static int push_tool_args(lua_State *co, void *arg) {
    struct tool_op *op = arg;
    lua_rawgeti(co, LUA_REGISTRYINDEX, op->fn_ref);
    lua_pushstring(co, "tool");
    lua_json_push(co, op->args);
    lua_pushstring(co, "");
    if (op->job) lua_api_push_message(co, op->job);
    else lua_pushnil(co);
    return 5;
}

/* The tool's task ended: its results, as data, go back to the caller. */
static void on_tool_end(struct task *t, enum task_end how, void *data) {
    struct tool_op *op = data;
    struct task *caller = op->caller;
    char *result = NULL;
    if (how == TASK_FAILED) {
        result = xstrdup("{\"error\":\"the tool failed\"}");
    } else {
        lua_State *co = task_stack(t);
        int n = lua_gettop(co);
        if (n >= 1 && lua_type(co, 1) == LUA_TSTRING) result = xstrdup(lua_tostring(co, 1));
        else if (n >= 1) {
            json_t *v = lua_json_from(co, 1);
            result = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            json_decref(v);
        }
        if (!result) result = xstrdup("null");
    }
    json_decref(op->args);
    op->args = NULL;
    runtime_release(op->rt);
    op->rt = NULL;
    if (!op->waiting) {        /* core_tool_call is still on the stack */
        op->result = result;
        op->done = 1;
        return;
    }
    free(op);
    if (!caller) {
        free(result);
        return;
    }
    lua_pushstring(task_stack(caller), result);
    free(result);
    task_resume(caller, 1);
}

static void cancel_tool(void *data) {
    struct tool_op *op = data;
    op->caller = NULL;   /* the tool runs to its end; its result is dropped */
}

/* core.tool_call(name, arguments_json) -> result text (JSON) */
static int core_tool_call(lua_State *L) {
    struct task *t = task_check(L);
    const char *name = luaL_checkstring(L, 1);
    size_t len;
    const char *args = luaL_optlstring(L, 2, "{}", &len);
    struct handler *hd = dispatch_find(server.rt->skills, HANDLER_TOOL, name);
    const struct job *caller_job = task_job(t);
    if (hd && caller_job && caller_job->persona && !persona_allows_skill(caller_job->persona, hd->plugin->name))
        hd = NULL;
    if (!hd) {
        lua_pushfstring(L, "{\"error\":\"there is no tool named %s\"}", name);
        return 1;
    }
    json_t *decoded = json_loadb(args, len, JSON_DECODE_ANY, NULL);
    if (!json_is_object(decoded)) {
        json_decref(decoded);
        lua_pushstring(L, "{\"error\":\"the arguments are not a JSON object\"}");
        return 1;
    }
    struct tool_op *op = xcalloc(1, sizeof(*op));
    op->caller = t;
    op->args = decoded;
    op->fn_ref = hd->fn_ref;
    op->rt = runtime_acquire(server.rt);
    op->job = task_job(t);
    task_start(hd->plugin, hd->plugin->invoke_ref, task_job(t), push_tool_args, op, on_tool_end, op);
    if (op->done) {            /* it finished without waiting on anything */
        lua_pushstring(L, op->result);
        free(op->result);
        free(op);
        return 1;
    }
    op->waiting = 1;
    return task_wait(L, t, op, cancel_tool);
}

void lua_io_register(lua_State *L) {
    static const luaL_Reg io[] = {
        { "model_chat", core_model_chat },
        { "state", core_state },
        { "history_load", core_history_load },
        { "history_append", core_history_append },
        { "http_request", core_http_request },
        { "tools", core_tools },
        { "tool_call", core_tool_call },
        { NULL, NULL }
    };
    luaL_setfuncs(L, io, 0);
}
