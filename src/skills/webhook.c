/* webhook.c - authenticate a route's request and run its handler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>
#include <lauxlib.h>
#include "skills/dispatch.h"
#include "lib/log.h"
#include "lib/lua_json.h"
#include "skills/plugin.h"
#include "io/redis_client.h"
#include "core/runtime.h"
#include "core/server.h"
#include "skills/skills.h"
#include "skills/task.h"
#include "lib/vclock.h"
#include "io/web.h"
#include "skills/webhook.h"
#include "lib/webhook_auth.h"
#include "lib/xalloc.h"

struct webhook_req {
    struct lws *wsi;          /* NULL once the client went away */
    char path[256];
    char method[8];
    char secret[320];         /* X-Chorus-Secret or the Bearer token */
    char signature[160];
    char timestamp[32];
    char content_type[128];
    char *body;
    size_t len;
    int running;              /* its handler is running */
    struct runtime *rt;
};

/* Copy header NAME (e.g. "x-chorus-signature:") into OUT, or "" when absent. */
static void custom_header(struct lws *wsi, const char *name, char *out, int len) {
    out[0] = '\0';
    if (lws_hdr_custom_length(wsi, name, (int)strlen(name)) > 0)
        lws_hdr_custom_copy(wsi, out, len, name, (int)strlen(name));
}

