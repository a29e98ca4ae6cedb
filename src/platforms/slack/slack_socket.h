/* slack_socket.h - Socket Mode: a pool of websocket connections to Slack.
 *
 * Every connection starts with apps.connections.open (its ticket URL works
 * once) and is live once Slack says hello. The pool keeps `want` live
 * connections (2 by default), so when Slack announces a disconnect
 * (warning, refresh_requested) the other one still carries events while a
 * replacement opens; the announced one is closed only once the replacement
 * said hello; too_many_websockets lowers `want` by one instead (other
 * processes of the app hold connections too). A dropped connection is
 * replaced at once, a failing one with
 * backoff. link_disabled and refused tokens stop the pool for good (one
 * clear log line), never a reconnect storm.
 *
 * Every envelope is acked at once, on the connection it came on, before it
 * is handed to the caller; malformed ones are logged and skipped and the
 * connection is kept. */
#ifndef CHORUS_SLACK_SOCKET_H
#define CHORUS_SLACK_SOCKET_H
#include <jansson.h>
#include <uv.h>

struct lws_context;
struct slack_web;
struct slack_socket;

struct slack_socket_callbacks {
    /* An envelope of TYPE ("events_api", "slash_commands", "interactive")
     * was acked; PAYLOAD and ENVELOPE are borrowed for the call. */
    void (*envelope)(const char *type, json_t *payload, json_t *envelope, void *data);
    /* The number of live connections went from 0 to more, or back. */
    void (*ready)(int ready, void *data);
    /* The pool stopped for good (link_disabled, a refused token). */
    void (*fatal)(const char *why, void *data);
};

struct slack_socket_options {
    int want;                  /* live connections to keep, 1..10, default 2 */
    size_t max_inbound;        /* largest message accepted, default 8 MiB */
    double time_scale;         /* < 1 shrinks the reconnect backoff (tests) */
    int ping_s;                /* idle seconds before a ping; twice that and the connection is dropped */
    const char *command_ack;   /* text acked to a slash command at once, or NULL */
};

struct slack_socket *slack_socket_new(uv_loop_t *loop, struct lws_context *ctx, struct slack_web *web,
                                      const struct slack_socket_options *o, const struct slack_socket_callbacks *cb,
                                      void *data, char *err, size_t errlen);
/* Open connections until `want` are live. */
void slack_socket_start(struct slack_socket *s);
/* Stop for good without a word (the caller said why): close every
 * connection (1000), open none; ready(0) is called if it was ready. */
void slack_socket_stop(struct slack_socket *s);
/* Close every connection (1000) and free S; no callback runs after this. */
void slack_socket_free(struct slack_socket *s);
int slack_socket_live(const struct slack_socket *s);
/* Connections whose sockets are still open anywhere (for the drain). */
int slack_socket_open_connections(void);
#endif
