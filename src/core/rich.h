/* rich.h - rich replies: an embed, buttons and an ephemeral flag beside a
 * reply's text.
 *
 * A skill hands rich_check() what a plugin asked for; it comes back in one
 * checked shape that every adapter reads (struct outgoing's rich):
 *
 *   { "embed": { "title", "description", "url", "color": 0xRRGGBB,
 *                "image", "footer", "fields": [ { "name", "value", "inline" } ] },
 *     "buttons": [ [ { "label", "id" } | { "label", "url" }, ... ], ... ],
 *     "ephemeral": true }
 *
 * buttons is a list of rows. The limits are Discord's, the strictest
 * platform: longer strings are cut, too many fields or buttons refused.
 * Adapters that cannot show rich replies get rich_plain()'s text instead
 * (core/platform.c does that for them). */
#ifndef CHORUS_RICH_H
#define CHORUS_RICH_H
#include <stddef.h>
#include <jansson.h>

#define RICH_TITLE_MAX 256          /* code points */
#define RICH_DESCRIPTION_MAX 4096
#define RICH_FIELDS_MAX 25
#define RICH_FIELD_NAME_MAX 256
#define RICH_FIELD_VALUE_MAX 1024
#define RICH_FOOTER_MAX 2048
#define RICH_EMBED_TOTAL_MAX 6000
#define RICH_ROW_BUTTONS_MAX 5
#define RICH_ROWS_MAX 5
#define RICH_LABEL_MAX 80
#define RICH_ID_MAX 100             /* a button's custom id, bytes */
#define RICH_URL_MAX 512

/* Check and normalize IN (embed, buttons, ephemeral; other keys are an
 * error). Returns a new object, or NULL with a sentence in ERR. An IN with
 * nothing rich in it gives an empty object. */
json_t *rich_check(const json_t *in, char *err, size_t errlen);
/* Is RICH (checked) showing anything: an embed or buttons? */
int rich_has_content(const json_t *rich);
/* TEXT followed by RICH as readable lines: title, link, description,
 * "name: value" per field, image URL, then the buttons as [label] or
 * [label: url]. Returns a new string. */
char *rich_plain(const char *text, const json_t *rich);
#endif
