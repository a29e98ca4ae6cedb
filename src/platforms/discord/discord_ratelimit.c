/* discord_ratelimit.c - per-route queues, learned buckets and the global
 * limit for Discord's REST API (see discord_ratelimit.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/http_client.h"
#include "lib/dict.h"
#include "platforms/discord/discord_ratelimit.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "io/timer.h"

#define INVALID_WINDOW_MS (10 * 60 * 1000)
#define INVALID_WARN_AT 2500        /* Discord bans at 10,000 per 10 minutes */
#define GLOBAL_WINDOW_MS 1100       /* one second, plus room for network jitter */
#define MAX_GLOBAL 10000
#define SWEEP_MS 10000              /* how often buckets no one uses are looked for */

/* What we know about one bucket on one major parameter. */
struct bucket {
    long remaining;                 /* -1: unknown, send and learn */
    uint64_t reset_at;              /* loop ms when remaining refills */
};

struct discord_ratelimit_ticket {
    struct rl_queue *q;
    discord_ratelimit_go_fn *go;
    void *data;
    struct discord_ratelimit_ticket *next;
};

/* One route on one major parameter: a FIFO that sends one request at a time. */
struct rl_queue {
    struct ratelimit *rl;
    char *key;
    char *route;
    char *major;
    struct discord_ratelimit_ticket *head, *tail;
    struct discord_ratelimit_ticket *in_flight;
    uv_timer_t timer;
    int timer_armed;
    int closing;
};

struct ratelimit {
    uv_loop_t *loop;
    double per_sec;
    struct dict *queues;            /* route \x1f major -> rl_queue */
    struct dict *routes;            /* route -> learned bucket hash (malloc'd string) */
    struct dict *buckets;           /* hash-or-route \x1f major -> bucket */
    uv_timer_t *sweeper;            /* runs while there are buckets (discord_ratelimit_sweep) */
    uint64_t global_until;          /* a global 429 holds everything until then */
    uint64_t *sent;                 /* ring of the last per_sec send times (a sliding window) */
    long nsent, sent_pos, cap;
    uint64_t invalid_start;
    long invalid_count;
    int invalid_warned;
    long count_429;
    struct discord_ratelimit_share share;
};

static void pump(struct rl_queue *q);
static void on_sweep(uv_timer_t *t);

struct ratelimit *discord_ratelimit_new(uv_loop_t *loop, double global_per_sec) {
    struct ratelimit *rl = xcalloc(1, sizeof(*rl));
    if (!rl) return NULL;
    rl->loop = loop;
    rl->per_sec = global_per_sec > 0 ? global_per_sec : 50;
    rl->cap = rl->per_sec < 1 ? 1 : rl->per_sec > MAX_GLOBAL ? MAX_GLOBAL : (long)rl->per_sec;
    rl->sent = xcalloc((size_t)rl->cap, sizeof(uint64_t));
    rl->queues = dict_new();
    rl->routes = dict_new();
    rl->buckets = dict_new();
    rl->sweeper = timer_new(loop, rl);
    return rl;
}

/* The key of the bucket ROUTE on MAJOR counts against: the learned hash
 * when there is one, else the route itself. */
static void bucket_key(const struct ratelimit *rl, const char *route, const char *major, char *key, size_t len) {
    const char *hash = dict_get(rl->routes, route);
    dict_key2(key, len, hash ? hash : route, major);
}

/* The limit state shared by every queue whose route maps to the same bucket. */
static struct bucket *bucket_for(struct ratelimit *rl, const char *route, const char *major) {
    char key[512];
    bucket_key(rl, route, major, key, sizeof(key));
    struct bucket *b = dict_get(rl->buckets, key);
    if (b) return b;
    b = xcalloc(1, sizeof(*b));
    if (!b) return NULL;
    b->remaining = -1;
    if (dict_set(rl->buckets, key, b) < 0) {
        free(b);
        return NULL;
    }
    if (rl->sweeper && !uv_is_active((uv_handle_t *)rl->sweeper))
        uv_timer_start(rl->sweeper, on_sweep, SWEEP_MS, SWEEP_MS);
    return b;
}

/* What a sweep gathers: the buckets queues still use, and the idle ones. */
struct sweep {
    struct ratelimit *rl;
    uint64_t now;
    struct dict *busy;              /* bucket keys of live queues */
    char **idle;                    /* keys to forget */
    size_t nidle, cap;
};

/* dict_each helper: a live queue keeps its bucket. */
static void mark_busy(const char *key, void *value, void *arg) {
    struct rl_queue *q = value;
    struct sweep *sw = arg;
    char bkey[512];
    (void)key;
    bucket_key(sw->rl, q->route, q->major, bkey, sizeof(bkey));
    dict_set(sw->busy, bkey, q);
}

