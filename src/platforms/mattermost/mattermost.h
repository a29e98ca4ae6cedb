/* mattermost.h - the Mattermost platform adapter: config and platform_ops
 * (send, typing, react, edit, stream_delta).
 *
 * Inactive unless the config has a `mattermost { ... }` statement. The
 * websocket lives in mattermost_ws.c, the REST send queue in
 * mattermost_rest.c, streamed replies in mattermost_stream.c and the
 * reading of `posted` events in mattermost_events.c; this file ties them
 * together. */
#ifndef CHORUS_MATTERMOST_H
#define CHORUS_MATTERMOST_H
#include "core/platform.h"

/* Declare the `mattermost { ... }` statement (mattermost_config.c). */
void mattermost_config_register(void);
/* The adapter, for the module table (app/modules.c). */
extern const struct platform_ops mattermost_platform;
#endif
