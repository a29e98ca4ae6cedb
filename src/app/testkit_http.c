/* testkit_http.c - tests call the daemon's own HTTP listener, so a webhook
 * route is tested end to end: real request, real authentication. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "io/http_client.h"
#include "core/server.h"
#include "app/testkit.h"
#include "io/web.h"
#include "lib/webhook_auth.h"
#include "lib/xalloc.h"

/* Listen on a free loopback port so webhook tests go through real HTTP and auth. */
int kit_http_start(char *err, size_t errlen) {
    char root[4096];
    snprintf(root, sizeof(root), "%s/web", kit.data_dir);
    server.web = web_start(server.loop, "127.0.0.1", 0, root, err, errlen);
    return server.web && web_port(server.web) > 0 ? 0 : -1;
}

struct http_op {
    unsigned id;
};

/* The answer came: hand {status, body} to the test, then let the daemon
 * finish whatever the handler set off. */
static void on_http(const struct http_response *res, void *data) {
    struct http_op *op = data;
    unsigned id = op->id;
    free(op);
    if (!kit_op_current(id)) return;
    lua_State *w = kit.waiter;
    if (res->error) {
        lua_pushnil(w);
        lua_pushstring(w, res->error);
        kit_wake(2);
        return;
    }
    lua_createtable(w, 0, 2);
    lua_pushinteger(w, res->status);
    lua_setfield(w, -2, "status");
    lua_pushlstring(w, res->body ? res->body : "", res->body_len);
    lua_setfield(w, -2, "body");
    kit_settle(1);
}

/* kit.http{method=, path=, body=, headers={name=value}} -> {status, body} | nil, err */
static int kit_http(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!server.web) return luaL_error(L, "http: the listener is not running");
    lua_getfield(L, 1, "method");
    const char *method = luaL_optstring(L, -1, "GET");
    lua_getfield(L, 1, "path");
    const char *path = luaL_checkstring(L, -1);
    lua_getfield(L, 1, "body");
    size_t body_len = 0;
    const char *body = luaL_optlstring(L, -1, NULL, &body_len);
    const char *headers[33];
    int nh = 0;
    if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2) && nh < 32) {
            if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1)) {
                headers[nh++] = lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
                lua_insert(L, 2);   /* below the iteration, alive until the request starts */
            }
            lua_pop(L, 1);
        }
    }
    headers[nh] = NULL;
    char url[2048];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s%.1900s", web_port(server.web), path[0] == '/' ? "" : "/", path);
    struct http_request req = { .method = method, .url = url, .headers = headers, .body = body,
                                .body_len = body_len, .timeout_ms = 30000 };
    struct http_op *op = xcalloc(1, sizeof(*op));
    op->id = kit_op_begin();
    if (!http_start(server.http, &req, on_http, op)) {
        free(op);
        lua_settop(L, 0);
        lua_pushnil(L);
        lua_pushstring(L, "the request could not be started");
        return 2;
    }
    char what[300];
    snprintf(what, sizeof(what), "the answer to %s %.200s", method, path);
    lua_settop(L, 0);
    return kit_suspend(L, what);
}

/* kit.hmac(secret, timestamp, body) -> "sha256=<hex>", as a sender signs. */
static int kit_hmac(lua_State *L) {
    size_t len;
    const char *secret = luaL_checkstring(L, 1);
    const char *ts = luaL_checkstring(L, 2);
    const char *body = luaL_checklstring(L, 3, &len);
    char hex[65];
    webhook_hmac_sign(secret, ts, body, len, hex);
    lua_pushfstring(L, "sha256=%s", hex);
    return 1;
}

/* Kept apart from testkit_lua.c: one concern per file. */
void kit_http_register(lua_State *L) {
    lua_pushcfunction(L, kit_http);
    lua_setfield(L, -2, "http");
    lua_pushcfunction(L, kit_hmac);
    lua_setfield(L, -2, "hmac");
}
