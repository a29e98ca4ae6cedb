/* bus.c - what both roles share: keys, the blocking connection, the status
 * tick that reads lag and pending counts, readiness and metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bus/bus_internal.h"
#include "conf/config.h"
#include "core/health.h"
#include "core/runtime.h"
#include "core/server.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

struct bus bus;

static const char *prefix(void) {
    return redis_client_prefix(server.redis);
}

void bus_key_ingress(char *out, size_t len, int part) {
    snprintf(out, len, "%sin:{in}:p%d", prefix(), part);
}

void bus_key_egress(char *out, size_t len, const char *gateway, const char *id) {
    if (id) snprintf(out, len, "%sout:{gw:%s}:%s", prefix(), gateway, id);
    else snprintf(out, len, "%sout:{gw:%s}", prefix(), gateway);
}

void bus_key_gateways(char *out, size_t len, const char *gateway) {
    snprintf(out, len, "%sgateways:{gw:%s}", prefix(), gateway);
}

void bus_key_heir(char *out, size_t len, const char *gateway) {
    snprintf(out, len, "%sheir:{gw:%s}:", prefix(), gateway);
}

void bus_route_args(struct bus_route_args *a, const char *gateway) {
    bus_key_gateways(a->live, sizeof(a->live), gateway);
    bus_key_egress(a->spre, sizeof(a->spre), gateway, "");
    bus_key_heir(a->hpre, sizeof(a->hpre), gateway);
    snprintf(a->lease, sizeof(a->lease), "%ld", bus.set.lease_ms);
    snprintf(a->ttl, sizeof(a->ttl), "%ld", bus.set.dedupe_ttl_s);
    bus_key_egress(a->shared, sizeof(a->shared), gateway, NULL);
}

void bus_key_lease(char *out, size_t len, int part) {
    snprintf(out, len, "%slease:{in}:p%d", prefix(), part);
}

void bus_key_dedupe(char *out, size_t len, int part, const char *ev) {
    snprintf(out, len, "%sdd:{p%d}:%s", prefix(), part, ev);
}

void bus_key_reply(char *out, size_t len, const char *gateway, const char *ev, int n) {
    snprintf(out, len, "%srk:{gw:%s}:%s:%d", prefix(), gateway, ev, n);
}

void bus_key_workers(char *out, size_t len) {
    snprintf(out, len, "%sbus:workers", prefix());
}

void bus_count(const char *event) {
    metrics_inc(METRIC_BUS_EVENTS, event, 1);
}

const redisReply *bus_field(const redisReply *fields, const char *name) {
    return redis_reply_field(fields, name);
}

void bus_entries_each(const redisReply *entries, const char *stream,
                      void (*fn)(const char *stream, const char *id, const redisReply *fields, void *arg), void *arg) {
    if (!entries || entries->type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        /* A trimmed entry still pending comes back as [id, nil]. */
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING) continue;
        fn(stream, e->element[0]->str, e->element[1], arg);
    }
}

void bus_read_reply_each(const redisReply *r,
                         void (*fn)(const char *stream, const char *id, const redisReply *fields, void *arg), void *arg) {
    if (!r || r->type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *s = r->element[i];
        if (s->type != REDIS_REPLY_ARRAY || s->elements < 2 || s->element[0]->type != REDIS_REPLY_STRING) continue;
        bus_entries_each(s->element[1], s->element[0]->str, fn, arg);
    }
}

static void on_group_created(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err) log_warn("bus: creating a consumer group: %s", err);
    else if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)
        log_warn("bus: creating a consumer group: %s", r->str);
}

void bus_group_create(const char *key, const char *group, redis_reply_fn *cb, void *data) {
    const char *argv[6] = { "XGROUP", "CREATE", key, group, "0", "MKSTREAM" };
    if (redis_command(server.redis, cb ? cb : on_group_created, data, 6, argv, NULL) < 0 && cb)
        cb(NULL, "Redis is not connected", data);
}

/* The blocking connection's CLIENT ID, for CLIENT UNBLOCK. */
static void on_client_id(redisReply *r, const char *err, void *data) {
    (void)data;
    if (!err && r->type == REDIS_REPLY_INTEGER) bus.block_client_id = r->integer;
}

