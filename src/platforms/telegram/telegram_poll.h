/* telegram_poll.h - long polling with getUpdates, the offset kept in Redis.
 *
 * At start the confirmed offset is read from Redis (key OFFSET_KEY below
 * the Redis prefix), so a restart asks for exactly the updates after the
 * last one taken. Each update of an answer is handed to the callback in
 * order, then the offset past it is written to Redis; the next getUpdates
 * (timeout seconds of long polling, allowed_updates) goes out once those
 * writes are answered, and tells Telegram to forget what was taken. An
 * answer that arrives after telegram_poll_stop() is not taken: it comes
 * again after a restart. Errors back off (429: retry_after). */
#ifndef CHORUS_TELEGRAM_POLL_H
#define CHORUS_TELEGRAM_POLL_H
#include <jansson.h>
#include <uv.h>
#include "core/platform.h"
#include "platforms/telegram/telegram_api.h"

struct telegram_poll;

/* One update (borrowed). Returns 0 when taken, -1 when it must come again
 * later (polling stops there, the offset stays before it). */
typedef int telegram_update_fn(json_t *update, void *data);

struct telegram_poll_options {
    long timeout_s;            /* getUpdates timeout, default 50 */
    json_t *allowed_updates;   /* borrowed; NULL: Telegram's default */
    double time_scale;
    const char *offset_key;    /* below the Redis prefix: "telegram:<bot id>:offset" */
    void (*dead)(void *data);  /* polling stopped for good (the token refused); NULL: none */
};

struct telegram_poll *telegram_poll_new(uv_loop_t *loop, struct telegram_api *api, const struct platform_host *host,
                                        const struct telegram_poll_options *o, telegram_update_fn *fn, void *data);
/* Read the stored offset, then poll until stopped. */
void telegram_poll_start(struct telegram_poll *p);
/* Stop polling: the request in flight is dropped, its updates not taken. */
void telegram_poll_stop(struct telegram_poll *p);
void telegram_poll_free(struct telegram_poll *p);
/* The next offset asked for (the last update taken + 1), 0 before any. */
long long telegram_poll_offset(const struct telegram_poll *p);
/* Is UPDATE_ID one already taken (just below the offset)? */
int telegram_poll_repeat(const struct telegram_poll *p, long long update_id);
/* Record UPDATE_ID as taken; 1 when it is a repeat (webhook mode uses this
 * to deduplicate and store). */
int telegram_poll_seen(struct telegram_poll *p, long long update_id);
void telegram_poll_store(struct telegram_poll *p, long long next_offset);
/* Read the stored offset only (webhook mode), then call DONE. */
void telegram_poll_load(struct telegram_poll *p, void (*done)(void *data), void *data);
#endif
