/* mattermost_rest.c - the send queue of mattermost_rest.h on http_client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "platforms/mattermost/mattermost_rest.h"
#include "platforms/mattermost/mattermost_events.h"
#include "io/http_client.h"
#include "lib/json_fast.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "io/timer.h"

#define MAX_TRIES 4

enum call_state { CALL_WAITING, CALL_RUNNING, CALL_BACKOFF };

struct rest_call {
    struct mattermost_rest *r;
    enum call_state state;
    char *method;
    char *path;
    char *url;
    char *body;                 /* serialized JSON, or NULL */
    char *key;                  /* order key, or NULL */
    int read_id;                /* a post: its answer is read for the id only */
    int tries;
    uint64_t not_before;        /* loop time a retry may start */
    struct http_call *http;
    mattermost_rest_fn *cb;
    void *data;
    struct rest_call *prev, *next;
};

struct mattermost_rest {
    uv_loop_t *loop;
    struct http_client *http;
    char *base;                 /* url + "/api/v4" */
    char *auth;                 /* "Authorization: Bearer <token>" */
    int max_inflight;
    long retry_ms;
    void (*refused)(long status, const char *path, void *arg);
    void *arg;
    struct rest_call *head, *tail;   /* every call, oldest first */
    int ncalls, running;
    uint64_t hold_until;        /* loop time the rate limit lets the queue go on */
    uv_timer_t *timer;
    int pumping;                /* pump() is on the stack: a nested call only asks for another round */
    int pump_again;
    long n429;
};

/* A post split into parts: the caller hears once, after the last. */
struct post_job {
    int left;
    char *last_id;
    char *err;
    mattermost_posted_fn *cb;
    void *data;
};

static void pump(struct mattermost_rest *r);

/* The hold (or a retry's backoff) is over. */
static void on_timer(uv_timer_t *t) {
    pump(t->data);
}

struct mattermost_rest *mattermost_rest_new(uv_loop_t *loop, struct http_client *http, const struct mattermost_rest_options *o) {
    struct mattermost_rest *r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->http = http;
    r->max_inflight = o->max_inflight > 0 ? o->max_inflight : 4;
    r->retry_ms = o->retry_ms > 0 ? o->retry_ms : 500;
    r->refused = o->refused;
    r->arg = o->arg;
    size_t n = strlen(o->url);
    while (n && o->url[n - 1] == '/') n--;
    r->base = xmalloc(n + 8);
    memcpy(r->base, o->url, n);
    memcpy(r->base + n, "/api/v4", 8);
    size_t alen = strlen(o->token) + 32;
    r->auth = xmalloc(alen);
    snprintf(r->auth, alen, "Authorization: Bearer %s", o->token);
    r->timer = timer_new(loop, r);
    return r;
}

/* Unlink and free C, cancelling its transfer. */
static void call_free(struct rest_call *c) {
    struct mattermost_rest *r = c->r;
    if (c->prev) c->prev->next = c->next;
    else r->head = c->next;
    if (c->next) c->next->prev = c->prev;
    else r->tail = c->prev;
    r->ncalls--;
    if (c->state == CALL_RUNNING) r->running--;
    if (c->http) http_cancel(c->http);
    free(c->method);
    free(c->path);
    free(c->url);
    free(c->body);
    free(c->key);
    free(c);
}

void mattermost_rest_free(struct mattermost_rest *r) {
    if (!r) return;
    while (r->head) call_free(r->head);
    timer_free(&r->timer);
    free(r->base);
    free(r->auth);
    free(r);
}

long mattermost_rest_429_count(const struct mattermost_rest *r) {
    return r ? r->n429 : 0;
}

int mattermost_rest_pending(const struct mattermost_rest *r) {
    return r ? r->ncalls : 0;
}

/* A header as a number, or DEF when absent. */
static double header_num(const struct http_response *res, const char *name, double def) {
    char v[64];
    if (http_response_header(res, name, v, sizeof(v)) <= 0) return def;
    char *end;
    double d = strtod(v, &end);
    return end == v ? def : d;
}

