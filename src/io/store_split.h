/* store_split.h - the job context as single-slot commands (Redis Cluster). */
#ifndef CHORUS_STORE_SPLIT_H
#define CHORUS_STORE_SPLIT_H
#include "io/redis_client.h"

/* KEYS and ARGS as store.c's context script takes them; CB gets the reply
 * that script would have given. 0, or -1 (CB will not run). */
int store_context_split(struct redis_client *rc, const char *const keys[10], const char *const args[10],
                        redis_reply_fn *cb, void *data);

/* Forget a user as store_forget_script() does, in steps that each touch
 * one slot: read the index SEEN, run the channel part for every channel,
 * delete the user's own keys, then the index. CB gets an integer reply:
 * the turns removed. 0, or -1 (CB will not run). */
int store_forget_split(struct redis_client *rc, const char *seen, const char *user, redis_reply_fn *cb, void *data);
#endif
