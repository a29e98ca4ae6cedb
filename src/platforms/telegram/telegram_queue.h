/* telegram_queue.h - the one send queue for everything the bot writes into
 * chats (sendMessage, editMessageText), under Telegram's flood limits.
 *
 * Each chat has its own FIFO with one request in flight, so a chat's
 * messages arrive in order. Across chats: at most RATE requests a second
 * (a token bucket), a chat written at most once per CHAT_INTERVAL, a group
 * (negative chat id) at most GROUP_PER_MINUTE times in any minute. A 429
 * pauses the chat for parameters.retry_after and sends the same request
 * again; a "group chat was upgraded" answer moves the chat to
 * migrate_to_chat_id (for this and every later request) and sends again;
 * transport errors and 5xx are tried again a few times. Durations are
 * multiplied by time_scale (tests). */
#ifndef CHORUS_TELEGRAM_QUEUE_H
#define CHORUS_TELEGRAM_QUEUE_H
#include <jansson.h>
#include <uv.h>
#include "platforms/telegram/telegram_api.h"

struct telegram_queue;

struct telegram_queue_options {
    double rate;               /* requests per second overall, default 30 */
    double chat_interval_ms;   /* between two requests to one chat, default 1000 */
    int group_per_minute;      /* per group; 0: no limit; default 20 */
    double time_scale;         /* 1.0 */
};

struct telegram_queue *telegram_queue_new(uv_loop_t *loop, struct telegram_api *api,
                                          const struct telegram_queue_options *o);
/* Drop everything queued or in flight (no callbacks) and release Q. */
void telegram_queue_free(struct telegram_queue *q);
/* Queue METHOD for CHAT (a chat id) with PARAMS (taken over; its chat_id is
 * set here). CB gets the final result. Returns 0, or -1 (CB not called). */
int telegram_queue_push(struct telegram_queue *q, const char *chat, const char *method, json_t *params,
                        telegram_api_fn *cb, void *data);
/* The same with the parameters as JSON text: FIELDS (taken over,
 * malloc'd) holds the members but chat_id, "a":1,"b":2 (no braces; may be
 * empty). */
int telegram_queue_push_text(struct telegram_queue *q, const char *chat, const char *method, char *fields,
                             telegram_api_fn *cb, void *data);
/* The chat CHAT moved to, after a migration, or CHAT itself. */
const char *telegram_queue_chat(struct telegram_queue *q, const char *chat);
/* 429s seen, and requests waiting or in flight. */
long telegram_queue_429s(const struct telegram_queue *q);
int telegram_queue_pending(const struct telegram_queue *q);
#endif
