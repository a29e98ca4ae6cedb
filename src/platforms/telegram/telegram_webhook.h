/* telegram_webhook.h - webhook mode: Telegram POSTs each update to a path on
 * chorusd's own listener (a route of io/web).
 *
 * A request must carry X-Telegram-Bot-Api-Secret-Token equal to the secret
 * given to setWebhook (compared in constant time) and a JSON update; the
 * update goes to the callback and the answer is 200, so Telegram forgets it
 * (503 when the callback cannot take it now, so Telegram sends it again).
 * A refused request gets 401 and is logged (without the header's value). */
#ifndef CHORUS_TELEGRAM_WEBHOOK_H
#define CHORUS_TELEGRAM_WEBHOOK_H
#include <jansson.h>

struct telegram_webhook;

/* Returns 0 when the update is taken (answer 200), -1 when it must come
 * again (answer 503: Telegram retries). */
typedef int telegram_hook_fn(json_t *update, void *data);

/* Serve PATH; SECRET is kept (a copy). */
struct telegram_webhook *telegram_webhook_new(const char *path, const char *secret, telegram_hook_fn *fn, void *data);
/* Stop serving the path and free W. */
void telegram_webhook_free(struct telegram_webhook *w);
#endif
