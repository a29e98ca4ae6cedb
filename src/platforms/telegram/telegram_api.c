/* telegram_api.c - Bot API calls (telegram_api.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platforms/telegram/telegram_api.h"
#include "io/http_client.h"
#include "lib/json_fast.h"
#include "lib/json_write.h"
#include "lib/redact.h"
#include "lib/xalloc.h"

struct telegram_call {
    struct telegram_api *api;
    struct http_call *http;
    char *method;
    char *body;
    telegram_api_fn *cb;
    void *data;
    struct telegram_call *prev, *next;
};

struct telegram_api {
    struct http_client *http;
    char *base;                /* <api_url>/bot<token>/ */
    struct telegram_call *calls;
    int n;
};

struct telegram_api *telegram_api_new(struct http_client *http, const char *api_url, const char *token) {
    struct telegram_api *a = xcalloc(1, sizeof(*a));
    size_t n = strlen(api_url) + strlen(token) + 8;
    a->http = http;
    a->base = xmalloc(n);
    size_t root = strlen(api_url);
    while (root > 0 && api_url[root - 1] == '/') root--;
    snprintf(a->base, n, "%.*s/bot%s/", (int)root, api_url, token);
    return a;
}

/* Unlink C from its API's list and free it. */
static void call_free(struct telegram_call *c) {
    struct telegram_api *a = c->api;
    if (c->prev) c->prev->next = c->next;
    else a->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    a->n--;
    free(c->method);
    free(c->body);
    free(c);
}

void telegram_api_free(struct telegram_api *a) {
    if (!a) return;
    while (a->calls) {
        http_cancel(a->calls->http);
        call_free(a->calls);
    }
    free(a->base);
    free(a);
}

/* Members of getUpdates' updates no handler in telegram.c reads, at any
 * depth: stepped over, not built (json_fast_loadb_lean). A member a handler
 * starts to read must leave this list. */
static const char *const updates_unread[] = {
    "date", "edit_date", "language_code", "is_premium", "added_to_attachment_menu", "photo", "sticker",
    "animation", "document", "video", "voice", "audio", "video_note", "link_preview_options",
    "has_protected_content", "author_signature", "forward_origin", "via_bot", "reply_markup",
    "old_reaction", "chat_instance", "media_group_id", "has_media_spoiler", NULL
};

/* What sendMessage and editMessageText answer: the whole message, of which
 * only message_id is read (telegram_send.c). */
static const char *const sent_unread[] = {
    "from", "chat", "date", "edit_date", "text", "entities", "reply_to_message", "link_preview_options",
    "reply_markup", "message_thread_id", "is_topic_message", "has_protected_content", NULL
};

/* Does METHOD answer with the message it sent or edited? */
static int answers_message(const char *method) {
    return !strcmp(method, "sendMessage") || !strcmp(method, "editMessageText");
}

/* The members METHOD's answer can be read without. */
static const char *const *unread_of(const char *method) {
    if (!strcmp(method, "getUpdates")) return updates_unread;
    if (answers_message(method)) return sent_unread;
    return NULL;
}

/* A message sent or edited, as its callers read the answer: "ok" true and
 * result.message_id, both read where they stand (the message, and the one
 * it replies to, are not built), as {"message_id": N}. NULL when the
 * answer is not plainly that; it is then read whole. */
static json_t *sent_message(const struct http_response *res) {
    static const char *const ok_path[] = { "ok", NULL };
    static const char *const id_path[] = { "result", "message_id", NULL };
    const char *v;
    size_t n;
    if (res->status != 200) return NULL;
    if (json_fast_member(res->body, res->body_len, ok_path, &v, &n) < 0 || n != 4 || memcmp(v, "true", 4) != 0)
        return NULL;
    if (json_fast_member(res->body, res->body_len, id_path, &v, &n) < 0 || n == 0 || n > 18) return NULL;
    long long id = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return NULL;
        id = id * 10 + (v[i] - '0');
    }
    json_t *o = json_object();
    json_object_set_new(o, "message_id", json_integer(id));
    return o;
}