static void (*block_ready_fn)(void);

/* The blocking connection is (back) up: learn its id, then let the role read.
 * In a cluster both go to the master of the ingress streams' slot. */
static void on_block_ready(void) {
    const char *argv[2] = { "CLIENT", "ID" };
    char key[256];
    bus_key_ingress(key, sizeof(key), 0);
    bus.block_client_id = 0;
    redis_command_near(bus.block, key, on_client_id, NULL, 2, argv, NULL);
    if (block_ready_fn) block_ready_fn();
}

int bus_block_open(void (*on_ready)(void), char *err, size_t errlen) {
    struct redis_options ro;
    redis_options_from_json(&ro, server.rt->cfg->redis_opts);
    ro.timeout_ms += bus.set.block_ms;
    bus.block = redis_client_new(server.loop, server.redis_url, &ro, err, errlen);
    if (!bus.block) return -1;
    block_ready_fn = on_ready;
    redis_client_on_ready(bus.block, on_block_ready);
    return 0;
}

void bus_unblock(redis_reply_fn *cb) {
    char id[32];
    snprintf(id, sizeof(id), "%lld", bus.block_client_id);
    const char *argv[3] = { "CLIENT", "UNBLOCK", id };
    char key[256];
    bus_key_ingress(key, sizeof(key), 0);
    if (!bus.block_client_id || redis_command_near(server.redis, key, cb, NULL, 3, argv, NULL) < 0) cb(NULL, "not connected", NULL);
}

/* ---- the status tick ------------------------------------------------ */

/* One group's numbers from XINFO GROUPS (a flat name/value list per group). */
static void group_numbers(const redisReply *r, const char *group, long long *lag, long long *pending) {
    *lag = 0;
    *pending = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) return;
    for (size_t g = 0; g < r->elements; g++) {
        const redisReply *kv = r->element[g];
        const redisReply *name = bus_field(kv, "name");
        if (!name || name->type != REDIS_REPLY_STRING || strcmp(name->str, group)) continue;
        const redisReply *v = bus_field(kv, "pending");
        if (v && v->type == REDIS_REPLY_INTEGER) *pending = v->integer;
        v = bus_field(kv, "lag");
        if (v && v->type == REDIS_REPLY_INTEGER) *lag = v->integer;
    }
}

static void on_part_info(redisReply *r, const char *err, void *data) {
    int part = (int)(intptr_t)data;
    if (err || !bus.stats || part >= bus.set.partitions) return;
    group_numbers(r, BUS_GROUP_WORKERS, &bus.stats[part].lag, &bus.stats[part].pending);
}

static void on_egress_info(redisReply *r, const char *err, void *data) {
    (void)data;
    if (!err) group_numbers(r, BUS_GROUP_GATEWAY, &bus.egress_lag, &bus.egress_pending);
}

static void on_owners(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err || r->type != REDIS_REPLY_ARRAY || !bus.stats) return;
    for (size_t i = 0; i < r->elements && (int)i < bus.set.partitions; i++)
        snprintf(bus.stats[i].owner, sizeof(bus.stats[i].owner), "%s",
                 r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "");
}

static void on_workers(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err || r->type != REDIS_REPLY_ARRAY) return;
    json_decref(bus.workers);
    bus.workers = json_array();
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING) json_array_append_new(bus.workers, json_string(r->element[i]->str));
}

static void (*tick_extra)(void);