/* X-Ratelimit-Reset as milliseconds from now: the server sends seconds to
 * go; a value like a Unix time is taken as one. -1 when absent. */
static double reset_ms(const struct http_response *res) {
    double reset = header_num(res, "x-ratelimit-reset", -1);
    if (reset < 0) return -1;
    if (reset > 1e9) {
        double left = reset - (double)time(NULL);
        return left > 0 ? left * 1000 : 0;
    }
    return reset * 1000;
}

/* Hold the whole queue for MS milliseconds (never shortening a hold). */
static void hold(struct mattermost_rest *r, double ms) {
    uint64_t until = uv_now(r->loop) + (uint64_t)(ms < 1 ? 1 : ms);
    if (until > r->hold_until) r->hold_until = until;
}

/* Read the rate limit off an answer: a 429 holds the queue for Retry-After
 * (else the reset); Remaining 0 for one request's share of the limit. */
static void read_limits(struct mattermost_rest *r, const struct http_response *res) {
    if (res->status == 429) {
        double wait = header_num(res, "retry-after", -1) * 1000;
        if (wait < 0) wait = reset_ms(res);
        if (wait < 0) wait = 1000;
        hold(r, wait);
        r->n429++;
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_429", 1);
        log_warn("mattermost: rate limited (429); the send queue waits %.0f ms", wait);
        return;
    }
    double remaining = header_num(res, "x-ratelimit-remaining", -1);
    if (remaining != 0) return;
    double limit = header_num(res, "x-ratelimit-limit", -1);
    double reset = reset_ms(res);
    double wait = limit > 0 ? 1000.0 / limit : reset;
    if (reset >= 0 && wait > reset) wait = reset;
    if (wait > 0) hold(r, wait);
}

/* C's answer as its caller reads it. A post that went through answers
 * with the whole post, of which the caller takes the id: it is read where
 * it stands ({"id":"..",...}) and the text after it is not looked at. Its
 * other answers are read for id and message (an error's); any other
 * call's answer whole (lean). */
static json_t *answer_body(const struct rest_call *c, const struct http_response *res) {
    static const char *const id_path[] = { "id", NULL };
    static const char *const post_read[] = { "id", "message", NULL };
    if (!res->body_len) return NULL;
    if (!c->read_id) return json_fast_loadb_lean(res->body, res->body_len, mattermost_post_unread, NULL);
    const char *v;
    size_t n;
    if (res->status >= 200 && res->status <= 299 && json_fast_member(res->body, res->body_len, id_path, &v, &n) == 0 &&
        n >= 3 && v[0] == '"' && !memchr(v + 1, '\\', n - 2)) {
        json_t *body = json_object();
        if (body && json_object_set_new(body, "id", json_stringn(v + 1, n - 2)) == 0) return body;
        json_decref(body);
    }
    return json_fast_loadb_only(res->body, res->body_len, post_read, NULL);
}

