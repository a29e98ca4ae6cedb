/* discord_events.h - gateway events other than MESSAGE_CREATE as
 * normalized chat messages: reactions, edits and slash commands.
 *
 * The messages borrow their strings from the event's JSON (D), so they are
 * valid while D is; platform_receive() copies them. */
#ifndef CHORUS_DISCORD_EVENTS_H
#define CHORUS_DISCORD_EVENTS_H
#include <jansson.h>
#include "core/message.h"

/* Is message D something a person wrote to the channel? Only the DEFAULT (0)
 * and REPLY (19) types are; the others are system messages Discord writes
 * in a person's name (a renamed channel carries the new name as content, a
 * new thread its name, a boost the count), and a webhook's post (webhook_id)
 * has no real user behind it. A message without a type counts as DEFAULT. */
int discord_person_message(json_t *d);
/* MESSAGE_REACTION_ADD: event "reaction", reaction = the emoji's name, id =
 * the message reacted to. Returns 0, or -1 for one to ignore (ours, a bot's,
 * malformed). */
int discord_reaction_event(json_t *d, const char *bot_id, struct chat_message *m);
/* MESSAGE_UPDATE with new content from a person: event "edit", text = the
 * new content. Returns 0, or -1 (a bot's, an embed unfurling, malformed). */
int discord_edit_event(json_t *d, const char *bot_id, struct chat_message *m);
/* INTERACTION_CREATE of an application command, as a direct message whose
 * TEXT (the equivalent prefix command) the caller provides. Returns 0 or -1. */
int discord_interaction_event(json_t *d, const char *text, struct chat_message *m);
#endif
