/* store.c - Redis keys and commands for channel personas and history. */
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include "io/redis_client.h"
#include "io/redis_tracking.h"
#include "io/store.h"
#include "lib/dict.h"
#include "io/store_split.h"
#include "lib/xalloc.h"

/* Copy PART into OUT, escaping bytes that would break the key's hash tag or
 * read badly in redis-cli ('{', '}', '%', controls) as %XX. */
size_t store_escape(const char *part, char *out, size_t outlen) {
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)part; *p && j + 4 < outlen; p++) {
        if (*p == '{' || *p == '}' || *p == '%' || *p < 0x20 || *p == 0x7f) {
            j += (size_t)snprintf(out + j, outlen - j, "%%%02X", *p);
        } else {
            out[j++] = (char)*p;
        }
    }
    out[j] = '\0';
    return j;
}

size_t store_channel_key(const struct redis_client *rc, const char *platform, const char *channel,
                         const char *suffix, char *out, size_t outlen) {
    char p[64], c[600];
    store_escape(platform, p, sizeof(p));
    store_escape(channel, c, sizeof(c));
    int n = snprintf(out, outlen, "%s{%s:%s}%s", redis_client_prefix(rc), p, c, suffix);
    return n < 0 ? 0 : (size_t)n;
}

struct persona_req {
    store_persona_fn *cb;
    void *data;
};

static void on_persona(redisReply *r, const char *err, void *data) {
    struct persona_req *req = data;
    if (err) req->cb(NULL, err, req->data);
    else if (r->type == REDIS_REPLY_STRING) req->cb(r->str, NULL, req->data);
    else if (r->type == REDIS_REPLY_ERROR) req->cb(NULL, r->str, req->data);
    else req->cb(NULL, NULL, req->data);
    free(req);
}

int store_persona_get(struct redis_client *rc, const char *platform, const char *channel,
                      store_persona_fn *cb, void *data) {
    if (!redis_client_ready(rc)) return -1;
    char key[1024];
    store_channel_key(rc, platform, channel, ":persona", key, sizeof(key));
    struct persona_req *req = xmalloc(sizeof(*req));
    req->cb = cb;
    req->data = data;
    const char *argv[2] = { "GET", key };
    if (redis_command(rc, on_persona, req, 2, argv, NULL) < 0) {
        free(req);
        return -1;
    }
    return 0;
}

struct history_req {
    store_history_fn *cb;
    void *data;
};

/* Decode the list; an element that is not a turn object is skipped. */
static void on_history(redisReply *r, const char *err, void *data) {
    struct history_req *req = data;
    if (err || r->type != REDIS_REPLY_ARRAY) {
        req->cb(NULL, err ? err : (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected Redis reply"), req->data);
        free(req);
        return;
    }
    json_t *turns = json_array();
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING) continue;
        json_t *t = json_loadb(e->str, e->len, 0, NULL);
        if (json_is_object(t) && json_is_string(json_object_get(t, "role")) &&
            json_is_string(json_object_get(t, "content")))
            json_array_append_new(turns, t);
        else
            json_decref(t);
    }
    req->cb(turns, NULL, req->data);
    json_decref(turns);
    free(req);
}

int store_history_load(struct redis_client *rc, const char *platform, const char *channel,
                       const char *persona, long max_turns, store_history_fn *cb, void *data) {
    if (!redis_client_ready(rc)) return -1;
    char key[1024], suffix[128], start[32];
    snprintf(suffix, sizeof(suffix), ":history:%s", persona);
    store_channel_key(rc, platform, channel, suffix, key, sizeof(key));
    snprintf(start, sizeof(start), "%ld", max_turns > 0 ? -max_turns : 0);
    struct history_req *req = xmalloc(sizeof(*req));
    req->cb = cb;
    req->data = data;
    const char *argv[4] = { "LRANGE", key, start, "-1" };
    if (redis_command(rc, on_history, req, 4, argv, NULL) < 0) {
        free(req);
        return -1;
    }
    return 0;
}

struct append_req {
    store_done_fn *cb;
    void *data;
    int pending;
    char err[256];
};

/* One of RPUSH, LTRIM, EXPIRE answered; the last one completes the append. */
static void on_append_step(redisReply *r, const char *err, void *data) {
    struct append_req *req = data;
    if (!req->err[0]) {
        if (err) snprintf(req->err, sizeof(req->err), "%s", err);
        else if (r->type == REDIS_REPLY_ERROR) snprintf(req->err, sizeof(req->err), "%s", r->str);
    }
    if (--req->pending > 0) return;
    req->cb(req->err[0] ? req->err : NULL, req->data);
    free(req);
}

