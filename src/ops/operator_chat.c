/* operator_chat.c - messages starting with the admin prefix go to the
 * operators' table, never to skills (so no plugin or model can stand in
 * for it). */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "core/job.h"
#include "core/message.h"
#include "core/runtime.h"
#include "ops/operator.h"
#include "ops/operator_chat.h"
#include "persona/persona.h"
#include "pipeline/channel.h"

/* An operator's command answered: say it where it was typed. */
static void on_operated(json_t *answer, void *data) {
    struct job *job = data;
    const char *text = json_string_value(json_object_get(answer, "text"));
    job_reply(job, text ? text : "", text ? strlen(text) : 0, NULL, NULL);
    json_decref(answer);
    job_finish(job);
}

/* The channel queue's intercept hook: take the job when it is a command. */
static int operator_chat_take(struct job *job) {
    if (!operator_is_command(job->msg->text)) return 0;
    char channel[700];
    snprintf(channel, sizeof(channel), "%s:%s", job->msg->platform, job->msg->channel);
    struct actor a = { .platform = job->msg->platform, .user_id = job->msg->author.id, .channel = channel,
                       .guest = job->msg->author.guest };
    channel_speak_as(job, channel_home_persona(job));
    operator_run_text(&a, job->msg->text, on_operated, job);
    return 1;
}

void operator_chat_install(void) {
    channel_set_intercept(operator_chat_take);
}