/* The HTTP exchange ended: hold, retry, or report to the caller. */
static void on_http(const struct http_response *res, void *data) {
    struct rest_call *c = data;
    struct mattermost_rest *r = c->r;
    c->http = NULL;
    c->state = CALL_WAITING;
    r->running--;
    read_limits(r, res);
    if (res->status == 429) {               /* back to the head: it goes first once the hold is over */
        if (c != r->head) {
            if (c->prev) c->prev->next = c->next;
            if (c->next) c->next->prev = c->prev;
            else r->tail = c->prev;
            c->prev = NULL;
            c->next = r->head;
            r->head->prev = c;
            r->head = c;
        }
        pump(r);
        return;
    }
    int transient = res->error || res->status == 0 || res->status >= 500;
    if (transient && ++c->tries < MAX_TRIES) {
        uint64_t wait = (uint64_t)r->retry_ms << (c->tries - 1);
        log_warn("mattermost: %s %s failed (%s); retry %d in %llu ms", c->method, c->path,
                 res->error ? res->error : "server error", c->tries, (unsigned long long)wait);
        c->state = CALL_BACKOFF;
        c->not_before = uv_now(r->loop) + wait;
        pump(r);
        return;
    }
    json_t *body = answer_body(c, res);
    char err[300] = "";
    if (res->error) {
        snprintf(err, sizeof(err), "%s", res->error);
    } else if (res->status >= 400) {
        json_t *m = body ? json_object_get(body, "message") : NULL;
        snprintf(err, sizeof(err), "Mattermost answered %ld: %s", res->status, json_is_string(m) ? json_string_value(m) : "an error");
    }
    if (err[0]) log_warn("mattermost: %s %s: %s", c->method, c->path, err);
    mattermost_rest_fn *cb = c->cb;
    void *cbdata = c->data;
    long status = res->status;
    char *path = status == 401 && r->refused ? xstrdup(c->path) : NULL;
    call_free(c);
    if (cb) cb(status, body, err[0] ? err : NULL, cbdata);
    json_decref(body);
    if (path) r->refused(status, path, r->arg);
    free(path);
    pump(r);
}

/* Send C's request now. */
static void start_http(struct rest_call *c) {
    struct mattermost_rest *r = c->r;
    const char *headers[] = { r->auth, "Content-Type: application/json", "X-Requested-With: XMLHttpRequest", NULL };
    struct http_request req = {
        .method = c->method, .url = c->url, .headers = headers, .body = c->body,
        .body_len = c->body ? strlen(c->body) : 0, .body_kept = 1, .timeout_ms = 30000,
    };
    if (!c->body && strcmp(c->method, "GET") != 0 && strcmp(c->method, "DELETE") != 0) req.body = "";
    c->state = CALL_RUNNING;
    r->running++;
    c->http = http_start(r->http, &req, on_http, c);
    if (!c->http) {
        struct http_response res = { .status = 0, .body = "", .error = "the request could not be started", .headers = "",
                                     .retry_after_ms = -1 };
        c->tries = MAX_TRIES;
        on_http(&res, c);
    }
}

/* Is a call with KEY running already (its successor must wait)? */
static int key_busy(struct mattermost_rest *r, const struct rest_call *upto, const char *key) {
    for (struct rest_call *c = r->head; c && c != upto; c = c->next)
        if (c->key && !strcmp(c->key, key)) return 1;      /* an older one, running or not: order first */
    return 0;
}

static void pump_round(struct mattermost_rest *r);

/* Start every call the hold, the in-flight cap and the order keys allow;
 * arm the timer for the next hold or backoff to end. */
static void pump(struct mattermost_rest *r) {
    if (r->pumping) {
        r->pump_again = 1;
        return;
    }
    r->pumping = 1;
    do {
        r->pump_again = 0;
        pump_round(r);
    } while (r->pump_again);
    r->pumping = 0;
}

/* One pass of pump(). */
static void pump_round(struct mattermost_rest *r) {
    uint64_t now = uv_now(r->loop);
    uv_timer_stop(r->timer);
    if (now < r->hold_until) {
        uv_timer_start(r->timer, on_timer, r->hold_until - now, 0);
        return;
    }
    uint64_t next = 0;
    for (struct rest_call *c = r->head; c && r->running < r->max_inflight;) {
        struct rest_call *n = c->next;
        if (c->state == CALL_BACKOFF && c->not_before > now) {
            if (!next || c->not_before < next) next = c->not_before;
        } else if (c->state != CALL_RUNNING && !(c->key && key_busy(r, c, c->key))) {
            start_http(c);       /* may complete at once (a failed start) and free C, never N */
            if (uv_now(r->loop) < r->hold_until) return;
        }
        c = n;
    }
    if (next) uv_timer_start(r->timer, on_timer, next - now, 0);
}

/* Queue a call whose BODY (malloc'd JSON text, or NULL) is serialized
 * already; the call owns it from here on. */