int store_history_append(struct redis_client *rc, const char *platform, const char *channel,
                         const char *persona, json_t *turns, const struct store_limits *lim,
                         store_done_fn *cb, void *data) {
    if (!redis_client_ready(rc)) return -1;
    char key[1024], suffix[128], trim[32], ttl[32];
    size_t n = json_array_size(turns);
    if (n == 0 || n > 64) return -1;
    snprintf(suffix, sizeof(suffix), ":history:%s", persona);
    store_channel_key(rc, platform, channel, suffix, key, sizeof(key));
    const char *argv[66];
    size_t lens[66];
    char *texts[64];
    argv[0] = "RPUSH";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = strlen(key);
    for (size_t i = 0; i < n; i++) {
        texts[i] = json_dumps(json_array_get(turns, i), JSON_COMPACT);
        argv[2 + i] = texts[i];
        lens[2 + i] = strlen(texts[i]);
    }
    struct append_req *req = xcalloc(1, sizeof(*req));
    req->cb = cb;
    req->data = data;
    req->pending = 3;
    int rc1 = redis_command(rc, on_append_step, req, (int)n + 2, argv, lens);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    if (rc1 < 0) {
        free(req);
        return -1;
    }
    /* The next two are pipelined behind RPUSH: one round trip in all. */
    snprintf(trim, sizeof(trim), "%ld", lim->history_turns > 0 ? -lim->history_turns : 0);
    const char *targv[4] = { "LTRIM", key, trim, "-1" };
    if (redis_command(rc, on_append_step, req, 4, targv, NULL) < 0) req->pending--;
    snprintf(ttl, sizeof(ttl), "%ld", lim->ttl_s > 0 ? lim->ttl_s : 2592000L);
    const char *eargv[3] = { "EXPIRE", key, ttl };
    if (redis_command(rc, on_append_step, req, 3, eargv, NULL) < 0) req->pending--;
    return 0;
}

/* One channel's part of forgetting: the user's turns leave history HIST,
 * the summary goes, and the same turns leave the long-term recall index
 * next to it (persona/recall_store.h: the recall list and the records of
 * the vector string; gen moves on). One channel tag: one slot. */
#define FORGET_CHANNEL_BODY \
    "    local items = redis.call('LRANGE', hist, 0, -1) "\
    "    local keep, skip = {}, false "\
    "    for _, item in ipairs(items) do "\
    "      local ok, t = pcall(cjson.decode, item) "\
    "      if ok and type(t) == 'table' and t.user == ARGV[1] then removed = removed + 1 skip = true "\
    "      elseif skip and ok and type(t) == 'table' and t.role == 'assistant' then removed = removed + 1 skip = false "\
    "      else keep[#keep + 1] = item skip = false end "\
    "    end "\
    "    redis.call('DEL', hist) "\
    "    for i = 1, #keep, 500 do redis.call('RPUSH', hist, unpack(keep, i, math.min(i + 499, #keep))) end "\
    "    redis.call('DEL', summary) "\
    "    local base, persona = string.match(hist, '^(.*):history:(.*)$') "\
    "    if base then "\
    "      local rv, rt, rm = base .. ':recall:' .. persona .. ':vec', base .. ':recall:' .. persona .. ':turns', base .. ':recall:' .. persona .. ':meta' "\
    "      local dim = tonumber(redis.call('HGET', rm, 'dim') or '0') "\
    "      if dim > 0 then "\
    "        local turns = redis.call('LRANGE', rt, 0, -1) "\
    "        local vec = redis.call('GET', rv) or '' "\
    "        local kt, kv, rskip = {}, {}, false "\
    "        for i, item in ipairs(turns) do "\
    "          local ok, t = pcall(cjson.decode, item) "\
    "          if ok and type(t) == 'table' and t.user == ARGV[1] then rskip = true "\
    "          elseif rskip and ok and type(t) == 'table' and t.role == 'assistant' then rskip = false "\
    "          else kt[#kt + 1] = item kv[#kv + 1] = string.sub(vec, (i - 1) * dim + 1, i * dim) rskip = false end "\
    "        end "\
    "        if #kt < #turns then "\
    "          local ttl = redis.call('TTL', rt) "\
    "          redis.call('DEL', rt, rv) "\
    "          for i = 1, #kt, 500 do redis.call('RPUSH', rt, unpack(kt, i, math.min(i + 499, #kt))) end "\
    "          if #kv > 0 then redis.call('SET', rv, table.concat(kv)) end "\
    "          redis.call('HINCRBY', rm, 'gen', 1) "\
    "          if ttl > 0 then redis.call('EXPIRE', rt, ttl) redis.call('EXPIRE', rv, ttl) end "\
    "        end "\
    "      end "\
    "    end "

