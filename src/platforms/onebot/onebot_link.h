/* onebot_link.h - the websocket connections to a OneBot v11 implementation
 * (NapCat, Lagrange, go-cqhttp), either way round:
 *
 * forward: chorusd dials the implementation's websocket server (url, one
 *   Universal connection at "/") with "Authorization: Bearer <token>", and
 *   reconnects forever with a jittered backoff;
 * reverse: the implementation dials chorusd's own listener at a path; the
 *   upgrade is refused unless X-Client-Role is Universal, API or Event,
 *   X-Self-ID is a number (the configured one, if set) and the token
 *   matches (compared in constant time).
 *
 * Liveness: every frame counts as a sign of life; once the implementation
 * has said how often it sends heartbeats (onebot_link_heartbeat), a link
 * silent for that many intervals is dead: forward reconnects, reverse
 * closes the connections (the implementation dials again). The link
 * carries whole text frames; the protocol is the adapter's. */
#ifndef CHORUS_ONEBOT_LINK_H
#define CHORUS_ONEBOT_LINK_H
#include <stddef.h>
#include <uv.h>

struct lws_context;
struct onebot_link;

struct onebot_link_options {
    const char *url;             /* forward: ws://host:port/path; NULL for reverse */
    const char *listen;          /* reverse: the path on chorusd's listener */
    const char *access_token;    /* NULL or "": none asked, none sent */
    const char *self_id;         /* reverse: only this bot (NULL: any) */
    double reconnect_min_ms;
    double reconnect_max_ms;
    double heartbeat_misses;     /* intervals of silence before the link is dead */
    size_t max_inbound;          /* largest message accepted */
};

struct onebot_link_callbacks {
    /* One whole text message. */
    void (*frame)(const char *text, size_t len, void *data);
    /* A connection that carries API calls opened (SELF_ID: from X-Self-ID
     * in reverse mode, else NULL) or the last one closed. */
    void (*up)(const char *self_id, void *data);
    void (*down)(void *data);
};

/* Start connecting (forward) or serving the path (reverse). CTX is the lws
 * context. Returns NULL with err. */
struct onebot_link *onebot_link_new(uv_loop_t *loop, struct lws_context *ctx, const struct onebot_link_options *opts,
                                    const struct onebot_link_callbacks *cb, void *data, char *err, size_t errlen);
/* Queue TEXT on the connection that carries API calls. Returns 0, or -1
 * when there is none open. */
int onebot_link_send(struct onebot_link *l, const char *text, size_t len);
/* 1 when a connection that carries API calls is open. */
int onebot_link_up(const struct onebot_link *l);
/* The implementation beats every INTERVAL_MS: watch for silence. */
void onebot_link_heartbeat(struct onebot_link *l, long interval_ms);
/* Close everything (1000) and free; no callbacks after. */
void onebot_link_free(struct onebot_link *l);
/* OneBot websockets still open in this process (for the drain). */
int onebot_link_open_connections(void);
#endif