/* Read what status shows: every partition's lag, pending count and owner. */
static void on_tick(uv_timer_t *t) {
    (void)t;
    if (tick_extra) tick_extra();
    if (!redis_client_ready(server.redis)) return;
    char key[256];
    for (int i = 0; i < bus.set.partitions; i++) {
        bus_key_ingress(key, sizeof(key), i);
        const char *argv[3] = { "XINFO", "GROUPS", key };
        redis_command(server.redis, on_part_info, (void *)(intptr_t)i, 3, argv, NULL);
    }
    if (bus.role == BUS_ROLE_GATEWAY) {
        bus_key_egress(key, sizeof(key), bus.set.gateway, bus.id);
        const char *argv[3] = { "XINFO", "GROUPS", key };
        redis_command(server.redis, on_egress_info, NULL, 3, argv, NULL);
    }
    int n = bus.set.partitions;
    const char **argv = xcalloc((size_t)n + 1, sizeof(char *));
    char **keys = xcalloc((size_t)n, sizeof(char *));
    argv[0] = "MGET";
    for (int i = 0; i < n; i++) {
        keys[i] = xmalloc(256);
        bus_key_lease(keys[i], 256, i);
        argv[i + 1] = keys[i];
    }
    redis_command(server.redis, on_owners, NULL, n + 1, argv, NULL);
    for (int i = 0; i < n; i++) free(keys[i]);
    free(keys);
    free(argv);
    bus_key_workers(key, sizeof(key));
    const char *zr[4] = { "ZRANGE", key, "0", "-1" };
    redis_command(server.redis, on_workers, NULL, 4, zr, NULL);
    bus_procs_tick();
}

void bus_redis_ready(void) {
    if (bus.role != BUS_ROLE_ALL && bus.tick_open && !bus.stopping) on_tick(&bus.tick);
}

void bus_tick_start(void (*extra)(void)) {
    tick_extra = extra;
    uv_timer_init(server.loop, &bus.tick);
    bus.tick_open = 1;
    uv_timer_start(&bus.tick, on_tick, 0, (uint64_t)bus.set.heartbeat_ms);
}

/* ---- readiness, metrics, status --------------------------------------- */

/* /readyz: a gateway needs its egress reader, a worker its membership. */
static int bus_ready(char *why, size_t len) {
    if (bus.stopping) {
        snprintf(why, len, "the %s is stopping", bus_role_name(bus.role));
        return -1;
    }
    if (!bus.block || !redis_client_ready(bus.block)) {
        snprintf(why, len, "the stream connection is down (%s)", redis_client_error(bus.block));
        return -1;
    }
    if (!bus.reader_up) {
        snprintf(why, len, bus.role == BUS_ROLE_GATEWAY ? "the egress stream is not read yet"
                                                        : "the worker has not joined yet");
        return -1;
    }
    return 0;
}

static void bus_gauges(void) {
    char label[128];
    metrics_set(METRIC_BUS_ROLE, bus_role_name(bus.role), 1);
    if (bus.role == BUS_ROLE_WORKER) metrics_set(METRIC_BUS_PARTITIONS, "held", bus.held);
    for (int i = 0; bus.stats && i < bus.set.partitions; i++) {
        snprintf(label, sizeof(label), "in:{p%d}", i);
        metrics_set(METRIC_BUS_LAG, label, (double)bus.stats[i].lag);
        metrics_set(METRIC_BUS_PENDING, label, (double)bus.stats[i].pending);
    }
    if (bus.role == BUS_ROLE_GATEWAY) {
        snprintf(label, sizeof(label), "out:{gw:%s}", bus.set.gateway);
        metrics_set(METRIC_BUS_LAG, label, (double)bus.egress_lag);
        metrics_set(METRIC_BUS_PENDING, label, (double)bus.egress_pending);
    }
}

/* Common setup of both roles. */
void bus_common_init(enum bus_role role, const struct bus_settings *s);
void bus_common_init(enum bus_role role, const struct bus_settings *s) {
    char host[64] = "host";
    memset(&bus, 0, sizeof(bus));
    bus.role = role;
    bus.set = *s;
    gethostname(host, sizeof(host) - 1);
    snprintf(bus.id, sizeof(bus.id), "%s-%s-%d-%04x", role == BUS_ROLE_GATEWAY ? s->gateway : "w", host,
             (int)getpid(), (unsigned)(rand() & 0xffff));
    bus.stats = xcalloc((size_t)s->partitions, sizeof(*bus.stats));
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) == 0) bus.started_ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    health_set_role(bus_ready, bus_gauges);
    metrics_set(METRIC_BUS_ROLE, bus_role_name(role), 1);
}

