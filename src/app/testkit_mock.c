/* testkit_mock.c - what a test scripts around the plugins: outbound HTTP
 * answered by t.http.mock, scripted model failures and tool calls, and
 * several users speaking at once.
 *
 * HTTP mocks: the runner installs one Lua function (kit.http_mock) that
 * gets each plugin request {method, url, headers, body, timeout} and
 * returns nil (no mocks: the request goes out), false, why (no mock
 * matches: the request fails) or {status, headers, body, delay, timeout,
 * error}. The answer is delivered from the loop after `delay` seconds;
 * a delay past the request's own timeout ends it as a timeout at that
 * limit, as curl would; `timeout = true` ends it so at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "io/http_client.h"
#include "lib/lua_json.h"
#include "lib/xalloc.h"
#include "core/server.h"
#include "model/script_model.h"
#include "platforms/test/testchat.h"
#include "skills/lua/lua_api.h"
#include "app/testkit.h"
#include "io/web.h"

static int handler_ref = LUA_NOREF;   /* the runner's mock function in kit.L */

struct mock_call {
    uv_timer_t timer;
    http_done_fn *cb;
    void *data;
    long status;
    char *headers;        /* "Name: value\r\n"... */
    char *body;
    size_t body_len;
    char *error;
    int timed_out;
};

static void mock_closed(uv_handle_t *h) {
    struct mock_call *m = h->data;
    free(m->headers);
    free(m->body);
    free(m->error);
    free(m);
}

/* The delay passed: hand the scripted response to the plugin. */
static void mock_deliver(uv_timer_t *t) {
    struct mock_call *m = t->data;
    struct http_response res = { .status = m->error ? 0 : m->status, .body = m->body ? m->body : "",
                                 .body_len = m->body_len, .error = m->error, .timed_out = m->timed_out,
                                 .retry_after_ms = -1, .headers = m->headers ? m->headers : "" };
    m->cb(&res, m->data);
    uv_close((uv_handle_t *)t, mock_closed);
}

static void mock_cancel(void *handle) {
    struct mock_call *m = handle;
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, mock_closed);
}

/* Push a plugin's request as the table the runner's function gets. */
static void push_request(lua_State *L, const struct http_request *req) {
    lua_createtable(L, 0, 5);
    lua_pushstring(L, req->method ? req->method : "GET");
    lua_setfield(L, -2, "method");
    lua_pushstring(L, req->url);
    lua_setfield(L, -2, "url");
    lua_pushlstring(L, req->body ? req->body : "", req->body ? req->body_len : 0);
    lua_setfield(L, -2, "body");
    lua_pushnumber(L, (double)req->timeout_ms / 1000.0);
    lua_setfield(L, -2, "timeout");
    lua_newtable(L);
    for (const char *const *h = req->headers; h && *h; h++) {
        const char *colon = strchr(*h, ':');
        if (!colon) continue;
        lua_pushlstring(L, *h, (size_t)(colon - *h));
        const char *v = colon + 1;
        while (*v == ' ') v++;
        lua_pushstring(L, v);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "headers");
}

/* Read the scripted response table at the top of L into M. */
static double read_response(lua_State *L, const struct http_request *req, struct mock_call *m) {
    lua_getfield(L, -1, "status");
    m->status = lua_isinteger(L, -1) ? (long)lua_tointeger(L, -1) : 200;
    lua_pop(L, 1);
    size_t len = 0;
    lua_getfield(L, -1, "body");
    const char *body = lua_tolstring(L, -1, &len);
    if (body) {
        m->body = xmalloc(len + 1);
        memcpy(m->body, body, len);
        m->body[len] = '\0';
        m->body_len = len;
    }
    lua_pop(L, 1);
    m->headers = xstrdup("");
    if (lua_getfield(L, -1, "headers") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1)) {
                const char *k = lua_tostring(L, -2), *v = lua_tostring(L, -1);
                size_t have = strlen(m->headers), add = strlen(k) + strlen(v) + 5;
                m->headers = xrealloc(m->headers, have + add);
                snprintf(m->headers + have, add, "%s: %s\r\n", k, v);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "error");
    if (lua_isstring(L, -1)) m->error = xstrdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, -1, "delay");
    double delay = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    lua_getfield(L, -1, "timeout");
    int timeout = lua_toboolean(L, -1);
    lua_pop(L, 1);
    double limit = (double)req->timeout_ms / 1000.0;
    if (!m->error && (timeout || delay > limit)) {
        m->error = xstrdup("the request timed out");   /* as http_client says it */
        m->timed_out = 1;
        delay = timeout ? 0 : limit;   /* a scripted timeout needs no real waiting */
    }
    return delay > 0 ? delay : 0;
}

