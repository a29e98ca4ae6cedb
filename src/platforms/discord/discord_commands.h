/* discord_commands.h - slash commands from the skills' commands, and back.
 *
 * Each skill command (chorus.command(name, {help=, args=})) becomes an
 * application command with one string option per argument; the operators'
 * table becomes one `chorus` command with a `command` option. An
 * interaction then turns back into the text the prefix command would have
 * had ("!remind 10m tea", "!chorus status"), so skills and the operators'
 * table see no difference. Names Discord would refuse are skipped. */
#ifndef CHORUS_DISCORD_COMMANDS_H
#define CHORUS_DISCORD_COMMANDS_H
#include <jansson.h>

struct command_list;

#define DISCORD_MAX_COMMANDS 100    /* Discord's limit of chat commands per scope */

/* The bulk-overwrite body: a new JSON array (never NULL). */
json_t *discord_commands_build(const struct command_list *l);
/* The chat text for an APPLICATION_COMMAND interaction's DATA, malloc'd,
 * or NULL when it names no command. */
char *discord_commands_text(const struct command_list *l, json_t *data);
#endif
