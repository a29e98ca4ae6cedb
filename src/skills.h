/* skills.h - the Lua skill host: plugins, handlers and one coroutine per job.
 *
 * Plugins live in plugins/<name>/init.lua and register handlers through the
 * `chorus` table (docs/plugins.md). Each incoming message runs the dispatcher
 * in its own coroutine; an API call that waits on the network yields that
 * coroutine and the loop resumes it when the answer comes, so channels never
 * wait for each other. */
#ifndef CHORUS_SKILLS_H
#define CHORUS_SKILLS_H
#include <stddef.h>

struct runtime;
struct job;
struct skill_host;

void skills_config_register(void);
/* Load the runtime library and every plugin. Returns NULL with err when the
 * runtime library is missing or a plugin fails to load. */
struct skill_host *skill_host_new(struct runtime *rt, char *err, size_t errlen);
void skill_host_free(struct skill_host *h);
/* Run the skills for JOB; ends with job_finish(JOB). */
void skills_dispatch(struct skill_host *h, struct job *job);
/* Stop every running task now (shutdown deadline); their jobs finish. */
void skills_cancel_all(struct skill_host *h);
int skill_host_tasks(const struct skill_host *h);
/* Names of loaded plugins, comma-separated, for status. */
const char *skill_host_plugins(const struct skill_host *h);
#endif
