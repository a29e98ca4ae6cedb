/* job.h - one incoming message on its way to an answer.
 *
 * Channels run their jobs one at a time in arrival order (pipeline/
 * channel.c): a job looks up the channel's persona, runs the skills, and
 * ends with job_finish(), after which the channel's next message is read.
 * The core holds the job and its replies; what finishing means belongs to
 * whoever queued it (its finish hook). */
#ifndef CHORUS_JOB_H
#define CHORUS_JOB_H
#include <stdint.h>
#include <jansson.h>
#include "core/platform.h"

struct chat_message;
struct runtime;
struct persona;
struct channel;

struct job {
    struct chat_message *msg;
    struct platform *platform;
    struct runtime *rt;              /* config generation this job runs on */
    const struct persona *persona;   /* who answers (from rt) */
    const char *speaker;             /* that persona's name */
    struct channel *ch;
    int replies;                     /* messages sent for this job */
    int role;                        /* the author's role, read in C: 0 user, 1 moderator, 2 admin, 3 owner */
    int silent;                      /* banned, ignored, muted or dropped by middleware: no apology */
    int handled;                     /* a handler reacted or returned true: no apology */
    struct persona *own_persona;     /* a live-edited copy, freed with the job */
    json_t *disabled;                /* plugins turned off in this channel */
    uint64_t started;                /* uv_now() at start */
    uint64_t cpu_ns;                 /* time skills ran for it (matchers and handlers) */
    int budget_logged;               /* its budget ran out and that was logged */
    int invited;                     /* not addressed, but its manners say the persona joins in
                                      * (1: its name or reply = "always"; 2: uninvited, a follow-up or an interest) */
    json_t *manners;                 /* the channel's manners hash from Redis (pipeline/manners.c), or NULL */
    struct job *next;                /* in the channel's queue */
    /* What ends the job: apologise if nobody answered, free it, start the
     * channel's next job (set by the queue that made it). */
    void (*finish)(struct job *job);
    /* Take the job out of its queue while it keeps running (a handler
     * waits for a later message of the same channel: msg:ask); NULL when
     * the queue cannot. The finish hook still ends it. */
    void (*detach)(struct job *job);
    int detached;
};

/* Send TEXT to the job's channel as its persona, in reply to the message.
 * Invalid UTF-8 is repaired. CB may be NULL. Returns 0 or -1. */
int job_reply(struct job *job, const char *text, size_t len, platform_sent_fn *cb, void *data);
/* The same with RICH (core/rich.h, checked; may be NULL). */
int job_reply_rich(struct job *job, const char *text, size_t len, const json_t *rich, platform_sent_fn *cb, void *data);
int job_typing(struct job *job);
/* A piece of a streamed reply, for platforms that show replies growing. */
void job_stream_delta(struct job *job, const char *text, size_t len);
/* "user", "moderator", "admin" or "owner" (the operator code's names). */
const char *job_role_name(int role);
/* Is plugin NAME turned off where this job runs? */
int job_skill_disabled(const struct job *job, const char *name);
/* Let the channel's next messages run while this job waits (once). */
void job_detach(struct job *job);
/* The skills are done with the job: its finish hook runs. */
void job_finish(struct job *job);
#endif