/* dict_each helper: a bucket no queue uses, whose limit has refilled, is idle. */
static void collect_idle(const char *key, void *value, void *arg) {
    struct bucket *b = value;
    struct sweep *sw = arg;
    if (sw->now < b->reset_at || dict_get(sw->busy, key)) return;
    if (sw->nidle == sw->cap) {
        size_t cap = sw->cap ? sw->cap * 2 : 64;
        char **p = xrealloc(sw->idle, cap * sizeof(*p));
        if (!p) return;
        sw->idle = p;
        sw->cap = cap;
    }
    char *copy = xstrdup(key);
    if (copy) sw->idle[sw->nidle++] = copy;
}

/* Forget the buckets no queue uses whose reset time has passed. Such a
 * bucket holds nothing back any more (pump waits only on an empty bucket
 * before its reset), so a fresh one learned from the next answer behaves
 * the same, and a bot does not keep one per interaction token forever.
 * The sweep timer stops when no bucket is left. Returns how many went. */
size_t discord_ratelimit_sweep(struct ratelimit *rl) {
    struct sweep sw = { rl, uv_now(rl->loop), dict_new(), NULL, 0, 0 };
    if (!sw.busy) return 0;
    dict_each(rl->queues, mark_busy, &sw);
    dict_each(rl->buckets, collect_idle, &sw);
    for (size_t i = 0; i < sw.nidle; i++) {
        free(dict_del(rl->buckets, sw.idle[i]));
        free(sw.idle[i]);
    }
    free(sw.idle);
    dict_free(sw.busy);
    if (dict_size(rl->buckets) == 0 && rl->sweeper) uv_timer_stop(rl->sweeper);
    return sw.nidle;
}

/* The sweep timer fired. */
static void on_sweep(uv_timer_t *t) {
    discord_ratelimit_sweep(t->data);
}

size_t discord_ratelimit_bucket_count(const struct ratelimit *rl) {
    return dict_size(rl->buckets);
}

/* uv_close callback of a queue's timer: the queue's memory goes last. */
static void queue_closed(uv_handle_t *h) {
    struct rl_queue *q = h->data;
    free(q->key);
    free(q->route);
    free(q->major);
    free(q);
}

/* Drop an idle, empty queue, so a bot in many channels does not keep one per channel forever. */
static void queue_release(struct rl_queue *q) {
    if (q->head || q->in_flight || q->closing) return;
    q->closing = 1;
    dict_del(q->rl->queues, q->key);
    uv_timer_stop(&q->timer);
    uv_close((uv_handle_t *)&q->timer, queue_closed);
}

/* The queue's wait is over: try again. */
static void on_queue_timer(uv_timer_t *t) {
    struct rl_queue *q = t->data;
    q->timer_armed = 0;
    pump(q);
}

/* Wait MS before trying Q again (the earliest wake-up wins). */
static void queue_wait(struct rl_queue *q, uint64_t ms) {
    if (q->timer_armed && uv_timer_get_due_in(&q->timer) <= ms) return;
    q->timer_armed = 1;
    uv_timer_start(&q->timer, on_queue_timer, ms, 0);
}

/* Send Q's oldest request if no limit holds it back; else arm the timer. */
static void pump(struct rl_queue *q) {
    struct ratelimit *rl = q->rl;
    if (q->in_flight || !q->head || q->closing) {
        queue_release(q);
        return;
    }
    uint64_t now = uv_now(rl->loop);
    if (now < rl->global_until) {
        queue_wait(q, rl->global_until - now);
        return;
    }
    struct bucket *b = bucket_for(rl, q->route, q->major);
    if (b && b->remaining == 0 && now < b->reset_at) {
        queue_wait(q, b->reset_at - now);
        return;
    }
    if (rl->nsent == rl->cap) {
        uint64_t oldest = rl->sent[rl->sent_pos];
        if (now < oldest + GLOBAL_WINDOW_MS) {
            queue_wait(q, oldest + GLOBAL_WINDOW_MS - now);
            return;
        }
    }
    rl->sent[rl->sent_pos] = now;
    rl->sent_pos = (rl->sent_pos + 1) % rl->cap;
    if (rl->nsent < rl->cap) rl->nsent++;
    if (b && b->remaining > 0) b->remaining--;
    struct discord_ratelimit_ticket *t = q->head;
    q->head = t->next;
    if (!q->head) q->tail = NULL;
    t->next = NULL;
    q->in_flight = t;
    t->go(t, t->data);
}