json_t *bus_status(void) {
    if (bus.role == BUS_ROLE_ALL || !bus.stats) return NULL;
    json_t *parts = json_array();
    long long lag = 0, pending = 0;
    for (int i = 0; i < bus.set.partitions; i++) {
        lag += bus.stats[i].lag;
        pending += bus.stats[i].pending;
        json_array_append_new(parts, json_pack("{s:i, s:s, s:I, s:I}", "partition", i, "owner", bus.stats[i].owner,
                                               "lag", (json_int_t)bus.stats[i].lag, "pending", (json_int_t)bus.stats[i].pending));
    }
    json_t *st = json_pack("{s:s, s:s, s:i, s:I, s:I, s:o, s:o}", "role", bus_role_name(bus.role), "id", bus.id,
                           "partitions", bus.set.partitions, "ingress_lag", (json_int_t)lag,
                           "ingress_pending", (json_int_t)pending, "streams", parts,
                           "workers", bus.workers ? json_incref(bus.workers) : json_array());
    json_object_set_new(st, "processes", bus_procs_json());
    if (bus.role == BUS_ROLE_GATEWAY) {
        json_object_set_new(st, "gateway", json_string(bus.set.gateway));
        json_object_set_new(st, "egress_lag", json_integer(bus.egress_lag));
        json_object_set_new(st, "egress_pending", json_integer(bus.egress_pending));
    } else {
        bus_worker_status(st);
    }
    return st;
}

void bus_stop(void) {
    if (bus.role == BUS_ROLE_ALL || bus.stopping) return;
    bus.stopping = 1;
    bus_procs_leave();
    if (bus.role == BUS_ROLE_GATEWAY) bus_gateway_stop();
    else bus_worker_stop();
    if (bus.tick_open) {
        uv_timer_stop(&bus.tick);
        uv_close((uv_handle_t *)&bus.tick, NULL);
        bus.tick_open = 0;
    }
    redis_client_free(bus.block);
    bus.block = NULL;
}

void bus_free(void) {
    if (bus.role == BUS_ROLE_ALL) return;
    if (bus.role == BUS_ROLE_GATEWAY) bus_gateway_free();
    else bus_worker_free();
    health_set_role(NULL, NULL);
    free(bus.stats);
    bus.stats = NULL;
    json_decref(bus.workers);
    bus.workers = NULL;
    bus_procs_free();
    bus.role = BUS_ROLE_ALL;
}

/* Entries below the floor of every group (its oldest unacknowledged entry,
 * or its last delivered one when nothing is pending) are trimmed; nothing
 * undelivered or unacknowledged ever is. MINID ~ removes whole nodes only. */
static const char trim_script[] =
    "local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])\n"
    "if not ok or #groups == 0 then return 0 end\n"
    "local function cmp(a, b)\n"
    "  local am, as = string.match(a, '(%d+)-(%d+)')\n"
    "  local bm, bs = string.match(b, '(%d+)-(%d+)')\n"
    "  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)\n"
    "  if am ~= bm then return am < bm end\n"
    "  return as < bs\n"
    "end\n"
    "local floor = nil\n"
    "for _, g in ipairs(groups) do\n"
    "  local name, last\n"
    "  for i = 1, #g, 2 do\n"
    "    if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end\n"
    "  end\n"
    "  local p = redis.call('XPENDING', KEYS[1], name)\n"
    "  local f = last\n"
    "  if p[1] > 0 then f = p[2] end\n"
    "  if floor == nil or cmp(f, floor) then floor = f end\n"
    "end\n"
    "if floor == '0-0' then return 0 end\n"
    "return redis.call('XTRIM', KEYS[1], 'MINID', '~', floor)\n";

static void on_trimmed(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err) return;
    if (r->type == REDIS_REPLY_ERROR) log_warn("bus: trimming a stream: %s", r->str);
    else if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) metrics_inc(METRIC_BUS_EVENTS, "trimmed", (double)r->integer);
}

void bus_trim(const char *key) {
    const char *argv[4] = { "EVAL", trim_script, "1", key };
    redis_command(server.redis, on_trimmed, NULL, 4, argv, NULL);
}
