/* discord_shards.c - shard leases, stored sessions and shared identify
 * slots in Redis (see discord_shards.h and docs/scaling.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/redis_client.h"
#include "io/timer.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "platforms/discord/discord_shards.h"

#define SESSION_TTL_MS "3600000"   /* a stored session older than this cannot be resumed anyway */

/* One heartbeat: join the live set, renew the leases of the shards we run
 * (storing seqs), take free leases up to our share when ARGV[4] is 1.
 * KEYS: the live set, then the n leases, then the n sessions. ARGV[4 + i]
 * is "-" for a shard we do not run, "" for one we run with no new seq, or
 * its new seq. A lease still in our name for a shard we do not run (we
 * gave it up while Redis was away) is taken again like a free one.
 * Returns {live, share, per shard: 0 (not ours), 1 (kept) or {session id,
 * resume url, seq} (just taken)}. */
static const char tick_script[] =
    "local me, ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now, me)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)\n"
    "redis.call('PEXPIRE', KEYS[1], ttl * 3)\n"
    "local live = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "table.sort(live)\n"
    "local rank = 0\n"
    "for i, v in ipairs(live) do if v == me then rank = i - 1 end end\n"
    "local share = math.ceil(n / #live)\n"
    "local out, count = {}, 0\n"
    "for i = 1, n do\n"
    "  if ARGV[4 + i] ~= '-' and redis.call('GET', KEYS[1 + i]) == me then\n"
    "    redis.call('PEXPIRE', KEYS[1 + i], ttl)\n"
    "    if ARGV[4 + i] ~= '' then\n"
    "      redis.call('HSET', KEYS[1 + n + i], 'seq', ARGV[4 + i])\n"
    "      redis.call('PEXPIRE', KEYS[1 + n + i], " SESSION_TTL_MS ")\n"
    "    end\n"
    "    out[i] = 1\n"
    "    count = count + 1\n"
    "  else\n"
    "    out[i] = 0\n"
    "  end\n"
    "end\n"
    "if ARGV[4] == '1' then\n"
    "  for j = 0, n - 1 do\n"
    "    if count >= share then break end\n"
    "    local i = ((rank * share + j) % n) + 1\n"
    "    if out[i] == 0 and (redis.call('SET', KEYS[1 + i], me, 'NX', 'PX', ttl) or\n"
    "                        redis.call('GET', KEYS[1 + i]) == me) then\n"
    "      redis.call('PEXPIRE', KEYS[1 + i], ttl)\n"
    "      local s = redis.call('HMGET', KEYS[1 + n + i], 'id', 'url', 'seq')\n"
    "      out[i] = {s[1] or '', s[2] or '', s[3] or '0'}\n"
    "      count = count + 1\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {#live, share, out}\n";

/* Give a lease back (KEYS lease, session; ARGV me, seq or ""). */
static const char release_script[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], 'seq', ARGV[2]) end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return 1\n";

/* Store a new session while we hold the lease (KEYS lease, session; ARGV me, id, url, seq). */
static const char session_script[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[2], 'id', ARGV[2], 'url', ARGV[3], 'seq', ARGV[4])\n"
    "redis.call('PEXPIRE', KEYS[2], " SESSION_TTL_MS ")\n"
    "return 1\n";

/* Take an identify slot (KEYS slot; ARGV me, window): 0, or how long it is still held. */
static const char identify_script[] =
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end\n"
    "local left = redis.call('PTTL', KEYS[1])\n"
    "if left < 1 then return 1 end\n"
    "return left\n";

struct slot {
    int id;
    int held;
    long written;                 /* the seq last stored, -1 none */
};

struct discord_shards {
    uv_loop_t *loop;
    struct redis_client *(*redis)(void);
    struct discord_shards_callbacks cb;
    void *data;
    char *me;
    char base[256];
    long lease_ms;
    struct slot *slots;
    int n;
    int live;
    int share;
    int ticks;                    /* answered heartbeats; the first only joins */
    int joined;
    int ticking;                  /* a heartbeat is in flight */
    int pending;                  /* commands in flight (the struct waits for them when freed) */
    int dead;
    uint64_t renewed_at;          /* loop time the last answered heartbeat was sent */
    uint64_t sent_at;
    uv_timer_t *timer;
};

