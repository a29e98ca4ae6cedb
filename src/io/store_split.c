/* store_split.c - the job context in a Redis Cluster.
 *
 * On one Redis the context is one script (store.c). Its keys live in many
 * slots (the channel's, the global sets, the user's flood bucket), which a
 * cluster refuses in one script, so there the same work runs as commands
 * that each touch one slot, sent at once; the replies are put together into
 * the array the script would have returned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/store.h"
#include "io/store_split.h"
#include "io/redis_gather.h"
#include "lib/xalloc.h"

/* The channel's persona (or the default), whether it is set, its manners. */
static const char channel_script[] =
    "local p = redis.call('GET', KEYS[1]) "
    "return { p or ARGV[1], redis.call('EXISTS', KEYS[1]), redis.call('HGETALL', KEYS[2]) }";

/* One flood bucket, as in the context script: 0 fine, 1 over (first), 2 over again. */
static const char bucket_script[] =
    "local now, burst, per = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) "
    "if burst <= 0 then return 0 end "
    "local key = KEYS[1] "
    "local t = tonumber(redis.call('HGET', key, 'tokens') or burst) "
    "local ts = tonumber(redis.call('HGET', key, 'ts') or now) "
    "t = math.min(burst, t + (now - ts) * burst / per) "
    "local state = 0 "
    "if t < 1 then "
    "  if redis.call('HGET', key, 'warned') == '1' then state = 2 else state = 1 end "
    "  redis.call('HSET', key, 'warned', '1') "
    "else t = t - 1 redis.call('HSET', key, 'warned', '0') end "
    "redis.call('HSET', key, 'tokens', tostring(t), 'ts', tostring(now)) "
    "redis.call('EXPIRE', key, math.ceil(per) + 60) "
    "return state";

enum { S_CHAN, S_MUTED, S_BANNED, S_IGNORED, S_DIS, S_DISALL, S_CHANS, S_FU, S_FC, S_ROLES, S_PERSONA, S_N };

/* What the gather's parts are put together for. */
struct split {
    redis_reply_fn *cb;
    void *data;
    char prefix[128];
};

