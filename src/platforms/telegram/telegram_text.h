/* telegram_text.h - the shapes Telegram wants text in: pieces of at most
 * 4096 UTF-16 code units, and MarkdownV2 that always parses.
 *
 * Telegram counts message length and entity offsets in UTF-16 code units,
 * so a code point above U+FFFF counts twice. A piece never ends inside a
 * code point. MarkdownV2 output escapes every reserved character outside
 * the few constructs it keeps (code, pre, bold), and a construct that is
 * not closed within the text is escaped too, so no entity is ever broken. */
#ifndef CHORUS_TELEGRAM_TEXT_H
#define CHORUS_TELEGRAM_TEXT_H
#include <stddef.h>

#define TELEGRAM_MAX_TEXT 4096      /* UTF-16 code units of a message */

/* UTF-16 code units of valid UTF-8 TEXT[0..len). */
size_t telegram_utf16_len(const char *text, size_t len);
/* Byte length of the first piece of TEXT[0..len) holding at most MAX
 * UTF-16 units: the whole text when it fits, else cut after the last
 * newline (or else space) in its second half, else at the limit. */
size_t telegram_split(const char *text, size_t len, size_t max_units);
/* TEXT as MarkdownV2 showing it literally: every reserved character
 * escaped. Malloc'd, NUL-terminated. */
char *telegram_md2_escape(const char *text, size_t len);
/* TEXT written in common Markdown (```pre```, `code`, **bold**) as
 * MarkdownV2 with those kept and everything else shown literally.
 * Malloc'd, NUL-terminated. */
char *telegram_md2_from_markdown(const char *text, size_t len);
/* A construct telegram_md2_from_markdown keeps, as byte offsets: where it
 * starts, its content [body, body_end), where it ends (after the closing
 * marker); for a ``` block [fence_end, body) is its language line (empty
 * when there is none). */
struct telegram_md_span {
    size_t start, fence_end, body, body_end, end;
};
/* What telegram_md_span_cut found. */
enum { TELEGRAM_CUT_NONE = 0, TELEGRAM_CUT_INLINE = 1, TELEGRAM_CUT_BLOCK = 2 };
/* Does such a construct (```pre```, `code`, **bold**) start before byte
 * CUT of TEXT[0..len) and end after it, so that a piece cut there would
 * lose it? TELEGRAM_CUT_NONE if not; else SP says where it is and
 * TELEGRAM_CUT_INLINE is returned, or TELEGRAM_CUT_BLOCK for a ``` block. */
int telegram_md_span_cut(const char *text, size_t len, size_t cut, struct telegram_md_span *sp);
/* As telegram_split, but the cut moves back before such a construct it
 * would fall inside, unless the construct starts the piece (then it is
 * longer than a message and cut as telegram_split does). For a message
 * whose pieces are made one edit at a time (a streamed reply). */
size_t telegram_split_spans(const char *text, size_t len, size_t max_units);
/* Is TEXT[0..len) only white space (or empty)? */
int telegram_blank(const char *text, size_t len);
#endif
