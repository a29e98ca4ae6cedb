/* recall_store.c - recall's records in Redis (keys in recall_store.h), an
 * in-memory copy of each channel's vectors that reads only what is new, and
 * the two operations: find (embed, search, read the turns) and store
 * (embed, append). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/redis_client.h"
#include "io/store.h"
#include "lib/dict.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "model/embed.h"
#include "model/model.h"
#include "persona/recall.h"
#include "persona/recall_store.h"

#define RECALL_MAX_K 32
#define RECALL_CACHE_BYTES ((size_t)512 << 20)   /* vectors kept in memory, all channels */

/* The vectors and their generation; new records arrive as a tail. KEYS: vec, meta. ARGV: cached gen, cached bytes. */
static const char fetch_script[] =
    "local gen = redis.call('HGET', KEYS[2], 'gen') or '0' "
    "local dim = redis.call('HGET', KEYS[2], 'dim') or '0' "
    "if gen ~= ARGV[1] then return { gen, dim, 0, redis.call('GET', KEYS[1]) or '' } end "
    "return { gen, dim, tonumber(ARGV[2]), redis.call('GETRANGE', KEYS[1], ARGV[2], -1) }";

/* The turns at these indices, unless the records moved. KEYS: turns, meta. ARGV: gen, indices... */
static const char turns_script[] =
    "if (redis.call('HGET', KEYS[2], 'gen') or '0') ~= ARGV[1] then return {} end "
    "local out = {} "
    "for i = 2, #ARGV do out[#out + 1] = redis.call('LINDEX', KEYS[1], ARGV[i]) or '' end "
    "return out";

/* Append records and turns; a new model (or size) starts over; over the
 * cap the oldest tenth goes. KEYS: vec, turns, meta. ARGV: dim, model, max
 * turns, ttl, then record, turn pairs. */
static const char append_script[] =
    "local dim = tonumber(ARGV[1]) "
    "if tonumber(redis.call('HGET', KEYS[3], 'dim') or '0') ~= dim or redis.call('HGET', KEYS[3], 'model') ~= ARGV[2] then "
    "  redis.call('DEL', KEYS[1], KEYS[2]) "
    "  redis.call('HSET', KEYS[3], 'dim', dim, 'model', ARGV[2]) "
    "  redis.call('HINCRBY', KEYS[3], 'gen', 1) "
    "end "
    "for i = 5, #ARGV, 2 do redis.call('APPEND', KEYS[1], ARGV[i]) redis.call('RPUSH', KEYS[2], ARGV[i + 1]) end "
    "local n = redis.call('LLEN', KEYS[2]) "
    "local max = tonumber(ARGV[3]) "
    "if max > 0 and n > max then "
    "  local cut = n - math.floor(max * 0.9) "
    "  redis.call('LTRIM', KEYS[2], cut, -1) "
    "  redis.call('SET', KEYS[1], redis.call('GETRANGE', KEYS[1], cut * dim, -1)) "
    "  redis.call('HINCRBY', KEYS[3], 'gen', 1) "
    "  n = n - cut "
    "end "
    "if tonumber(ARGV[4]) > 0 then for k = 1, 3 do redis.call('EXPIRE', KEYS[k], ARGV[4]) end end "
    "return n";

struct cache_entry {
    char gen[32];
    int dim;
    int8_t *recs;
    size_t len, cap;
    uint64_t used;       /* a tick of the last use, for eviction */
};

static struct dict *cache;
static size_t cache_bytes;
static uint64_t cache_tick;

struct recall_op {
    int storing;
    struct redis_client *rc;
    struct embed_call *ec;
    int redis_pending, cancelled;
    char vec[1200], turns[1200], meta[1200], model[160];
    struct recall_opts o;
    recall_found_fn *found;
    recall_stored_fn *stored;
    void *data;
    /* find */
    int8_t *query;
    int dim;
    struct recall_hit hits[RECALL_MAX_K];
    int nhits;
    char gen[32];
    /* store */
    json_t *list;
    int8_t *known;
    int known_dim, known_at;
    int slots[EMBED_MAX_INPUTS];   /* the turns being embedded */
    int nslots;
};

void recall_key(struct redis_client *rc, const struct recall_where *w, const char *part, char *out, size_t outlen) {
    char suffix[200];
    snprintf(suffix, sizeof(suffix), ":recall:%s:%s", w->persona, part);
    store_channel_key(rc, w->platform, w->channel, suffix, out, outlen);
}

