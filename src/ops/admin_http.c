/* admin_http.c - /admin/api/: JSON for the admin console, only with the
 * configured admin_token as a Bearer token (compared in constant time).
 * The token is never echoed, logged or accepted in a URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <libwebsockets.h>
#include "conf/config.h"
#include "core/feed.h"
#include "core/runtime.h"
#include "core/server.h"
#include "io/web.h"
#include "lib/webhook_auth.h"
#include "lib/xalloc.h"
#include "ops/admin.h"
#include "ops/admin_http.h"
#include "ops/admin_live.h"
#include "ops/admin_series.h"
#include "ops/operator.h"
#include "persona/ledger.h"

#define MAX_BODY (64 * 1024)
#define MAX_ARGV 32

/* A request on its way: the request (WSI, NULL once the client left) and
 * an answer in progress (ledger, series, command) each hold a reference. */
struct admin_wait {
    struct lws *wsi;
    int refs;
    char *body;          /* a POST's body so far */
    size_t len;
    int too_big;
};

static void wait_release(struct admin_wait *w) {
    if (--w->refs > 0) return;
    free(w->body);
    free(w);
}

/* Answer W's request with JSON (taken over), unless the client left. */
static void wait_answer(struct admin_wait *w, unsigned status, json_t *j) {
    if (w->wsi) {
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (!text) text = xstrdup("{\"error\":\"?\"}");
        web_respond(w->wsi, status, "application/json", text, strlen(text));
        w->wsi = NULL;   /* answered: a later detach only drops the request's reference */
    }
    json_decref(j);
    wait_release(w);
}

const char *admin_http_token(void) {
    struct config_block *b = server.rt ? config_first(server.rt->cfg, "admin_token") : NULL;
    const char *token = b && json_is_string(b->value) ? json_string_value(b->value) : NULL;
    return token && *token ? token : NULL;
}

int admin_http_token_ok(const char *given) {
    const char *token = admin_http_token();
    return token && given && webhook_secret_ok(token, given);
}

/* The ledger for the admin page arrived. */
static void on_admin_ledger(json_t *report, const char *err, void *data) {
    if (report) wait_answer(data, 200, json_incref(report));
    else wait_answer(data, 503, json_pack("{s:s}", "error", err ? "the ledger is unavailable" : "?"));
}

static void on_series(json_t *report, const char *err, void *data) {
    if (report) wait_answer(data, 200, report);
    else wait_answer(data, 503, json_pack("{s:s}", "error", err ? err : "?"));
}

/* The operator command's answer: {"ok", "text", "data"}. */
static void on_operated(json_t *answer, void *data) {
    wait_answer(data, 200, answer);   /* the answer is ours to free */
}

/* POST /admin/api/command {"argv": ["persona", "edit", ...]}: the
 * operator command table, as the owner (like chorusctl), audited as admin:console. */
static void run_command(struct admin_wait *w) {
    json_error_t jerr;
    json_t *req = w->too_big ? NULL : json_loadb(w->body ? w->body : "", w->len, 0, &jerr);
    json_t *argv_json = json_object_get(req, "argv");
    char *argv[MAX_ARGV];
    int argc = 0;
    size_t i;
    json_t *v;
    if (!json_is_array(argv_json) || json_array_size(argv_json) == 0 || json_array_size(argv_json) > MAX_ARGV) {
        json_decref(req);
        wait_answer(w, 400, json_pack("{s:s}", "error", w->too_big ? "the body is too large" : "send {\"argv\": [\"word\", ...]}"));
        return;
    }
    json_array_foreach(argv_json, i, v) {
        if (!json_is_string(v)) {
            json_decref(req);
            wait_answer(w, 400, json_pack("{s:s}", "error", "every argv element must be a string"));
            return;
        }
        argv[argc++] = (char *)json_string_value(v);
    }
    struct actor a = { .platform = "admin", .user_id = "console", .channel = NULL, .guest = 0, .local = 1 };
    operator_run(&a, argc, argv, on_operated, w);
    json_decref(req);
}

/* Is the request's Authorization header "Bearer <the admin token>"? */
static int authorized(struct lws *wsi) {
    char auth[400] = "";
    if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 || strncasecmp(auth, "Bearer ", 7)) return 0;
    int ok = admin_http_token_ok(auth + 7);
    memset(auth, 0, sizeof(auth));
    return ok;
}

/* The value of ?NAME= as an int, or DFLT. */
static int url_int(struct lws *wsi, const char *name, int dflt) {
    char buf[64];
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, sizeof(buf));
    return v ? atoi(v) : dflt;
}

static int admin_request(struct lws *wsi, const char *path, int post, void **state, void *data) {
    (void)data;
    if (!admin_http_token()) {
        web_respond_text(wsi, 404, "the admin page is off (set admin_token)\n");
        return 0;
    }
    if (!authorized(wsi)) {
        web_respond_text(wsi, 401, "unauthorized\n");
        return 0;
    }
    if (post) {
        if (strcmp(path, "/admin/api/command")) {
            web_respond_text(wsi, 405, "method not allowed\n");
            return 0;
        }
        struct admin_wait *w = xcalloc(1, sizeof(*w));
        w->wsi = wsi;
        w->refs = 1;
        *state = w;
        return 0;   /* run when the body is in */
    }
    if (!strcmp(path, "/admin/api/status")) {
        json_t *req = json_pack("{s:s}", "cmd", "status");
        json_t *st = admin_execute(req);
        json_decref(req);
        char *text = json_dumps(st, JSON_COMPACT);
        json_decref(st);
        web_respond(wsi, 200, "application/json", text, strlen(text));
        return 0;
    }
    if (!strcmp(path, "/admin/api/feed")) {
        json_t *j = json_pack("{s:o}", "events", feed_recent());
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        web_respond(wsi, 200, "application/json", text, strlen(text));
        return 0;
    }
    if (!strcmp(path, "/admin/api/ledger") || !strcmp(path, "/admin/api/series")) {
        char err[200];
        struct admin_wait *w = xcalloc(1, sizeof(*w));
        w->wsi = wsi;
        w->refs = 2;
        *state = w;
        if (path[11] == 'l') {
            if (ledger_report(NULL, NULL, NULL, on_admin_ledger, w, err, sizeof(err)) < 0) {
                w->refs = 1;
                wait_answer(w, 503, json_pack("{s:s}", "error", err));
                *state = NULL;
            }
        } else {
            admin_series_read(url_int(wsi, "minutes=", 60), on_series, w);
        }
        return 0;   /* answered when the data is in */
    }
    web_respond_text(wsi, 404, "not found\n");
    return 0;
}

static int admin_body(void *state, const void *in, size_t len) {
    struct admin_wait *w = state;
    if (w->too_big || w->len + len > MAX_BODY) {
        w->too_big = 1;
        return 0;
    }
    w->body = xrealloc(w->body, w->len + len + 1);
    memcpy(w->body + w->len, in, len);
    w->len += len;
    w->body[w->len] = '\0';
    return 0;
}

static void admin_body_done(void *state) {
    struct admin_wait *w = state;
    w->refs++;   /* the command's answer holds one */
    run_command(w);
}

/* The client left or the answer is written. */
static void admin_detach(void *state) {
    struct admin_wait *w = state;
    w->wsi = NULL;
    wait_release(w);
}

static const struct web_route admin_route = {
    .path = "/admin/api/", .allow_post = 1, .request = admin_request,
    .body = admin_body, .body_done = admin_body_done, .detach = admin_detach,
};

void admin_http_routes_add(void) {
    web_route_add(&admin_route);
    admin_live_routes_add();
}
