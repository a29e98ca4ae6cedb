/* server.c - the process-wide state and the hooks the top installs.
 *
 * Stopping, reloading and the end of a drain are decided by the program
 * (app/main.c, or the plugin test kit); lower layers only ask for them
 * through these functions, so nothing below app/ calls up into it. */
#include <stdio.h>
#include <time.h>
#include "core/server.h"

struct server server;

static const struct server_hooks *hooks;

/* The program says how it stops and reloads. */
void server_set_hooks(const struct server_hooks *h) {
    hooks = h;
}

double server_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A signal or an operator asked for a graceful stop. */
void server_request_stop(void) {
    if (hooks && hooks->request_stop) hooks->request_stop();
}

/* An operator asked for a reload; a program without one says so. */
int server_reload(char *err, size_t errlen) {
    if (!hooks || !hooks->reload) {
        snprintf(err, errlen, "this process cannot reload its config");
        return -1;
    }
    return hooks->reload(err, errlen);
}

/* A job ended: a draining stop may be able to proceed. */
void server_job_finished(void) {
    if (hooks && hooks->job_finished) hooks->job_finished();
}
