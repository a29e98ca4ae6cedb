/* redis_cluster.h - a small Redis Cluster slot router over redis_client.
 *
 * It learns which master serves which slot (CLUSTER SHARDS, or CLUSTER
 * SLOTS on older servers), keeps one redis_client per master, sends each
 * command to the master of its key's slot, and follows -MOVED (update the
 * map, refresh it, resend), -ASK (ASKING then the command on the named
 * node, once) and -TRYAGAIN / -CLUSTERDOWN (retry shortly). Callers never
 * see it: redis_client_new() builds one when the options carry `cluster`. */
#ifndef CHORUS_REDIS_CLUSTER_H
#define CHORUS_REDIS_CLUSTER_H
#include "io/redis_client.h"

struct redis_cluster;

/* SEEDS are "host:port" strings; BASE_URL gives user and password. */
struct redis_cluster *redis_cluster_new(uv_loop_t *loop, const char *base_url, const char *const *seeds, int nseeds,
                                        const struct redis_options *opts, char *err, size_t errlen);
void redis_cluster_free(struct redis_cluster *c);
int redis_cluster_ready(const struct redis_cluster *c);
const char *redis_cluster_error(const struct redis_cluster *c);
double redis_cluster_latency_ms(const struct redis_cluster *c);
void redis_cluster_on_ready(struct redis_cluster *c, void (*fn)(void));
/* Send to the master of KEY's slot (KEY NULL: the key inside ARGV, or
 * any master for a command without keys). Same contract as redis_command. */
int redis_cluster_command(struct redis_cluster *c, const char *key, redis_reply_fn *cb, void *data,
                          int argc, const char **argv, const size_t *lens);
#endif
