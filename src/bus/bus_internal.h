/* bus_internal.h - what the gateway and worker halves of the bus share. */
#ifndef CHORUS_BUS_INTERNAL_H
#define CHORUS_BUS_INTERNAL_H
#include <stddef.h>
#include <hiredis/hiredis.h>
#include "bus/bus.h"
#include "io/redis_client.h"

#define BUS_GROUP_WORKERS "workers"
#define BUS_GROUP_GATEWAY "gateway"

/* Per partition, as last read from Redis (status and metrics). */
struct bus_part_stat {
    long long lag, pending;
    char owner[96];
};

struct bus {
    enum bus_role role;
    struct bus_settings set;
    char id[96];                 /* this process: consumer name and lease value */
    struct redis_client *block;  /* the dedicated connection for blocking reads */
    long long block_client_id;   /* its CLIENT ID, to CLIENT UNBLOCK it */
    uv_timer_t tick;
    int tick_open;
    struct bus_part_stat *stats; /* [partitions] */
    long long egress_lag, egress_pending;
    json_t *workers;             /* live worker ids, last seen */
    int held;                    /* partitions held (worker) */
    int reader_up;               /* the blocking reader has its group(s) and reads */
    int stopping;
    long long started_ms;        /* wall clock at start, for status */
};

extern struct bus bus;

/* Keys: "<prefix>in:{in}:p3", "<prefix>out:{gw:main}" and the like; the
 * braces are Cluster hash tags keeping everything one operation touches in
 * one slot. Every ingress stream and lease shares {in}, so a worker's one
 * XREADGROUP over its partitions (and the status MGET of the leases) is
 * one slot; event keys spread as dd:{pN}:... (docs/state.md). */
void bus_key_ingress(char *out, size_t len, int part);
/* Gateway process ID's egress stream, "<prefix>out:{gw:NAME}:ID"; with ID
 * NULL the shared stream "<prefix>out:{gw:NAME}", where replies no live
 * gateway could take wait. */
void bus_key_egress(char *out, size_t len, const char *gateway, const char *id);
/* The live gateway processes of NAME (a sorted set scored by heartbeat),
 * and the prefix of the keys naming the heir of a dead one's stream. */
void bus_key_gateways(char *out, size_t len, const char *gateway);
void bus_key_heir(char *out, size_t len, const char *gateway);
void bus_key_lease(char *out, size_t len, int part);
void bus_key_dedupe(char *out, size_t len, int part, const char *ev);
void bus_key_reply(char *out, size_t len, const char *gateway, const char *ev, int n);
void bus_key_workers(char *out, size_t len);

/* Lua shared by the worker's reply script and the gateway's heartbeat:
 * which gateway process sends what is addressed to a given one. KEYS[1]
 * the live set; ARGV[1] the stream prefix ("<prefix>out:{gw:NAME}:"),
 * ARGV[2] the heir key prefix, ARGV[3] lease ms, ARGV[4] TTL s of heir
 * keys, ARGV[5] the shared stream. route(id): ID while its heartbeat is
 * younger than the lease; else its heir, chosen the first time (the first
 * live gateway by name, again if that one died too), which is handed
 * ID's stream (when there still is one): what ID's reader had not acknowledged (its pending entries, then those never delivered) is
 * appended to the heir's stream and ID's stream deleted, in one script, so
 * what is written for ID afterwards comes behind it. nil while no gateway
 * is live. Everything shares the hash tag {gw:NAME}. */
