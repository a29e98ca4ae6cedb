/* slack_web.c - the Web API send queue of slack_web.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platforms/slack/slack_web.h"
#include "io/http_client.h"
#include "lib/dict.h"
#include "lib/json_fast.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "io/timer.h"

#define MAX_TRIES 4
#define TIER3_PER_MIN 50
#define WINDOW_MS 60000.0

/* Times of the last LIMIT sends, to keep LIMIT per window. */
struct window {
    uint64_t *times;
    int limit, n, pos;
    double ms;
    uint64_t paused_until;     /* a 429 said so */
};

struct web_call {
    struct slack_web *w;
    char *method;              /* NULL for a response_url POST */
    char *url;
    char *body;
    char *channel;             /* pacing key, or NULL */
    int tries;
    uint64_t not_before;       /* a retry's backoff */
    struct http_call *http;
    slack_web_fn *cb;
    void *data;
    struct web_call *next;
};

struct slack_web {
    uv_loop_t *loop;
    struct http_client *http;
    char *api_url;
    char *bot_auth, *app_auth;
    double scale;
    double channel_rate;
    int channel_burst;
    struct web_call *head, *tail;     /* waiting, oldest first */
    struct web_call *running;         /* in flight (a list through next) */
    int nrunning, nwaiting;
    struct window tier3_update, tier3_react, connections;
    struct dict *channels;            /* channel -> struct window */
    struct dict *busy;                /* channels with a call in flight */
    uv_timer_t *timer;
    void (*refused)(const char *method, const char *err, void *arg);
    void *refused_arg;
    long n429;
    int pumping, again;        /* pump() is running / must run once more */
};

static void pump(struct slack_web *w);

/* Set up a window of LIMIT sends per MS. */
static void window_init(struct window *win, int limit, double ms) {
    win->times = xcalloc((size_t)limit, sizeof(uint64_t));
    win->limit = limit;
    win->ms = ms;
}

/* When WIN allows the next send (NOW if it does). */
static uint64_t window_next(const struct window *win, uint64_t now) {
    uint64_t t = now;
    if (win->paused_until > t) t = win->paused_until;
    if (win->n == win->limit) {
        uint64_t free_at = win->times[win->pos] + (uint64_t)win->ms;
        if (free_at > t) t = free_at;
    }
    return t;
}

/* Count a send at NOW. */
static void window_take(struct window *win, uint64_t now) {
    win->times[win->pos] = now;
    win->pos = (win->pos + 1) % win->limit;
    if (win->n < win->limit) win->n++;
}

/* dict value destructor of a channel window. */
static void window_free(void *v) {
    struct window *win = v;
    free(win->times);
    free(win);
}

/* dict_each helper: free one channel's window. */
static void free_window_entry(const char *key, void *value, void *arg) {
    (void)key, (void)arg;
    window_free(value);
}

/* Timer: something waiting may go now. */
static void on_timer(uv_timer_t *t) {
    pump(t->data);
}

struct slack_web *slack_web_new(uv_loop_t *loop, struct http_client *http, const struct slack_web_options *o) {
    struct slack_web *w = xcalloc(1, sizeof(*w));
    w->loop = loop;
    w->http = http;
    size_t n = strlen(o->api_url);
    w->api_url = xmalloc(n + 2);
    snprintf(w->api_url, n + 2, "%s%s", o->api_url, n && o->api_url[n - 1] == '/' ? "" : "/");
    size_t alen = strlen(o->bot_token) + 32;
    w->bot_auth = xmalloc(alen);
    snprintf(w->bot_auth, alen, "Authorization: Bearer %s", o->bot_token);
    alen = strlen(o->app_token) + 32;
    w->app_auth = xmalloc(alen);
    snprintf(w->app_auth, alen, "Authorization: Bearer %s", o->app_token);
    w->scale = o->time_scale > 0 ? o->time_scale : 1.0;
    w->refused = o->refused;
    w->refused_arg = o->arg;
    w->channel_rate = o->channel_rate > 0 ? o->channel_rate : 1.0;
    w->channel_burst = o->channel_burst > 0 ? o->channel_burst : 3;
    window_init(&w->tier3_update, TIER3_PER_MIN, WINDOW_MS * w->scale);
    window_init(&w->tier3_react, TIER3_PER_MIN, WINDOW_MS * w->scale);
    window_init(&w->connections, 1, 0);   /* only for a 429's pause */
    w->channels = dict_new();
    w->busy = dict_new();
    w->timer = timer_new(loop, w);
    return w;
}