/* Zero-delay start, so GO never runs inside discord_ratelimit_enqueue(). */
static void on_start_timer(uv_timer_t *t) {
    struct rl_queue *q = t->data;
    q->timer_armed = 0;
    pump(q);
}

struct discord_ratelimit_ticket *discord_ratelimit_enqueue(struct ratelimit *rl, const char *route, const char *major,
                                    discord_ratelimit_go_fn *go, void *data) {
    char key[512];
    dict_key2(key, sizeof(key), route, major ? major : "global");
    struct rl_queue *q = dict_get(rl->queues, key);
    if (!q) {
        q = xcalloc(1, sizeof(*q));
        if (!q) return NULL;
        q->rl = rl;
        q->key = xstrdup(key);
        q->route = xstrdup(route);
        q->major = xstrdup(major ? major : "global");
        uv_timer_init(rl->loop, &q->timer);
        q->timer.data = q;
        dict_set(rl->queues, key, q);
    }
    struct discord_ratelimit_ticket *t = xcalloc(1, sizeof(*t));
    if (!t) return NULL;
    t->q = q;
    t->go = go;
    t->data = data;
    if (q->tail) q->tail->next = t;
    else q->head = t;
    q->tail = t;
    if (!q->in_flight && !q->timer_armed) {
        q->timer_armed = 1;
        uv_timer_start(&q->timer, on_start_timer, 0, 0);
    }
    return t;
}

/* Count a refused request; warn long before Discord's 10,000 per 10 minutes ban. */
static void count_invalid(struct ratelimit *rl) {
    uint64_t now = uv_now(rl->loop);
    if (now - rl->invalid_start >= INVALID_WINDOW_MS) {
        rl->invalid_start = now;
        rl->invalid_count = 0;
        rl->invalid_warned = 0;
    }
    rl->invalid_count++;
    if (rl->share.invalid) rl->share.invalid(rl->share.data);
    if (rl->invalid_count >= INVALID_WARN_AT && !rl->invalid_warned) {
        rl->invalid_warned = 1;
        log_warn("discord: %ld refused REST requests (401/403/429) in 10 minutes; Discord bans the IP at 10,000",
                 rl->invalid_count);
    }
}

/* Milliseconds for a seconds value Discord sent. Not scaled by time_scale:
 * the server counts in real time, fake or not. */
static uint64_t server_ms(double secs) {
    double ms = secs * 1000.0;
    if (!(ms >= 1)) return 1;                          /* also nan */
    /* A day at most: 1e300 or inf (a broken or hostile answer) must not
     * make the cast undefined nor hold requests forever (fuzz_discord_rest). */
    return ms > DISCORD_RATELIMIT_MAX_WAIT_MS ? DISCORD_RATELIMIT_MAX_WAIT_MS : (uint64_t)ms;
}

/* What Discord's answer says about the limits: headers and, on a 429,
 * the body. */
void discord_ratelimit_read(const struct http_response *res, json_t *body, struct discord_ratelimit_result *out, char *bucket, size_t blen) {
    char v[64];
    memset(out, 0, sizeof(*out));
    out->status = res->status;
    out->remaining = -1;
    out->reset_after_s = -1;
    out->retry_after_s = -1;
    if (http_response_header(res, "x-ratelimit-bucket", bucket, blen) > 0) out->bucket = bucket;
    if (http_response_header(res, "x-ratelimit-remaining", v, sizeof(v)) > 0) out->remaining = strtol(v, NULL, 10);
    if (http_response_header(res, "x-ratelimit-reset-after", v, sizeof(v)) > 0) out->reset_after_s = strtod(v, NULL);
    if (http_response_header(res, "x-ratelimit-global", v, sizeof(v)) > 0 && !strcmp(v, "true")) out->global = 1;
    if (http_response_header(res, "x-ratelimit-scope", v, sizeof(v)) > 0 && !strcmp(v, "shared")) out->shared_scope = 1;
    if (res->status == 429) {
        json_t *ra = body ? json_object_get(body, "retry_after") : NULL;
        if (json_is_number(ra)) out->retry_after_s = json_number_value(ra);
        else if (res->retry_after_ms >= 0) out->retry_after_s = (double)res->retry_after_ms / 1000.0;
        if (body && json_is_true(json_object_get(body, "global"))) out->global = 1;
    }
}

