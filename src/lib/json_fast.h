/* json_fast.h - json_loadb(buf, len, 0, err), quicker for the common case.
 *
 * The result is always what json_loadb with no flags gives: the same value,
 * or NULL with jansson's error in ERR (which may be NULL). */
#ifndef CHORUS_JSON_FAST_H
#define CHORUS_JSON_FAST_H

#include <stddef.h>
#include <jansson.h>

json_t *json_fast_loadb(const char *buf, size_t len, json_error_t *err);
/* The same, but the values of the keys in SKIP (NULL-terminated) are left
 * out of every object, unread: a payload's parts the
 * caller never looks at cost no allocation. When the fast reader gives up,
 * json_loadb's full value is returned (with those keys). */
json_t *json_fast_loadb_lean(const char *buf, size_t len, const char *const *skip, json_error_t *err);
/* The same, but of the top-level object only the members named in KEEP
 * (NULL-terminated) are built; the others are stepped over, unread. For
 * an answer of which the caller reads one or two members. A list given
 * here or to _lean is made into a table once and remembered by its
 * address (its key pointers are checked on each call). */
json_t *json_fast_loadb_only(const char *buf, size_t len, const char *const *keep, json_error_t *err);
/* Find the value at PATH (object keys, NULL-terminated: {"d", "author",
 * "bot", NULL}) in the JSON text BUF without building anything: *VAL and
 * *VLEN get its text as it stands (a string with its quotes). 0, or -1 when
 * a step is missing or the text on the way does not read. Only the text up
 * to the value's end is looked at, so this says nothing about the rest.
 * With VLEN NULL the value is not stepped over: *VAL is where it starts,
 * and nothing past that is looked at (for a caller that reads it itself). */
int json_fast_member(const char *buf, size_t len, const char *const *path, const char **val, size_t *vlen);
/* Step once through the object that is the whole text BUF (whitespace
 * around it) and give the text of the members named in KEYS
 * (NULL-terminated) as they stand: VALS[i] and VLENS[i] for KEYS[i], NULL
 * and 0 when absent, the last one when a key comes twice (as json_loadb
 * keeps it). Nothing is built; values are stepped over as above (strings
 * must end and brackets pair up). 0, or -1 when the text is not such an
 * object. For reading a few members when the one wanted last is far in. */
int json_fast_members(const char *buf, size_t len, const char *const *keys, const char **vals, size_t *vlens);

#endif
