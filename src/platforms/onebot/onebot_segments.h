/* onebot_segments.h - OneBot v11 message segments and CQ codes.
 *
 * A OneBot message is an array of segments {type, data} or, when the
 * implementation is set to post strings, the CQ-code form of the same
 * ("hi [CQ:at,qq=10001] &#91;x&#93;"), where & [ ] are escaped in text
 * and & [ ] , in code values. This file converts both ways between those
 * and the plain text the rest of chorusd sees. Pure functions: no I/O. */
#ifndef CHORUS_ONEBOT_SEGMENTS_H
#define CHORUS_ONEBOT_SEGMENTS_H
#include <stddef.h>
#include <jansson.h>

#define ONEBOT_MAX_MENTIONS 16

/* What a message says, read from its segments. */
struct onebot_parsed {
    char *text;                        /* text, with the leading at-the-bot removed */
    char *reply_to;                    /* the reply segment's message id, or NULL */
    char *mentions[ONEBOT_MAX_MENTIONS];   /* qq numbers of at segments */
    int nmentions;
    int at_self;                       /* an at segment names the bot */
    int skipped;                       /* malformed segments left out */
};

/* Parse a CQ-code string into a new segment array (never NULL). Malformed
 * codes are kept as text. */
json_t *onebot_cq_parse(const char *s, size_t len);
/* Undo the CQ escapes of text (VALUE: of a code's value, also &#44;) in
 * S[0..LEN) into a new string. */
char *onebot_cq_unescape(const char *s, size_t len, int value);
/* Escape TEXT for a CQ string (VALUE: for a code's value). New string. */
char *onebot_cq_escape(const char *text, int value);
/* A segment array as a CQ-code string (new string). */
char *onebot_cq_build(json_t *segments);

/* Read MESSAGE (an array of segments, or a CQ string) into OUT. SELF_ID is
 * the bot's qq number as a string (NULL: unknown). Returns 0, or -1 when
 * MESSAGE is neither. Free OUT with onebot_parsed_free. */
int onebot_segments_read(json_t *message, const char *self_id, struct onebot_parsed *out);
void onebot_parsed_free(struct onebot_parsed *p);
/* The segments of a reply: a reply segment when REPLY_TO, then TEXT, whose
 * "[CQ:at,qq=N]" codes (mention()'s) become at segments; the rest is text. */
json_t *onebot_segments_reply(const char *text, const char *reply_to);
/* The same segments written to B as JSON text (what json_dumps would
 * write of them), without building them: this runs for every reply. -1,
 * with nothing written, when TEXT or REPLY_TO is not UTF-8 (jansson
 * leaves such a segment out: onebot_segments_reply says how). */
struct json_buf;
int onebot_segments_reply_write(struct json_buf *b, const char *text, const char *reply_to);
#endif
