/* budget.c - reserve worst cases and settle real costs, in Redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model/budget.h"
#include "model/budget_split.h"
#include "conf/config.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "io/redis_client.h"
#include "model/router.h"
#include "core/runtime.h"
#include "core/server.h"
#include "io/store.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"

#define MAX_KEYS 24

/* Check every counter against its limit (a live limit set with `quota set`
 * in KEYS[n + i] wins over the config's), then add to all or none. A limit
 * of 0 means unlimited. Returns 0, or the 1-based index of the counter that
 * would go over. */
static const char reserve_script[] =
    "local n = #KEYS / 2 "
    "for i = 1, n do "
    "  local live = redis.call('HGET', KEYS[n + i], ARGV[4 * i]) "
    "  local limit = tonumber(live or ARGV[4 * i - 2]) "
    "  if limit > 0 and tonumber(redis.call('GET', KEYS[i]) or '0') + tonumber(ARGV[4 * i - 3]) > limit then "
    "    return i end "
    "end "
    "for i = 1, n do "
    "  redis.call('INCRBY', KEYS[i], ARGV[4 * i - 3]) "
    "  redis.call('EXPIRE', KEYS[i], ARGV[4 * i - 1]) "
    "end "
    "return 0";

struct budget_hold {
    int nkeys;
    char *keys[MAX_KEYS];
    long long amounts[MAX_KEYS];
    int is_money[MAX_KEYS];        /* 1 money, 0 tokens, 2 a concurrency slot */
};

struct budget_op {
    struct budget_hold *hold;
    char *refusals[MAX_KEYS];      /* per key: the sentence if it refuses */
    budget_reserved_fn *cb;        /* NULL once cancelled */
    void *data;
    uv_timer_t timer;              /* for answers that need no Redis */
    int ready;                     /* the answer is decided (timer path) */
    char *refusal;
};

/* The id of the scope a call belongs to, or NULL when it has none. */
static const char *scope_id(const char *scope, const struct route_request *req, char *buf, size_t len) {
    if (!strcmp(scope, "global")) return "all";
    if (!strcmp(scope, "persona")) return req->persona;
    if (!strcmp(scope, "user")) {
        if (!req->user) return NULL;
        snprintf(buf, len, "%s:%s", req->platform ? req->platform : "-", req->user);
        return buf;
    }
    if (!req->channel) return NULL;
    snprintf(buf, len, "%s:%s", req->platform ? req->platform : "-", req->channel);
    return buf;
}

/* "20261129" or "202611" for the current UTC period. */
static void period_id(const char *period, char *out, size_t len) {
    time_t now = (time_t)vclock_now();
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, len, !strcmp(period, "month") ? "%Y%m" : "%Y%m%d", &tm);
}

/* Add one counter of budget B to the hold. */
static void add_key(struct budget_hold *h, struct budget_op *op, const char *key, long long amount, int kind,
                    const char *refusal) {
    if (h->nkeys == MAX_KEYS) return;
    op->refusals[h->nkeys] = xstrdup(refusal);
    h->is_money[h->nkeys] = kind;
    h->amounts[h->nkeys] = amount;
    h->keys[h->nkeys++] = xstrdup(key);
}

static void hold_free(struct budget_hold *h) {
    if (!h) return;
    for (int i = 0; i < h->nkeys; i++) free(h->keys[i]);
    free(h);
}

static void op_timer_closed(uv_handle_t *t) {
    struct budget_op *op = t->data;
    for (int i = 0; i < MAX_KEYS; i++) free(op->refusals[i]);
    free(op->refusal);
    free(op);
}

/* Deliver the decision and free the op. */
static void op_answer(struct budget_op *op, struct budget_hold *hold, const char *refusal) {
    if (op->cb) op->cb(hold, refusal, op->data);
    else budget_settle(hold, 0, 0);
    uv_close((uv_handle_t *)&op->timer, op_timer_closed);
}