struct webhook_req *webhook_begin(struct lws *wsi, const char *path, const char *method) {
    struct webhook_req *r = xcalloc(1, sizeof(*r));
    char auth[300];
    r->wsi = wsi;
    snprintf(r->path, sizeof(r->path), "%s", path);
    snprintf(r->method, sizeof(r->method), "%s", method);
    custom_header(wsi, "x-chorus-secret:", r->secret, sizeof(r->secret));
    if (!r->secret[0] && lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        !strncasecmp(auth, "Bearer ", 7))
        snprintf(r->secret, sizeof(r->secret), "%s", auth + 7);
    custom_header(wsi, "x-chorus-signature:", r->signature, sizeof(r->signature));
    custom_header(wsi, "x-chorus-timestamp:", r->timestamp, sizeof(r->timestamp));
    if (lws_hdr_copy(wsi, r->content_type, sizeof(r->content_type), WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
        r->content_type[0] = '\0';
    return r;
}

int webhook_body(struct webhook_req *r, const char *data, size_t len) {
    if (r->len + len > WEBHOOK_MAX_BODY) return -1;
    char *p = xrealloc(r->body, r->len + len + 1);
    if (!p) return -1;
    r->body = p;
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    return 0;
}

static void webhook_free(struct webhook_req *r) {
    if (r->rt) runtime_release(r->rt);
    free(r->body);
    free(r);
}

/* Answer the client, if it is still there. */
static void answer(struct webhook_req *r, unsigned status, const char *type, const char *text, size_t len) {
    if (!r->wsi) return;
    char *copy = xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    web_respond(r->wsi, status, type, copy, len);
}

static void answer_text(struct webhook_req *r, unsigned status, const char *text) {
    answer(r, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* Is the request allowed by the route's auth spec? 0, or -1 with why. */
static int authenticate(struct webhook_req *r, const struct handler *hd, char *why, size_t len) {
    const char *secret = json_string_value(json_object_get(hd->spec, "secret"));
    const char *hmac = json_string_value(json_object_get(hd->spec, "hmac"));
    json_t *window = json_object_get(hd->spec, "window");
    if (hmac && *hmac)
        return webhook_hmac_check(hmac, r->timestamp[0] ? r->timestamp : NULL, r->signature[0] ? r->signature : NULL,
                                  r->body ? r->body : "", r->len, (long long)vclock_now(),
                                  json_is_integer(window) ? (long)json_integer_value(window) : 300, why, len);
    if (secret && *secret) {
        if (webhook_secret_ok(secret, r->secret)) return 0;
        snprintf(why, len, "%s", r->secret[0] ? "wrong secret" : "missing secret");
        return -1;
    }
    snprintf(why, len, "the route has no secret configured");
    return -1;
}

/* The request as the handler sees it. */
static int push_request(lua_State *co, void *arg) {
    struct webhook_req *r = arg;
    struct handler *hd = dispatch_find(r->rt->skills, HANDLER_ROUTE, r->path);
    lua_rawgeti(co, LUA_REGISTRYINDEX, hd->fn_ref);
    lua_pushstring(co, "route");
    lua_createtable(co, 0, 4);
    lua_pushstring(co, r->method);
    lua_setfield(co, -2, "method");
    lua_pushstring(co, r->path);
    lua_setfield(co, -2, "path");
    lua_pushlstring(co, r->body ? r->body : "", r->len);
    lua_setfield(co, -2, "body");
    lua_pushstring(co, r->content_type);
    lua_setfield(co, -2, "content_type");
    lua_pushstring(co, "");
    return 4;
}

/* The handler returned (status, body) or a table: answer with it. */
static void on_route_end(struct task *t, enum task_end how, void *data) {
    struct webhook_req *r = data;
    lua_State *co = task_stack(t);
    r->running = 0;
    if (how == TASK_FAILED) {
        answer_text(r, 500, "the handler failed\n");
    } else {
        int top = lua_gettop(co);
        long status = 200;
        const char *type = "text/plain; charset=utf-8";
        char *json = NULL;
        size_t len = 0;
        const char *body = "";
        if (top >= 1 && lua_isinteger(co, 1)) {
            status = (long)lua_tointeger(co, 1);
            if (top >= 2 && lua_type(co, 2) == LUA_TSTRING) body = lua_tolstring(co, 2, &len);
            else if (top >= 2 && lua_istable(co, 2)) {
                json_t *v = lua_json_from(co, 2);
                json = v ? json_dumps(v, JSON_COMPACT) : NULL;
                json_decref(v);
                type = "application/json";
            }
        } else if (top >= 1 && lua_type(co, 1) == LUA_TSTRING) {
            body = lua_tolstring(co, 1, &len);
        }
        if (status < 100 || status > 599) status = 500;
        if (json) answer(r, (unsigned)status, type, json, strlen(json));
        else answer(r, (unsigned)status, type, body, len);
        free(json);
    }
    if (!r->wsi) webhook_free(r);
}

/* Answer 401 and say why in the log. */
static void refuse(struct webhook_req *r, const char *why) {
    char text[260];
    snprintf(text, sizeof(text), "unauthorized: %s\n", why);
    log_info("webhook %s: refused: %s", r->path, why);
    answer_text(r, 401, text);
}

/* Run the route's handler as a task. */
static void start_handler(struct webhook_req *r) {
    struct handler *hd = dispatch_find(r->rt->skills, HANDLER_ROUTE, r->path);
    if (!hd) {
        r->running = 0;
        answer_text(r, 404, "no such route\n");
        if (!r->wsi) webhook_free(r);
        return;
    }
    task_start(hd->plugin, hd->plugin->invoke_ref, NULL, push_request, r, on_route_end, r);
}

/* SET NX answered: a fresh signature runs the handler, a seen one is a replay. */
static void on_signature_seen(redisReply *rep, const char *err, void *data) {
    struct webhook_req *r = data;
    if (err || !rep || rep->type == REDIS_REPLY_NIL) {
        r->running = 0;
        if (err) answer_text(r, 503, "cannot check for replays right now\n");
        else refuse(r, "this signed request was already used (a replay)");
        if (!r->wsi) webhook_free(r);
        return;
    }
    start_handler(r);
}

void webhook_run(struct webhook_req *r) {
    struct skill_host *h = server.rt->skills;
    struct handler *hd = dispatch_find(h, HANDLER_ROUTE, r->path);
    char why[200];
    if (!hd) {
        answer_text(r, 404, "no such route\n");
        return;
    }
    const char *method = json_string_value(json_object_get(hd->spec, "method"));
    if (method && strcmp(method, "ANY") && strcmp(method, r->method)) {
        answer_text(r, 405, "method not allowed\n");
        return;
    }
    if (authenticate(r, hd, why, sizeof(why)) < 0) {
        refuse(r, why);
        return;
    }
    r->rt = runtime_acquire(server.rt);
    r->running = 1;
    if (!r->signature[0]) {
        start_handler(r);
        return;
    }
    /* A signature is good once: remember it for the window, refuse replays. */
    char key[400], ttl[24];
    json_t *window = json_object_get(hd->spec, "window");
    /* The replay key is the decoded MAC: re-encoding it (bare hex, upper
     * case) must not make a used signature new. */
    char mac[65];
    if (webhook_signature_canonical(r->signature, mac) < 0) snprintf(mac, sizeof(mac), "%.64s", r->signature);
    snprintf(key, sizeof(key), "%shook-sig:%s", redis_client_prefix(server.redis), mac);
    snprintf(ttl, sizeof(ttl), "%lld", json_is_integer(window) ? (long long)json_integer_value(window) * 2 : 600LL);
    const char *argv[6] = { "SET", key, "1", "NX", "EX", ttl };
    if (redis_command(server.redis, on_signature_seen, r, 6, argv, NULL) < 0) {
        r->running = 0;
        runtime_release(r->rt);
        r->rt = NULL;
        answer_text(r, 503, "cannot check for replays right now (Redis is down)\n");
    }
}

void webhook_detach(struct webhook_req *r) {
    if (!r) return;
    r->wsi = NULL;
    if (!r->running) webhook_free(r);
}

/* ---- the /hooks/ route ------------------------------------------------- */

/* A request under /hooks/: read its headers; a GET runs at once, a POST
 * once its body is in. */
static int hook_request(struct lws *wsi, const char *path, int post, void **state, void *data) {
    (void)data;
    struct webhook_req *r = webhook_begin(wsi, path, post ? "POST" : "GET");
    *state = r;
    if (!post) webhook_run(r);
    return 0;
}

static int hook_body(void *state, const void *in, size_t len) {
    return webhook_body(state, in, len);
}

static void hook_body_done(void *state) {
    webhook_run(state);
}

static void hook_detach(void *state) {
    webhook_detach(state);
}

static const struct web_route hooks_route = {
    .path = "/hooks/", .allow_post = 1, .request = hook_request,
    .body = hook_body, .body_done = hook_body_done, .detach = hook_detach,
};

void webhook_routes_add(void) {
    web_route_add(&hooks_route);
}
