/* web.h - the HTTP listener: the chat page, /ws, health and metrics.
 *
 * libwebsockets runs on our libuv loop as a foreign loop. The first
 * protocol in the list serves both plain HTTP and websocket upgrades that
 * ask for no subprotocol (browsers send none), so /ws works either way. */
#ifndef CHORUS_WEB_H
#define CHORUS_WEB_H
#include <stddef.h>
#include <uv.h>

struct web_server;
struct lws_context;

/* Bind HOST:PORT (port 0 picks a free one) and serve files from ROOT.
 * Returns NULL with err on failure. */
struct web_server *web_start(uv_loop_t *loop, const char *host, int port, const char *root,
                             char *err, size_t errlen);
int web_port(const struct web_server *w);
/* The lws context, for adapters that open client connections on it. */
struct lws_context *web_context(const struct web_server *w);
/* Re-read the static files (SIGHUP). Returns 0 or -1 (old files kept). */
int web_reload_files(struct web_server *w, const char *root);
/* Answer an HTTP request later (from a plugin's route): BODY is taken over. */
struct lws;
void web_respond_later(struct lws *wsi, unsigned status, const char *type, char *body, size_t len);
/* First stage of teardown, from inside the loop. */
void web_stop(struct web_server *w);
/* Last stage, after uv_run has returned (lws needs both with a foreign loop). */
void web_free(struct web_server *w);
#endif
