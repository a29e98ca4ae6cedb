/* mattermost_rest.h - Mattermost's REST API v4 through one send queue.
 *
 * Every call of the adapter waits in one queue, oldest first. Up to
 * max_inflight run at once, but never two with the same order key (a
 * channel), so the replies to a channel keep their order. The server's
 * rate limit is shared by all of them: an answer with
 * X-Ratelimit-Remaining: 0 holds the queue for one request's worth of the
 * limit (X-Ratelimit-Limit per second, at most X-Ratelimit-Reset seconds),
 * and a 429 holds it for Retry-After (else X-Ratelimit-Reset) and puts the
 * call back at the head. Transport errors and 5xx are retried a few times
 * with backoff. Callbacks come exactly once, from the loop, never from
 * inside the call that queued them. */
#ifndef CHORUS_MATTERMOST_REST_H
#define CHORUS_MATTERMOST_REST_H
#include <stddef.h>
#include <jansson.h>
#include <uv.h>

struct http_client;
struct mattermost_rest;

#define MATTERMOST_MAX_POST_CP 16383    /* the server's limit on a post's message, in runes */

struct mattermost_rest_options {
    const char *url;           /* the server's base URL; calls go to url + "/api/v4" + path */
    const char *token;         /* sent as "Authorization: Bearer ..." */
    int max_inflight;          /* default 4 */
    long retry_ms;             /* first backoff after a transport error or 5xx, default 500 */
    void (*refused)(long status, const char *path, void *arg);   /* an answer was 401 (the token is refused); must not free the queue */
    void *arg;                 /* for refused */
};

/* STATUS is the HTTP status (0: no answer); BODY the parsed JSON answer or
 * NULL (borrowed); ERR a sentence when the call failed (status >= 400 too). */
typedef void mattermost_rest_fn(long status, json_t *body, const char *err, void *data);
/* Completion of a post: its id, or ERR. */
typedef void mattermost_posted_fn(const char *post_id, const char *err, void *data);

struct mattermost_rest *mattermost_rest_new(uv_loop_t *loop, struct http_client *http, const struct mattermost_rest_options *o);
/* Cancel every queued and running call (no callbacks) and free R. */
void mattermost_rest_free(struct mattermost_rest *r);
/* Queue METHOD PATH (below /api/v4) with BODY (taken over, may be NULL);
 * ORDER_KEY (may be NULL) keeps calls with the same key in order. Returns 0,
 * or -1 (CB is then not called). */
int mattermost_rest_call(struct mattermost_rest *r, const char *method, const char *path, json_t *body, const char *order_key,
                         mattermost_rest_fn *cb, void *data);
/* Post TEXT to CHANNEL (in the thread ROOT_ID when not NULL or ""), split
 * at MATTERMOST_MAX_POST_CP code points; CB gets the last part's id. */
int mattermost_rest_post(struct mattermost_rest *r, const char *channel, const char *root_id, const char *text,
                         mattermost_posted_fn *cb, void *data);
/* Replace post POST_ID's message with TEXT[0..len), cut at the limit. */
int mattermost_rest_patch(struct mattermost_rest *r, const char *channel, const char *post_id, const char *text, size_t len,
                          mattermost_rest_fn *cb, void *data);
/* React to POST_ID as USER_ID with the emoji named EMOJI ("thumbsup"). */
int mattermost_rest_react(struct mattermost_rest *r, const char *user_id, const char *post_id, const char *emoji,
                          mattermost_rest_fn *cb, void *data);
long mattermost_rest_429_count(const struct mattermost_rest *r);
int mattermost_rest_pending(const struct mattermost_rest *r);
#endif