static void tick(struct discord_shards *ds);

/* A key under the bot's hash tag: "<prefix>{discord:<bot>}:WHAT<n>". */
static void key(const struct discord_shards *ds, char *out, size_t len, const char *what, int n) {
    if (n >= 0) snprintf(out, len, "%s%s%d", ds->base, what, n);
    else snprintf(out, len, "%s%s", ds->base, what);
}

/* A command's answer came: free the struct if it was only waiting for that. */
static int settle(struct discord_shards *ds) {
    ds->pending--;
    if (ds->dead) {
        if (ds->pending == 0) {
            free(ds->slots);
            free(ds->me);
            free(ds);
        }
        return 1;
    }
    return 0;
}

/* Send an EVAL; 0, or -1 when Redis is not connected (FN not called). */
static int eval(struct discord_shards *ds, const char *script, int nkeys, const char **keys, int nargs,
                const char **args, redis_reply_fn *fn) {
    int argc = 3 + nkeys + nargs;
    const char **argv = xcalloc((size_t)argc, sizeof(char *));
    char nk[16];
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = nk;
    memcpy(argv + 3, keys, sizeof(char *) * (size_t)nkeys);
    if (nargs) memcpy(argv + 3 + nkeys, args, sizeof(char *) * (size_t)nargs);
    struct redis_client *rc = ds->redis();
    int r = rc ? redis_command(rc, fn, ds, argc, argv, NULL) : -1;
    free(argv);
    if (r == 0) ds->pending++;
    return r;
}

/* Stop every held shard: we could not renew for a whole lease. */
static void drop_all(struct discord_shards *ds, const char *why) {
    for (int i = 0; i < ds->n; i++) {
        if (!ds->slots[i].held) continue;
        ds->slots[i].held = 0;
        log_warn("discord: shard %d given up: %s", ds->slots[i].id, why);
        ds->cb.drop(ds->slots[i].id, 1, ds->data);
    }
}

static void on_released(redisReply *r, const char *err, void *data) {
    (void)r, (void)err;
    settle(data);
}

/* Give shard slot I back for balance: stop it, then store its seq and free the lease. */
static void release(struct discord_shards *ds, int i) {
    struct slot *sl = &ds->slots[i];
    char lease[300], sess[300], seq[32] = "";
    long s = ds->cb.seq(sl->id, ds->data);
    if (s > 0) snprintf(seq, sizeof(seq), "%ld", s);
    sl->held = 0;
    ds->cb.drop(sl->id, 0, ds->data);
    key(ds, lease, sizeof(lease), "shard:", sl->id);
    key(ds, sess, sizeof(sess), "sess:", sl->id);
    const char *keys[2] = { lease, sess };
    const char *args[2] = { ds->me, seq };
    eval(ds, release_script, 2, keys, 2, args, on_released);
}

/* The heartbeat's answer: start what we took, stop what we lost, give back the excess. */
static void on_tick(redisReply *r, const char *err, void *data) {
    struct discord_shards *ds = data;
    if (settle(ds)) return;
    ds->ticking = 0;
    if (err || r->type != REDIS_REPLY_ARRAY || r->elements < 3 || r->element[2]->type != REDIS_REPLY_ARRAY ||
        (int)r->element[2]->elements != ds->n) {
        if (err || r->type == REDIS_REPLY_ERROR) log_warn("discord: renewing the shard leases: %s", err ? err : r->str);
        return;
    }
    ds->renewed_at = ds->sent_at;
    ds->live = (int)r->element[0]->integer;
    ds->share = (int)r->element[1]->integer;
    ds->joined = 1;
    ds->ticks++;
    int held = 0;
    for (int i = 0; i < ds->n; i++) {
        const redisReply *e = r->element[2]->element[i];
        struct slot *sl = &ds->slots[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 3) {
            const char *sid = e->element[0]->type == REDIS_REPLY_STRING ? e->element[0]->str : "";
            const char *url = e->element[1]->type == REDIS_REPLY_STRING ? e->element[1]->str : "";
            long seq = e->element[2]->type == REDIS_REPLY_STRING ? strtol(e->element[2]->str, NULL, 10) : 0;
            sl->held = 1;
            sl->written = *sid ? seq : -1;
            log_info("discord: shard %d leased (%s)", sl->id, *sid ? "resuming its stored session" : "no stored session");
            ds->cb.take(sl->id, *sid ? sid : NULL, url, seq, ds->data);
        } else if (e->type == REDIS_REPLY_INTEGER && e->integer == 0 && sl->held) {
            sl->held = 0;
            log_warn("discord: shard %d: its lease was lost to another gateway; stopping it here", sl->id);
            ds->cb.drop(sl->id, 1, ds->data);
        }
        if (sl->held) held++;
    }
    for (int i = ds->n - 1; i >= 0 && held > ds->share; i--) {
        if (!ds->slots[i].held) continue;
        log_info("discord: shard %d given back: %d gateways share %d shards, %d each", ds->slots[i].id, ds->live, ds->n,
                 ds->share);
        release(ds, i);
        held--;
    }
}

