/* slack_rich.h - a rich reply (core/rich.h) as Slack Block Kit blocks:
 * sections for the text, title, description and fields, an image block,
 * a context block for the footer and an actions block of buttons per row.
 * Buttons carry block_id "chorus:<row>" so a press (block_actions) is known
 * as ours and reaches skills as a "button" event. */
#ifndef CHORUS_SLACK_RICH_H
#define CHORUS_SLACK_RICH_H
#include <jansson.h>

#define SLACK_BLOCK_PREFIX "chorus:"
#define SLACK_BUTTON_TEXT_MAX 75        /* code points of a button's text */
#define SLACK_SECTION_TEXT_MAX 3000
#define SLACK_FIELD_TEXT_MAX 2000
#define SLACK_SECTION_FIELDS_MAX 10

/* TEXT escaped as mrkdwn, with user mentions (<@U123>) kept working: a
 * new string. */
char *slack_rich_mrkdwn(const char *text);
/* The blocks for TEXT and RICH (checked); a new array. */
json_t *slack_rich_blocks(const char *text, const json_t *rich);
#endif