/* Free CALL (already unlinked), cancelling its transfer. */
static void call_free(struct web_call *c) {
    if (c->http) http_cancel(c->http);
    free(c->method);
    free(c->url);
    free(c->body);
    free(c->channel);
    free(c);
}

void slack_web_free(struct slack_web *w) {
    if (!w) return;
    while (w->head) {
        struct web_call *c = w->head;
        w->head = c->next;
        call_free(c);
    }
    while (w->running) {
        struct web_call *c = w->running;
        w->running = c->next;
        call_free(c);
    }
    timer_free(&w->timer);
    dict_each(w->channels, free_window_entry, NULL);
    dict_free(w->channels);
    dict_free(w->busy);
    free(w->tier3_update.times);
    free(w->tier3_react.times);
    free(w->connections.times);
    free(w->api_url);
    free(w->bot_auth);
    free(w->app_auth);
    free(w);
}

/* The pacing window of C's method (and channel), or NULL when it has none. */
static struct window *window_of(struct slack_web *w, const struct web_call *c) {
    if (!c->method) return NULL;
    if (!strcmp(c->method, "chat.update")) return &w->tier3_update;
    if (!strcmp(c->method, "reactions.add")) return &w->tier3_react;
    if (!strcmp(c->method, "apps.connections.open")) return &w->connections;
    if (!strcmp(c->method, "chat.postMessage") && c->channel) {
        struct window *win = dict_get(w->channels, c->channel);
        if (!win) {
            win = xcalloc(1, sizeof(*win));
            window_init(win, w->channel_burst, 1000.0 * w->channel_burst / w->channel_rate);
            dict_set(w->channels, c->channel, win);
        }
        return win;
    }
    return NULL;
}

/* Put C back on the queue's head (a 429 or a retry keeps its place). */
static void push_front(struct slack_web *w, struct web_call *c) {
    c->next = w->head;
    w->head = c;
    if (!w->tail) w->tail = c;
    w->nwaiting++;
}

/* Take C off the running list. */
static void unlink_running(struct slack_web *w, struct web_call *c) {
    for (struct web_call **pp = &w->running; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            w->nrunning--;
            break;
        }
    }
    c->next = NULL;
    if (c->channel) dict_del(w->busy, c->channel);
}

/* Keys of Web API answers no caller reads: the posted or updated message
 * object (callers take the top-level ts), its blocks and metadata. */
static const char *const answer_unread[] = { "message", "blocks", "response_metadata", "warning", NULL };

/* What is read of a chat.postMessage answer: ok and error here, ts by the
 * callers (the message object, channel and the rest are stepped over). */
static const char *const post_read[] = { "ok", "error", "ts", NULL };

/* C's answer BODY as its reader takes it. A chat.postMessage that went
 * through ({"ok":true,"channel":..,"ts":..,"message":{..}}) is read for ok
 * and ts where they stand, and the text after ts is not looked at; other
 * answers of it are read for the members above, the other methods' whole
 * (lean). */
static json_t *answer_body(const struct web_call *c, const char *body, size_t len, json_error_t *jerr) {
    static const char *const ok_path[] = { "ok", NULL };
    static const char *const ts_path[] = { "ts", NULL };
    if (strcmp(c->method, "chat.postMessage") != 0) return json_fast_loadb_lean(body, len, answer_unread, jerr);
    const char *v;
    size_t n;
    if (json_fast_member(body, len, ok_path, &v, &n) == 0 && n == 4 && !memcmp(v, "true", 4) &&
        json_fast_member(body, len, ts_path, &v, &n) == 0 && n >= 2 && v[0] == '"' && !memchr(v + 1, '\\', n - 2)) {
        json_t *o = json_object();
        if (o && json_object_set_new(o, "ok", json_true()) == 0 && json_object_set_new(o, "ts", json_stringn(v + 1, n - 2)) == 0)
            return o;
        json_decref(o);
    }
    return json_fast_loadb_only(body, len, post_read, jerr);
}

