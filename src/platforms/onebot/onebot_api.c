/* onebot_api.c - calls matched by echo (onebot_api.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"
#include "platforms/onebot/onebot_api.h"
#include "platforms/onebot/onebot_link.h"
#include "io/timer.h"

struct call {
    struct call *next;
    char echo[32];
    char action[48];
    char *text;                 /* the request, serialized */
    size_t len;
    int written;                /* on the current connection */
    uint64_t deadline;
    onebot_api_done_fn *cb;
    void *arg;
};

struct onebot_api {
    uv_loop_t *loop;
    struct onebot_link *link;
    uv_timer_t *timer;          /* the oldest call's deadline */
    struct call *head, *tail;   /* in the order made (so deadlines ascend) */
    size_t n, max_waiting;
    uint64_t timeout_ms;
    unsigned long counter;
};

static void on_deadline(uv_timer_t *t);

/* Arm the timer for the oldest call, or stop it. */
static void arm(struct onebot_api *a) {
    if (!a->head) {
        uv_timer_stop(a->timer);
        return;
    }
    uint64_t now = uv_now(a->loop);
    uv_timer_start(a->timer, on_deadline, a->head->deadline > now ? a->head->deadline - now : 0, 0);
}

/* Take C out of the list (it is not freed). */
static void unlink_call(struct onebot_api *a, struct call *c) {
    struct call **pp = &a->head, *prev = NULL;
    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp) return;
    *pp = c->next;
    if (a->tail == c) a->tail = prev;
    a->n--;
}

/* Finish C: out of the list, callback, freed. */
static void finish(struct onebot_api *a, struct call *c, json_t *data, const char *err) {
    unlink_call(a, c);
    onebot_api_done_fn *cb = c->cb;
    void *arg = c->arg;
    free(c->text);
    free(c);
    if (cb) cb(data, err, arg);
}

static void on_deadline(uv_timer_t *t) {
    struct onebot_api *a = t->data;
    uint64_t now = uv_now(a->loop);
    while (a->head && a->head->deadline <= now) {
        struct call *c = a->head;
        log_warn("onebot: %s got no answer within %llu ms", c->action, (unsigned long long)a->timeout_ms);
        metrics_inc(METRIC_PLATFORM_EVENTS, "onebot_api_timeout", 1);
        finish(a, c, NULL, "timeout");
    }
    arm(a);
}

struct onebot_api *onebot_api_new(uv_loop_t *loop, struct onebot_link *link, double timeout_ms, size_t max_waiting) {
    struct onebot_api *a = xcalloc(1, sizeof(*a));
    a->loop = loop;
    a->link = link;
    a->timeout_ms = timeout_ms < 1 ? 1 : (uint64_t)timeout_ms;
    a->max_waiting = max_waiting ? max_waiting : 1000;
    a->timer = timer_new(loop, a);
    return a;
}

/* Write every call not written on this connection, in order. */
static void write_waiting(struct onebot_api *a) {
    for (struct call *c = a->head; c; c = c->next) {
        if (c->written) continue;
        if (onebot_link_send(a->link, c->text, c->len) < 0) return;
        c->written = 1;
    }
}

int onebot_api_call(struct onebot_api *a, const char *action, json_t *params, onebot_api_done_fn *cb, void *arg) {
    struct json_buf b = { 0 };
    if (!params || json_buf_value(&b, params) < 0) {
        json_buf_free(&b);
        json_buf_put(&b, "{}");
    }
    json_decref(params);
    size_t len;
    char *text = json_buf_take(&b, &len);
    return onebot_api_call_text(a, action, text, len, cb, arg);
}

/* C's echo, "chorus-N", and its action (cut to fit), as snprintf would
 * write them but without it: this runs for every reply. */
static void name_call(struct call *c, unsigned long n, const char *action) {
    memcpy(c->echo, "chorus-", 7);
    json_int_text(c->echo + 7, (long long)n);
    size_t len = strlen(action);
    if (len >= sizeof(c->action)) len = sizeof(c->action) - 1;
    memcpy(c->action, action, len);
    c->action[len] = '\0';
}