static void on_timer(uv_timer_t *t) {
    struct budget_op *op = t->data;
    op_answer(op, op->hold, op->refusal);
}

/* Answer on the next loop turn: callers are promised "later". */
static struct budget_op *answer_later(struct budget_op *op, struct budget_hold *hold, const char *refusal) {
    op->hold = hold;
    op->refusal = refusal ? xstrdup(refusal) : NULL;
    uv_timer_start(&op->timer, on_timer, 0, 0);
    return op;
}

static void ignore(redisReply *r, const char *err, void *data) {
    (void)r;
    (void)data;
    if (err) log_warn("budget: settling failed: %s", err);
}

/* Tell operators a budget ran out: a log line, a metric and an event in Redis. */
static void report_exhausted(const char *key) {
    log_warn("budget: %s is exhausted; calls on it are refused", key);
    metrics_inc(METRIC_BUDGET_REFUSALS, "budget", 1);
    char stream[300];
    snprintf(stream, sizeof(stream), "%sevents", redis_client_prefix(server.redis));
    const char *argv[9] = { "XADD", stream, "MAXLEN", "~", "10000", "*", "budget_exhausted", key, NULL };
    redis_command(server.redis, ignore, NULL, 8, argv, NULL);
}

static void on_reply(redisReply *r, const char *err, void *data) {
    struct budget_op *op = data;
    struct budget_hold *hold = op->hold;
    if (err || !r || r->type != REDIS_REPLY_INTEGER) {
        op->hold = NULL;
        hold_free(hold);
        op_answer(op, NULL, "I can't check the spending budget right now, so I won't call the model. Please try again shortly.");
        return;
    }
    if (r->integer > 0) {
        int i = (int)r->integer - 1;
        op->hold = NULL;
        if (i < hold->nkeys) report_exhausted(hold->keys[i]);
        const char *why = i < hold->nkeys && op->refusals[i] ? op->refusals[i] : "The budget is used up.";
        char *copy = xstrdup(why);
        hold_free(hold);
        op_answer(op, NULL, copy);
        free(copy);
        return;
    }
    op_answer(op, hold, NULL);
}