/* The HTTP exchange ended: read Telegram's envelope and report. */
static void on_done(const struct http_response *res, void *data) {
    struct telegram_call *c = data;
    struct telegram_result r = { .status = res->status, .retry_after = -1 };
    char why[512];
    json_t *body = NULL;
    if (res->error) {
        redact(res->error, why, sizeof(why));
        r.description = why;
        r.error_code = 0;
    } else if (answers_message(c->method) && (body = sent_message(res)) != NULL) {
        r.ok = 1;
        r.result = body;
    } else {
        body = json_fast_loadb_lean(res->body, res->body_len, unread_of(c->method), NULL);
        if (!json_is_object(body)) {
            snprintf(why, sizeof(why), "%s: the answer (HTTP %ld) is not a Bot API object", c->method, res->status);
            r.description = why;
            r.error_code = res->status;
        } else {
            r.ok = json_is_true(json_object_get(body, "ok"));
            r.result = json_object_get(body, "result");
            if (!r.ok) {
                json_t *code = json_object_get(body, "error_code");
                r.error_code = json_is_integer(code) ? (long)json_integer_value(code) : res->status;
                const char *d = json_string_value(json_object_get(body, "description"));
                redact(d ? d : "no description", why, sizeof(why));
                r.description = why;
                json_t *p = json_object_get(body, "parameters");
                json_t *ra = json_object_get(p, "retry_after");
                if (json_is_number(ra)) r.retry_after = (long)json_number_value(ra);
                json_t *mig = json_object_get(p, "migrate_to_chat_id");
                if (json_is_integer(mig)) r.migrate_to = (long long)json_integer_value(mig);
                if (r.error_code == 429 && r.retry_after < 0) r.retry_after = 1;
            }
        }
    }
    telegram_api_fn *cb = c->cb;
    void *cbdata = c->data;
    call_free(c);
    if (cb) cb(&r, cbdata);
    json_decref(body);
}

struct telegram_call *telegram_api_call(struct telegram_api *a, const char *method, json_t *params, long timeout_ms,
                                        telegram_api_fn *cb, void *data) {
    if (!a) {
        json_decref(params);
        return NULL;
    }
    char *body = params ? json_write_compact(params) : xstrdup("{}");
    json_decref(params);
    return telegram_api_call_text(a, method, body, timeout_ms, cb, data);
}

struct telegram_call *telegram_api_call_text(struct telegram_api *a, const char *method, char *body, long timeout_ms,
                                             telegram_api_fn *cb, void *data) {
    if (!a) {
        free(body);
        return NULL;
    }
    struct telegram_call *c = xcalloc(1, sizeof(*c));
    c->api = a;
    c->method = xstrdup(method);
    c->body = body;
    c->cb = cb;
    c->data = data;
    size_t nb = strlen(a->base), nm = strlen(method);
    char *url = xmalloc(nb + nm + 1);
    memcpy(url, a->base, nb);
    memcpy(url + nb, method, nm + 1);
    static const char *const headers[] = { "Content-Type: application/json", NULL };
    struct http_request req = {
        .method = "POST", .url = url, .headers = headers, .body = c->body, .body_len = c->body ? strlen(c->body) : 0,
        .body_kept = 1,
        .timeout_ms = timeout_ms > 0 ? timeout_ms : 30000,
    };
    c->next = a->calls;
    if (a->calls) a->calls->prev = c;
    a->calls = c;
    a->n++;
    c->http = http_start(a->http, &req, on_done, c);
    free(url);
    if (!c->http) {
        call_free(c);
        return NULL;
    }
    return c;
}

void telegram_api_cancel(struct telegram_call *c) {
    if (!c) return;
    http_cancel(c->http);
    call_free(c);
}

int telegram_api_in_flight(const struct telegram_api *a) {
    return a ? a->n : 0;
}
