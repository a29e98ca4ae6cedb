/* limits.h - what one connection or one user may hold at once (OWASP LLM10:
 * unbounded consumption), and how big a channel's queue may grow.
 *
 *   limits { jobs_per_connection = 100, jobs_per_user = 100,
 *            model_calls_per_user = 100, model_calls_per_user_per_minute = 600,
 *            channel_queue = 1000, channel_queue_bytes = 4194304 }
 *
 * Every refusal is counted in /metrics (chorus_limit_refusals_total). */
#ifndef CHORUS_LIMITS_H
#define CHORUS_LIMITS_H
#include <stddef.h>

struct chat_message;

struct limits {
    long jobs_per_connection;
    long jobs_per_user;
    long model_calls_per_user;          /* in flight */
    long model_calls_per_user_per_minute;
    long channel_queue;                 /* messages waiting in one channel */
    long channel_queue_bytes;           /* their text, in bytes */
};

/* The limits of the running config (defaults where unset). */
void limits_current(struct limits *out);
/* A message wants a job: 0 and counted, or -1 (refused, counted in
 * /metrics and logged at most every few seconds). */
int limits_job_take(const struct chat_message *m);
/* Its job ended. */
void limits_job_release(const struct chat_message *m);
/* USER (platform-scoped) starts a model call: 0, or -1 with the reason. */
int limits_model_take(const char *platform, const char *user, char *err, size_t errlen);
void limits_model_release(const char *platform, const char *user);
/* Register the limits statement. */
/* Forget every count (tests, shutdown). */
void limits_reset(void);
#endif