/* Remove a user's turns (and the persona's answers to them) from every
 * history they spoke in, drop those channels' summaries, then their facts,
 * relationships and index. KEYS[1]: the index set. ARGV: user id, prefix. */
static const char forget_script[] =
    "local removed = 0 "
    "for _, entry in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
    "  local hist, summary, extra = string.match(entry, '^([^|]*)|([^|]*)|(.*)$') "
    "  if hist then "
    FORGET_CHANNEL_BODY
    "    for k in string.gmatch(extra, '[^|]+') do redis.call('DEL', k) end "
    "  end "
    "end "
    "redis.call('DEL', KEYS[1]) "
    "return removed";


const char *store_forget_script(void) {
    return forget_script;
}

/* KEYS: one channel's history and summary. ARGV: the user id. In a
 * cluster, forgetting runs this per channel (store_split.c). */
static const char forget_channel_script[] =
    "local removed = 0 "
    "local hist, summary = KEYS[1], KEYS[2] "
    FORGET_CHANNEL_BODY
    "return removed";

const char *store_forget_channel_script(void) {
    return forget_channel_script;
}

/* Everything a message needs to know before the skills run, in one round
 * trip. KEYS: the channel's persona key, the muted, banned and ignored
 * sets, the channel's and the global disabled-plugin sets, the set of
 * active channels, the flood buckets, the channel's manners hash
 * (group-chat reply mode, opt-out, when it last spoke). ARGV: platform:channel, platform:user, the default
 * persona, the key prefix. */
static const char context_script[] =
    "local persona = redis.call('GET', KEYS[1]) or ARGV[3] "
    "redis.call('SADD', KEYS[7], ARGV[1]) "
    "local disabled = redis.call('SUNION', KEYS[5], KEYS[6]) "
    /* Flood control: a token bucket per user (KEYS[8]) and per channel (KEYS[9]).
     * 0 = fine, 1 = over the limit for the first time (say so once), 2 = over again. */
    "local now = tonumber(ARGV[5]) "
    "local function bucket(key, burst, per) "
    "  if burst <= 0 then return 0 end "
    "  local t = tonumber(redis.call('HGET', key, 'tokens') or burst) "
    "  local ts = tonumber(redis.call('HGET', key, 'ts') or now) "
    "  t = math.min(burst, t + (now - ts) * burst / per) "
    "  local state = 0 "
    "  if t < 1 then "
    "    if redis.call('HGET', key, 'warned') == '1' then state = 2 else state = 1 end "
    "    redis.call('HSET', key, 'warned', '1') "
    "  else t = t - 1 redis.call('HSET', key, 'warned', '0') end "
    "  redis.call('HSET', key, 'tokens', tostring(t), 'ts', tostring(now)) "
    "  redis.call('EXPIRE', key, math.ceil(per) + 60) "
    "  return state "
    "end "
    "local flood = math.max(bucket(KEYS[8], tonumber(ARGV[6]), tonumber(ARGV[7])), "
    "                       bucket(KEYS[9], tonumber(ARGV[8]), tonumber(ARGV[9]))) "
    "return { persona, redis.call('SISMEMBER', KEYS[2], ARGV[1]), redis.call('SISMEMBER', KEYS[3], ARGV[2]), "
    "  redis.call('SISMEMBER', KEYS[4], ARGV[2]), disabled, redis.call('HGETALL', ARGV[4] .. 'persona:' .. persona), "
    "  redis.call('EXISTS', KEYS[1]), flood, redis.call('HGETALL', KEYS[10]), redis.call('HMGET', ARGV[10], '*', ARGV[1]) }";

struct context_req {
    store_context_fn *cb;
    void *data;
};

