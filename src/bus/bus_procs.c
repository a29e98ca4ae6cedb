/* bus_procs.c - every gateway and worker sharing the Redis says who it is,
 * so `chorusctl status` on any one of them lists them all.
 *
 * Each process keeps a hash "<prefix>{bus}:proc:<id>" (id, host, pid,
 * role, partitions or shards held, lag, pending, heartbeat) that expires
 * after lease_ms, and a member of the sorted set "<prefix>{bus}:procs"
 * scored by that expiry. Every heartbeat one script rewrites the hash,
 * prunes the set and returns the live ids; their hashes are then read and
 * kept for status. A process killed with -9 disappears when its hash
 * expires; one stopping cleanly removes itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bus/bus_internal.h"
#include "core/health.h"
#include "core/server.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* KEYS[1] the set, KEYS[2] our hash; ARGV[1] ttl ms, ARGV[2] our id, then
 * field/value pairs. Returns Redis's clock (ms) and the live ids. */
static const char register_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ttl = tonumber(ARGV[1])\n"
    "redis.call('DEL', KEYS[2])\n"
    "redis.call('HSET', KEYS[2], 'heartbeat_ms', now, unpack(ARGV, 3))\n"
    "redis.call('PEXPIRE', KEYS[2], ttl)\n"
    "redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "return {now, redis.call('ZRANGE', KEYS[1], 0, -1)}\n";

static struct {
    int busy;                 /* a registration or its reads are out */
    int waiting;              /* hashes still to come */
    long long now;            /* Redis's clock at the registration */
    json_t *next;             /* the list being read */
    json_t *list;             /* the last complete list */
} pr;

static void key_set(char *out, size_t len) {
    snprintf(out, len, "%s{bus}:procs", redis_client_prefix(server.redis));
}

static void key_proc(char *out, size_t len, const char *id) {
    snprintf(out, len, "%s{bus}:proc:%s", redis_client_prefix(server.redis), id);
}

/* One shard report as JSON: {"discord": {"held": [0, 1], "total": 4}}. */
static void add_shards(const char *platform, const int *ids, int n, int total, void *arg) {
    json_t *held = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(held, json_integer(ids[i]));
    json_object_set_new(arg, platform, json_pack("{s:o, s:i}", "held", held, "total", total));
}

/* A string field as JSON (the lists are stored as JSON text). */
static json_t *field_value(const char *name, const redisReply *v) {
    if (v->type != REDIS_REPLY_STRING) return json_null();
    if (!strcmp(name, "partitions") || !strcmp(name, "shards") || !strcmp(name, "platforms")) {
        json_t *j = json_loadb(v->str, v->len, 0, NULL);
        return j ? j : json_null();
    }
    if (!strcmp(name, "pid") || !strcmp(name, "lag") || !strcmp(name, "pending") || !strcmp(name, "running") ||
        !strcmp(name, "heartbeat_ms") || !strcmp(name, "started_ms"))
        return json_integer(atoll(v->str));
    return json_stringn(v->str, v->len);
}

/* A string member of O, or "". */
static const char *role_or_id(json_t *o, const char *name) {
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : "";
}

static const char *role_of(json_t *o) {
    return role_or_id(o, "role");
}

static int cmp_id(const void *a, const void *b) {
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "id"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "id"));
    return strcmp(x ? x : "", y ? y : "");
}

/* Every hash read: the list, sorted by role then id, replaces the last one. */
static void finish(void) {
    size_t n = json_array_size(pr.next);
    json_t **items = xcalloc(n ? n : 1, sizeof(json_t *));
    for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(pr.next, i));
    qsort(items, n, sizeof(json_t *), cmp_id);
    json_t *sorted = json_array();
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            int gw = !strcmp(role_of(items[i]), "gateway");
            if (gw == (pass == 0)) json_array_append(sorted, items[i]);
        }
    for (size_t i = 0; i < n; i++) json_decref(items[i]);
    free(items);
    json_decref(pr.next);
    pr.next = NULL;
    json_decref(pr.list);
    pr.list = sorted;
    pr.busy = 0;
}

static void on_hash(redisReply *r, const char *err, void *data) {
    (void)data;
    if (!err && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && pr.next) {
        json_t *o = json_object();
        for (size_t i = 0; i + 1 < r->elements; i += 2)
            if (r->element[i]->type == REDIS_REPLY_STRING)
                json_object_set_new(o, r->element[i]->str, field_value(r->element[i]->str, r->element[i + 1]));
        json_int_t hb = json_integer_value(json_object_get(o, "heartbeat_ms"));
        json_object_set_new(o, "heartbeat_age_ms", json_integer(pr.now > hb ? pr.now - hb : 0));
        json_object_set_new(o, "self", json_boolean(!strcmp(role_or_id(o, "id"), bus.id)));
        json_array_append_new(pr.next, o);
    }
    if (--pr.waiting == 0) finish();
}

