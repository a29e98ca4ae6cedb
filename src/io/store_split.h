/* store_split.h - the job context as single-slot commands (Redis Cluster). */
#ifndef CHORUS_STORE_SPLIT_H
#define CHORUS_STORE_SPLIT_H
#include "io/redis_client.h"

/* KEYS and ARGS as store.c's context script takes them; CB gets the reply
 * that script would have given. 0, or -1 (CB will not run). */
int store_context_split(struct redis_client *rc, const char *const keys[10], const char *const args[10],
                        redis_reply_fn *cb, void *data);
#endif
