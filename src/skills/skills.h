/* skills.h - the skill host: every plugin of a config generation and the
 * dispatch table their handlers feed (docs/plugins.md).
 *
 * Plugins live in plugins/<name>/ (init.lua, optional manifest.lua and
 * modules). Each loads into its own lua_State (plugin.h); handlers run as
 * tasks (task.h) chosen by dispatch.h. */
#ifndef CHORUS_SKILLS_H
#define CHORUS_SKILLS_H
#include <stddef.h>
#include "skills/plugin.h"

struct runtime;
struct handler;

struct skill_host {
    struct runtime *rt;
    struct plugin **plugins;
    int nplugins;
    struct handler *handlers;    /* the dispatch table, in priority order */
    char command_prefix[16];
    struct plugin_limits limits;
    char names[1024];            /* "chat,help,..." for status */
};

void skills_config_register(void);
/* Load every plugin. Returns NULL with err when one fails to load. */
struct skill_host *skill_host_new(struct runtime *rt, char *err, size_t errlen);
void skill_host_free(struct skill_host *h);
/* Reload plugin NAME (NULL: every plugin) from disk into a fresh state.
 * On failure the running version stays and err says why. */
int skills_reload(struct skill_host *h, const char *name, char *err, size_t errlen);
struct plugin *skills_find(struct skill_host *h, const char *name);
/* Stop every running handler now (shutdown deadline). */
void skills_cancel_all(struct skill_host *h);
int skill_host_tasks(const struct skill_host *h);
const char *skill_host_plugins(const struct skill_host *h);
/* A snapshot of the live commands (free with command_list_free). */
struct command_list;
struct command_list *skills_command_list(struct skill_host *h, const char *operator_prefix);
#endif