#define BUS_LUA_ROUTE \
    "local t = redis.call('TIME')\n" \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
    "local spre, hpre, lease, httl, shared = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]\n" \
    "local moved = 0\n" \
    "local function live(id)\n" \
    "  local s = redis.call('ZSCORE', KEYS[1], id)\n" \
    "  return s and tonumber(s) > now - lease\n" \
    "end\n" \
    "local function first_live()\n" \
    "  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - lease), '+inf')\n" \
    "  table.sort(ids)\n" \
    "  return ids[1]\n" \
    "end\n" \
    "local function move(src, dst)\n" \
    "  if redis.call('EXISTS', src) == 0 then return end\n" \
    "  local last = '0-0'\n" \
    "  for _, g in ipairs(redis.call('XINFO', 'GROUPS', src)) do\n" \
    "    local f = {}\n" \
    "    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end\n" \
    "    if f.name == 'gateway' then\n" \
    "      last = f['last-delivered-id']\n" \
    "      for _, p in ipairs(redis.call('XPENDING', src, 'gateway', '-', '+', 1000000)) do\n" \
    "        local e = redis.call('XRANGE', src, p[1], p[1])[1]\n" \
    "        if e then redis.call('XADD', dst, '*', unpack(e[2])) moved = moved + 1 end\n" \
    "      end\n" \
    "    end\n" \
    "  end\n" \
    "  for _, e in ipairs(redis.call('XRANGE', src, '(' .. last, '+')) do\n" \
    "    redis.call('XADD', dst, '*', unpack(e[2]))\n" \
    "    moved = moved + 1\n" \
    "  end\n" \
    "  redis.call('DEL', src)\n" \
    "end\n" \
    "local function route(id)\n" \
    "  if id == '' then return first_live() end\n" \
    "  if live(id) then return id end\n" \
    "  local h = redis.call('GET', hpre .. id)\n" \
    "  if not h or not live(h) then\n" \
    "    h = first_live()\n" \
    "    if not h then return nil end\n" \
    "    redis.call('SET', hpre .. id, h, 'EX', httl)\n" \
    "  end\n" \
    "  move(spre .. id, spre .. h)\n" \
    "  redis.call('ZREM', KEYS[1], id)\n" \
    "  return h\n" \
    "end\n"

/* What BUS_LUA_ROUTE reads for gateway NAME: the live set (KEYS[1]) and
 * ARGV[1..5] in order: stream prefix, heir prefix, lease ms, heir TTL s,
 * shared stream. */
struct bus_route_args {
    char live[256], spre[256], hpre[256], lease[32], ttl[32], shared[256];
};
void bus_route_args(struct bus_route_args *a, const char *gateway);

/* The blocking connection: the main Redis URL, a command timeout above
 * block_ms. FN runs each time it comes up. */
int bus_block_open(void (*on_ready)(void), char *err, size_t errlen);
/* Start the status tick (every heartbeat_ms), which calls EXTRA first. */
void bus_tick_start(void (*extra)(void));
/* CLIENT UNBLOCK the blocking connection; CB gets 1 when a read was
 * woken, 0 when none was blocked yet (or ERR). */
void bus_unblock(redis_reply_fn *cb);
/* XGROUP CREATE KEY GROUP 0 MKSTREAM (an existing group is fine); CB may be NULL. */
void bus_group_create(const char *key, const char *group, redis_reply_fn *cb, void *data);
/* The value of FIELD in an entry's flat field list, or NULL. */
const redisReply *bus_field(const redisReply *fields, const char *name);
/* Every entry of an XREADGROUP / XAUTOCLAIM entry list: FN(stream, id, fields). */
void bus_entries_each(const redisReply *entries, const char *stream,
                      void (*fn)(const char *stream, const char *id, const redisReply *fields, void *arg), void *arg);
/* A stream of the XREADGROUP reply: FN for each entry. */
void bus_read_reply_each(const redisReply *r,
                         void (*fn)(const char *stream, const char *id, const redisReply *fields, void *arg), void *arg);
/* Count an event in chorus_bus_events_total. */
void bus_count(const char *event);
void bus_gateway_stop(void);
void bus_worker_stop(void);
void bus_gateway_free(void);
void bus_worker_free(void);
void bus_worker_status(json_t *st);
/* Whether this worker holds partition P's lease; entries it is running. */
int bus_worker_holds(int p);
int bus_worker_running(void);
/* The process registry (bus_procs.c): write ours and read everyone's
 * (each status tick); leave at a clean stop; the last list read. */
void bus_procs_tick(void);
void bus_procs_leave(void);
json_t *bus_procs_json(void);
void bus_procs_free(void);
/* Trim KEY up to what every group has acknowledged. */
void bus_trim(const char *key);
#endif
