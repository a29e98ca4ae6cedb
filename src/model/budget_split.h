/* budget_split.h - a budget reservation as single-slot steps (Redis Cluster). */
#ifndef CHORUS_BUDGET_SPLIT_H
#define CHORUS_BUDGET_SPLIT_H
#include "io/redis_client.h"

/* ARGV is the EVAL budget.c would send (script, 2n keys: n counters then
 * their live-limit hashes, 4 arguments per counter: amount, limit, ttl,
 * field); CB gets what that script returns: 0, or the 1-based index of the
 * first counter that refuses. 0, or -1 (CB will not run). */
int budget_reserve_split(struct redis_client *rc, int argc, const char **argv, redis_reply_fn *cb, void *data);
#endif
