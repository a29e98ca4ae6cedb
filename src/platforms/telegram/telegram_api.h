/* telegram_api.h - Bot API calls over http_client.
 *
 * A method's URL is <api_url>/bot<token>/<method>; parameters go as a JSON
 * body. The token is in every URL, so every error sentence handed back is
 * passed through redact() first. A call completes exactly once, from the
 * loop, unless cancelled. */
#ifndef CHORUS_TELEGRAM_API_H
#define CHORUS_TELEGRAM_API_H
#include <jansson.h>
#include <uv.h>

struct http_client;
struct telegram_api;
struct telegram_call;

struct telegram_result {
    long status;              /* HTTP status, 0 when no answer came */
    int ok;                   /* the answer's "ok" */
    json_t *result;           /* "result" (borrowed for the callback), or NULL */
    long error_code;          /* on !ok: "error_code" (or the HTTP status) */
    const char *description;  /* on !ok: Telegram's description, or a transport error; redacted */
    long retry_after;         /* parameters.retry_after in seconds, or -1 */
    long long migrate_to;     /* parameters.migrate_to_chat_id, or 0 */
};

typedef void telegram_api_fn(const struct telegram_result *r, void *data);

struct telegram_api *telegram_api_new(struct http_client *http, const char *api_url, const char *token);
/* Cancel every call in flight (no callbacks) and release A. */
void telegram_api_free(struct telegram_api *a);
/* Call METHOD with PARAMS (an object, taken over; NULL for none). TIMEOUT_MS
 * bounds the whole exchange (0: 30 s). Returns the call, or NULL when it
 * could not start (CB is then not called). */
struct telegram_call *telegram_api_call(struct telegram_api *a, const char *method, json_t *params, long timeout_ms,
                                        telegram_api_fn *cb, void *data);
/* The same with the body already JSON text (taken over, malloc'd). */
struct telegram_call *telegram_api_call_text(struct telegram_api *a, const char *method, char *body, long timeout_ms,
                                             telegram_api_fn *cb, void *data);
/* Forget call C: its callback will not run. */
void telegram_api_cancel(struct telegram_call *c);
/* Calls in flight. */
int telegram_api_in_flight(const struct telegram_api *a);
#endif