struct budget_op *budget_reserve(struct runtime *rt, const struct route_request *req, int64_t money, long tokens,
                                 budget_reserved_fn *cb, void *data) {
    struct budget_op *op = xcalloc(1, sizeof(*op));
    struct budget_hold *hold = xcalloc(1, sizeof(*hold));
    op->cb = cb;
    op->data = data;
    uv_timer_init(server.loop, &op->timer);
    op->timer.data = op;
    const char *prefix = redis_client_prefix(server.redis);
    for (struct config_block *b = config_first(rt->cfg, "budget"); b; b = config_next(b, "budget")) {
        const char *only = config_str(b, "persona", NULL);
        if (only && (!req->persona || strcmp(only, req->persona))) continue;
        char buf[600], id[700], per[16], key[1200], msg[400];
        const char *scope = config_str(b, "scope", "user");
        const char *sid = scope_id(scope, req, buf, sizeof(buf));
        if (!sid) continue;
        const char *period = config_str(b, "period", "day");
        period_id(period, per, sizeof(per));
        store_escape(sid, id, sizeof(id));
        snprintf(msg, sizeof(msg), "%s", config_str(b, "message", !strcmp(period, "day")
            ? "We've reached today's limit for this conversation. Please come back tomorrow."
            : "We've reached this month's limit for this conversation."));
        json_t *mv = json_object_get(b->value, "money");
        if (mv) {
            snprintf(key, sizeof(key), "%sbudget:%s:%s:%s:money", prefix, b->name, id, per);
            add_key(hold, op, key, (long long)money, 1, msg);
        }
        if (json_object_get(b->value, "tokens")) {
            snprintf(key, sizeof(key), "%sbudget:%s:%s:%s:tokens", prefix, b->name, id, per);
            add_key(hold, op, key, tokens, 0, msg);
        }
        if (json_object_get(b->value, "concurrent")) {
            snprintf(key, sizeof(key), "%sinflight:%s:%s", prefix, b->name, id);
            add_key(hold, op, key, 1, 2, "Please wait for my last answer before asking again.");
        }
    }
    if (hold->nkeys == 0) {
        hold_free(hold);
        return answer_later(op, NULL, NULL);
    }
    /* Limits: money as micro-units, the rest as counts; TTLs outlive the period. */
    const char *argv[3 + 6 * MAX_KEYS];
    char nums[MAX_KEYS][3][32];
    char live[MAX_KEYS][300];
    const char *fields[MAX_KEYS];
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = reserve_script;
    char nk[8];
    snprintf(nk, sizeof(nk), "%d", 2 * hold->nkeys);
    argv[argc++] = nk;
    for (int i = 0; i < hold->nkeys; i++) argv[argc++] = hold->keys[i];
    int live_at = argc;
    argc += hold->nkeys;
    for (int i = 0; i < hold->nkeys; i++) {
        long long limit = 0, ttl = 2 * 86400;
        snprintf(live[i], sizeof(live[i]), "%sbudget-limit:-", prefix);
        /* Find the budget block this key came from by its name part. */
        for (struct config_block *b = config_first(rt->cfg, "budget"); b; b = config_next(b, "budget")) {
            char mark[300];
            snprintf(mark, sizeof(mark), "budget:%s:", b->name);
            char imark[300];
            snprintf(imark, sizeof(imark), "inflight:%s:", b->name);
            if (!strstr(hold->keys[i], mark) && !strstr(hold->keys[i], imark)) continue;
            if (hold->is_money[i] == 1) limit = (long long)(json_number_value(json_object_get(b->value, "money")) * 1e6 + 0.5);
            else if (hold->is_money[i] == 0) limit = (long long)config_int(b, "tokens", 0);
            else limit = (long long)config_int(b, "concurrent", 0);
            if (!strcmp(config_str(b, "period", "day"), "month")) ttl = 32 * 86400;
            if (hold->is_money[i] == 2) ttl = 600;
            snprintf(live[i], sizeof(live[i]), "%sbudget-limit:%s", prefix, b->name);
            break;
        }
        fields[i] = hold->is_money[i] == 1 ? "money" : hold->is_money[i] == 0 ? "tokens" : "concurrent";
        argv[live_at + i] = live[i];
        snprintf(nums[i][0], 32, "%lld", hold->amounts[i]);
        snprintf(nums[i][1], 32, "%lld", limit);
        snprintf(nums[i][2], 32, "%lld", ttl);
        argv[argc++] = nums[i][0];
        argv[argc++] = nums[i][1];
        argv[argc++] = nums[i][2];
        argv[argc++] = fields[i];
    }
    op->hold = hold;
    int sent = redis_client_cluster(server.redis)   /* the keys span slots: budget_split.c */
        ? budget_reserve_split(server.redis, argc, argv, on_reply, op)
        : redis_command(server.redis, on_reply, op, argc, argv, NULL);
    if (sent < 0) {
        op->hold = NULL;
        hold_free(hold);
        return answer_later(op, NULL, "I can't check the spending budget right now, so I won't call the model. Please try again shortly.");
    }
    return op;
}

void budget_cancel(struct budget_op *op) {
    if (op) op->cb = NULL;
}

void budget_settle(struct budget_hold *h, int64_t money, long tokens) {
    if (!h) return;
    for (int i = 0; i < h->nkeys; i++) {
        long long delta = h->is_money[i] == 1 ? money - h->amounts[i]
                        : h->is_money[i] == 0 ? tokens - h->amounts[i] : -1;
        if (delta == 0) continue;
        char num[32];
        snprintf(num, sizeof(num), "%lld", delta);
        const char *argv[3] = { "INCRBY", h->keys[i], num };
        redis_command(server.redis, ignore, NULL, 3, argv, NULL);
    }
    hold_free(h);
}
