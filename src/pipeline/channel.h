/* channel.h - per-channel queues: one job at a time, in arrival order. */
#ifndef CHORUS_CHANNEL_H
#define CHORUS_CHANNEL_H
struct platform;
struct chat_message;
struct job;
struct persona;

void channel_init(void);
/* Queue a copy of M. Returns 0, or -1 when the channel's queue is full
 * (limits.channel_queue messages or channel_queue_bytes of text) or the
 * sender's connection or user holds too many jobs (core/limits.h). */
int channel_enqueue(struct platform *p, const struct chat_message *m);
/* Number of channels with work, for status. */
int channel_active(void);
void channel_shutdown(void);
/* A hook that may take a job before the skills see it (the operators'
 * commands, registered by ops/): returns 1 when it took the job and will
 * finish it, 0 to let the skills have it. */
typedef int channel_intercept_fn(struct job *job);
void channel_set_intercept(channel_intercept_fn *fn);
/* Who answers JOB where the channel names nobody: the persona its bot
 * account is bound to (`discord "aiko" { persona = "aiko" }`), else the
 * platform's default. */
const struct persona *channel_home_persona(const struct job *job);
/* Set who answers JOB. */
void channel_speak_as(struct job *job, const struct persona *p);
#endif
