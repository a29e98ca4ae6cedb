/* operator.h - operators' commands, from chat and from chorusctl.
 *
 * One command table serves both: in chat, a message starting with the
 * admin prefix (`admin_prefix "!chorus"`) is a command; chorusctl sends the
 * same words over the admin socket. Every command checks the actor's role
 * here, in C, before it does anything: owner > admin > moderator > user.
 * Roles attach only to identities a platform vouches for (never to web chat
 * guests) or to chorusctl on the local socket. Model output and skills
 * cannot reach this table. Every command run (or refused) is audited. */
#ifndef CHORUS_OPERATOR_H
#define CHORUS_OPERATOR_H
#include <jansson.h>

enum role { ROLE_USER = 0, ROLE_MODERATOR = 1, ROLE_ADMIN = 2, ROLE_OWNER = 3 };

struct actor {
    const char *platform;    /* "webchat", "discord", or "chorusctl" */
    const char *user_id;     /* platform user id */
    const char *channel;     /* the channel it was typed in, or NULL */
    int guest;               /* anonymous: never holds a role */
    int local;               /* chorusctl on the admin socket: the owner */
};

/* ANSWER: {"ok": bool, "text": "lines for people", "data": {...}} (owned by the callee). */
typedef void operator_done_fn(json_t *answer, void *data);

void operator_config_register(void);
/* The admin prefix of the running config ("!chorus" unless configured). */
const char *operator_prefix(void);
/* Is TEXT a chat command (it starts with the admin prefix)? */
int operator_is_command(const char *text);
/* Run the command in TEXT (chat) or ARGV (chorusctl). CB runs exactly once, maybe at once. */
void operator_run_text(const struct actor *a, const char *text, operator_done_fn *cb, void *data);
void operator_run(const struct actor *a, int argc, char **argv, operator_done_fn *cb, void *data);
const char *role_name(enum role r);
#endif
