/* telegram_send.h - what the bot writes: replies split at 4096 UTF-16
 * units, edits, "typing..." and reactions, through the send queue.
 *
 * A channel is a chat id ("-1001234"), or a chat id and a forum topic
 * ("-1001234/7"), which sends with message_thread_id. In "markdown" format
 * the text is turned into MarkdownV2 (telegram_text.h), and should Telegram
 * still refuse its entities, the piece is sent again as plain text. */
#ifndef CHORUS_TELEGRAM_SEND_H
#define CHORUS_TELEGRAM_SEND_H
#include <stddef.h>
#include "core/platform.h"
#include "platforms/telegram/telegram_api.h"
#include "platforms/telegram/telegram_queue.h"

struct telegram_send {
    struct telegram_api *api;
    struct telegram_queue *queue;
    int markdown;              /* format = "markdown" */
};

/* Split CHANNEL into its chat (into CHAT) and topic (returned, 0 if none). */
long telegram_channel_split(const char *channel, char *chat, size_t chatlen);
/* Post TEXT to CHANNEL, the first piece answering REPLY_TO (may be NULL).
 * CB gets the id of the last piece posted, or an error. Returns 0 or -1
 * (nothing to send; CB not called). */
int telegram_send_text(struct telegram_send *s, const char *channel, const char *text, size_t len, const char *reply_to,
                       platform_sent_fn *cb, void *data);
/* The same, the last piece carrying MARKUP (a reply_markup such as an
 * inline keyboard; taken over, may be NULL). */
int telegram_send_markup(struct telegram_send *s, const char *channel, const char *text, size_t len, const char *reply_to,
                         json_t *markup, platform_sent_fn *cb, void *data);
/* Replace message MESSAGE_ID's text with TEXT[0..len) (cut at 4096 units);
 * "not modified" counts as done. CB may be NULL. */
int telegram_send_edit(struct telegram_send *s, const char *channel, const char *message_id, const char *text,
                       size_t len, platform_sent_fn *cb, void *data);
int telegram_send_typing(struct telegram_send *s, const char *channel);
int telegram_send_react(struct telegram_send *s, const char *channel, const char *message_id, const char *emoji);
#endif
