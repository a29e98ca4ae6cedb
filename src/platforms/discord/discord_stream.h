/* discord_stream.h - a streamed reply shown growing in one Discord message.
 *
 * The first piece of a reply posts a message (answering REPLY_TO); later
 * pieces accumulate and edit it, at most one edit per STREAM_EDIT_MS (times
 * time_scale) per message. The final send of that reply edits the message
 * to the final text instead of posting a new one; text past 2000 code
 * points follows as new messages, as a plain send would post it. */
#ifndef CHORUS_DISCORD_STREAM_H
#define CHORUS_DISCORD_STREAM_H
#include <stddef.h>
#include <uv.h>
#include "platforms/discord/discord_rest.h"
#include "core/platform.h"

#define STREAM_EDIT_MS 1000.0      /* Discord's edits: keep well inside the limits */
#define STREAM_IDLE_MS 120000.0    /* a stream never finalized is forgotten after this */

struct discord_streams;

struct discord_streams *discord_streams_new(uv_loop_t *loop, struct discord_rest *rest, double time_scale);
/* Forget every stream (call after discord_rest_free: no REST callback comes). */
void discord_streams_free(struct discord_streams *s);
/* A piece of the reply to REPLY_TO in CHANNEL. */
void discord_stream_delta(struct discord_streams *s, const char *channel, const char *reply_to, const char *text,
                          size_t len);
/* The final text of the reply to REPLY_TO. Returns 1 when a stream takes it
 * (CB is called once it is shown), 0 when nothing was streamed for it. */
int discord_stream_final(struct discord_streams *s, const char *channel, const char *reply_to, const char *text,
                         platform_sent_fn *cb, void *data);
#endif
