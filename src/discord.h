/* discord.h - the Discord platform adapter: config, platform_ops, and the
 * calls skills will be wired to (reactions, edits, slash commands).
 *
 * Inactive unless the config has a `discord { ... }` statement. The gateway
 * lives in discord_gateway.c, REST in discord_rest.c, the rate limits in
 * discord_ratelimit.c; this file turns events into chat_messages and
 * replies into REST calls. */
#ifndef CHORUS_DISCORD_H
#define CHORUS_DISCORD_H
#include "discord_rest.h"
#include "platform.h"

#define DISCORD_MAX_SHARDS 1024     /* shards one process may run */

/* Declare the `discord { ... }` statement (config_schema.c; discord_config.c). */
void discord_config_register(void);
/* Register the adapter when the running config has a discord statement (platform.c). */
void discord_register(void);

/* Replace the bot's global slash commands with CMDS[0..n) (copied); sent
 * once the first shard is READY. Returns 0, or -1 when Discord is not configured. */
int discord_register_commands(const struct discord_command *cmds, int n);
/* React to MESSAGE in CHANNEL with EMOJI. Returns 0 or -1. */
int discord_react(const char *channel, const char *message, const char *emoji);
/* Replace the text of a message the bot sent. Returns 0 or -1. */
int discord_edit(const char *channel, const char *message, const char *text);
int discord_delete(const char *channel, const char *message);
#endif