static void on_context(redisReply *r, const char *err, void *data) {
    struct context_req *req = data;
    struct store_context ctx = { 0 };
    if (err || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 7) {
        req->cb(NULL, err ? err : "unexpected Redis reply", req->data);
        free(req);
        return;
    }
    ctx.persona = r->element[6]->integer ? r->element[0]->str : NULL;
    ctx.flood = r->elements > 7 ? (int)r->element[7]->integer : 0;
    /* The role names the operator code grants (ops/operator.c). */
    static const char *const roles[] = { "user", "moderator", "admin", "owner" };
    for (size_t i = 0; r->elements > 9 && i < r->element[9]->elements; i++)
        for (int k = 1; k < 4; k++)
            if (r->element[9]->element[i]->str && !strcasecmp(r->element[9]->element[i]->str, roles[k]) && k > ctx.role)
                ctx.role = k;
    ctx.muted = r->element[1]->integer != 0;
    ctx.banned = r->element[2]->integer != 0;
    ctx.ignored = r->element[3]->integer != 0;
    ctx.disabled = json_array();
    for (size_t i = 0; i < r->element[4]->elements; i++)
        json_array_append_new(ctx.disabled, json_string(r->element[4]->element[i]->str));
    ctx.overrides = json_object();
    redisReply *h = r->element[5];
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
        json_object_set_new(ctx.overrides, h->element[i]->str, json_string(h->element[i + 1]->str));
    ctx.manners = json_object();
    h = r->elements > 8 ? r->element[8] : NULL;
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
        json_object_set_new(ctx.manners, h->element[i]->str, json_string(h->element[i + 1]->str));
    req->cb(&ctx, NULL, req->data);
    json_decref(ctx.disabled);
    json_decref(ctx.overrides);
    json_decref(ctx.manners);
    free(req);
}

/* OUT = A B C, cut to OUTLEN like snprintf would; the context keys are
 * built for every message, and plain copies cost a fraction of snprintf. */
static void join3(char *out, size_t outlen, const char *a, const char *b, const char *c) {
    const char *parts[3] = { a, b, c };
    size_t j = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]);
        if (j + n >= outlen) n = outlen - 1 - j;
        memcpy(out + j, parts[i], n);
        j += n;
    }
    out[j] = '\0';
}

/* Decimal digits of V (which fits in 17 digits) into OUT, NUL-terminated. */
static void format_digits(char *out, unsigned long long v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *out++ = tmp[--n];
    *out = '\0';
}

/* V for the script's tonumber(): whole numbers as plain digits (the same
 * number %g gives, without its rounding past six digits), others as %g. */
static void format_number(char *out, size_t outlen, double v) {
    if (v >= 0 && v < 1e15 && v == (double)(unsigned long long)v && outlen >= 24)
        format_digits(out, (unsigned long long)v);
    else
        snprintf(out, outlen, "%g", v);
}

/* Seconds to the millisecond ("%.3f"), for the flood buckets' clock. */
static void format_seconds(char *out, size_t outlen, double secs) {
    if (secs < 0 || secs >= 1e12 || outlen < 24) {
        snprintf(out, outlen, "%.3f", secs);
        return;
    }
    unsigned long long ms = (unsigned long long)(secs * 1000.0 + 0.5);
    format_digits(out, ms / 1000);
    size_t n = strlen(out);
    unsigned frac = (unsigned)(ms % 1000);
    out[n] = '.';
    out[n + 1] = (char)('0' + frac / 100);
    out[n + 2] = (char)('0' + frac / 10 % 10);
    out[n + 3] = (char)('0' + frac % 10);
    out[n + 4] = '\0';
}

static int context_read(struct redis_client *rc, const char *platform, const char *channel, const char *user,
                        const char *default_persona, const struct store_flood *flood, store_context_fn *cb, void *data);

/* A context request waiting for the end of the loop's I/O (the cache). */
struct cached_req {
    struct redis_client *rc;
    store_context_fn *cb;
    void *data;
    unsigned long gen;
    char *platform, *channel, *user, *persona;
    char *tag, *ukey;          /* the cache's keys (exact sizes: this is made per message) */
};

static void cached_req_free(struct cached_req *q) {
    free(q->platform);
    free(q->channel);
    free(q->user);
    free(q->persona);
    free(q->tag);
    free(q->ukey);
    free(q);
}

/* The context read from Redis on a cache miss: keep it, pass it on. */
static void on_context_fill(const struct store_context *ctx, const char *err, void *data) {
    struct cached_req *q = data;
    if (!err && ctx && !ctx->flood) redis_tracking_put(q->gen, q->tag, q->ukey, ctx);
    q->cb(ctx, err, q->data);
    cached_req_free(q);
}

/* After this turn's I/O (and so its invalidations): the cache, or Redis. */
static void on_deferred_context(void *data) {
    struct cached_req *q = data;
    const struct store_context *ctx = redis_tracking_active(q->rc) ? redis_tracking_get(q->tag, q->ukey) : NULL;
    redis_tracking_count(ctx != NULL);
    if (ctx) {
        q->cb(ctx, NULL, q->data);
        cached_req_free(q);
        return;
    }
    q->gen = redis_tracking_gen();
    if (context_read(q->rc, q->platform, q->channel, q->user, q->persona, NULL, on_context_fill, q) < 0) {
        q->cb(NULL, "Redis is not connected", q->data);
        cached_req_free(q);
    }
}

