/* telegram_stream.c - the Telegram calls behind streamed replies
 * (telegram_stream.h): sendMessage makes the message, editMessageText
 * edits it, both through the send queue. */
#include <string.h>
#include "platforms/telegram/telegram_stream.h"
#include "platforms/telegram/telegram_text.h"

/* One Telegram message holds TELEGRAM_MAX_TEXT UTF-16 units; a code
 * block, code or bold is not cut in two between messages when it can move
 * to the next one whole (each half would show its markers literally). */
static size_t stream_fits(const char *text, size_t len) {
    return telegram_split_spans(text, len, TELEGRAM_MAX_TEXT);
}

/* The first message (or what follows the final edit), answering REPLY_TO. */
static int stream_post(void *ctx, const char *channel, const char *reply_to, const char *thread, const char *text,
                       platform_sent_fn *cb, void *data) {
    (void)thread;
    return telegram_send_text(ctx, channel, text, strlen(text), reply_to, cb, data);
}

/* An edit answered: tell the stream. */
static void on_stream_edited(const char *message_id, const char *err, void *data) {
    (void)message_id;
    edit_stream_edited(data, err);
}

/* Replace the streamed message's text. */
static int stream_edit(void *ctx, const char *channel, const char *message_id, const char *text, size_t len,
                       struct edit_stream *stream) {
    return telegram_send_edit(ctx, channel, message_id, text, len, on_stream_edited, stream);
}

static const struct edit_stream_ops telegram_stream_ops = {
    .platform = "Telegram", .fits = stream_fits, .post = stream_post, .edit = stream_edit,
};

struct edit_streams *telegram_streams_new(uv_loop_t *loop, struct telegram_send *send, double time_scale,
                                          double edit_ms) {
    double scale = time_scale > 0 ? time_scale : 1.0;
    double every = edit_ms > 0 ? edit_ms : STREAM_EDIT_MS;
    return edit_streams_new(loop, &telegram_stream_ops, send, (uint64_t)(every * scale),
                            (uint64_t)(STREAM_IDLE_MS * scale));
}
