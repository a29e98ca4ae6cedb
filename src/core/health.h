/* health.h - /healthz, /readyz and /metrics as routes of the web server. */
#ifndef CHORUS_HEALTH_H
#define CHORUS_HEALTH_H
void health_routes_add(void);
#endif
