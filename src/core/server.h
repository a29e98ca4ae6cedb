/* server.h - the daemon's process-wide state: one loop and what hangs on it.
 *
 * Like Redis's `server`, one global struct, because there is one of each of
 * these per process. Config-derived parts live in a runtime (runtime.h) so a
 * reload can swap them while in-flight work finishes on the old one. */
#ifndef CHORUS_SERVER_H
#define CHORUS_SERVER_H
#include <uv.h>

struct runtime;
struct redis_client;
struct http_client;
struct web_server;
struct admin_server;

struct server {
    uv_loop_t *loop;
    const char *config_file;       /* as given on the command line */
    const char *data_dir;          /* lua/, plugins/, web/ live here */
    struct runtime *rt;            /* current config generation */
    struct redis_client *redis;
    char *redis_url;               /* to notice a change on reload */
    struct http_client *http;
    struct web_server *web;
    struct admin_server *admin;
    int stopping;                  /* SIGTERM/SIGINT seen: draining */
    int jobs_in_flight;            /* messages being answered */
    int jobs_queued;               /* messages waiting for their channel */
    double started_at;             /* unix seconds */
};

extern struct server server;

/* What the program does when asked to stop or reload (app/main.c installs
 * them; without hooks a stop or reload request does nothing or fails). */
struct server_hooks {
    void (*request_stop)(void);
    int (*reload)(char *err, size_t errlen);
    void (*job_finished)(void);
};
void server_set_hooks(const struct server_hooks *h);

/* Ask the main loop to start a graceful stop (signals, admin command). */
void server_request_stop(void);
/* Re-read the config and plugins without dropping connections. Returns 0 or
 * -1 with err; on error the old config stays in force. */
int server_reload(char *err, size_t errlen);
/* Called when a job finishes, so a draining stop can proceed. */
void server_job_finished(void);
double server_now(void);
#endif
