/* group.h - group-chat manners applied to jobs: whether a
 * persona joins in on a message nobody addressed to it, and proactive
 * speech after a silence or on a schedule (docs/personas.md).
 *
 * State per channel lives in Redis:
 *   <prefix>{p:c}:manners                 hash: reply (operator's mode), proactive ("off" = opted out),
 *                                         spoke, auto (unix seconds it last spoke / last joined in)
 *   <prefix>{p:c}:proactive:<YYYYMMDD>    what it said first that day (the daily cap)
 *   <prefix>{p:c}:proactive:claim:<slot>  SET NX: one process speaks first per min_gap_ms slot
 *   <prefix>manners:active:<persona>      zset of channels it answered in, for schedules
 * Silence timers are entries of the scheduler's <prefix>timers zset
 * ({"kind":"proactive",...}), moved later by every message in the channel. */
#ifndef CHORUS_GROUP_H
#define CHORUS_GROUP_H
struct job;

/* Install the scheduler hooks (once, at start). */
void group_install(void);
/* Before the skills run: set job->invited when the manners say so. */
void group_gate(struct job *job);
/* The job is done: note that the persona spoke, restart the silence timer,
 * count a proactive message. */
void group_after(struct job *job);
#endif
