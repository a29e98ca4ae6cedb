/* edit_stream.h - a streamed reply shown growing in one message, for the
 * platforms that can edit a message once posted (Discord, Mattermost,
 * Telegram).
 *
 * The first piece of a reply posts a message (answering REPLY_TO); later
 * pieces accumulate and edit it, at most one edit per edit_ms per message.
 * Each stream has at most one call in flight, so its post and edits reach
 * the platform in order. The final send of that reply edits the message to
 * the final text instead of posting a new one; text past one message
 * follows as new messages, as a plain send would post it. A stream never
 * finalized is forgotten after idle_ms.
 *
 * The adapter gives the calls (struct edit_stream_ops); the throttle, the
 * order and the fallbacks live here once. */
#ifndef CHORUS_EDIT_STREAM_H
#define CHORUS_EDIT_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "core/platform.h"

struct edit_stream;
struct edit_streams;

struct edit_stream_ops {
    const char *platform;          /* for log lines and errors: "Discord" */
    /* How many bytes of TEXT[0..len) fit in one message (a UTF-8 boundary). */
    size_t (*fits)(const char *text, size_t len);
    /* Post TEXT (NUL-terminated, may need splitting) to CHANNEL, answering
     * REPLY_TO (NULL: none) in THREAD (the adapter's, may be NULL); CB gets
     * the id of the last message posted. 0, or -1 with CB not called. */
    int (*post)(void *ctx, const char *channel, const char *reply_to, const char *thread, const char *text,
                platform_sent_fn *cb, void *data);
    /* Replace MESSAGE_ID's text with TEXT[0..len) (it fits); when the
     * answer comes, call edit_stream_edited(STREAM, error or NULL). 0, or
     * -1 with no call made. */
    int (*edit)(void *ctx, const char *channel, const char *message_id, const char *text, size_t len,
                struct edit_stream *stream);
};

/* Streams posted and edited through OPS on CTX. */
struct edit_streams *edit_streams_new(uv_loop_t *loop, const struct edit_stream_ops *ops, void *ctx, uint64_t edit_ms,
                                      uint64_t idle_ms);
/* Forget every stream; call after the adapter's calls are cancelled (no
 * answer may come after). */
void edit_streams_free(struct edit_streams *s);
/* A piece of the reply to REPLY_TO in CHANNEL (THREAD: where the first
 * post goes, passed to ops->post). */
void edit_stream_delta(struct edit_streams *s, const char *channel, const char *reply_to, const char *thread,
                       const char *text, size_t len);
/* The final text of the reply to REPLY_TO. 1 when a stream takes it (CB
 * is called once it is shown), 0 when nothing was streamed for it. */
int edit_stream_final(struct edit_streams *s, const char *channel, const char *reply_to, const char *text,
                      platform_sent_fn *cb, void *data);
/* The adapter's answer to ops->edit: ERR, or NULL when it was done. */
void edit_stream_edited(struct edit_stream *st, const char *err);

#endif
