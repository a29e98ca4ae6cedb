/* discord.h - the Discord platform adapter: config and platform_ops
 * (send, typing, react, edit, stream_delta), slash commands and events.
 *
 * Inactive unless the config has a `discord { ... }` statement. The gateway
 * lives in discord_gateway.c, REST in discord_rest.c, the rate limits in
 * discord_ratelimit.c; this file turns events into chat_messages and
 * replies into REST calls. */
#ifndef CHORUS_DISCORD_H
#define CHORUS_DISCORD_H
#include "platforms/discord/discord_rest.h"
#include "core/platform.h"

#define DISCORD_MAX_SHARDS 1024     /* shards one process may run */

/* Declare the `discord { ... }` statement (config_schema.c; discord_config.c). */
void discord_config_register(void);
/* Register the adapter when the running config has a discord statement (platform.c). */
void discord_register(void);

/* Delete a message the bot sent. Returns 0 or -1. */
int discord_delete(const char *channel, const char *message);
#endif