/* The request is written straight, {"action":...,"params":...,"echo":...}
 * in that order, as json_pack and json_dumps made it before; the action
 * and echo are our own names, escaped all the same. */
int onebot_api_call_text(struct onebot_api *a, const char *action, char *params, size_t len, onebot_api_done_fn *cb,
                         void *arg) {
    if (a->n >= a->max_waiting) {
        free(params);
        log_warn("onebot: %zu calls are waiting already; %s is dropped", a->n, action);
        return -1;
    }
    struct call *c = xcalloc(1, sizeof(*c));
    name_call(c, ++a->counter, action);
    struct json_buf b = { 0 };
    json_buf_put(&b, "{\"action\":");
    json_buf_string(&b, action, strlen(action));
    json_buf_put(&b, ",\"params\":");
    json_buf_raw(&b, params, len);
    json_buf_put(&b, ",\"echo\":");
    json_buf_string(&b, c->echo, strlen(c->echo));
    json_buf_put(&b, "}");
    free(params);
    c->text = json_buf_take(&b, &c->len);
    c->deadline = uv_now(a->loop) + a->timeout_ms;
    c->cb = cb;
    c->arg = arg;
    if (a->tail) a->tail->next = c;
    else a->head = c;
    a->tail = c;
    a->n++;
    if (a->head == c) arm(a);
    write_waiting(a);
    return 0;
}

/* A non-empty string member KEY of O, or NULL. */
static const char *said(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

/* The retcode and wording of a failed answer, for the log and the caller:
 * wording, message or msg, the first one that says something (NapCat
 * writes all three, some of them empty; others only msg). */
static void failure_text(json_t *o, char *buf, size_t len) {
    json_t *rc = json_object_get(o, "retcode");
    const char *wording = said(o, "wording");
    if (!wording) wording = said(o, "message");
    if (!wording) wording = said(o, "msg");
    snprintf(buf, len, "retcode %lld%s%s", (long long)json_integer_value(rc), wording ? ": " : "", wording ? wording : "");
}

int onebot_api_response(struct onebot_api *a, json_t *o) {
    json_t *echo = json_object_get(o, "echo");
    if (!json_is_string(echo) || (!json_object_get(o, "status") && !json_object_get(o, "retcode"))) return 0;
    struct call *c = a->head;
    while (c && strcmp(c->echo, json_string_value(echo))) c = c->next;
    if (!c) {
        log_debug("onebot: an answer to a call no longer waiting (echo %.40s)", json_string_value(echo));
        return 1;
    }
    const char *status = json_string_value(json_object_get(o, "status"));
    json_t *rc = json_object_get(o, "retcode");
    long long retcode = json_is_integer(rc) ? (long long)json_integer_value(rc) : 0;
    if ((status && !strcmp(status, "failed")) || (retcode != 0 && retcode != 1)) {
        char why[256];
        failure_text(o, why, sizeof(why));
        log_warn("onebot: %s failed: %s", c->action, why);
        metrics_inc(METRIC_PLATFORM_EVENTS, "onebot_api_failed", 1);
        finish(a, c, NULL, why);
    } else {
        finish(a, c, json_object_get(o, "data"), NULL);
    }
    arm(a);
    return 1;
}

void onebot_api_link_up(struct onebot_api *a) {
    write_waiting(a);
}

void onebot_api_link_down(struct onebot_api *a) {
    int again = 0;
    for (struct call *c = a->head; c; c = c->next) {
        again += c->written;
        c->written = 0;
    }
    if (again) log_info("onebot: %d unanswered calls will be sent again on the next connection", again);
}

size_t onebot_api_pending(const struct onebot_api *a) {
    return a ? a->n : 0;
}

void onebot_api_free(struct onebot_api *a) {
    if (!a) return;
    while (a->head) finish(a, a->head, NULL, "stopping");
    timer_free(&a->timer);
    free(a);
}
