/* telegram_queue.c - the send queue under Telegram's flood limits
 * (telegram_queue.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platforms/telegram/telegram_queue.h"
#include "lib/dict.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "io/timer.h"

#define MAX_TRIES 5                /* transport errors and 5xx */
#define MAX_429 8                  /* 429s for one request before it fails */
#define GROUP_WINDOW_MS 60000.0
#define SWEEP_MS 60000.0

struct item {
    char *method;
    json_t *params;                /* or: */
    char *fields;                  /* the members but chat_id as JSON text, "a":1,"b":2 */
    telegram_api_fn *cb;
    void *data;
    int tries, limited;
    struct item *next;
};

struct chatq {
    struct telegram_queue *q;
    char *id;                      /* the chat as pushed */
    json_t *target;                /* the chat_id sent (changes on migration) */
    struct item *head, *tail;
    struct telegram_call *call;    /* the request in flight */
    uint64_t next_at;              /* not before (interval, 429 pause, backoff) */
    uint64_t *window;              /* a group's last sends, a ring */
    int wn, wpos;
    int active;                    /* in the active list */
    uint64_t last_used;
};

struct telegram_queue {
    uv_loop_t *loop;
    struct telegram_api *api;
    struct telegram_queue_options o;
    struct dict *chats;            /* id -> struct chatq */
    struct dict *moved;            /* old id -> new id (char *) */
    struct chatq **active;         /* chats with something to send */
    size_t nactive, capactive, cursor;
    double tokens;
    uint64_t refilled;
    uv_timer_t *timer;
    uint64_t armed_at;             /* when the timer fires, 0 if not armed */
    uint64_t swept;
    long n429;
    int pending;
    int pumping, again;
};

/* Milliseconds scaled for tests. */
static uint64_t scaled(const struct telegram_queue *q, double ms) {
    double v = ms * q->o.time_scale;
    return v < 0 ? 0 : (uint64_t)v;
}

/* The chat_id value Telegram wants: a number, or "@channelname". */
static json_t *chat_value(const char *chat) {
    char *end;
    long long v = strtoll(chat, &end, 10);
    if (*chat && !*end) return json_integer(v);
    return json_string(chat);
}

static void pump(struct telegram_queue *q);

static void on_timer(uv_timer_t *t) {
    struct telegram_queue *q = t->data;
    q->armed_at = 0;
    pump(q);
}

struct telegram_queue *telegram_queue_new(uv_loop_t *loop, struct telegram_api *api,
                                          const struct telegram_queue_options *o) {
    struct telegram_queue *q = xcalloc(1, sizeof(*q));
    q->loop = loop;
    q->api = api;
    q->o = *o;
    if (q->o.rate <= 0) q->o.rate = 30;
    if (q->o.chat_interval_ms < 0) q->o.chat_interval_ms = 0;
    if (q->o.group_per_minute < 0) q->o.group_per_minute = 0;
    if (q->o.time_scale <= 0) q->o.time_scale = 1.0;
    q->chats = dict_new();
    q->moved = dict_new();
    q->tokens = q->o.rate < 1 ? 1 : q->o.rate;
    q->refilled = uv_now(loop);
    q->swept = q->refilled;
    q->timer = timer_new(loop, q);
    return q;
}

/* Free one item (its callback is not called). */
static void item_free(struct item *it) {
    free(it->method);
    json_decref(it->params);
    free(it->fields);
    free(it);
}

/* Free CQ and everything it holds (no callbacks). */
static void chatq_free(struct chatq *cq) {
    if (cq->call) telegram_api_cancel(cq->call);
    while (cq->head) {
        struct item *it = cq->head;
        cq->head = it->next;
        cq->q->pending--;
        item_free(it);
    }
    json_decref(cq->target);
    free(cq->window);
    free(cq->id);
    free(cq);
}

void telegram_queue_free(struct telegram_queue *q) {
    if (!q) return;
    void **all = dict_values(q->chats);
    for (void **p = all; *p; p++) chatq_free(*p);
    free(all);
    dict_free(q->chats);
    all = dict_values(q->moved);
    for (void **p = all; *p; p++) free(*p);
    free(all);
    dict_free(q->moved);
    free(q->active);
    timer_free(&q->timer);
    free(q);
}

const char *telegram_queue_chat(struct telegram_queue *q, const char *chat) {
    const char *to = q ? dict_get(q->moved, chat) : NULL;
    return to ? to : chat;
}

/* Put CQ on the active list (it has something to send). */
static void activate(struct telegram_queue *q, struct chatq *cq) {
    if (cq->active) return;
    if (q->nactive == q->capactive) {
        q->capactive = q->capactive ? q->capactive * 2 : 16;
        q->active = xrealloc(q->active, q->capactive * sizeof(*q->active));
    }
    q->active[q->nactive++] = cq;
    cq->active = 1;
}