/* Heartbeat timer: give up what we could not renew in time, then renew. */
static void on_timer(uv_timer_t *t) {
    struct discord_shards *ds = t->data;
    uint64_t now = uv_now(ds->loop);
    if (ds->renewed_at && now - ds->renewed_at >= (uint64_t)ds->lease_ms) drop_all(ds, "Redis did not renew its lease in time");
    tick(ds);
}

/* Send one heartbeat (unless one is still in flight). */
static void tick(struct discord_shards *ds) {
    if (ds->ticking || ds->dead) return;
    int n = ds->n;
    int nkeys = 1 + 2 * n, nargs = 4 + n;
    char **keys = xcalloc((size_t)nkeys, sizeof(char *));
    char **args = xcalloc((size_t)nargs, sizeof(char *));
    char ttl[24], nn[16];
    snprintf(ttl, sizeof(ttl), "%ld", ds->lease_ms);
    snprintf(nn, sizeof(nn), "%d", n);
    keys[0] = xmalloc(300);
    key(ds, keys[0], 300, "gateways", -1);
    args[0] = ds->me;
    args[1] = ttl;
    args[2] = nn;
    args[3] = ds->ticks > 0 ? "1" : "0";
    long *seqs = xcalloc((size_t)n, sizeof(long));
    for (int i = 0; i < n; i++) {
        keys[1 + i] = xmalloc(300);
        keys[1 + n + i] = xmalloc(300);
        key(ds, keys[1 + i], 300, "shard:", ds->slots[i].id);
        key(ds, keys[1 + n + i], 300, "sess:", ds->slots[i].id);
        long s = ds->slots[i].held ? ds->cb.seq(ds->slots[i].id, ds->data) : -1;
        seqs[i] = s > 0 && s != ds->slots[i].written ? s : -1;
        args[4 + i] = xmalloc(24);
        if (!ds->slots[i].held) snprintf(args[4 + i], 24, "-");
        else if (seqs[i] > 0) snprintf(args[4 + i], 24, "%ld", seqs[i]);
        else args[4 + i][0] = '\0';
    }
    ds->sent_at = uv_now(ds->loop);
    if (eval(ds, tick_script, nkeys, (const char **)keys, nargs, (const char **)args, on_tick) == 0) {
        ds->ticking = 1;
        for (int i = 0; i < n; i++)
            if (seqs[i] > 0) ds->slots[i].written = seqs[i];
    }
    for (int i = 0; i < nkeys; i++) free(keys[i]);
    for (int i = 4; i < nargs; i++) free(args[i]);
    free(keys);
    free(args);
    free(seqs);
}

struct discord_shards *discord_shards_new(uv_loop_t *loop, struct redis_client *(*redis)(void),
                                          const struct discord_shards_options *o) {
    struct discord_shards *ds = xcalloc(1, sizeof(*ds));
    struct redis_client *rc = redis();
    ds->loop = loop;
    ds->redis = redis;
    ds->cb = *o->cb;
    ds->data = o->data;
    ds->me = xstrdup(o->me);
    ds->lease_ms = o->lease_ms > 3 ? o->lease_ms : 3;
    snprintf(ds->base, sizeof(ds->base), "%s{discord:%s}:", rc ? redis_client_prefix(rc) : "chorus:", o->bot);
    ds->n = o->nids;
    ds->slots = xcalloc((size_t)(o->nids > 0 ? o->nids : 1), sizeof(*ds->slots));
    for (int i = 0; i < o->nids; i++) {
        ds->slots[i].id = o->ids[i];
        ds->slots[i].written = -1;
    }
    ds->timer = timer_new(loop, ds);
    uint64_t every = (uint64_t)(ds->lease_ms / 3);
    uv_timer_start(ds->timer, on_timer, 0, every ? every : 1);
    log_info("discord: sharing %d shards with the other gateways through leases of %ld ms (as %s)", ds->n,
             ds->lease_ms, ds->me);
    return ds;
}

