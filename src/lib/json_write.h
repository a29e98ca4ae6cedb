/* json_write.h - small JSON objects written straight to text.
 *
 * A request body built with json_pack and printed with json_dumps costs
 * more than the rest of a send; the bodies sent on every message are a few
 * string members, written here in one pass instead. */
#ifndef CHORUS_JSON_WRITE_H
#define CHORUS_JSON_WRITE_H

#include <stddef.h>

/* The object {"KEYS[0]":"VALS[0]",...} of N string members as malloc'd,
 * NUL-terminated text: the keys as they are (plain ASCII names), each
 * value VALS[i][0..LENS[i]) escaped as json_dumps escapes it; a NULL value
 * leaves its member out. NULL when a value is not valid UTF-8 (json_pack
 * refuses it too). */
char *json_write_strings(int n, const char *const *keys, const char *const *vals, const size_t *lens);

#endif
