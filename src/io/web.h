/* web.h - the HTTP listener: static files plus a table of routes.
 *
 * libwebsockets runs on our libuv loop as a foreign loop. The first
 * protocol in the list serves both plain HTTP and websocket upgrades that
 * ask for no subprotocol (browsers send none), so /ws works either way.
 * Everything beyond static files is a route its owner adds with
 * web_route_add(): health and metrics (core), web chat's /ws, plugin
 * webhooks under /hooks/, the admin API; web.c knows none of them. */
#ifndef CHORUS_WEB_H
#define CHORUS_WEB_H
#include <stddef.h>
#include <uv.h>

struct web_server;
struct lws_context;
struct lws;

/* A route: requests whose path equals PATH, or starts with it when PATH
 * ends in '/'. Every callback is optional. */
struct web_route {
    const char *path;
    int allow_post;          /* POST accepted (else only GET; others get 405). A POST
                                body comes with Content-Length or chunked coding
                                (decoded before body() sees it); others get 411 */
    /* An HTTP request: answer with web_respond(), now or later. *STATE is
     * handed to body/body_done/detach. Return 0, or -1 to drop the socket. */
    int (*request)(struct lws *wsi, const char *path, int post, void **state, void *data);
    /* A piece of the request body; -1 refuses it (413). */
    int (*body)(void *state, const void *in, size_t len);
    void (*body_done)(void *state);
    /* The answer is written or the client left: STATE is no longer used. */
    void (*detach)(void *state);
    /* Before a websocket upgrade at this path is accepted, with the request
     * headers readable: 0 accepts, an HTTP status (401, 403, ...) refuses. */
    int (*ws_accept)(struct lws *wsi, void *data);
    /* A websocket upgrade at this path (without it: no websocket here). */
    void *(*ws_open)(struct lws *wsi, void *data);
    void (*ws_receive)(void *conn, const char *in, size_t len, int final, int binary);
    int (*ws_writable)(void *conn);   /* -1 closes */
    void (*ws_closed)(void *conn);
    void *data;
};

/* Add (or replace, by path) a route. R must outlive the server. */
void web_route_add(const struct web_route *r);
void web_route_remove(const char *path);

/* Bind HOST:PORT (port 0 picks a free one) and serve files from ROOT.
 * Returns NULL with err on failure. */
struct web_server *web_start(uv_loop_t *loop, const char *host, int port, const char *root,
                             char *err, size_t errlen);
int web_port(const struct web_server *w);
/* The lws context, for adapters that open client connections on it. */
struct lws_context *web_context(const struct web_server *w);
/* Re-read the static files (SIGHUP). Returns 0 or -1 (old files kept). */
int web_reload_files(struct web_server *w, const char *root);
/* Answer an HTTP request, now or later: BODY is taken over. */
void web_respond(struct lws *wsi, unsigned status, const char *type, char *body, size_t len);
/* The same with a plain-text body copied from TEXT. */
void web_respond_text(struct lws *wsi, unsigned status, const char *text);
/* First stage of teardown, from inside the loop. */
void web_stop(struct web_server *w);
/* Last stage, after uv_run has returned (lws needs both with a foreign loop). */
void web_free(struct web_server *w);
#endif
