/* onebot.h - the OneBot v11 adapter (QQ through NapCat, Lagrange or
 * go-cqhttp): config and platform_ops.
 *
 * Inactive unless the config has an `onebot { ... }` statement. The
 * websockets live in onebot_link.c, API calls in onebot_api.c, segments
 * and CQ codes in onebot_segments.c; this file turns events into
 * chat_messages and replies into send_*_msg calls. Channels are
 * "group:<group_id>" and "private:<user_id>". */
#ifndef CHORUS_ONEBOT_H
#define CHORUS_ONEBOT_H
#include "core/platform.h"

/* Declare the `onebot { ... }` statement (onebot_config.c). */
void onebot_config_register(void);
extern const struct platform_ops onebot_platform;
#endif
