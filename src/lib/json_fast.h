/* json_fast.h - json_loadb(buf, len, 0, err), quicker for the common case.
 *
 * The result is always what json_loadb with no flags gives: the same value,
 * or NULL with jansson's error in ERR (which may be NULL). */
#ifndef CHORUS_JSON_FAST_H
#define CHORUS_JSON_FAST_H

#include <stddef.h>
#include <jansson.h>

json_t *json_fast_loadb(const char *buf, size_t len, json_error_t *err);

#endif
