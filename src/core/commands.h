/* commands.h - the command catalogue, as platforms that publish commands
 * see it (Discord's slash commands; Telegram's and Slack's menus).
 *
 * The skill engine and the operators' table own the commands; a platform
 * asks its host for a snapshot (struct platform_host.commands) and frees it
 * when done, so no adapter reaches into the skill engine. */
#ifndef CHORUS_COMMANDS_H
#define CHORUS_COMMANDS_H
#include <stddef.h>
#include <jansson.h>

struct command_entry {
    char *name;
    json_t *spec;            /* {help =, args = [{name, type, optional, help}]} (owned) */
};

struct command_list {
    char *prefix;            /* the skills' command prefix, "!" */
    char *operator_prefix;   /* the operators' prefix, "!chorus" */
    struct command_entry *items;
    size_t n, cap;
};

struct command_list *command_list_new(const char *prefix, const char *operator_prefix);
/* Add NAME with SPEC (a new reference is taken). Returns 0 or -1. */
int command_list_add(struct command_list *l, const char *name, json_t *spec);
const struct command_entry *command_list_find(const struct command_list *l, const char *name);
void command_list_free(struct command_list *l);
#endif