/* The queue of CHAT, made on first use. */
static struct chatq *chatq_of(struct telegram_queue *q, const char *chat) {
    struct chatq *cq = dict_get(q->chats, chat);
    if (cq) return cq;
    cq = xcalloc(1, sizeof(*cq));
    cq->q = q;
    cq->id = xstrdup(chat);
    cq->target = chat_value(chat);
    if (chat[0] == '-' && q->o.group_per_minute > 0) cq->window = xcalloc((size_t)q->o.group_per_minute, sizeof(uint64_t));
    dict_set(q->chats, chat, cq);
    return cq;
}

/* Queue IT (made by a push) for CHAT. */
static int push_item(struct telegram_queue *q, const char *chat, struct item *it) {
    struct chatq *cq = chatq_of(q, telegram_queue_chat(q, chat));
    if (cq->tail) cq->tail->next = it;
    else cq->head = it;
    cq->tail = it;
    q->pending++;
    activate(q, cq);
    pump(q);
    return 0;
}

int telegram_queue_push(struct telegram_queue *q, const char *chat, const char *method, json_t *params,
                        telegram_api_fn *cb, void *data) {
    if (!q || !chat || !*chat) {
        json_decref(params);
        return -1;
    }
    struct item *it = xcalloc(1, sizeof(*it));
    it->method = xstrdup(method);
    it->params = params ? params : json_object();
    it->cb = cb;
    it->data = data;
    return push_item(q, chat, it);
}

int telegram_queue_push_text(struct telegram_queue *q, const char *chat, const char *method, char *fields,
                             telegram_api_fn *cb, void *data) {
    if (!q || !chat || !*chat) {
        free(fields);
        return -1;
    }
    struct item *it = xcalloc(1, sizeof(*it));
    it->method = xstrdup(method);
    it->fields = fields;
    it->cb = cb;
    it->data = data;
    return push_item(q, chat, it);
}

/* Finish CQ's head item with R: off the queue, callback. */
static void finish_head(struct chatq *cq, const struct telegram_result *r) {
    struct item *it = cq->head;
    cq->head = it->next;
    if (!cq->head) cq->tail = NULL;
    cq->q->pending--;
    telegram_api_fn *cb = it->cb;
    void *data = it->data;
    it->cb = NULL;
    if (cb) cb(r, data);
    item_free(it);
}

/* Remember that CQ's chat is now TO (a group upgraded to a supergroup),
 * and send what is queued for it as the new chat's: pushes for the old id
 * already go to the new one's queue, and two queues sending to one chat
 * would break its 1 message a second. CQ becomes the new chat's queue, or
 * when that has one already, its items join it. The queue to go on with. */
static struct chatq *migrate(struct telegram_queue *q, struct chatq *cq, long long to) {
    char id[32];
    snprintf(id, sizeof(id), "%lld", to);
    log_info("telegram: chat %s was upgraded to supergroup %s; sending there from now on", cq->id, id);
    char *old = dict_get(q->moved, cq->id);
    free(old);
    dict_set(q->moved, cq->id, xstrdup(id));
    json_decref(cq->target);
    cq->target = json_integer(to);
    struct chatq *into = dict_get(q->chats, id);
    if (!into) {
        dict_del(q->chats, cq->id);
        free(cq->id);
        cq->id = xstrdup(id);
        dict_set(q->chats, id, cq);
        return cq;
    }
    if (into == cq || !cq->head) return into;
    if (into->tail) into->tail->next = cq->head;
    else into->head = cq->head;
    into->tail = cq->tail;
    cq->head = cq->tail = NULL;
    if (into->next_at < cq->next_at) into->next_at = cq->next_at;
    return into;
}

/* The response to CQ's head request. */
static void on_sent(const struct telegram_result *r, void *data) {
    struct chatq *cq = data;
    struct telegram_queue *q = cq->q;
    struct item *it = cq->head;
    uint64_t now = uv_now(q->loop);
    cq->call = NULL;
    /* The spacing counts from the answer: the next request cannot reach
     * Telegram sooner than the interval after this one did. */
    if (cq->next_at < now + scaled(q, q->o.chat_interval_ms)) cq->next_at = now + scaled(q, q->o.chat_interval_ms);
    if (cq->window) {
        cq->window[cq->wpos] = now;
        cq->wpos = (cq->wpos + 1) % q->o.group_per_minute;
        if (cq->wn < q->o.group_per_minute) cq->wn++;
    }
    if (!r->ok && r->error_code == 429 && ++it->limited <= MAX_429) {
        q->n429++;
        long wait = r->retry_after > 0 ? r->retry_after : 1;
        log_warn("telegram: %s to chat %s: 429, retrying after %ld s", it->method, cq->id, wait);
        cq->next_at = now + scaled(q, (double)wait * 1000.0);
    } else if (!r->ok && r->migrate_to && json_integer_value(cq->target) != r->migrate_to) {
        cq = migrate(q, cq, r->migrate_to);
    } else if (!r->ok && (r->status == 0 || r->status >= 500) && ++it->tries < MAX_TRIES) {
        log_warn("telegram: %s to chat %s failed (%s); trying again", it->method, cq->id, r->description);
        cq->next_at = now + scaled(q, 500.0 * (double)(1u << it->tries));
    } else {
        finish_head(cq, r);
    }
    activate(q, cq);
    pump(q);
}

