/* irc.h - the IRC platform adapter: one network per `irc { ... }`
 * statement, TCP or TLS over libuv, IRCv3 CAP and SASL PLAIN, channels
 * from the config, replies through an Eggdrop-style flood queue. */
#ifndef CHORUS_IRC_H
#define CHORUS_IRC_H
#include "core/platform.h"

#define IRC_MAX_CHANNELS 64

/* Declare the `irc { ... }` statement (irc_config.c). */
void irc_config_register(void);
/* The adapter, for the module table (app/modules.c). */
extern const struct platform_ops irc_platform;
#endif
