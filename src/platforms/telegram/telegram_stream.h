/* telegram_stream.h - a streamed reply shown growing in one Telegram message.
 *
 * The first piece of a reply posts a message (answering REPLY_TO); later
 * pieces accumulate and edit it with editMessageText, at most one edit per
 * EDIT_MS (times time_scale) per message, on top of the send queue's own
 * limits. The final send of that reply edits the message to the final text;
 * text past 4096 UTF-16 units follows as new messages. */
#ifndef CHORUS_TELEGRAM_STREAM_H
#define CHORUS_TELEGRAM_STREAM_H
#include <stddef.h>
#include <uv.h>
#include "core/platform.h"
#include "platforms/telegram/telegram_send.h"

#define STREAM_EDIT_MS 1500.0      /* default spacing of edits */
#define STREAM_IDLE_MS 120000.0    /* a stream never finalized is forgotten after this */

struct telegram_streams;

struct telegram_streams *telegram_streams_new(uv_loop_t *loop, struct telegram_send *send, double time_scale,
                                              double edit_ms);
/* Forget every stream (after the queue is freed: no callback comes). */
void telegram_streams_free(struct telegram_streams *s);
/* A piece of the reply to REPLY_TO in CHANNEL. */
void telegram_stream_delta(struct telegram_streams *s, const char *channel, const char *reply_to, const char *text,
                           size_t len);
/* The final text of the reply to REPLY_TO. Returns 1 when a stream takes it
 * (CB is called once it is shown), 0 when nothing was streamed for it. */
int telegram_stream_final(struct telegram_streams *s, const char *channel, const char *reply_to, const char *text,
                          platform_sent_fn *cb, void *data);
#endif
