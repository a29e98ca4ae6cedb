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
void bus_key_egress(char *out, size_t len, const char *gateway);
void bus_key_lease(char *out, size_t len, int part);
void bus_key_dedupe(char *out, size_t len, int part, const char *ev);
void bus_key_reply(char *out, size_t len, const char *gateway, const char *ev, int n);
void bus_key_workers(char *out, size_t len);

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
