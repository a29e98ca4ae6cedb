/* bus.h - gateway and worker processes over Redis Streams.
 *
 * `chorusd --role all` (the default) is one process, and none of this
 * runs. A gateway holds the platform connections and XADDs each received
 * message to an ingress partition; a worker leases partitions, reads them
 * with XREADGROUP, runs the channel queues and skills, and XADDs replies
 * to the egress stream of the gateway process that received the message
 * (or of its heir, once it is gone). The seam
 * is the core's: the gateway installs a sink, the worker an outbox
 * (core/platform.h). See docs/scaling.md. */
#ifndef CHORUS_BUS_H
#define CHORUS_BUS_H
#include <stddef.h>
#include <jansson.h>
#include "core/platform.h"

struct config;

enum bus_role { BUS_ROLE_ALL, BUS_ROLE_GATEWAY, BUS_ROLE_WORKER };

struct bus_settings {
    int partitions;          /* ingress partitions, default 16 */
    long block_ms;           /* longest XREADGROUP BLOCK, default 10000 */
    long lease_ms;           /* partition lease and membership lifetime, default 10000 */
    long heartbeat_ms;       /* lease renewal and rebalance, default lease_ms / 3 */
    long visibility_ms;      /* idle time before XAUTOCLAIM takes an entry, default 30000 */
    long dedupe_ttl_s;       /* how long an event id is remembered, default 86400 */
    int batch;               /* entries per read, default 64 */
    int max_inflight;        /* entries a worker holds at once, default 256 */
    long delta_ms;           /* streamed pieces gathered before forwarding, default 250 */
    int delta_max;           /* forwarded pieces per streamed reply, default 64 */
    char gateway[64];        /* this gateway's name (its egress stream), default "main" */
};

/* "all", "gateway" or "worker"; 0, or -1 for anything else. */
int bus_role_parse(const char *s, enum bus_role *out);
const char *bus_role_name(enum bus_role r);
/* The `scale { ... }` statement. */
void bus_config_register(void);
void bus_settings_from_config(const struct config *cfg, struct bus_settings *s);

/* Become a gateway: received messages go to the ingress streams and
 * replies come back from this gateway's egress stream. 0 or -1. */
int bus_gateway_start(const struct bus_settings *s, char *err, size_t errlen);
/* Become a worker: entries read from held partitions go to RUN (the
 * channel queue) as messages of stand-in platforms lent HOST; replies
 * leave through the egress streams. 0 or -1. */
int bus_worker_start(const struct bus_settings *s, const struct platform_host *host, platform_sink_fn *run,
                     char *err, size_t errlen);
/* The main Redis connection came (back) up: join, lease and read now
 * rather than at the next heartbeat. */
void bus_redis_ready(void);
/* The worker's stand-in for platform NAME (made on first use), so skills
 * can send to a platform before any of its messages came. */
struct platform *bus_worker_platform(const char *name);
/* Give back leases and close the stream connections (at shutdown, on
 * the loop; callbacks still due find the bus stopping). */
void bus_stop(void);
/* Free what is left, once the loop has ended. */
void bus_free(void);
/* The role's part of `chorusctl status`, or NULL in role all. */
json_t *bus_status(void);
#endif
