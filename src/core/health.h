/* health.h - /healthz, /readyz and /metrics as routes of the web server. */
#ifndef CHORUS_HEALTH_H
#define CHORUS_HEALTH_H
#include <stddef.h>
void health_routes_add(void);
/* What a role adds (bus/): READY returns 0, or -1 with why it is not ready;
 * GAUGES refreshes its gauges before /metrics renders. Either may be NULL. */
void health_set_role(int (*ready)(char *why, size_t len), void (*gauges)(void));
#endif