static redisReply *int_reply(long long v) {
    redisReply *r = xcalloc(1, sizeof(*r));
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

/* Every part is in: build the script's reply and hand it on. */
static void on_context_parts(redisReply *const *part, const char *err, void *data) {
    struct split *sp = data;
    if (err) {
        sp->cb(NULL, err, sp->data);
    } else {
        redisReply *chan = part[S_CHAN];
        redisReply *top = xcalloc(1, sizeof(*top));
        top->type = REDIS_REPLY_ARRAY;
        top->elements = 10;
        top->element = xcalloc(10, sizeof(redisReply *));
        top->element[0] = redis_reply_copy(chan->element[0]);
        top->element[1] = redis_reply_copy(part[S_MUTED]);
        top->element[2] = redis_reply_copy(part[S_BANNED]);
        top->element[3] = redis_reply_copy(part[S_IGNORED]);
        /* SUNION of the channel's and everyone's disabled plugins. */
        redisReply *a = part[S_DIS], *b = part[S_DISALL];
        redisReply *u = xcalloc(1, sizeof(*u));
        u->type = REDIS_REPLY_ARRAY;
        u->element = xcalloc(a->elements + b->elements + 1, sizeof(redisReply *));
        for (size_t i = 0; i < a->elements; i++) u->element[u->elements++] = redis_reply_copy(a->element[i]);
        for (size_t i = 0; i < b->elements; i++) {
            int dup = 0;
            for (size_t k = 0; k < a->elements && !dup; k++) dup = !strcmp(a->element[k]->str, b->element[i]->str);
            if (!dup) u->element[u->elements++] = redis_reply_copy(b->element[i]);
        }
        top->element[4] = u;
        top->element[5] = redis_reply_copy(part[S_PERSONA]);
        top->element[6] = redis_reply_copy(chan->element[1]);
        long long fu = part[S_FU]->integer, fc = part[S_FC]->integer;
        top->element[7] = int_reply(fu > fc ? fu : fc);
        top->element[8] = redis_reply_copy(chan->element[2]);
        top->element[9] = redis_reply_copy(part[S_ROLES]);
        sp->cb(top, NULL, sp->data);
        freeReplyObject(top);
    }
    free(sp);
}

/* Whether R has the shape part WHICH must have. */
static int shape_ok(int which, const redisReply *r) {
    switch (which) {
    case S_CHAN: return r->type == REDIS_REPLY_ARRAY && r->elements == 3;
    case S_DIS: case S_DISALL: case S_ROLES: case S_PERSONA: return r->type == REDIS_REPLY_ARRAY;
    default: return r->type == REDIS_REPLY_INTEGER;
    }
}

/* The persona's live edits need its name: asked once the channel answered. */
static void on_context_part(struct redis_gather *g, int which, const redisReply *r, void *data) {
    struct split *sp = data;
    if (which != S_CHAN) return;
    if (r->element[0]->str) {
        char key[600];
        snprintf(key, sizeof(key), "%spersona:%s", sp->prefix, r->element[0]->str);
        const char *argv[2] = { "HGETALL", key };
        redis_gather_send(g, S_PERSONA, 2, argv);
    } else {
        redisReply *none = xcalloc(1, sizeof(redisReply));
        none->type = REDIS_REPLY_ARRAY;
        redis_gather_put(g, S_PERSONA, none);
    }
}

int store_context_split(struct redis_client *rc, const char *const keys[10], const char *const args[10],
                        redis_reply_fn *cb, void *data) {
    struct split *sp = xcalloc(1, sizeof(*sp));
    sp->cb = cb;
    sp->data = data;
    snprintf(sp->prefix, sizeof(sp->prefix), "%s", args[3]);
    struct redis_gather *g = redis_gather_new(rc, S_N, shape_ok, on_context_part, on_context_parts, sp);
    /* keys: persona muted banned ignored disabled disabled:* channels flood:user flood:channel manners;
     * args: platform:channel platform:user default prefix now ub up cb cp roles-key */
    const char *chan[6] = { "EVAL", channel_script, "2", keys[0], keys[9], args[2] };
    if (redis_gather_send(g, S_CHAN, 6, chan) < 0) {
        redis_gather_cancel(g);
        free(sp);
        return -1;
    }
    const char *m[3] = { "SISMEMBER", keys[1], args[0] };
    const char *bn[3] = { "SISMEMBER", keys[2], args[1] };
    const char *ig[3] = { "SISMEMBER", keys[3], args[1] };
    const char *d1[2] = { "SMEMBERS", keys[4] };
    const char *d2[2] = { "SMEMBERS", keys[5] };
    const char *ch[3] = { "SADD", keys[6], args[0] };
    const char *fu[7] = { "EVAL", bucket_script, "1", keys[7], args[4], args[5], args[6] };
    const char *fc[7] = { "EVAL", bucket_script, "1", keys[8], args[4], args[7], args[8] };
    const char *ro[4] = { "HMGET", args[9], "*", args[0] };
    redis_gather_send(g, S_MUTED, 3, m);
    redis_gather_send(g, S_BANNED, 3, bn);
    redis_gather_send(g, S_IGNORED, 3, ig);
    redis_gather_send(g, S_DIS, 2, d1);
    redis_gather_send(g, S_DISALL, 2, d2);
    redis_gather_send(g, S_CHANS, 3, ch);
    redis_gather_send(g, S_FU, 7, fu);
    redis_gather_send(g, S_FC, 7, fc);
    redis_gather_send(g, S_ROLES, 4, ro);
    redis_gather_end(g);
    return 0;
}

/* ---- forgetting ------------------------------------------------------- */

struct forget_split {
    struct redis_client *rc;
    redis_reply_fn *cb;
    void *data;
    char *seen, *user;
    long long removed;
    int pending;
    char err[300];
};

static void forget_free(struct forget_split *fs) {
    free(fs->seen);
    free(fs->user);
    free(fs);
}

/* The index is gone too: report the turns removed. */
static void on_forget_done(redisReply *r, const char *err, void *data) {
    struct forget_split *fs = data;
    if (!err && r->type == REDIS_REPLY_ERROR) err = r->str;
    if (err || fs->err[0]) {
        fs->cb(NULL, fs->err[0] ? fs->err : err, fs->data);
    } else {
        redisReply out = { .type = REDIS_REPLY_INTEGER, .integer = fs->removed };
        fs->cb(&out, NULL, fs->data);
    }
    forget_free(fs);
}

/* Every channel part and key deletion answered: drop the index (kept on an
 * error, so forgetting again finds what is left). */
static void forget_step_done(struct forget_split *fs) {
    if (--fs->pending > 0) return;
    if (fs->err[0]) {
        fs->cb(NULL, fs->err, fs->data);
        forget_free(fs);
        return;
    }
    const char *argv[2] = { "DEL", fs->seen };
    if (redis_command(fs->rc, on_forget_done, fs, 2, argv, NULL) < 0) {
        fs->cb(NULL, "Redis is not connected", fs->data);
        forget_free(fs);
    }
}

static void on_forget_part(redisReply *r, const char *err, void *data) {
    struct forget_split *fs = data;
    if (!err && r->type == REDIS_REPLY_ERROR) err = r->str;
    if (err && !fs->err[0]) snprintf(fs->err, sizeof(fs->err), "%s", err);
    if (!err && r->type == REDIS_REPLY_INTEGER) fs->removed += r->integer;
    forget_step_done(fs);
}

/* Send one step; a failure to send counts as an error of that step. */
static void forget_send(struct forget_split *fs, int argc, const char **argv) {
    fs->pending++;
    if (redis_command(fs->rc, on_forget_part, fs, argc, argv, NULL) < 0) on_forget_part(NULL, "Redis is not connected", fs);
}

/* The index: "history|summary|key|key..." per channel the user spoke in. */
static void on_forget_index(redisReply *r, const char *err, void *data) {
    struct forget_split *fs = data;
    if (err || r->type != REDIS_REPLY_ARRAY) {
        fs->cb(NULL, err ? err : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected Redis reply", fs->data);
        forget_free(fs);
        return;
    }
    fs->pending = 1;   /* hold the last step until every one is sent */
    for (size_t i = 0; i < r->elements; i++) {
        char *entry = xstrdup(r->element[i]->str ? r->element[i]->str : "");
        char *summary = strchr(entry, '|');
        char *extra = summary ? strchr(summary + 1, '|') : NULL;
        if (extra) {
            *summary++ = '\0';
            *extra++ = '\0';
            const char *argv[6] = { "EVAL", store_forget_channel_script(), "2", entry, summary, fs->user };
            forget_send(fs, 6, argv);
            for (char *k = strtok(extra, "|"); k; k = strtok(NULL, "|")) {
                const char *del[2] = { "DEL", k };
                forget_send(fs, 2, del);
            }
        }
        free(entry);
    }
    forget_step_done(fs);
}

int store_forget_split(struct redis_client *rc, const char *seen, const char *user, redis_reply_fn *cb, void *data) {
    struct forget_split *fs = xcalloc(1, sizeof(*fs));
    fs->rc = rc;
    fs->cb = cb;
    fs->data = data;
    fs->seen = xstrdup(seen);
    fs->user = xstrdup(user);
    const char *argv[2] = { "SMEMBERS", seen };
    if (redis_command(rc, on_forget_index, fs, 2, argv, NULL) < 0) {
        forget_free(fs);
        return -1;
    }
    return 0;
}
