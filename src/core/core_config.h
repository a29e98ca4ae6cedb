/* core_config.h - the daemon's own top-level config statements. */
#ifndef CHORUS_CORE_CONFIG_H
#define CHORUS_CORE_CONFIG_H
void core_config_register(void);
#endif
