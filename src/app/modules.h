/* modules.h - the module table: every part of chorusd that registers
 * something (config statements, a per-generation part, routes, a chat
 * platform) is one line in app/modules.c. main, --check-config, the
 * plugin test kit and the benchmarks all register from it. */
#ifndef CHORUS_MODULES_H
#define CHORUS_MODULES_H
#include <stddef.h>
#include "bus/bus.h"

struct config;

/* Register config schemas, generation parts, routes and hooks (once). */
void modules_register(void);
/* Add the platforms CFG turns on (TEST_MODE: the test kit's own too) and
 * start them. */
void modules_platforms_start(const struct config *cfg, int test_mode);
/* Start what ROLE runs: every platform (all), the platforms and the
 * ingress side of the bus (gateway), or the bus's worker side with no
 * platform connection (worker). 0, or -1 with ERR. */
int modules_role_start(const struct config *cfg, enum bus_role role, char *err, size_t errlen);
#endif
