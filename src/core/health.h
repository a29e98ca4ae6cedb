/* health.h - /healthz, /readyz and /metrics as routes of the web server. */
#ifndef CHORUS_HEALTH_H
#define CHORUS_HEALTH_H
#include <stddef.h>
void health_routes_add(void);
/* What a role adds (bus/): READY returns 0, or -1 with why it is not ready;
 * GAUGES refreshes its gauges before /metrics renders. Either may be NULL. */
void health_set_role(int (*ready)(char *why, size_t len), void (*gauges)(void));

/* Shards: an adapter whose connection is split into shards shared among
 * gateways (Discord) reports the ones this process holds, so `chorusctl
 * status` shows who holds what. IDS[0..N) of TOTAL; N 0 forgets them. */
#define HEALTH_SHARD_PLATFORMS 8
void health_set_shards(const char *platform, const int *ids, int n, int total);
/* Walk what was reported: FN(platform, ids, n, total, ARG) for each. */
void health_shards_each(void (*fn)(const char *platform, const int *ids, int n, int total, void *arg), void *arg);
#endif
