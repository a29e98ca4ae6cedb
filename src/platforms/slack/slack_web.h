/* slack_web.h - Slack's Web API over http_client, every call through one
 * send queue per platform.
 *
 * The queue keeps Slack's limits before Slack has to enforce them: calls to
 * one channel go one at a time and in order, chat.postMessage at about
 * channel_rate per second per channel (bursts of channel_burst), and the
 * tier 3 methods (chat.update, reactions.add) at 50 per minute. A 429 pauses
 * the method (and, for chat.postMessage, the channel) for its Retry-After and
 * the call is sent again; transport errors and 5xx are retried a few times.
 * {"ok": false} answers go to the caller, never retried. Calls complete
 * exactly once, from the loop, never inside the call that started them. */
#ifndef CHORUS_SLACK_WEB_H
#define CHORUS_SLACK_WEB_H
#include <jansson.h>
#include <uv.h>

struct http_client;
struct slack_web;

struct slack_web_options {
    const char *api_url;       /* "https://slack.com/api/": a method's URL is api_url + method */
    const char *bot_token;     /* xoxb-..., for every method but apps.connections.open */
    const char *app_token;     /* xapp-..., for apps.connections.open */
    double channel_rate;       /* chat.postMessage per second per channel, default 1 */
    int channel_burst;         /* ... in bursts of, default 3 */
    double time_scale;         /* < 1 shrinks tier windows and retry waits (tests) */
    /* A method was answered with an error saying the token no longer works
     * (invalid_auth, token_revoked, account_inactive...), after its own
     * callback; must not free the queue. */
    void (*refused)(const char *method, const char *err, void *arg);
    void *arg;                 /* for refused */
};

/* BODY is the parsed answer (borrowed) when it came; ERR is NULL when Slack
 * said ok, else Slack's error code ("invalid_auth") or a sentence. */
typedef void slack_web_fn(json_t *body, const char *err, void *data);

struct slack_web *slack_web_new(uv_loop_t *loop, struct http_client *http, const struct slack_web_options *o);
/* Cancel every queued and running call (no callbacks) and free W. */
void slack_web_free(struct slack_web *w);
/* Call METHOD with ARGS (a JSON object, taken over). CHANNEL (may be NULL)
 * orders and paces the call with the others of that channel. Returns 0, or
 * -1 (CB is then not called). */
int slack_web_call(struct slack_web *w, const char *method, json_t *args, const char *channel, slack_web_fn *cb,
                   void *data);
/* The same with ARGS as JSON text already (a malloc'd object, taken over;
 * NULL gives -1), for the calls made on every message. */
int slack_web_call_text(struct slack_web *w, const char *method, char *args, const char *channel, slack_web_fn *cb,
                        void *data);
/* POST BODY (taken over) to a slash command's or an action's response_url. */
int slack_web_respond(struct slack_web *w, const char *url, json_t *body, slack_web_fn *cb, void *data);
/* 429s seen, and calls queued or running (tests, status). */
long slack_web_429_count(const struct slack_web *w);
int slack_web_pending(const struct slack_web *w);
#endif