static void on_registered(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
        if (!err && r->type == REDIS_REPLY_ERROR) log_warn("bus: registering this process: %s", r->str);
        pr.busy = 0;
        return;
    }
    pr.now = r->element[0]->type == REDIS_REPLY_INTEGER ? r->element[0]->integer : 0;
    const redisReply *ids = r->element[1];
    json_decref(pr.next);
    pr.next = json_array();
    pr.waiting = 1;   /* held until every read is sent */
    char key[512];
    for (size_t i = 0; i < ids->elements; i++) {
        if (ids->element[i]->type != REDIS_REPLY_STRING) continue;
        key_proc(key, sizeof(key), ids->element[i]->str);
        const char *argv[2] = { "HGETALL", key };
        if (redis_command(server.redis, on_hash, NULL, 2, argv, NULL) == 0) pr.waiting++;
    }
    if (--pr.waiting == 0) finish();
}

/* What this process holds, as JSON text: worker partitions or gateway shards. */
static char *held_json(void) {
    json_t *a = json_array();
    for (int i = 0; bus.role == BUS_ROLE_WORKER && i < bus.set.partitions; i++)
        if (bus_worker_holds(i)) json_array_append_new(a, json_integer(i));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/* Rewrite our hash and read everyone's (every heartbeat). */
void bus_procs_tick(void) {
    if (pr.busy || bus.stopping || !redis_client_ready(server.redis)) return;
    char set[256], key[512], ttl[24], pid[24], lag[24], pending[24], running[24], started[24], host[128] = "";
    key_set(set, sizeof(set));
    key_proc(key, sizeof(key), bus.id);
    gethostname(host, sizeof(host) - 1);
    snprintf(ttl, sizeof(ttl), "%ld", bus.set.lease_ms);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    long long l = 0, p = 0;
    if (bus.role == BUS_ROLE_GATEWAY) {
        l = bus.egress_lag;
        p = bus.egress_pending;
    } else {
        for (int i = 0; i < bus.set.partitions; i++)
            if (bus_worker_holds(i)) {
                l += bus.stats[i].lag;
                p += bus.stats[i].pending;
            }
    }
    snprintf(lag, sizeof(lag), "%lld", l);
    snprintf(pending, sizeof(pending), "%lld", p);
    snprintf(running, sizeof(running), "%d", bus.role == BUS_ROLE_WORKER ? bus_worker_running() : 0);
    snprintf(started, sizeof(started), "%lld", bus.started_ms);
    json_t *sh = json_object();
    health_shards_each(add_shards, sh);
    char *shards = json_dumps(sh, JSON_COMPACT);
    json_decref(sh);
    json_t *pl = json_array();
    for (int i = 0; bus.role == BUS_ROLE_GATEWAY && platform_at(i); i++)
        if (platform_at(i)->ready) json_array_append_new(pl, json_string(platform_at(i)->ops->name));
    char *platforms = json_dumps(pl, JSON_COMPACT);
    json_decref(pl);
    char *parts = held_json();
    const char *argv[] = { "EVAL", register_script, "2", set, key, ttl, bus.id,
                           "id", bus.id, "host", host, "pid", pid, "role", bus_role_name(bus.role),
                           "gateway", bus.set.gateway, "version", PACKAGE_VERSION, "started_ms", started,
                           "partitions", parts, "shards", shards, "platforms", platforms,
                           "lag", lag, "pending", pending, "running", running };
    if (redis_command(server.redis, on_registered, NULL, (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL) == 0)
        pr.busy = 1;
    free(parts);
    free(shards);
    free(platforms);
}

static void on_left(redisReply *r, const char *err, void *data) {
    (void)r, (void)err, (void)data;
}

/* Leave at once rather than after the TTL. */
void bus_procs_leave(void) {
    if (!redis_client_ready(server.redis)) return;
    char set[256], key[512];
    key_set(set, sizeof(set));
    key_proc(key, sizeof(key), bus.id);
    const char *del[2] = { "DEL", key };
    const char *zrem[3] = { "ZREM", set, bus.id };
    redis_command(server.redis, on_left, NULL, 2, del, NULL);
    redis_command(server.redis, on_left, NULL, 3, zrem, NULL);
}

json_t *bus_procs_json(void) {
    return pr.list ? json_incref(pr.list) : json_array();
}

void bus_procs_free(void) {
    json_decref(pr.list);
    json_decref(pr.next);
    memset(&pr, 0, sizeof(pr));
}
