/* discord_rich.h - a rich reply (core/rich.h) as Discord message fields:
 * "embeds" (one embed), "components" (action rows of buttons) and, for
 * interaction responses only, "flags": 64 (ephemeral). */
#ifndef CHORUS_DISCORD_RICH_H
#define CHORUS_DISCORD_RICH_H
#include <jansson.h>

#define DISCORD_FLAG_EPHEMERAL 64

/* The fields to merge into a message body; EPHEMERAL adds the flag when the
 * reply asks for it (only interaction follow-ups may carry it). Returns a
 * new object, empty when RICH is NULL. */
json_t *discord_rich_fields(const json_t *rich, int ephemeral_allowed);
#endif
