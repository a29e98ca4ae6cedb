/* scheduler.h - plugin schedules and timers that survive restarts.
 *
 * Everything due lives in one Redis sorted set, <prefix>timers, scored by
 * the unix time it is due. Recurring schedules (chorus.every, chorus.cron)
 * are put there when their plugin loads; one-shot timers
 * (chorus.timer_in/at) when a skill asks. Whichever process claims a due
 * entry first (an atomic ZRANGEBYSCORE + ZREM script) runs it, so several
 * chorusd processes share the work and each entry fires once. */
#ifndef CHORUS_SCHEDULER_H
#define CHORUS_SCHEDULER_H
#include <lua.h>

struct skill_host;

/* Put HOST's recurring schedules in Redis (if absent) and arm the timer.
 * Called after start-up, reloads, and when Redis comes back. */
void scheduler_sync(struct skill_host *h);
/* Look again now (virtual time moved, or a timer was added). */
void scheduler_kick(void);
void scheduler_stop(void);
/* core.timer_at(when, name, payload) -> id | nil, err (a Lua C function). */
int scheduler_lua_timer_at(lua_State *L);
/* core.timer_cancel(id) -> true (removed) | false (unknown or fired) | nil, "redis unavailable" */
int scheduler_lua_timer_cancel(lua_State *L);
/* The validate hook: is SPEC a valid schedule? 0 or -1 with err. */
int scheduler_check_spec(const char *spec, char *err, size_t errlen);
#endif
