/* lua_persona_split.h - chorus.empathy.observe as single-slot commands (Redis Cluster). */
#ifndef CHORUS_LUA_PERSONA_SPLIT_H
#define CHORUS_LUA_PERSONA_SPLIT_H
#include "io/redis_client.h"

/* KEYS and ARGS as lua_persona.c's observe script takes them; CB gets the
 * reply that script would have given. 0, or -1 (CB will not run). */
int persona_observe_split(struct redis_client *rc, const char *const keys[9], const char *const args[11],
                          redis_reply_fn *cb, void *data);
#endif