/* lua_http_mock.start: ask the runner's function what to answer. */
static void *mock_start(const struct http_request *req, http_done_fn *cb, void *data, char *why, size_t whylen) {
    if (handler_ref == LUA_NOREF || !kit.L) return NULL;
    /* A thread of its own: the kit's other threads may be suspended mid-call. */
    lua_State *L = lua_newthread(kit.L);
    int anchor = luaL_ref(kit.L, LUA_REGISTRYINDEX);
    void *handle = NULL;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, handler_ref);
    push_request(L, req);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
        snprintf(why, whylen, "t.http.mock failed: %s", lua_tostring(L, -1));
    } else if (lua_isnil(L, -2)) {
        /* no mocks in this test: the request goes out */
    } else if (!lua_istable(L, -2)) {
        snprintf(why, whylen, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "no t.http.mock matches the request");
    } else {
        lua_pop(L, 1);
        struct mock_call *m = xcalloc(1, sizeof(*m));
        m->cb = cb;
        m->data = data;
        double delay = read_response(L, req, m);
        uv_timer_init(server.loop, &m->timer);
        m->timer.data = m;
        uv_timer_start(&m->timer, mock_deliver, (uint64_t)(delay * 1000), 0);
        handle = m;
    }
    lua_settop(L, top);
    luaL_unref(kit.L, LUA_REGISTRYINDEX, anchor);
    return handle;
}

static const struct lua_http_mock kit_mock = { mock_start, mock_cancel };

/* kit.http_mock(fn | nil): the function that answers plugins' requests. */
static int kit_http_mock(lua_State *L) {
    luaL_unref(L, LUA_REGISTRYINDEX, handler_ref);
    handler_ref = LUA_NOREF;
    if (lua_isfunction(L, 1)) {
        lua_pushvalue(L, 1);
        handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_io_set_http_mock(handler_ref == LUA_NOREF ? NULL : &kit_mock);
    return 0;
}

/* kit.model_fail(kind, [message]) -> true | nil, err */
static int kit_model_fail(lua_State *L) {
    const char *kind = luaL_checkstring(L, 1);
    if (script_model_push_failure(kind, luaL_optstring(L, 2, NULL)) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "unknown failure kind \"%s\" (rate_limit, quota, server, timeout, connect, "
                           "context_length, content_filter, auth, bad_request, malformed, cut)", kind);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* kit.model_tool_call(name, args): the scripted model calls a tool. */
static int kit_model_tool_call(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    json_t *args = lua_isnoneornil(L, 2) ? json_object() : lua_json_from(L, 2);
    if (!json_is_object(args)) {
        json_decref(args);
        return luaL_error(L, "model.tool_call: the arguments must be a table of names and values");
    }
    script_model_push_tool_call(name, args);
    json_decref(args);
    return 0;
}

/* A string field of the table at IDX, or DEF (the table keeps it alive). */
static const char *field_at(lua_State *L, int idx, const char *key, const char *def) {
    lua_getfield(L, idx, key);
    const char *s = lua_isstring(L, -1) ? lua_tostring(L, -1) : def;
    lua_pop(L, 1);
    return s;
}

/* kit.say_many{ {channel, user_id, user, text, direct}, ... } -> { id, ... }
 * once every message's handlers are done: all are queued before any runs. */
static int kit_say_many(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)lua_rawlen(L, 1);
    lua_createtable(L, n, 0);
    int ids = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        int e = lua_gettop(L);
        luaL_checktype(L, e, LUA_TTABLE);
        lua_getfield(L, e, "direct");
        int direct = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
        lua_pop(L, 1);
        struct testchat_say s = {
            .channel = field_at(L, e, "channel", "lobby"), .user_id = field_at(L, e, "user_id", "test:user"),
            .user_name = field_at(L, e, "user", "user"), .text = field_at(L, e, "text", ""),
            .reply_to = field_at(L, e, "reply_to", NULL), .direct = direct,
        };
        const char *id = testchat_say(&s);
        if (!id) return luaL_error(L, "say: the queue of channel %s is full", s.channel);
        lua_pushstring(L, id);
        lua_rawseti(L, ids, i);
        lua_pop(L, 1);
    }
    lua_replace(L, 1);
    lua_settop(L, 1);
    kit_settle(1);
    return kit_suspend(L, "the handlers of several messages at once");
}

