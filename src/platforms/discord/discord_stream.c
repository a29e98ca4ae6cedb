/* discord_stream.c - the Discord calls behind streamed replies
 * (discord_stream.h): a POST makes the message, a PATCH edits it. */
#include "platforms/discord/discord_stream.h"
#include "lib/utf8.h"

/* One Discord message holds DISCORD_MAX_CONTENT_CP code points. */
static size_t stream_fits(const char *text, size_t len) {
    return utf8_prefix(text, len, DISCORD_MAX_CONTENT_CP);
}

/* The first post (or what follows the final edit), answering REPLY_TO. */
static int stream_post(void *ctx, const char *channel, const char *reply_to, const char *thread, const char *text,
                       platform_sent_fn *cb, void *data) {
    (void)thread;
    return discord_rest_send(ctx, channel, text, reply_to, cb, data);
}

/* A PATCH answered: tell the stream. */
static void on_stream_edited(long status, json_t *body, const char *err, void *data) {
    (void)status;
    (void)body;
    edit_stream_edited(data, err);
}

/* Replace the streamed message's text. */
static int stream_edit(void *ctx, const char *channel, const char *message_id, const char *text, size_t len,
                       struct edit_stream *stream) {
    return discord_rest_edit(ctx, channel, message_id, text, len, on_stream_edited, stream);
}

static const struct edit_stream_ops discord_stream_ops = {
    .platform = "Discord", .fits = stream_fits, .post = stream_post, .edit = stream_edit,
};

struct edit_streams *discord_streams_new(uv_loop_t *loop, struct discord_rest *rest, double time_scale) {
    double scale = time_scale > 0 ? time_scale : 1.0;
    return edit_streams_new(loop, &discord_stream_ops, rest, (uint64_t)(STREAM_EDIT_MS * scale),
                            (uint64_t)(STREAM_IDLE_MS * scale));
}
