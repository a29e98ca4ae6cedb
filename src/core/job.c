/* job.c - replies, typing and streaming on behalf of a job (job.h). */
#include <string.h>
#include "core/job.h"
#include "core/message.h"
#include "core/platform.h"

int job_skill_disabled(const struct job *job, const char *name) {
    size_t i;
    json_t *v;
    json_array_foreach(job->disabled, i, v) if (!strcmp(json_string_value(v), name)) return 1;
    return 0;
}

const char *job_role_name(int role) {
    static const char *const names[] = { "user", "moderator", "admin", "owner" };
    return role >= 0 && role <= 3 ? names[role] : "user";
}

void job_detach(struct job *job) {
    if (job->detached || !job->detach) return;
    job->detached = 1;
    job->detach(job);
}

void job_finish(struct job *job) {
    job->finish(job);
}

int job_reply(struct job *job, const char *text, size_t len, platform_sent_fn *cb, void *data) {
    return job_reply_rich(job, text, len, NULL, cb, data);
}

int job_reply_rich(struct job *job, const char *text, size_t len, const json_t *rich, platform_sent_fn *cb, void *data) {
    job->replies++;
    return platform_send_rich(job->platform, job->msg->channel, text, len, job->msg->id, job->speaker, rich, cb, data);
}

void job_stream_delta(struct job *job, const char *text, size_t len) {
    struct platform *p = job->platform;
    if (p->ops->stream_delta) p->ops->stream_delta(p, job->msg->channel, job->msg->id, text, len);
}

int job_typing(struct job *job) {
    if (!job->platform->ops->typing) return 0;
    return job->platform->ops->typing(job->platform, job->msg->channel);
}
