/* mattermost_stream.c - the Mattermost calls behind streamed replies
 * (mattermost_stream.h): a POST makes the post, a patch edits it. */
#include "platforms/mattermost/mattermost_stream.h"
#include "lib/utf8.h"

/* One Mattermost post holds MATTERMOST_MAX_POST_CP code points. */
static size_t stream_fits(const char *text, size_t len) {
    return utf8_prefix(text, len, MATTERMOST_MAX_POST_CP);
}

/* The first post (or what follows the final edit), in THREAD (the root
 * post's id): Mattermost answers by thread, not by quoting. */
static int stream_post(void *ctx, const char *channel, const char *reply_to, const char *thread, const char *text,
                       platform_sent_fn *cb, void *data) {
    (void)reply_to;
    return mattermost_rest_post(ctx, channel, thread, text, cb, data);
}

/* A patch answered: tell the stream. */
static void on_stream_edited(long status, json_t *body, const char *err, void *data) {
    (void)status;
    (void)body;
    edit_stream_edited(data, err);
}

/* Replace the streamed post's message. */
static int stream_edit(void *ctx, const char *channel, const char *message_id, const char *text, size_t len,
                       struct edit_stream *stream) {
    return mattermost_rest_patch(ctx, channel, message_id, text, len, on_stream_edited, stream);
}

static const struct edit_stream_ops mattermost_stream_ops = {
    .platform = "Mattermost", .fits = stream_fits, .post = stream_post, .edit = stream_edit,
};

struct edit_streams *mattermost_streams_new(uv_loop_t *loop, struct mattermost_rest *rest, long edit_ms) {
    return edit_streams_new(loop, &mattermost_stream_ops, rest, edit_ms > 0 ? (uint64_t)edit_ms : 1000,
                            (uint64_t)STREAM_IDLE_MS);
}
