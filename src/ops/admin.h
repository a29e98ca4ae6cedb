/* admin.h - the local admin API: JSON lines on a unix socket.
 *
 * The socket file is created with mode 0600, so only the daemon's user (and
 * root) can administer it. chorusctl is its client. One request per line:
 *   {"cmd":"status"}  {"cmd":"reload"}  {"cmd":"ping"}
 * and one JSON object per line in answer, always with "ok": true|false. */
#ifndef CHORUS_ADMIN_H
#define CHORUS_ADMIN_H
#include <stddef.h>
#include <uv.h>
#include <jansson.h>

struct admin_server;

/* Listen on PATH. Returns NULL with err (the daemon runs on without it). */
struct admin_server *admin_start(uv_loop_t *loop, const char *path, char *err, size_t errlen);
void admin_stop(struct admin_server *a);
/* The default socket path when the config names none. */
const char *admin_default_path(void);
/* The status object: platforms, Redis, jobs, personas, models and each
 * model deployment's health (breaker, last error). */
json_t *admin_status_json(void);
/* Run one command (also used by tests); returns the answer object. */
json_t *admin_execute(json_t *request);
#endif
