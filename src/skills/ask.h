/* ask.h - msg:ask(): a handler waits for its author's next message.
 *
 * The asking task registers a waiter for (platform, channel, author) and
 * yields; its job leaves the channel's queue (job_detach), so the answer,
 * and everyone else's messages, can run through the channel meanwhile.
 * When the author's next message reaches the skills, it goes to the
 * waiter instead of any handler; otherwise the wait ends at its timeout,
 * measured on the skills' clock (lib/vclock.h), as timers are. */
#ifndef CHORUS_ASK_H
#define CHORUS_ASK_H
#include <lua.h>

struct job;

/* core.ask(timeout_seconds) -> message table | nil, "timeout" (Lua C function). */
int ask_lua_wait(lua_State *L);
/* Give JOB's message to a task waiting for it: 1 if taken (the job is
 * finished then), 0 if nobody waits for it. */
int ask_take(struct job *job);
/* Waits not yet due: tasks that wait for a person, not for work. */
int ask_idle(void);
/* Virtual time moved (the test kit): time out what is now due. */
void ask_kick(void);
/* The daemon is stopping: every wait ends now with nil, WHY, so the
 * handlers can say so while the platforms are still up. */
void ask_end_all(const char *why);
/* Shutting down: release the timer (waits were cancelled with their tasks). */
void ask_stop(void);
#endif
