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

/* Declare the `discord { ... }` statement (discord_config.c). */
void discord_config_register(void);
/* The adapter, for the module table (app/modules.c): on when the config
 * has a discord statement. */
extern const struct platform_ops discord_platform;
#endif
