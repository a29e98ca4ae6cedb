/* typing.h - "typing..." kept showing in a channel while a reply is made.
 *
 * Discord and Telegram show a typing indicator for a few seconds after each
 * call; a reply from a model takes longer. A keeper makes the platform's
 * typing call at once and every EVERY_MS after, until the reply goes out
 * (typing_keeper_stop) or MAX_MS have passed (a reply that never comes). */
#ifndef CHORUS_TYPING_H
#define CHORUS_TYPING_H
#include <stdint.h>
#include <uv.h>

/* The platform's typing call for CHANNEL: 0, or -1 when it could not be made. */
typedef int typing_send_fn(void *ctx, const char *channel);

struct typing_keeper;

struct typing_keeper *typing_keeper_new(uv_loop_t *loop, uint64_t every_ms, uint64_t max_ms, typing_send_fn *send,
                                        void *ctx);
/* Show typing in CHANNEL until stopped: SEND's answer, or 0 when it is
 * shown already. */
int typing_keeper_start(struct typing_keeper *k, const char *channel);
/* The reply to CHANNEL went out (or never will): no more renewals. */
void typing_keeper_stop(struct typing_keeper *k, const char *channel);
/* Stop every channel and free K (its timers close on the loop). */
void typing_keeper_free(struct typing_keeper *k);
#endif