/* kit.json_encode(v) -> text: a mock's table body, as a server sends it. */
static int kit_json_encode(lua_State *L) {
    json_t *v = lua_json_from(L, 1);
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    if (!s) return luaL_error(L, "the value cannot be encoded as JSON");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

/* kit.json_decode(text) -> value | nil, err: for a test reading a tool's
 * result or a request body. */
static int kit_json_decode(lua_State *L) {
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

/* ---- several requests to the daemon's own listener at once ---- */

struct many_http {
    unsigned id;          /* the kit operation they belong to */
    int left;             /* answers still to come */
    int results_ref;      /* { {status, body} | {error}, ... } in kit.L */
};

struct many_one {
    struct many_http *all;
    int index;
};

/* One answer came: file it; once all are in, let the daemon settle. */
static void on_many_http(const struct http_response *res, void *data) {
    struct many_one *one = data;
    struct many_http *all = one->all;
    int index = one->index;
    free(one);
    lua_State *L = kit.L;
    if (L && all->results_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, all->results_ref);
        lua_createtable(L, 0, 2);
        if (res->error) {
            lua_pushstring(L, res->error);
            lua_setfield(L, -2, "error");
        } else {
            lua_pushinteger(L, res->status);
            lua_setfield(L, -2, "status");
            lua_pushlstring(L, res->body ? res->body : "", res->body_len);
            lua_setfield(L, -2, "body");
        }
        lua_rawseti(L, -2, index);
        lua_pop(L, 1);
    }
    if (--all->left > 0) return;
    if (kit_op_current(all->id)) {
        lua_rawgeti(kit.waiter, LUA_REGISTRYINDEX, all->results_ref);
        kit_settle(1);   /* the wake comes once the daemon is quiet */
    }
    if (kit.L) luaL_unref(kit.L, LUA_REGISTRYINDEX, all->results_ref);
    free(all);
}

/* kit.http_many{ {method, path, body, headers}, ... } -> { {status, body}, ... }
 * once every answer is in and the daemon is quiet: all are sent at once. */
static int kit_http_many(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!server.web) return luaL_error(L, "http: the listener is not running");
    int n = (int)lua_rawlen(L, 1);
    if (n < 1 || n > 64) return luaL_error(L, "http: send 1 to 64 requests at once");
    struct many_http *all = xcalloc(1, sizeof(*all));
    lua_newtable(kit.L);
    all->results_ref = luaL_ref(kit.L, LUA_REGISTRYINDEX);
    all->id = kit_op_begin();
    for (int i = 1; i <= n; i++) {
        int top = lua_gettop(L);
        lua_rawgeti(L, 1, i);
        int e = lua_gettop(L);
        luaL_checktype(L, e, LUA_TTABLE);
        const char *method = field_at(L, e, "method", "POST");
        const char *path = field_at(L, e, "path", "/");
        lua_getfield(L, e, "body");
        size_t body_len = 0;
        const char *body = lua_tolstring(L, -1, &body_len);
        const char *headers[33];
        int nh = 0;
        if (lua_getfield(L, e, "headers") == LUA_TTABLE) {
            lua_pushnil(L);
            while (lua_next(L, -2) && nh < 32) {
                if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1)) {
                    headers[nh++] = lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
                    lua_insert(L, e + 1);   /* below the iteration, alive until the request starts */
                }
                lua_pop(L, 1);
            }
        }
        headers[nh] = NULL;
        char url[2048];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s%.1900s", web_port(server.web), path[0] == '/' ? "" : "/", path);
        struct http_request req = { .method = method, .url = url, .headers = headers, .body = body,
                                    .body_len = body_len, .timeout_ms = 30000 };
        struct many_one *one = xcalloc(1, sizeof(*one));
        one->all = all;
        one->index = i;
        all->left++;
        if (!http_start(server.http, &req, on_many_http, one)) {
            free(one);
            all->left--;
        }
        lua_settop(L, top);
    }
    lua_settop(L, 0);
    if (all->left == 0) {
        luaL_unref(kit.L, LUA_REGISTRYINDEX, all->results_ref);
        free(all);
        lua_pushnil(L);
        lua_pushstring(L, "the requests could not be started");
        return 2;
    }
    return kit_suspend(L, "the answers to several requests at once");
}

/* Called from kit_push_api: add these to the kit table on top of L. */
void kit_mock_register(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "http_mock", kit_http_mock },
        { "model_fail", kit_model_fail },
        { "model_tool_call", kit_model_tool_call },
        { "say_many", kit_say_many },
        { "json_encode", kit_json_encode },
        { "json_decode", kit_json_decode },
        { "http_many", kit_http_many },
        { NULL, NULL }
    };
    luaL_setfuncs(L, fns, 0);
}

/* Tear-down: plugins' requests go out again, the function is forgotten. */
void kit_mock_reset(void) {
    lua_io_set_http_mock(NULL);
    if (kit.L) luaL_unref(kit.L, LUA_REGISTRYINDEX, handler_ref);
    handler_ref = LUA_NOREF;
}