static void entry_free(const char *key, void *value, void *arg) {
    (void)key;
    (void)arg;
    struct cache_entry *e = value;
    free(e->recs);
    free(e);
}

void recall_cache_clear(void) {
    if (!cache) return;
    dict_each(cache, entry_free, NULL);
    dict_free(cache);
    cache = NULL;
    cache_bytes = 0;
}

struct oldest {
    const char *key;
    uint64_t used;
};

static void find_oldest(const char *key, void *value, void *arg) {
    struct oldest *o = arg;
    struct cache_entry *e = value;
    if (!o->key || e->used < o->used) {
        o->key = key;
        o->used = e->used;
    }
}

static void cache_drop(const char *key) {
    struct cache_entry *e = dict_del(cache, key);
    if (!e) return;
    cache_bytes -= e->cap;
    entry_free(key, e, NULL);
}

/* Make room for BYTES more, dropping the least recently used copies (never KEEP). */
static void cache_room(size_t bytes, const char *keep) {
    while (cache_bytes + bytes > RECALL_CACHE_BYTES && dict_size(cache) > 1) {
        struct oldest o = { 0 };
        dict_each(cache, find_oldest, &o);
        if (!o.key || !strcmp(o.key, keep)) break;
        char key[1200];
        snprintf(key, sizeof(key), "%s", o.key);
        cache_drop(key);
    }
}

/* The channel's copy brought up to date with a fetch reply; NULL if unusable. */
static struct cache_entry *cache_update(const char *key, const char *gen, int dim, long from, const char *bytes, size_t len) {
    if (!cache) cache = dict_new();
    struct cache_entry *e = dict_get(cache, key);
    if (e && (strcmp(e->gen, gen) || e->dim != dim || (size_t)from > e->len)) {
        cache_drop(key);
        e = NULL;
    }
    if (!e) {
        if (from != 0) return NULL;      /* a tail for a copy we no longer have: read it all next time */
        e = xcalloc(1, sizeof(*e));
        snprintf(e->gen, sizeof(e->gen), "%s", gen);
        e->dim = dim;
        dict_set(cache, key, e);
    }
    size_t have = e->len - (size_t)from;   /* bytes of this reply we already hold */
    if (len > have) {
        size_t add = len - have;
        if (e->len + add > e->cap) {
            size_t cap = e->cap ? e->cap : 4096;
            while (cap < e->len + add) cap *= 2;
            cache_room(cap - e->cap, key);
            e->recs = xrealloc(e->recs, cap);
            cache_bytes += cap - e->cap;
            e->cap = cap;
        }
        memcpy(e->recs + e->len, bytes + have, add);
        e->len += add;
    }
    e->used = ++cache_tick;
    return e;
}

static void op_free(struct recall_op *op) {
    free(op->query);
    free(op->known);
    json_decref(op->list);
    free(op);
}

static void found(struct recall_op *op, json_t *hits, const char *err) {
    if (!op->cancelled) op->found(hits, err, op->query, op->dim, op->data);
    op_free(op);
}

static void stored(struct recall_op *op, long n, const char *err) {
    if (!op->cancelled) op->stored(n, err, op->data);
    op_free(op);
}

/* The turns of the hits: the answer of the search. */
static void on_turns(redisReply *r, const char *err, void *data) {
    struct recall_op *op = data;
    op->redis_pending = 0;
    if (err || !r || r->type != REDIS_REPLY_ARRAY) {
        found(op, NULL, err ? err : r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected Redis reply");
        return;
    }
    json_t *hits = json_array();
    for (size_t i = 0; i < r->elements && (int)i < op->nhits; i++) {
        json_t *t = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);
        json_t *content = json_object_get(t, "content");
        if (json_is_string(content)) {
            json_t *name = json_object_get(t, "name");
            const char *role = json_string_value(json_object_get(t, "role"));
            json_array_append_new(hits, json_pack("{s:s, s:O, s:s, s:f, s:I}", "role", role ? role : "user", "content", content, "name", json_is_string(name) ? json_string_value(name) : "",
                                                  "score", (double)op->hits[i].score, "index", (json_int_t)op->hits[i].index));
        }
        json_decref(t);
    }
    found(op, hits, NULL);
    json_decref(hits);
}

