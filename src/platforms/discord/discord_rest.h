/* discord_rest.h - Discord's REST API v10 over http_client, every call
 * queued through the shared rate limiter (discord_ratelimit.h).
 *
 * Calls complete exactly once, from the loop, never inside the call that
 * started them. A 4xx answer is reported to the caller and is never fatal,
 * but for a 401: the token is dead and no call is sent after it. 429s are
 * retried by the limiter, transport errors and 5xx a few times with
 * backoff. */
#ifndef CHORUS_DISCORD_REST_H
#define CHORUS_DISCORD_REST_H
#include <jansson.h>
#include <uv.h>

struct http_client;
struct discord_rest;

struct discord_rest_options {
    const char *api_base;      /* "https://discord.com/api" (/v10 is added unless there) */
    const char *token;         /* the bot token, sent as "Authorization: Bot ..." */
    double global_per_sec;     /* process-wide request rate, default 50 */
    double time_scale;         /* < 1 shrinks retry waits (tests) */
    /* Optional: told once when Discord answers 401 (the token was reset or
     * revoked). From then on every call fails at once without being sent,
     * so a bot with a dead token does not pile up refused requests, which
     * Discord counts towards its IP ban. */
    void (*refused)(void *data);
    void *refused_data;
};

/* STATUS is the HTTP status (0: no answer); BODY the parsed JSON answer or
 * NULL (borrowed for the call); ERR a sentence when the call failed. */
typedef void discord_rest_fn(long status, json_t *body, const char *err, void *data);
/* Completion of a send: the id of the last message posted, or ERR. */
typedef void discord_sent_fn(const char *message_id, const char *err, void *data);

#define DISCORD_MAX_CONTENT_CP 2000

struct discord_rest *discord_rest_new(uv_loop_t *loop, struct http_client *http,
                                      const struct discord_rest_options *opts);
/* Cancel every queued and running call (no callbacks) and release R. */
void discord_rest_free(struct discord_rest *r);

/* Any call: METHOD and PATH below /api/v10 ("/channels/1/messages"); BODY is
 * taken over (may be NULL). Returns 0, or -1 (CB is then not called). */
int discord_rest_call(struct discord_rest *r, const char *method, const char *path, json_t *body,
                      discord_rest_fn *cb, void *data);

/* GET /gateway/bot. */
int discord_rest_gateway_bot(struct discord_rest *r, discord_rest_fn *cb, void *data);
/* Post TEXT to CHANNEL, split at DISCORD_MAX_CONTENT_CP code points, the
 * first part answering REPLY_TO (may be NULL), with no mentions parsed. */
int discord_rest_send(struct discord_rest *r, const char *channel, const char *text, const char *reply_to,
                      discord_sent_fn *cb, void *data);
/* The same, the last part carrying EXTRA (Discord message fields such as
 * "embeds" and "components"; may be NULL); TEXT may then be empty. */
int discord_rest_send_rich(struct discord_rest *r, const char *channel, const char *text, const char *reply_to,
                           const json_t *extra, discord_sent_fn *cb, void *data);
/* The same with KEY (may be NULL): each part carries a nonce made from it
 * with enforce_nonce, so Discord posts it once however often it is sent. */
int discord_rest_send_keyed(struct discord_rest *r, const char *channel, const char *text, const char *reply_to,
                            const json_t *extra, const char *key, discord_sent_fn *cb, void *data);
/* Replace a message's text with TEXT[0..len), cut at DISCORD_MAX_CONTENT_CP code points. */
int discord_rest_edit(struct discord_rest *r, const char *channel, const char *message, const char *text, size_t len,
                      discord_rest_fn *cb, void *data);
int discord_rest_delete(struct discord_rest *r, const char *channel, const char *message,
                        discord_rest_fn *cb, void *data);
int discord_rest_typing(struct discord_rest *r, const char *channel, discord_rest_fn *cb, void *data);
/* React with EMOJI (a unicode emoji, or "name:id" for a custom one). */
int discord_rest_react(struct discord_rest *r, const char *channel, const char *message, const char *emoji,
                       discord_rest_fn *cb, void *data);
/* Replace the application's commands with COMMANDS (a JSON array, taken
 * over): the guild's when GUILD_ID is set (instant), else the global ones. */
int discord_rest_register_commands(struct discord_rest *r, const char *application_id, const char *guild_id,
                                   json_t *commands, discord_rest_fn *cb, void *data);
/* Answer interaction ID with callback TYPE (5: deferred, "thinking..."). */
int discord_rest_interaction_callback(struct discord_rest *r, const char *id, const char *token, int type,
                                      discord_rest_fn *cb, void *data);
/* A follow-up of an interaction: edit the original response (ORIGINAL) or
 * post a new message; TEXT is cut at DISCORD_MAX_CONTENT_CP code points. */
int discord_rest_followup(struct discord_rest *r, const char *application_id, const char *token, int original,
                          const char *text, size_t len, discord_rest_fn *cb, void *data);
/* The same carrying EXTRA (embeds, components, flags; may be NULL). */
int discord_rest_followup_rich(struct discord_rest *r, const char *application_id, const char *token, int original,
                               const char *text, size_t len, const json_t *extra, discord_rest_fn *cb, void *data);
/* The limiter of R (to share its limits with other processes). */
struct ratelimit *discord_rest_ratelimit(struct discord_rest *r);
/* 429s the limiter has seen, for tests and metrics. */
long discord_rest_429_count(const struct discord_rest *r);
/* Requests queued or running. */
int discord_rest_pending(const struct discord_rest *r);
#endif
