/* webhook.h - plugins' HTTP routes under /hooks/<plugin>/...
 *
 * Every route is authenticated before its handler runs: with a shared
 * secret (header X-Chorus-Secret, or Authorization: Bearer) or with an
 * HMAC-SHA256 of "<timestamp>.<body>" (headers X-Chorus-Timestamp and
 * X-Chorus-Signature: sha256=<hex>) inside a time window. Anything else
 * gets 401 and never reaches the plugin. The /hooks/ route of web.c feeds
 * requests in. */
#ifndef CHORUS_WEBHOOK_H
#define CHORUS_WEBHOOK_H
#include <stddef.h>

struct lws;
struct webhook_req;

#define WEBHOOK_MAX_BODY (1u << 20)

/* Serve /hooks/ on the web server. */
void webhook_routes_add(void);
/* A request for PATH began; headers are read now. */
struct webhook_req *webhook_begin(struct lws *wsi, const char *path, const char *method);
/* More body. Returns -1 when the body is over WEBHOOK_MAX_BODY. */
int webhook_body(struct webhook_req *r, const char *data, size_t len);
/* The body is complete: authenticate and run the route's handler. */
void webhook_run(struct webhook_req *r);
/* The client went away; the request is freed when its handler ends. */
void webhook_detach(struct webhook_req *r);
#endif