static void on_session_stored(redisReply *r, const char *err, void *data) {
    struct discord_shards *ds = data;
    if (settle(ds)) return;
    if (err || r->type == REDIS_REPLY_ERROR) log_warn("discord: storing a shard session: %s", err ? err : r->str);
}

void discord_shards_session(struct discord_shards *ds, int shard, const char *session_id, const char *resume_url,
                            long seq) {
    char lease[300], sess[300], s[32];
    if (!ds) return;
    key(ds, lease, sizeof(lease), "shard:", shard);
    key(ds, sess, sizeof(sess), "sess:", shard);
    snprintf(s, sizeof(s), "%ld", seq);
    const char *keys[2] = { lease, sess };
    const char *args[4] = { ds->me, session_id, resume_url ? resume_url : "", s };
    for (int i = 0; i < ds->n; i++)
        if (ds->slots[i].id == shard) ds->slots[i].written = seq;
    eval(ds, session_script, 2, keys, 4, args, on_session_stored);
}

struct identify_req {
    struct discord_shards *ds;
    int shard;
    void (*answer)(int shard, long wait_ms, void *data);
    void *data;
};

static void on_identify(redisReply *r, const char *err, void *data) {
    struct identify_req *q = data;
    struct discord_shards *ds = q->ds;
    long wait = 0;
    if (!err && r->type == REDIS_REPLY_INTEGER) wait = (long)r->integer;
    else log_warn("discord: the shared identify slot could not be read (%s); pacing this process alone",
                  err ? err : r->type == REDIS_REPLY_ERROR ? r->str : "odd reply");
    if (!settle(ds)) q->answer(q->shard, wait, q->data);
    free(q);
}

int discord_shards_identify(struct discord_shards *ds, int shard, int bucket, long window_ms,
                             void (*answer)(int shard, long wait_ms, void *data), void *data) {
    char slot[300], w[24];
    key(ds, slot, sizeof(slot), "identify:", bucket);
    snprintf(w, sizeof(w), "%ld", window_ms > 0 ? window_ms : 1);
    struct identify_req *q = xcalloc(1, sizeof(*q));
    q->ds = ds;
    q->shard = shard;
    q->answer = answer;
    q->data = data;
    const char *keys[1] = { slot };
    const char *args[2] = { ds->me, w };
    struct redis_client *rc = ds->redis();
    if (!rc) {
        free(q);
        return -1;
    }
    int argc = 6;
    const char *argv[6] = { "EVAL", identify_script, "1", keys[0], args[0], args[1] };
    if (redis_command(rc, on_identify, q, argc, argv, NULL) < 0) {
        log_warn("discord: Redis is down; identifying with this process's own pacing");
        free(q);
        return -1;
    }
    ds->pending++;
    return 0;
}

int discord_shards_joined(const struct discord_shards *ds) {
    return ds && ds->joined;
}

const char *discord_shards_key_base(struct discord_shards *ds) {
    return ds->base;
}

static void on_left(redisReply *r, const char *err, void *data) {
    (void)r, (void)err;
    settle(data);
}

void discord_shards_free(struct discord_shards *ds) {
    if (!ds) return;
    timer_free(&ds->timer);
    for (int i = 0; i < ds->n; i++)
        if (ds->slots[i].held) release(ds, i);
    char live[300];
    key(ds, live, sizeof(live), "gateways", -1);
    const char *argv[3] = { "ZREM", live, ds->me };
    struct redis_client *rc = ds->redis();
    if (rc && redis_command(rc, on_left, ds, 3, argv, NULL) == 0) ds->pending++;
    ds->dead = 1;
    if (ds->pending == 0) {
        free(ds->slots);
        free(ds->me);
        free(ds);
    }
}
