/* persona_state.h - what a persona knows and feels, kept in Redis.
 *
 * Per channel and persona: the mood (valence, arousal) and a rolling
 * summary of older turns. Per user and persona: the relationship (turns,
 * first and last seen, recent sentiment) and the facts the persona learned.
 * Per persona and day: engagement (turns and sessions, so CPS). Every key
 * is listed in docs/state.md. The Lua bindings are in lua_persona.c. */
#ifndef CHORUS_PERSONA_STATE_H
#define CHORUS_PERSONA_STATE_H
#include <lua.h>

/* How long after a user's last message a new one starts a new session. */
#define PERSONA_SESSION_GAP_S 1800

void persona_state_register(lua_State *L);
/* core.recall, core.recall_index (lua_recall.c). */
void recall_lua_register(lua_State *L);
#endif
