/* slack_text.h - text between Slack's mrkdwn and plain UTF-8.
 *
 * Slack escapes &, < and > in message text and uses <...> for its own
 * markup (<@U123> mentions, <!here> broadcasts, <url|label> links). Text we
 * send is escaped so echoed or model text can never ping a channel; text we
 * receive is unescaped after the bot's own mention is cut off. */
#ifndef CHORUS_SLACK_TEXT_H
#define CHORUS_SLACK_TEXT_H
#include <stddef.h>

/* Slack truncates messages over 40,000 characters and advises 4,000. */
#define SLACK_MAX_TEXT_CP 4000

/* A malloc'd copy of TEXT[0..len) with & < > escaped (&amp; &lt; &gt;). */
char *slack_text_escape(const char *text, size_t len);
/* A malloc'd copy of TEXT with &amp; &lt; &gt; turned back into & < >. */
char *slack_text_unescape(const char *text);
/* TEXT without leading mentions of BOT_USER ("<@U123>" or "<@U123|name>"). */
const char *slack_text_strip_mention(const char *text, const char *bot_user);
/* Does TEXT mention BOT_USER anywhere? */
int slack_text_mentions(const char *text, const char *bot_user);
/* The byte length of the first piece of escaped TEXT[0..len) to send: at
 * most MAX_CP code points, cut after a newline or space in its second half
 * when there is one, never inside an &...; entity. */
size_t slack_text_split(const char *text, size_t len, size_t max_cp);
#endif
