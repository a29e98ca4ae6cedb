/* telegram_stream.h - streamed replies on Telegram: one message sent, then
 * edited while it grows with editMessageText (core/edit_stream.h), at most
 * one edit per EDIT_MS (times time_scale), on top of the send queue's own
 * limits. Text past 4096 UTF-16 units follows as new messages. */
#ifndef CHORUS_TELEGRAM_STREAM_H
#define CHORUS_TELEGRAM_STREAM_H
#include <uv.h>
#include "core/edit_stream.h"
#include "platforms/telegram/telegram_send.h"

#define STREAM_EDIT_MS 1500.0      /* default spacing of edits */
#define STREAM_IDLE_MS 120000.0    /* a stream never finalized is forgotten after this */

/* Free with edit_streams_free, after the send queue (no callback comes). */
struct edit_streams *telegram_streams_new(uv_loop_t *loop, struct telegram_send *send, double time_scale,
                                          double edit_ms);
#endif