/* ERR when it says the token no longer works at all (not that one call
 * lacked a scope or a channel), as a string of ours; else NULL. */
static const char *token_dead(const char *err) {
    static const char *const dead[] = { "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                                        NULL };
    for (int i = 0; dead[i]; i++)
        if (!strcmp(err, dead[i])) return dead[i];
    return NULL;
}

/* Slack answered C (or the transfer failed): retry, pause, or complete it. */
static void on_done(const struct http_response *res, void *data) {
    struct web_call *c = data;
    struct slack_web *w = c->w;
    c->http = NULL;
    unlink_running(w, c);
    uint64_t now = uv_now(w->loop);
    const char *what = c->method ? c->method : "response_url";
    if (res->status == 429) {
        w->n429++;
        long ms = res->retry_after_ms > 0 ? res->retry_after_ms : 1000;
        struct window *win = window_of(w, c);
        if (win) win->paused_until = now + (uint64_t)ms;
        else c->not_before = now + (uint64_t)ms;
        log_warn("slack: %s was rate limited (429); waiting %ld ms as Retry-After says", what, ms);
        push_front(w, c);
        pump(w);
        return;
    }
    if (res->status == 0 || res->status >= 500) {
        if (++c->tries < MAX_TRIES) {
            double wait = 500.0 * (double)(1 << c->tries) * w->scale;
            c->not_before = now + (uint64_t)(wait < 1 ? 1 : wait);
            log_warn("slack: %s failed (%s); trying again in %.0f ms", what,
                     res->error ? res->error : "server error", wait);
            push_front(w, c);
            pump(w);
            return;
        }
    }
    json_t *body = NULL;
    const char *err = NULL;
    char errbuf[160];
    if (res->status == 0 || res->status >= 300) {
        snprintf(errbuf, sizeof(errbuf), "%s failed: %s", what, res->error ? res->error : "HTTP error");
        if (res->status) snprintf(errbuf, sizeof(errbuf), "%s failed with HTTP %ld", what, res->status);
        err = errbuf;
    } else if (c->method) {
        json_error_t jerr;
        body = answer_body(c, res->body, res->body_len, &jerr);
        json_t *ok = json_object_get(body, "ok");
        json_t *e = json_object_get(body, "error");
        if (!json_is_object(body)) err = "the answer is not JSON";
        else if (!json_is_true(ok)) err = json_is_string(e) ? json_string_value(e) : "not ok";
    }
    const char *dead = c->method && err && w->refused ? token_dead(err) : NULL;   /* ERR lives in BODY */
    if (c->cb) c->cb(body, err, c->data);
    json_decref(body);
    if (dead) w->refused(c->method, dead, w->refused_arg);
    call_free(c);
    pump(w);
}

/* Send C now. */
static void start(struct slack_web *w, struct web_call *c) {
    const char *auth = c->method && !strcmp(c->method, "apps.connections.open") ? w->app_auth : w->bot_auth;
    const char *headers[] = { c->method ? auth : "X-Chorus: 1", "Content-Type: application/json; charset=utf-8", NULL };
    struct http_request req = {
        .method = "POST", .url = c->url, .headers = headers, .body = c->body, .body_len = strlen(c->body), .body_kept = 1,
        .timeout_ms = 30000, .max_body = 1 << 20,
    };
    c->next = w->running;
    w->running = c;
    w->nrunning++;
    if (c->channel) dict_set(w->busy, c->channel, c);
    struct window *win = window_of(w, c);
    if (win) window_take(win, uv_now(w->loop));
    c->http = http_start(w->http, &req, on_done, c);
    if (!c->http) {
        struct http_response res;
        memset(&res, 0, sizeof(res));
        res.error = "the request could not be started";
        c->tries = MAX_TRIES;
        on_done(&res, c);
    }
}

/* Send every waiting call whose channel is free and whose limits allow it;
 * arm the timer for the earliest of the rest. Calls of one channel keep
 * their order: one held back holds back the later ones of its channel. */
static void pump_once(struct slack_web *w) {
    uint64_t now = uv_now(w->loop);
    uint64_t wake = 0;
    struct dict *held = NULL;
    struct web_call **pp = &w->head, *prev = NULL;
    while (*pp) {
        struct web_call *c = *pp;
        int blocked = c->channel && (dict_get(w->busy, c->channel) || (held && dict_get(held, c->channel)));
        uint64_t at = c->not_before > now ? c->not_before : now;
        struct window *win = blocked ? NULL : window_of(w, c);
        if (win) {
            uint64_t t = window_next(win, now);
            if (t > at) at = t;
        }
        if (blocked || at > now) {
            if (!blocked && (!wake || at < wake)) wake = at;
            if (c->channel) {
                if (!held) held = dict_new();
                dict_set(held, c->channel, c);
            }
            prev = c;
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        if (w->tail == c) w->tail = prev;
        w->nwaiting--;
        c->next = NULL;
        start(w, c);
        if (!*pp) break;
    }
    if (held) dict_free(held);
    if (wake) uv_timer_start(w->timer, on_timer, wake - now, 0);
}

/* Run the queue; a call that completes inside it (a request that could not
 * start) asks for one more pass instead of running the queue re-entrantly. */
static void pump(struct slack_web *w) {
    if (w->pumping) {
        w->again = 1;
        return;
    }
    w->pumping = 1;
    do {
        w->again = 0;
        pump_once(w);
    } while (w->again);
    w->pumping = 0;
}

/* Queue a call at the tail; TEXT (its JSON body, malloc'd) is taken over. */
static int enqueue_text(struct slack_web *w, const char *method, const char *url, char *text, const char *channel,
                        slack_web_fn *cb, void *data) {
    struct web_call *c = xcalloc(1, sizeof(*c));
    c->w = w;
    c->method = method ? xstrdup(method) : NULL;
    if (url) {
        c->url = xstrdup(url);
    } else {
        size_t a = strlen(w->api_url), m = strlen(method);
        c->url = xmalloc(a + m + 1);
        memcpy(c->url, w->api_url, a);
        memcpy(c->url + a, method, m + 1);
    }
    c->body = text;
    c->channel = channel ? xstrdup(channel) : NULL;
    c->cb = cb;
    c->data = data;
    if (w->tail) w->tail->next = c;
    else w->head = c;
    w->tail = c;
    w->nwaiting++;
    uv_timer_start(w->timer, on_timer, 0, 0);   /* never inside the caller */
    return 0;
}

/* Queue a call at the tail with BODY (taken over) as its JSON. */
static int enqueue(struct slack_web *w, const char *method, const char *url, json_t *body, const char *channel,
                   slack_web_fn *cb, void *data) {
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) return -1;
    return enqueue_text(w, method, url, text, channel, cb, data);
}

int slack_web_call(struct slack_web *w, const char *method, json_t *args, const char *channel, slack_web_fn *cb,
                   void *data) {
    if (!w || !method || !json_is_object(args)) {
        json_decref(args);
        return -1;
    }
    return enqueue(w, method, NULL, args, channel, cb, data);
}

int slack_web_call_text(struct slack_web *w, const char *method, char *args, const char *channel, slack_web_fn *cb,
                        void *data) {
    if (!w || !method || !args) {
        free(args);
        return -1;
    }
    return enqueue_text(w, method, NULL, args, channel, cb, data);
}

int slack_web_respond(struct slack_web *w, const char *url, json_t *body, slack_web_fn *cb, void *data) {
    if (!w || !url || strncmp(url, "http", 4)) {
        json_decref(body);
        return -1;
    }
    return enqueue(w, NULL, url, body, NULL, cb, data);
}

long slack_web_429_count(const struct slack_web *w) {
    return w ? w->n429 : 0;
}

int slack_web_pending(const struct slack_web *w) {
    return w ? w->nwaiting + w->nrunning : 0;
}
