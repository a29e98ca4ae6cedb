/* telegram.h - the Telegram Bot API adapter: config and platform_ops.
 *
 * Inactive unless the config has a `telegram { ... }` statement. Updates
 * come by long polling (telegram_poll.c, the offset kept in Redis) or by
 * webhook (telegram_webhook.c); everything the bot writes goes through one
 * send queue under Telegram's flood limits (telegram_queue.c). This file
 * turns updates into chat_messages and replies into calls. */
#ifndef CHORUS_TELEGRAM_H
#define CHORUS_TELEGRAM_H
#include "core/platform.h"

/* Declare the `telegram { ... }` statement (telegram_config.c). */
void telegram_config_register(void);
/* The adapter, for the module table (app/modules.c). */
extern const struct platform_ops telegram_platform;
#endif
