/* onebot_api.h - OneBot v11 API calls over the link: {action, params,
 * echo} out, {status, retcode, data, echo} back, matched by echo.
 *
 * Calls wait in order while no connection is up and are written when one
 * opens; a call written but unanswered when its connection drops is
 * written again on the next one (an answer may have been lost with the
 * socket), so a reconnect loses nothing. A call unanswered within the
 * timeout fails with "timeout". A failed status or a nonzero retcode
 * (other than 1, "async") fails it with the retcode and the
 * implementation's wording. */
#ifndef CHORUS_ONEBOT_API_H
#define CHORUS_ONEBOT_API_H
#include <stddef.h>
#include <jansson.h>
#include <uv.h>

struct onebot_link;
struct onebot_api;

/* DATA (borrowed; may be NULL) on success, else ERR. Called exactly once. */
typedef void onebot_api_done_fn(json_t *data, const char *err, void *arg);

struct onebot_api *onebot_api_new(uv_loop_t *loop, struct onebot_link *link, double timeout_ms, size_t max_waiting);
/* Call ACTION with PARAMS (taken over). Returns 0, or -1 when too many
 * calls wait (CB is then not called). */
int onebot_api_call(struct onebot_api *a, const char *action, json_t *params, onebot_api_done_fn *cb, void *arg);
/* The same with PARAMS already JSON text, an object of LEN bytes (taken
 * over, malloc'd): a reply is written so, not built. */
int onebot_api_call_text(struct onebot_api *a, const char *action, char *params, size_t len, onebot_api_done_fn *cb,
                         void *arg);
/* O is a frame from the implementation: 1 if it answered one of our calls
 * (handled), else 0. */
int onebot_api_response(struct onebot_api *a, json_t *o);
/* A connection for calls opened: write what waits. */
void onebot_api_link_up(struct onebot_api *a);
/* It closed: what was written and not answered will be written again. */
void onebot_api_link_down(struct onebot_api *a);
/* Calls not yet answered. */
size_t onebot_api_pending(const struct onebot_api *a);
/* Fail every call with "stopping" and free. */
void onebot_api_free(struct onebot_api *a);
#endif
