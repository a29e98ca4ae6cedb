/* admin_live.c - the console's websocket: events from core/feed.c fanned
 * out to every signed-in console. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <libwebsockets.h>
#include "core/feed.h"
#include "io/web.h"
#include "io/ws_queue.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "ops/admin_http.h"
#include "ops/admin_live.h"

#define MAX_QUEUED (1 << 20)
#define MAX_FRAME 4096
#define AUTH_TIMEOUT_S 10

struct live_conn {
    struct ws_queue out;
    int authed;
    char *rx;              /* a frame arriving in pieces */
    size_t rxlen;
    struct live_conn *prev, *next;
};

static struct live_conn *conns;

/* A feed event: to every signed-in console. */
static void on_event(const char *event, size_t len, void *data) {
    (void)data;
    for (struct live_conn *c = conns; c; c = c->next)
        if (c->authed) ws_queue_push(&c->out, event, len, 0);
}

static void send_json(struct live_conn *c, json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text) ws_queue_push(&c->out, text, strlen(text), 0);
    free(text);
}

static void *live_open(struct lws *wsi, void *data) {
    (void)data;
    struct live_conn *c = xcalloc(1, sizeof(*c));
    ws_queue_init(&c->out, wsi, WS_OPEN, MAX_QUEUED);
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, AUTH_TIMEOUT_S);   /* sign in, or be dropped */
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
    feed_listen(on_event, NULL);
    return c;
}

/* The first frame: the token. */
static void live_frame(struct live_conn *c, const char *in, size_t len) {
    if (c->authed) return;   /* nothing else is asked of a console yet */
    json_t *j = json_loadb(in, len, 0, NULL);
    json_t *tok = json_object_get(j, "token");
    int ok = json_is_string(tok) && admin_http_token_ok(json_string_value(tok));
    json_decref(j);
    if (!ok) {
        send_json(c, json_pack("{s:s, s:s}", "type", "error", "error", "unauthorized"));
        ws_queue_close(&c->out, 1008, "unauthorized", 1, 5);
        return;
    }
    c->authed = 1;
    lws_set_timeout(c->out.wsi, NO_PENDING_TIMEOUT, 0);
    send_json(c, json_pack("{s:s, s:o}", "type", "hello", "events", feed_recent()));
}

static void live_receive(void *conn, const char *in, size_t len, int final, int binary) {
    struct live_conn *c = conn;
    if (binary || c->rxlen + len > MAX_FRAME) {
        ws_queue_close(&c->out, 1009, "frame too large", 0, 5);
        return;
    }
    c->rx = xrealloc(c->rx, c->rxlen + len + 1);
    memcpy(c->rx + c->rxlen, in, len);
    c->rxlen += len;
    if (!final) return;
    live_frame(c, c->rx, c->rxlen);
    free(c->rx);
    c->rx = NULL;
    c->rxlen = 0;
}

static int live_writable(void *conn) {
    struct live_conn *c = conn;
    return ws_queue_writable(&c->out);
}

static void live_closed(void *conn) {
    struct live_conn *c = conn;
    if (c->prev) c->prev->next = c->next;
    else conns = c->next;
    if (c->next) c->next->prev = c->prev;
    ws_queue_closed(&c->out);
    free(c->rx);
    free(c);
}

/* Refuse the upgrade at once while the console is off. */
static int live_accept(struct lws *wsi, void *data) {
    (void)wsi, (void)data;
    return admin_http_token() ? 0 : 404;
}

static const struct web_route live_route = {
    .path = "/admin/live", .ws_accept = live_accept, .ws_open = live_open, .ws_receive = live_receive,
    .ws_writable = live_writable, .ws_closed = live_closed,
};

void admin_live_routes_add(void) {
    web_route_add(&live_route);
}
