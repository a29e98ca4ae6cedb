/* mattermost_ws.h - the Mattermost websocket (/api/v4/websocket): one
 * lws client connection on the shared loop, kept open for as long as the
 * adapter runs.
 *
 * The token goes in the upgrade's Authorization header and in an
 * authentication_challenge, the connection's first request (a server that
 * took the header ignores it). The server's `hello` names the connection
 * (connection_id); every event carries `seq`, counted from 0 on that
 * connection. A hello naming no connection_id (older servers) or another
 * one starts the count anew at its own seq; an event without a seq is
 * handed on unchecked. A 401 or 403 at the upgrade stops the connection
 * for good (one error line), never a reconnect storm. A reconnect asks for
 * ?connection_id=&sequence_number=<next seq wanted>, so the server replays
 * what was missed; a fresh hello with another connection_id means it could
 * not (logged). A seq above the next one wanted means an event was lost on
 * the way: the connection is given up and resumed at once, so the server
 * replays it. A seq already seen is skipped, so no event is handed on twice.
 * A ping action goes out every ping_ms; one still unanswered at the next
 * tick means a dead connection, which is resumed on a new one. Connects are
 * retried forever with exponential backoff and jitter. */
#ifndef CHORUS_MATTERMOST_WS_H
#define CHORUS_MATTERMOST_WS_H
#include <stddef.h>
#include <jansson.h>
#include <uv.h>

struct lws_context;
struct mattermost_ws;

struct mattermost_ws_options {
    const char *url;             /* the server's base URL: http(s)://host[:port][/path] */
    const char *token;           /* the bot's access token */
    long ping_ms;                /* ping every this often, default 30000 */
    long reconnect_min_ms;       /* first backoff, default 1000 */
    long reconnect_max_ms;       /* backoff cap, default 60000 */
    size_t max_inbound;          /* largest message accepted, default 8 MiB */
    const char *own_user_id;     /* the bot's user id: its own posts coming back are counted and
                                    dropped unread (event() does not see them); NULL: all read */
};

/* EVENT gets every event once, in seq order (DATA borrowed, may be NULL; the
 * broadcast's routing is not read); READY is called when readiness changes. */
struct mattermost_ws_callbacks {
    void (*event)(const char *type, json_t *data, void *arg);
    void (*ready)(int ready, void *arg);
};

/* CTX is the lws context to connect on. Returns NULL with ERR. */
struct mattermost_ws *mattermost_ws_new(uv_loop_t *loop, struct lws_context *ctx, const struct mattermost_ws_options *opts,
                                        const struct mattermost_ws_callbacks *cb, void *arg, char *err, size_t errlen);
/* Start connecting. */
void mattermost_ws_start(struct mattermost_ws *ws);
/* Send the request {action, seq, data} (DATA taken over, may be NULL).
 * Returns 0, or -1 when no connection is open. */
int mattermost_ws_send(struct mattermost_ws *ws, const char *action, json_t *data);
/* Close the connection (1000) and free WS; no callbacks after. */
void mattermost_ws_free(struct mattermost_ws *ws);
int mattermost_ws_ready(const struct mattermost_ws *ws);
/* The connection id of the server's session, or NULL. */
const char *mattermost_ws_connection_id(const struct mattermost_ws *ws);
/* Websockets still open, including ones closing after mattermost_ws_free. */
int mattermost_ws_open_connections(void);
/* Split URL (http, https, ws or wss) into TLS, HOST, PORT and the path
 * prefix PREFIX (no trailing slash; "" for none). Returns 0 or -1. */
int mattermost_ws_parse_url(const char *url, int *tls, char *host, size_t hlen, int *port, char *prefix, size_t plen);
#endif