static struct rest_call *queue_call(struct mattermost_rest *r, const char *method, const char *path, char *body,
                                    const char *key, mattermost_rest_fn *cb, void *data) {
    struct rest_call *c = xcalloc(1, sizeof(*c));
    c->r = r;
    c->method = xstrdup(method);
    c->path = xstrdup(path);
    size_t blen = strlen(r->base), plen = strlen(path);
    c->url = xmalloc(blen + plen + 1);
    memcpy(c->url, r->base, blen);
    memcpy(c->url + blen, path, plen + 1);
    c->body = body;
    c->key = key ? xstrdup(key) : NULL;
    c->cb = cb;
    c->data = data;
    c->prev = r->tail;
    if (r->tail) r->tail->next = c;
    else r->head = c;
    r->tail = c;
    r->ncalls++;
    /* From the loop, never inside this call: the callback must not run before we return. */
    if (uv_now(r->loop) >= r->hold_until) uv_timer_start(r->timer, on_timer, 0, 0);
    return c;
}

int mattermost_rest_call(struct mattermost_rest *r, const char *method, const char *path, json_t *body, const char *order_key,
                         mattermost_rest_fn *cb, void *data) {
    if (!r) {
        json_decref(body);
        return -1;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    queue_call(r, method, path, text, order_key, cb, data);
    return 0;
}

/* One part of a post answered; the last tells the caller. */
static void on_post_part(long status, json_t *body, const char *err, void *data) {
    struct post_job *j = data;
    (void)status;
    json_t *id = json_object_get(body, "id");
    if (err && !j->err) j->err = xstrdup(err);
    if (!err && json_is_string(id)) {
        free(j->last_id);
        j->last_id = xstrdup(json_string_value(id));
    }
    if (--j->left > 0) return;
    if (j->cb) j->cb(j->err ? NULL : j->last_id, j->err, j->data);
    free(j->last_id);
    free(j->err);
    free(j);
}

int mattermost_rest_post(struct mattermost_rest *r, const char *channel, const char *root_id, const char *text,
                         mattermost_posted_fn *cb, void *data) {
    size_t len = strlen(text);
    if (!r || len == 0) return -1;
    struct post_job *j = xcalloc(1, sizeof(*j));
    j->cb = cb;
    j->data = data;
    size_t off = 0;
    int parts = 0;
    while (off < len) {
        off += utf8_prefix(text + off, len - off, MATTERMOST_MAX_POST_CP);
        parts++;
    }
    j->left = parts;
    off = 0;
    while (off < len) {
        size_t n = utf8_prefix(text + off, len - off, MATTERMOST_MAX_POST_CP);
        static const char *const keys[] = { "channel_id", "message", "root_id" };
        const char *vals[] = { channel, text + off, root_id && *root_id ? root_id : NULL };
        size_t lens[] = { strlen(channel), n, vals[2] ? strlen(root_id) : 0 };
        queue_call(r, "POST", "/posts", json_write_strings(3, keys, vals, lens), channel, on_post_part, j)->read_id = 1;
        off += n;
    }
    return 0;
}

int mattermost_rest_patch(struct mattermost_rest *r, const char *channel, const char *post_id, const char *text, size_t len,
                          mattermost_rest_fn *cb, void *data) {
    if (!r || len == 0) return -1;
    char path[128];
    snprintf(path, sizeof(path), "/posts/%s/patch", post_id);
    size_t n = utf8_prefix(text, len, MATTERMOST_MAX_POST_CP);
    return mattermost_rest_call(r, "PUT", path, json_pack("{s:s%}", "message", text, n), channel, cb, data);
}

int mattermost_rest_react(struct mattermost_rest *r, const char *user_id, const char *post_id, const char *emoji,
                          mattermost_rest_fn *cb, void *data) {
    if (!r || !user_id || !*emoji) return -1;
    return mattermost_rest_call(r, "POST", "/reactions",
                                json_pack("{s:s, s:s, s:s}", "user_id", user_id, "post_id", post_id, "emoji_name", emoji),
                                NULL, cb, data);
}