/* The vectors (or their new tail): search, then read the best turns. */
static void on_vectors(redisReply *r, const char *err, void *data) {
    struct recall_op *op = data;
    op->redis_pending = 0;
    if (err || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        found(op, NULL, err ? err : r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected Redis reply");
        return;
    }
    if (op->cancelled) {
        op_free(op);
        return;
    }
    int dim = atoi(r->element[1]->str);
    snprintf(op->gen, sizeof(op->gen), "%s", r->element[0]->str);
    struct cache_entry *e = NULL;
    if (dim == op->dim)
        e = cache_update(op->vec, op->gen, dim, (long)r->element[2]->integer, r->element[3]->str, r->element[3]->len);
    long n = e ? (long)(e->len / (size_t)dim) - op->o.exclude : 0;
    op->nhits = n > 0 ? recall_top_k(e->recs, n, dim, op->query, op->o.k, op->o.min_score, op->hits) : 0;
    if (op->nhits == 0) {
        json_t *none = json_array();
        found(op, none, NULL);
        json_decref(none);
        return;
    }
    const char *argv[4 + 1 + RECALL_MAX_K];
    char idx[RECALL_MAX_K][24];
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = turns_script;
    argv[argc++] = "2";
    argv[argc++] = op->turns;
    argv[argc++] = op->meta;
    argv[argc++] = op->gen;
    for (int i = 0; i < op->nhits; i++) {
        snprintf(idx[i], sizeof(idx[i]), "%ld", op->hits[i].index);
        argv[argc++] = idx[i];
    }
    if (redis_command(op->rc, on_turns, op, argc, argv, NULL) < 0) {
        found(op, NULL, "Redis is not available");
        return;
    }
    op->redis_pending = 1;
}

static void on_query_embedded(const struct embed_result *res, void *data) {
    struct recall_op *op = data;
    op->ec = NULL;
    if (res->error) {
        found(op, NULL, res->error);
        return;
    }
    op->dim = res->dim;
    op->query = xmalloc((size_t)res->dim);
    recall_quantize(res->vecs, res->dim, op->query);
    struct cache_entry *e = cache ? dict_get(cache, op->vec) : NULL;
    char from[32];
    snprintf(from, sizeof(from), "%zu", e ? e->len : 0);
    const char *argv[7] = { "EVAL", fetch_script, "2", op->vec, op->meta, e ? e->gen : "", from };
    if (redis_command(op->rc, on_vectors, op, 7, argv, NULL) < 0) {
        found(op, NULL, "Redis is not available");
        return;
    }
    op->redis_pending = 1;
}

static struct recall_op *op_new(struct redis_client *rc, const struct model *m, const struct recall_where *w,
                                const struct recall_opts *o) {
    struct recall_op *op = xcalloc(1, sizeof(*op));
    op->rc = rc;
    op->o = *o;
    if (op->o.k > RECALL_MAX_K) op->o.k = RECALL_MAX_K;
    recall_key(rc, w, "vec", op->vec, sizeof(op->vec));
    recall_key(rc, w, "turns", op->turns, sizeof(op->turns));
    recall_key(rc, w, "meta", op->meta, sizeof(op->meta));
    snprintf(op->model, sizeof(op->model), "%s", m->name);
    return op;
}

struct recall_op *recall_find(uv_loop_t *loop, struct redis_client *rc, struct http_client *hc, const struct model *m,
                              const struct recall_where *w, const char *text, const struct recall_opts *o,
                              recall_found_fn *cb, void *data) {
    struct recall_op *op = op_new(rc, m, w, o);
    op->found = cb;
    op->data = data;
    char err[300];
    const char *texts[1] = { text };
    op->ec = embed_start(loop, hc, m, texts, 1, on_query_embedded, op, err, sizeof(err));
    if (!op->ec) {
        log_warn("recall: %s", err);
        op_free(op);
        return NULL;
    }
    return op;
}

static void on_appended(redisReply *r, const char *err, void *data) {
    struct recall_op *op = data;
    op->redis_pending = 0;
    if (err || !r || r->type != REDIS_REPLY_INTEGER) stored(op, 0, err ? err : r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected Redis reply");
    else stored(op, (long)r->integer, NULL);
}

/* Send the records we have: the known one and those just embedded (RES,
 * or NULL). Returns 1 when sent, else 0 with *ERR (NULL: nothing to store). */
static int append(struct recall_op *op, const struct embed_result *res, const char **err) {
    size_t n = json_array_size(op->list);
    int dim = res && !res->error ? res->dim : op->known_dim;
    int8_t *recs = xcalloc(n ? n : 1, (size_t)(dim > 0 ? dim : 1));
    char **texts = xcalloc(n ? n : 1, sizeof(char *));
    const char **argv = xcalloc(2 * n + 12, sizeof(char *));
    size_t *lens = xcalloc(2 * n + 12, sizeof(size_t));
    char sdim[16], max[24], ttl[24], model[200];
    snprintf(sdim, sizeof(sdim), "%d", dim);
    snprintf(max, sizeof(max), "%ld", op->o.max_turns);
    snprintf(ttl, sizeof(ttl), "%ld", op->o.ttl_s);
    snprintf(model, sizeof(model), "%s/%d", op->model, dim);
    int argc = 0;
    const char *head[8] = { "EVAL", append_script, "3", op->vec, op->turns, op->meta, sdim, model };
    for (int i = 0; i < 8; i++) argv[argc++] = head[i];
    argv[argc++] = max;
    argv[argc++] = ttl;
    int have = 0;
    for (size_t i = 0; i < n && dim > 0; i++) {
        int8_t *rec = recs + i * (size_t)dim;
        int ok = 0;
        if ((int)i == op->known_at && op->known && op->known_dim == dim) {
            memcpy(rec, op->known, (size_t)dim);
            ok = 1;
        }
        for (int s = 0; s < op->nslots && res && !res->error; s++)
            if (op->slots[s] == (int)i) {
                recall_quantize(res->vecs + (size_t)s * (size_t)dim, dim, rec);
                ok = 1;
            }
        if (!ok) continue;
        texts[i] = json_dumps(json_array_get(op->list, i), JSON_COMPACT);
        if (!texts[i]) continue;
        argv[argc] = (const char *)rec;
        lens[argc++] = (size_t)dim;
        argv[argc++] = texts[i];
        have++;
    }
    for (int i = 0; i < argc; i++)
        if (!lens[i]) lens[i] = strlen(argv[i]);
    *err = NULL;
    if (!have) *err = res && res->error ? res->error : NULL;
    else if (redis_command(op->rc, on_appended, op, argc, argv, lens) < 0) *err = "Redis is not available";
    else op->redis_pending = 1;
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(recs);
    free(argv);
    free(lens);
    return op->redis_pending;
}

static void on_turns_embedded(const struct embed_result *res, void *data) {
    struct recall_op *op = data;
    op->ec = NULL;
    if (res->error) log_warn("recall: turns stored without their vectors: %s", res->error);
    const char *err;
    if (!append(op, res, &err)) stored(op, 0, err);
}

struct recall_op *recall_store(uv_loop_t *loop, struct redis_client *rc, struct http_client *hc, const struct model *m,
                               const struct recall_where *w, json_t *turns, const int8_t *known, int known_dim,
                               int known_at, const struct recall_opts *o, recall_stored_fn *cb, void *data) {
    struct recall_op *op = op_new(rc, m, w, o);
    op->storing = 1;
    op->stored = cb;
    op->data = data;
    op->list = json_incref(turns);
    if (known && known_dim > 0) {
        op->known = xmalloc((size_t)known_dim);
        memcpy(op->known, known, (size_t)known_dim);
        op->known_dim = known_dim;
    }
    op->known_at = known ? known_at : -1;
    const char *texts[EMBED_MAX_INPUTS];
    for (size_t i = 0; i < json_array_size(turns) && op->nslots < EMBED_MAX_INPUTS; i++) {
        const char *c = json_string_value(json_object_get(json_array_get(turns, i), "content"));
        if (!c || !*c || (int)i == op->known_at) continue;   /* servers refuse empty input */
        texts[op->nslots] = c;
        op->slots[op->nslots++] = (int)i;
    }
    const char *why;
    if (op->nslots == 0) {
        if (append(op, NULL, &why)) return op;
        op_free(op);
        return NULL;
    }
    char err[300];
    op->ec = embed_start(loop, hc, m, texts, op->nslots, on_turns_embedded, op, err, sizeof(err));
    if (!op->ec) {
        log_warn("recall: %s", err);
        op_free(op);
        return NULL;
    }
    return op;
}

void recall_cancel(struct recall_op *op) {
    if (!op) return;
    if (op->ec) {
        embed_cancel(op->ec);
        op_free(op);
        return;
    }
    op->cancelled = 1;   /* a Redis reply is on its way: it frees the operation */
}
