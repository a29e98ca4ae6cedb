/* budget_split.c - reserving budgets on a Redis Cluster.
 *
 * On one Redis a reservation is one script over every counter of the call
 * (budget.c): all or nothing. On a cluster the counters and the live limits
 * hash to different slots, so there it runs in steps: read the live limits,
 * then check-and-add each counter on its own (a counter never passes its
 * limit), and when one refuses, take back what the others added. Between
 * the add and the take-back another call may see the counter higher than it
 * ends up: it may be refused where the one script would have let it pass,
 * never the other way round. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/budget_split.h"
#include "lib/xalloc.h"

/* KEYS: one counter. ARGV: amount, limit, ttl. 1 refused, else 0. */
static const char reserve_one_script[] =
    "local limit = tonumber(ARGV[2]) "
    "if limit > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1]) > limit then return 1 end "
    "redis.call('INCRBY', KEYS[1], ARGV[1]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[3]) "
    "return 0";

#define SPLIT_MAX 24

struct reserve_split {
    struct redis_client *rc;
    redis_reply_fn *cb;
    void *data;
    int n, pending, step;
    char *keys[SPLIT_MAX], *live[SPLIT_MAX], *amount[SPLIT_MAX], *limit[SPLIT_MAX], *ttl[SPLIT_MAX], *field[SPLIT_MAX];
    int refused[SPLIT_MAX];
    char err[300];
};

static void split_free(struct reserve_split *rs) {
    for (int i = 0; i < rs->n; i++) {
        free(rs->keys[i]);
        free(rs->live[i]);
        free(rs->amount[i]);
        free(rs->limit[i]);
        free(rs->ttl[i]);
        free(rs->field[i]);
    }
    free(rs);
}

static void on_step(redisReply *r, const char *err, void *data);
static void finish(struct reserve_split *rs);

static void ignore(redisReply *r, const char *err, void *data) {
    (void)r, (void)err, (void)data;
}

/* One command of the current step for counter I. */
static void step_send(struct reserve_split *rs, int i, int argc, const char **argv) {
    void **tag = xmalloc(2 * sizeof(void *));
    tag[0] = rs;
    tag[1] = (void *)(intptr_t)i;
    rs->pending++;
    if (redis_command(rs->rc, on_step, tag, argc, argv, NULL) < 0) on_step(NULL, "Redis is not connected", tag);
}

/* Step 2: check and add every counter. */
static void reserve_each(struct reserve_split *rs) {
    rs->step = 2;
    rs->pending = 1;
    for (int i = 0; i < rs->n; i++) {
        const char *argv[6] = { "EVAL", reserve_one_script, "1", rs->keys[i], rs->amount[i], rs->limit[i] };
        const char *full[7] = { argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], rs->ttl[i] };
        step_send(rs, i, 7, full);
    }
    if (--rs->pending == 0) finish(rs);
}

/* Every counter answered: keep all, or take back what was added. */
static void finish(struct reserve_split *rs) {
    int first = 0;
    for (int i = 0; i < rs->n && !first; i++)
        if (rs->refused[i] == 1) first = i + 1;
    if (first || rs->err[0]) {
        for (int i = 0; i < rs->n; i++) {
            if (rs->refused[i] != 0) continue;   /* refused, or unknown */
            char back[40];
            snprintf(back, sizeof(back), "-%s", rs->amount[i]);
            const char *argv[3] = { "INCRBY", rs->keys[i], back };
            redis_command(rs->rc, ignore, NULL, 3, argv, NULL);
        }
    }
    if (rs->err[0]) {
        rs->cb(NULL, rs->err, rs->data);
    } else {
        redisReply out = { .type = REDIS_REPLY_INTEGER, .integer = first };
        rs->cb(&out, NULL, rs->data);
    }
    split_free(rs);
}

/* A reply of either step. */
static void on_step(redisReply *r, const char *err, void *data) {
    void **tag = data;
    struct reserve_split *rs = tag[0];
    int i = (int)(intptr_t)tag[1];
    free(tag);
    if (!err && r->type == REDIS_REPLY_ERROR) err = r->str;
    if (err) {
        if (!rs->err[0]) snprintf(rs->err, sizeof(rs->err), "%s", err);
    } else if (rs->step == 1 && r->type == REDIS_REPLY_STRING) {
        free(rs->limit[i]);
        rs->limit[i] = xstrdup(r->str);   /* the operator's live limit wins */
    } else if (rs->step == 2 && r->type == REDIS_REPLY_INTEGER) {
        rs->refused[i] = (int)r->integer;
    }
    if (--rs->pending > 0) return;
    if (rs->step == 1 && !rs->err[0]) reserve_each(rs);
    else finish(rs);
}

int budget_reserve_split(struct redis_client *rc, int argc, const char **argv, redis_reply_fn *cb, void *data) {
    int nk = argc > 3 ? atoi(argv[2]) : 0;
    int n = nk / 2;
    if (n < 1 || n > SPLIT_MAX || argc != 3 + nk + 4 * n) return -1;
    if (!redis_client_ready(rc)) return -1;
    struct reserve_split *rs = xcalloc(1, sizeof(*rs));
    rs->rc = rc;
    rs->cb = cb;
    rs->data = data;
    rs->n = n;
    for (int i = 0; i < n; i++) {
        rs->keys[i] = xstrdup(argv[3 + i]);
        rs->live[i] = xstrdup(argv[3 + n + i]);
        rs->amount[i] = xstrdup(argv[3 + nk + 4 * i]);
        rs->limit[i] = xstrdup(argv[3 + nk + 4 * i + 1]);
        rs->ttl[i] = xstrdup(argv[3 + nk + 4 * i + 2]);
        rs->field[i] = xstrdup(argv[3 + nk + 4 * i + 3]);
        rs->refused[i] = -1;
    }
    rs->step = 1;
    rs->pending = 1;   /* hold the step until every command is sent */
    for (int i = 0; i < n; i++) {
        const char *hget[3] = { "HGET", rs->live[i], rs->field[i] };
        step_send(rs, i, 3, hget);
    }
    if (--rs->pending == 0) {
        if (!rs->err[0]) reserve_each(rs);
        else finish(rs);
    }
    return 0;
}
