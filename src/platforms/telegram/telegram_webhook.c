/* telegram_webhook.c - the webhook route (telegram_webhook.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>
#include "platforms/telegram/telegram_webhook.h"
#include "io/web.h"
#include "lib/json_fast.h"
#include "lib/log.h"
#include "lib/webhook_auth.h"
#include "lib/xalloc.h"

#define MAX_UPDATE_BYTES (1u << 20)

struct telegram_webhook {
    struct web_route route;
    char *path;
    char *secret;
    telegram_hook_fn *fn;
    void *data;
};

/* One request being read. */
struct hook_req {
    struct lws *wsi;
    struct telegram_webhook *w;
    char *body;
    size_t len;
    int refused;
};

/* A POST to the path: check the secret before reading the body. */
static int hook_request(struct lws *wsi, const char *path, int post, void **state, void *data) {
    struct telegram_webhook *w = data;
    (void)path;
    if (!post) {
        web_respond_text(wsi, 405, "POST updates here\n");
        return 0;
    }
    char presented[300] = "";
    const char *name = "x-telegram-bot-api-secret-token:";
    if (lws_hdr_custom_length(wsi, name, (int)strlen(name)) > 0)
        lws_hdr_custom_copy(wsi, presented, sizeof(presented), name, (int)strlen(name));
    struct hook_req *r = xcalloc(1, sizeof(*r));
    r->wsi = wsi;
    r->w = w;
    if (!webhook_secret_ok(w->secret, presented)) {
        log_warn("telegram: a webhook request without the right secret token was refused");
        r->refused = 1;
    }
    *state = r;
    return 0;
}

static int hook_body(void *state, const void *in, size_t len) {
    struct hook_req *r = state;
    if (r->refused) return 0;
    if (r->len + len > MAX_UPDATE_BYTES) return -1;
    r->body = xrealloc(r->body, r->len + len + 1);
    memcpy(r->body + r->len, in, len);
    r->len += len;
    r->body[r->len] = '\0';
    return 0;
}

/* The whole update is in: hand it over and answer. */
static void hook_body_done(void *state) {
    struct hook_req *r = state;
    if (r->refused) {
        web_respond_text(r->wsi, 401, "wrong secret token\n");
        return;
    }
    json_t *u = r->body ? json_fast_loadb(r->body, r->len, NULL) : NULL;
    if (!json_is_object(u)) {
        log_warn("telegram: a webhook request whose body is not a JSON update was refused (%zu bytes)", r->len);
        json_decref(u);
        web_respond_text(r->wsi, 400, "the body is not a JSON update\n");
        return;
    }
    int taken = r->w->fn(u, r->w->data);
    json_decref(u);
    if (taken < 0) web_respond_text(r->wsi, 503, "not now\n");
    else web_respond_text(r->wsi, 200, "ok\n");
}

static void hook_detach(void *state) {
    struct hook_req *r = state;
    if (!r) return;
    free(r->body);
    free(r);
}

struct telegram_webhook *telegram_webhook_new(const char *path, const char *secret, telegram_hook_fn *fn, void *data) {
    struct telegram_webhook *w = xcalloc(1, sizeof(*w));
    w->path = xstrdup(path);
    w->secret = xstrdup(secret ? secret : "");
    w->fn = fn;
    w->data = data;
    w->route.path = w->path;
    w->route.allow_post = 1;
    w->route.request = hook_request;
    w->route.body = hook_body;
    w->route.body_done = hook_body_done;
    w->route.detach = hook_detach;
    w->route.data = w;
    web_route_add(&w->route);
    return w;
}

void telegram_webhook_free(struct telegram_webhook *w) {
    if (!w) return;
    web_route_remove(w->path);
    free(w->path);
    free(w->secret);
    free(w);
}