int store_job_context(struct redis_client *rc, const char *platform, const char *channel, const char *user,
                      const char *default_persona, const struct store_flood *flood, store_context_fn *cb, void *data) {
    if (!redis_client_ready(rc)) return -1;
    int flood_off = !flood || (flood->user_burst <= 0 && flood->channel_burst <= 0);
    if (!flood_off || !redis_tracking_active(rc))
        return context_read(rc, platform, channel, user, default_persona, flood, cb, data);
    /* The flood buckets are the only part that changes with every message:
     * without them the context is the cache's (redis_tracking.h). */
    struct cached_req *q = xcalloc(1, sizeof(*q));
    char pc[700], tag[800], ukey[700];
    q->rc = rc;
    q->cb = cb;
    q->data = data;
    q->platform = xstrdup(platform);
    q->channel = xstrdup(channel);
    q->user = user ? xstrdup(user) : NULL;
    q->persona = xstrdup(default_persona);
    join3(pc, sizeof(pc), platform, ":", channel);
    store_escape(pc, tag, sizeof(tag));
    dict_key2(ukey, sizeof(ukey), user ? user : "-", default_persona);
    q->tag = xstrdup(tag);
    q->ukey = xstrdup(ukey);
    redis_tracking_defer(on_deferred_context, q);
    return 0;
}

static int context_read(struct redis_client *rc, const char *platform, const char *channel, const char *user,
                        const char *default_persona, const struct store_flood *flood, store_context_fn *cb, void *data) {
    if (!redis_client_ready(rc)) return -1;
    const char *prefix = redis_client_prefix(rc);
    char pkey[1024], mkey[1024], muted[300], banned[300], ignored[300], dis[1400], disall[300], chans[300], pc[700], pu[700], esc[800];
    store_channel_key(rc, platform, channel, ":persona", pkey, sizeof(pkey));
    store_channel_key(rc, platform, channel, ":manners", mkey, sizeof(mkey));
    join3(muted, sizeof(muted), prefix, "muted", "");
    join3(banned, sizeof(banned), prefix, "banned", "");
    join3(ignored, sizeof(ignored), prefix, "ignored", "");
    join3(pc, sizeof(pc), platform, ":", channel);
    join3(pu, sizeof(pu), platform, ":", user ? user : "-");
    store_escape(pc, esc, sizeof(esc));
    join3(dis, sizeof(dis), prefix, "disabled:", esc);
    join3(disall, sizeof(disall), prefix, "disabled:*", "");
    join3(chans, sizeof(chans), prefix, "channels", "");
    struct context_req *req = xmalloc(sizeof(*req));
    req->cb = cb;
    req->data = data;
    char fu[900], fc[900], now[32], ub[24], up[24], cb_[24], cp[24], e2[800], rk[900];
    store_escape(pu, e2, sizeof(e2));
    join3(rk, sizeof(rk), prefix, "roles:", e2);
    join3(fu, sizeof(fu), prefix, "flood:user:", e2);
    join3(fc, sizeof(fc), prefix, "flood:channel:", esc);
    if (flood && flood->scope) {
        size_t nu = strlen(fu), nc = strlen(fc);
        snprintf(fu + nu, sizeof(fu) - nu, "@%s", flood->scope);
        snprintf(fc + nc, sizeof(fc) - nc, "@%s", flood->scope);
    }
    format_seconds(now, sizeof(now), flood ? flood->now : 0);
    format_number(ub, sizeof(ub), flood ? flood->user_burst : 0);
    format_number(up, sizeof(up), flood && flood->user_per_s > 0 ? flood->user_per_s : 1);
    format_number(cb_, sizeof(cb_), flood ? flood->channel_burst : 0);
    format_number(cp, sizeof(cp), flood && flood->channel_per_s > 0 ? flood->channel_per_s : 1);
    if (redis_client_cluster(rc)) {   /* the keys span slots: single-slot commands (store_split.c) */
        const char *const keys[10] = { pkey, muted, banned, ignored, dis, disall, chans, fu, fc, mkey };
        const char *const args[10] = { pc, pu, default_persona, prefix, now, ub, up, cb_, cp, rk };
        if (store_context_split(rc, keys, args, on_context, req) < 0) {
            free(req);
            return -1;
        }
        return 0;
    }
    const char *argv[] = { "EVAL", context_script, "10", pkey, muted, banned, ignored, dis, disall, chans, fu, fc, mkey,
                           pc, pu, default_persona, prefix, now, ub, up, cb_, cp, rk };
    if (redis_command(rc, on_context, req, (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL) < 0) {
        free(req);
        return -1;
    }
    return 0;
}
