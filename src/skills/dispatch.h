/* dispatch.h - one table of every handler of every plugin.
 *
 * Like Eggdrop's bind tables, all trigger kinds are registered the same way
 * and matched by one path. For a message, candidates are ordered by
 * priority, then by the confidence their matcher returns, then by the order
 * they were registered; the first that does not decline takes the message.
 * before/after middleware run around them. */
#ifndef CHORUS_DISPATCH_H
#define CHORUS_DISPATCH_H
#include <jansson.h>

struct plugin;
struct job;
struct skill_host;

enum handler_kind {
    HANDLER_COMMAND,     /* !name args */
    HANDLER_HEAR,        /* pattern on any message */
    HANDLER_RESPOND,     /* when addressed */
    HANDLER_FALLBACK,    /* when nothing else took it */
    HANDLER_EVENT,       /* join, leave, reaction, edit */
    HANDLER_BEFORE,      /* middleware before handlers */
    HANDLER_AFTER,       /* middleware after handlers */
    HANDLER_SCHEDULE,    /* every / cron */
    HANDLER_TIMER,       /* one-shot timers by name */
    HANDLER_TOOL,        /* exposed to models */
    HANDLER_ROUTE        /* HTTP webhook */
};

struct handler {
    enum handler_kind kind;
    struct plugin *plugin;
    int fn_ref;          /* the handler, in the plugin's registry */
    int matcher_ref;     /* optional confidence function, or LUA_NOREF */
    char *name;          /* command, event, schedule, timer, tool name or route path */
    char *pattern;       /* Lua pattern (hear, respond) or NULL */
    char *help;
    json_t *spec;        /* command args, tool schema, route auth, schedule spec */
    int priority;
    long seq;
    struct handler *next;
};

/* Register a handler (called from the plugin's registration API). */
int dispatch_add(struct skill_host *h, struct handler *hd, char *err, size_t errlen);
/* Remove every handler of P (a reload or unload). */
void dispatch_remove_plugin(struct skill_host *h, struct plugin *p);
/* Run the handlers for JOB's message or event; ends with job_finish(). */
void dispatch_job(struct skill_host *h, struct job *job);
/* First handler of KIND named NAME, or NULL. */
struct handler *dispatch_find(struct skill_host *h, enum handler_kind kind, const char *name);
/* Iterate handlers: pass NULL first. */
struct handler *dispatch_next(struct skill_host *h, struct handler *prev);
void handler_free(struct handler *hd);
#endif
