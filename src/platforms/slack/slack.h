/* slack.h - the Slack adapter (Socket Mode events in, Web API replies out). */
#ifndef CHORUS_SLACK_H
#define CHORUS_SLACK_H
#include "core/platform.h"

extern const struct platform_ops slack_platform;
/* Declare the `slack { ... }` statement (slack_config.c). */
void slack_config_register(void);
#endif
