/* mattermost_stream.h - a streamed reply shown growing in one Mattermost message.
 *
 * The first piece of a reply posts a message (answering REPLY_TO); later
 * pieces accumulate and edit it (PUT /posts/{id}/patch), at most one edit
 * per edit_ms per message. The final send of that reply edits the message
 * to the final text instead of posting a new one; text past 2000 code
 * points follows as new messages, as a plain send would post it. */
#ifndef CHORUS_MATTERMOST_STREAM_H
#define CHORUS_MATTERMOST_STREAM_H
#include <stddef.h>
#include <uv.h>
#include "platforms/mattermost/mattermost_rest.h"
#include "core/platform.h"

#define STREAM_IDLE_MS 120000.0    /* a stream never finalized is forgotten after this */

struct mattermost_streams;

/* EDIT_MS spaces the edits of one message (default 1000). */
struct mattermost_streams *mattermost_streams_new(uv_loop_t *loop, struct mattermost_rest *rest, long edit_ms);
/* Forget every stream (call after mattermost_rest_free: no REST callback comes). */
void mattermost_streams_free(struct mattermost_streams *s);
/* A piece of the reply to REPLY_TO in CHANNEL, posted in the thread ROOT
 * (NULL: none). */
void mattermost_stream_delta(struct mattermost_streams *s, const char *channel, const char *reply_to, const char *root,
                             const char *text, size_t len);
/* The final text of the reply to REPLY_TO. Returns 1 when a stream takes it
 * (CB is called once it is shown), 0 when nothing was streamed for it. */
int mattermost_stream_final(struct mattermost_streams *s, const char *channel, const char *reply_to, const char *text,
                         platform_sent_fn *cb, void *data);
#endif
