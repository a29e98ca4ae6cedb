/* test_slack_text.c - mrkdwn escaping, mention stripping and splitting. */
#include <stdlib.h>
#include <string.h>
#include "platforms/slack/slack_text.h"
#include "tap.h"

int main(void) {
    char *e = slack_text_escape("a & b <!channel> <@U1> > c", 26);
    is_str(e, "a &amp; b &lt;!channel&gt; &lt;@U1&gt; &gt; c", "& < > are escaped, so no broadcast or mention gets through");
    char *u = slack_text_unescape(e);
    is_str(u, "a & b <!channel> <@U1> > c", "unescaping gives the text back");
    free(e);
    free(u);
    is_str(slack_text_strip_mention("<@UBOT> hi", "UBOT"), "hi", "the bot's leading mention is cut");
    is_str(slack_text_strip_mention("<@UBOT|chorus>  <@UBOT> hi", "UBOT"), "hi", "named and repeated mentions too");
    is_str(slack_text_strip_mention("<@UOTHER> hi", "UBOT"), "<@UOTHER> hi", "another user's mention stays");
    ok(slack_text_mentions("hey <@UBOT> there", "UBOT"), "a mention in the middle is seen");
    ok(!slack_text_mentions("hey <@UBOTX> there", "UBOT"), "a longer id is not the bot");
    size_t n = slack_text_split("hello world", 11, 4000);
    is_int((long)n, 11, "short text is one piece");
    n = slack_text_split("aaaa bbbb", 9, 7);
    is_int((long)n, 5, "cut after the last space in the second half");
    n = slack_text_split("aaaaa&amp;bb", 12, 8);
    is_int((long)n, 5, "never inside an entity");
    char big[9001];
    memset(big, 'x', 9000);
    big[9000] = '\0';
    n = slack_text_split(big, 9000, SLACK_MAX_TEXT_CP);
    is_int((long)n, SLACK_MAX_TEXT_CP, "a long word is cut at the limit");
    n = slack_text_split("ééééé", 10, 3);
    is_int((long)n, 6, "cut on a code point boundary");
    return done_testing();
}
