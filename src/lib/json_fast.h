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

#endif