/* Refill the global token bucket up to now. */
static void refill(struct telegram_queue *q, uint64_t now) {
    double per_ms = q->o.rate / (1000.0 * q->o.time_scale);
    q->tokens += (double)(now - q->refilled) * per_ms;
    double cap = q->o.rate < 1 ? 1 : q->o.rate;
    if (q->tokens > cap) q->tokens = cap;
    q->refilled = now;
}

/* When CQ may send next, as far as its own limits say. */
static uint64_t ready_at(struct telegram_queue *q, struct chatq *cq) {
    uint64_t t = cq->next_at;
    if (cq->window && cq->wn >= q->o.group_per_minute) {
        uint64_t oldest = cq->window[cq->wpos];
        uint64_t free_at = oldest + scaled(q, GROUP_WINDOW_MS);
        if (free_at > t) t = free_at;
    }
    return t;
}

/* The body of IT to CQ: its fields and the chat_id last, where
 * json_object_set put it in a pushed object. */
static char *body_of(struct chatq *cq, struct item *it) {
    struct json_buf b = { 0 };
    json_buf_put(&b, "{");
    if (*it->fields) {
        json_buf_put(&b, it->fields);
        json_buf_put(&b, ",");
    }
    json_buf_put(&b, "\"chat_id\":");
    json_buf_value(&b, cq->target);
    json_buf_put(&b, "}");
    return json_buf_take(&b, NULL);
}

/* Send CQ's head request now. */
static void send_head(struct telegram_queue *q, struct chatq *cq, uint64_t now) {
    struct item *it = cq->head;
    cq->last_used = now;
    q->tokens -= 1;
    if (it->fields) {
        cq->call = telegram_api_call_text(q->api, it->method, body_of(cq, it), 30000, on_sent, cq);
    } else {
        json_object_set(it->params, "chat_id", cq->target);
        cq->call = telegram_api_call(q->api, it->method, json_incref(it->params), 30000, on_sent, cq);
    }
    if (!cq->call) {
        struct telegram_result r = { .error_code = 0, .description = "the request could not be started", .retry_after = -1 };
        finish_head(cq, &r);
    }
}

/* Forget chats idle for longer than the group window. */
static void sweep(struct telegram_queue *q, uint64_t now) {
    if (now - q->swept < scaled(q, SWEEP_MS)) return;
    q->swept = now;
    void **all = dict_values(q->chats);
    for (void **p = all; *p; p++) {
        struct chatq *cq = *p;
        if (!cq->active && !cq->head && !cq->call && now - cq->last_used > scaled(q, GROUP_WINDOW_MS)) {
            dict_del(q->chats, cq->id);
            chatq_free(cq);
        }
    }
    free(all);
}

/* Send whatever the limits allow now, and wake up when more may go. A
 * callback that queues more while this runs makes it go round again. */
static void pump(struct telegram_queue *q) {
    if (q->pumping) {
        q->again = 1;
        return;
    }
    q->pumping = 1;
    do {
        q->again = 0;
        uint64_t now = uv_now(q->loop);
        uint64_t wake = 0;
        refill(q, now);
        size_t j = 0;
        for (size_t i = 0; i < q->nactive; i++) {
            struct chatq *cq = q->active[i];
            if (cq->head) q->active[j++] = cq;
            else cq->active = 0;
        }
        q->nactive = j;
        size_t n = q->nactive;
        for (size_t k = 0; k < n; k++) {
            size_t i = (q->cursor + k) % n;
            struct chatq *cq = q->active[i];
            if (cq->call || !cq->head) continue;
            uint64_t t = ready_at(q, cq);
            if (t > now) {
                if (!wake || t < wake) wake = t;
                continue;
            }
            if (q->tokens < 1) {
                double per_ms = q->o.rate / (1000.0 * q->o.time_scale);
                uint64_t t2 = now + (uint64_t)((1 - q->tokens) / per_ms) + 1;
                if (!wake || t2 < wake) wake = t2;
                q->cursor = i;        /* start here next time: fair across chats */
                break;
            }
            send_head(q, cq, now);
        }
        sweep(q, now);
        if (wake && (!q->armed_at || wake < q->armed_at)) {
            q->armed_at = wake;
            uv_timer_start(q->timer, on_timer, wake - now, 0);
        }
    } while (q->again);
    q->pumping = 0;
}

long telegram_queue_429s(const struct telegram_queue *q) {
    return q ? q->n429 : 0;
}

int telegram_queue_pending(const struct telegram_queue *q) {
    return q ? q->pending : 0;
}
