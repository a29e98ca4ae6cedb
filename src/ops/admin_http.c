/* admin_http.c - /admin/api/: JSON for the admin page, only with the
 * configured admin_token as a Bearer token (compared in constant time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <libwebsockets.h>
#include "conf/config.h"
#include "core/runtime.h"
#include "core/server.h"
#include "io/web.h"
#include "lib/webhook_auth.h"
#include "lib/xalloc.h"
#include "ops/admin.h"
#include "ops/admin_http.h"
#include "persona/ledger.h"

/* A ledger answer on its way: the request (WSI, NULL once the client left)
 * and the ledger's callback each hold a reference. */
struct admin_wait {
    struct lws *wsi;
    int refs;
};

static void wait_release(struct admin_wait *w) {
    if (--w->refs == 0) free(w);
}

/* The ledger for the admin page arrived. */
static void on_admin_ledger(json_t *report, const char *err, void *data) {
    struct admin_wait *w = data;
    if (w->wsi) {
        char *text = report ? json_dumps(report, JSON_COMPACT) : NULL;
        if (!text) text = xstrdup(err ? "{\"error\":\"the ledger is unavailable\"}" : "{\"error\":\"?\"}");
        web_respond(w->wsi, report ? 200 : 503, "application/json", text, strlen(text));
    }
    wait_release(w);
}

static int admin_request(struct lws *wsi, const char *path, int post, void **state, void *data) {
    (void)post, (void)data;
    struct config_block *b = config_first(server.rt->cfg, "admin_token");
    const char *token = b && json_is_string(b->value) ? json_string_value(b->value) : NULL;
    char auth[400] = "";
    if (!token || !*token) {
        web_respond_text(wsi, 404, "the admin page is off (set admin_token)\n");
        return 0;
    }
    if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 || strncasecmp(auth, "Bearer ", 7) ||
        !webhook_secret_ok(token, auth + 7)) {
        web_respond_text(wsi, 401, "unauthorized\n");
        return 0;
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
    if (!strcmp(path, "/admin/api/ledger")) {
        char err[200];
        struct admin_wait *w = xcalloc(1, sizeof(*w));
        w->wsi = wsi;
        w->refs = 2;
        if (ledger_report(NULL, NULL, NULL, on_admin_ledger, w, err, sizeof(err)) < 0) {
            free(w);
            web_respond_text(wsi, 503, err);
            return 0;
        }
        *state = w;
        return 0;   /* answered when the report is in */
    }
    web_respond_text(wsi, 404, "not found\n");
    return 0;
}

/* The client left or the answer is written. */
static void admin_detach(void *state) {
    struct admin_wait *w = state;
    w->wsi = NULL;
    wait_release(w);
}

static const struct web_route admin_route = { .path = "/admin/api/", .request = admin_request, .detach = admin_detach };

void admin_http_routes_add(void) {
    web_route_add(&admin_route);
}