int discord_ratelimit_done(struct ratelimit *rl, struct discord_ratelimit_ticket *t, const struct discord_ratelimit_result *r) {
    struct rl_queue *q = t->q;
    uint64_t now = uv_now(rl->loop);
    if (r->bucket && *r->bucket) {
        const char *known = dict_get(rl->routes, q->route);
        if (!known || strcmp(known, r->bucket) != 0) {
            char *copy = xstrdup(r->bucket);
            if (copy) {
                free(dict_del(rl->routes, q->route));
                dict_set(rl->routes, q->route, copy);
            }
        }
    }
    struct bucket *b = bucket_for(rl, q->route, q->major);
    if (b && r->remaining >= 0 && r->reset_after_s >= 0) {
        b->remaining = r->remaining;
        b->reset_at = now + server_ms(r->reset_after_s);
        if (r->remaining == 0 && r->status != 429 && rl->share.learned)
            rl->share.learned(q->route, r->bucket, q->major, (double)server_ms(r->reset_after_s), 0, rl->share.data);
    }
    if ((r->status == 401 || r->status == 403 || r->status == 429) && !r->shared_scope) count_invalid(rl);
    q->in_flight = NULL;
    if (r->status == 429) {
        rl->count_429++;
        double wait = r->retry_after_s > 0 ? r->retry_after_s : 1.0;
        if (r->global) {
            rl->global_until = now + server_ms(wait);
            log_warn("discord: global rate limit hit; holding every request for %.3f s", wait);
        } else if (b) {
            b->remaining = 0;
            b->reset_at = now + server_ms(wait);
            log_warn("discord: rate limited on %s; retrying in %.3f s", q->route, wait);
        }
        if ((r->global || b) && rl->share.learned)
            rl->share.learned(q->route, r->bucket, q->major, (double)server_ms(wait), r->global, rl->share.data);
        t->next = q->head;
        q->head = t;
        if (!q->tail) q->tail = t;
        pump(q);
        return 1;
    }
    free(t);
    pump(q);
    return 0;
}

void discord_ratelimit_cancel(struct ratelimit *rl, struct discord_ratelimit_ticket *t) {
    struct rl_queue *q = t->q;
    (void)rl;
    if (q->in_flight == t) {
        q->in_flight = NULL;
    } else {
        struct discord_ratelimit_ticket **pp = &q->head;
        while (*pp && *pp != t) pp = &(*pp)->next;
        if (*pp) *pp = t->next;
        q->tail = NULL;
        for (struct discord_ratelimit_ticket *x = q->head; x; x = x->next) q->tail = x;
    }
    free(t);
    pump(q);
}

void discord_ratelimit_set_share(struct ratelimit *rl, const struct discord_ratelimit_share *share) {
    if (share) rl->share = *share;
    else memset(&rl->share, 0, sizeof(rl->share));
}

void discord_ratelimit_apply(struct ratelimit *rl, const char *route, const char *hash, const char *major,
                             double wait_ms, int global) {
    uint64_t now = uv_now(rl->loop);
    uint64_t until = now + server_ms(wait_ms / 1000.0);
    if (global) {
        if (until > rl->global_until) rl->global_until = until;
        log_info("discord: another gateway hit the global rate limit; holding every request for %.0f ms", wait_ms);
        return;
    }
    if (hash && *hash && !dict_get(rl->routes, route)) {
        char *copy = xstrdup(hash);
        if (copy && dict_set(rl->routes, route, copy) < 0) free(copy);
    }
    struct bucket *b = bucket_for(rl, route, major);
    if (!b) return;
    b->remaining = 0;
    if (until > b->reset_at) b->reset_at = until;
    log_info("discord: another gateway emptied the bucket of %s on %s; holding it for %.0f ms", route, major, wait_ms);
}

long discord_ratelimit_invalid_count(const struct ratelimit *rl) {
    return rl->invalid_count;
}

long discord_ratelimit_429_count(const struct ratelimit *rl) {
    return rl->count_429;
}

/* dict_each helper: free a queue's tickets and close its timer. */
static void free_queue(const char *key, void *value, void *arg) {
    struct rl_queue *q = value;
    (void)key;
    (void)arg;
    while (q->head) {
        struct discord_ratelimit_ticket *t = q->head;
        q->head = t->next;
        free(t);
    }
    free(q->in_flight);
    q->in_flight = NULL;
    q->closing = 1;
    uv_timer_stop(&q->timer);
    uv_close((uv_handle_t *)&q->timer, queue_closed);
}

/* dict_each helper: free a plain malloc'd value. */
static void free_value(const char *key, void *value, void *arg) {
    (void)key;
    (void)arg;
    free(value);
}

void discord_ratelimit_free(struct ratelimit *rl) {
    if (!rl) return;
    dict_each(rl->queues, free_queue, NULL);
    dict_free(rl->queues);
    dict_each(rl->routes, free_value, NULL);
    dict_free(rl->routes);
    dict_each(rl->buckets, free_value, NULL);
    dict_free(rl->buckets);
    timer_free(&rl->sweeper);
    free(rl->sent);
    free(rl);
}
