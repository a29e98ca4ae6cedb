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
/* Entries of another kind than a plugin's schedule or timer ({"kind": ...,
 * e.g. a persona's proactive speech, pipeline/manners.c) go to this hook
 * once claimed, with the entry (borrowed) and the time. */
struct json_t;
typedef void scheduler_entry_fn(struct json_t *entry, double now);
/* Called from scheduler_sync, to put recurring entries of its own in Redis. */
typedef void scheduler_sync_fn(double now);
void scheduler_set_hooks(scheduler_entry_fn *entry, scheduler_sync_fn *sync);
/* An entry due at DUE (unix seconds) was added: make sure the timer looks by then. */
void scheduler_wake_by(double due);
/* A hook's work on a claimed entry that has not become a job yet (a
 * Redis check in flight): held, so the test kit waits for it too. */
void scheduler_hold(int delta);
int scheduler_held(void);
/* The ZSET key of due entries, for other modules adding entries. */
void scheduler_key(char *out, size_t len);
/* core.timer_at(when, name, payload) -> id | nil, err (a Lua C function). */
int scheduler_lua_timer_at(lua_State *L);
/* core.timer_cancel(id) -> true (removed) | false (unknown or fired) | nil, "redis unavailable" */
int scheduler_lua_timer_cancel(lua_State *L);
/* The validate hook: is SPEC a valid schedule? 0 or -1 with err. */
int scheduler_check_spec(const char *spec, char *err, size_t errlen);
#endif
