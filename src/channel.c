/* channel.c - order per channel, concurrency across channels.
 *
 * Each channel has a FIFO of jobs and runs one at a time, so a turn is
 * stored before the next message of that channel is read, while different
 * channels proceed independently on the same loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "dict.h"
#include "job.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "persona.h"
#include "runtime.h"
#include "server.h"
#include "dispatch.h"
#include "skills.h"
#include "store.h"
#include "utf8.h"

struct channel {
    char *key;
    struct job *head, *tail;    /* head is running when busy */
    int queued;
    int busy;
};

static struct dict *channels;

void channel_init(void) {
    if (!channels) channels = dict_new();
}

int channel_active(void) {
    return channels ? (int)dict_size(channels) : 0;
}

void channel_shutdown(void) {
    dict_free(channels);
    channels = NULL;
}

static void job_start(struct job *job);

/* Start the next job of CH, or forget CH when it has none. */
static void channel_next(struct channel *ch) {
    if (ch->head) {
        job_start(ch->head);
        return;
    }
    dict_del(channels, ch->key);
    free(ch->key);
    free(ch);
}

int channel_enqueue(struct platform *p, const struct chat_message *m) {
    char key[1024];
    snprintf(key, sizeof(key), "%s\x1f%s", p->ops->name, m->channel);
    struct channel *ch = dict_get(channels, key);
    if (!ch) {
        ch = calloc(1, sizeof(*ch));
        ch->key = strdup(key);
        dict_set(channels, key, ch);
    }
    if (ch->queued >= CHANNEL_QUEUE_MAX) return -1;
    struct job *job = calloc(1, sizeof(*job));
    job->msg = message_copy(m);
    job->platform = p;
    job->ch = ch;
    if (ch->tail) ch->tail->next = job;
    else ch->head = job;
    ch->tail = job;
    ch->queued++;
    server.jobs_queued++;
    if (!ch->busy) job_start(job);
    return 0;
}

/* The channel's persona is known (or Redis could not say): run the skills. */
static void job_run(struct job *job, const char *name) {
    const struct persona *p = name ? persona_find(job->rt->personas, name) : NULL;
    if (name && !p) log_warn("channel %s:%s names persona \"%s\", which is not defined; using \"%s\"",
                             job->msg->platform, job->msg->channel, name, job->rt->personas->fallback->name);
    job->persona = p ? p : persona_default_for(job->rt->personas, job->msg->platform);
    dispatch_job(job->rt->skills, job);
}

static void on_persona(const char *name, const char *err, void *data) {
    struct job *job = data;
    if (err) log_debug("persona lookup failed (%s); using the default", err);
    job_run(job, name);
}

static void job_start(struct job *job) {
    struct channel *ch = job->ch;
    ch->busy = 1;
    server.jobs_queued--;
    server.jobs_in_flight++;
    job->rt = runtime_acquire(server.rt);
    job->started = uv_now(server.loop);
    if (!job->msg->event) metrics_inc(METRIC_MESSAGES_IN, job->platform->ops->name, 1);
    if (store_persona_get(server.redis, job->msg->platform, job->msg->channel, on_persona, job) < 0)
        job_run(job, NULL);   /* Redis is down: answer without memory */
}

void job_finish(struct job *job) {
    struct channel *ch = job->ch;
    if (job->replies == 0 && !job->msg->event)
        job_reply(job, job->persona->apology, strlen(job->persona->apology), NULL, NULL);
    metrics_observe(METRIC_REPLY_SECONDS, job->platform->ops->name,
                    (double)(uv_now(server.loop) - job->started) / 1000.0);
    ch->head = job->next;
    if (!ch->head) ch->tail = NULL;
    ch->queued--;
    ch->busy = 0;
    runtime_release(job->rt);
    message_free(job->msg);
    free(job);
    server.jobs_in_flight--;
    channel_next(ch);
    server_job_finished();
}

int job_reply(struct job *job, const char *text, size_t len, platform_sent_fn *cb, void *data) {
    job->replies++;
    return platform_send_text(job->platform, job->msg->channel, text, len, job->msg->id,
                              job->persona->name, cb, data);
}

void job_stream_delta(struct job *job, const char *text, size_t len) {
    struct platform *p = job->platform;
    if (p->ops->stream_delta) p->ops->stream_delta(p, job->msg->channel, job->msg->id, text, len);
}

int job_typing(struct job *job) {
    if (!job->platform->ops->typing) return 0;
    return job->platform->ops->typing(job->platform, job->msg->channel);
}
