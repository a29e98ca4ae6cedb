/* dict.h - a small string-keyed hash table (chained, grows by doubling). */
#ifndef CHORUS_DICT_H
#define CHORUS_DICT_H
#include <stddef.h>

struct dict;
struct dict *dict_new(void);
/* Free the table; values are the caller's to free first (see dict_each). */
void dict_free(struct dict *d);
void *dict_get(const struct dict *d, const char *key);
/* Insert or replace; the key is copied. Returns 0 or -1 on out of memory. */
int dict_set(struct dict *d, const char *key, void *value);
/* Remove KEY; returns its value or NULL. */
void *dict_del(struct dict *d, const char *key);
size_t dict_size(const struct dict *d);
/* OUT = A, the 0x1f separator, B: a two-part key, cut to OUTLEN (> 0) and
 * NUL-terminated exactly like snprintf(out, outlen, "%s\x1f%s", a, b). */
void dict_key2(char *out, size_t outlen, const char *a, const char *b);
/* Every value, NULL-terminated, in a malloc'd array: for freeing them,
 * which a dict_each callback may not do (it must not change the table). */
void **dict_values(const struct dict *d);
/* Call FN for each entry; FN must not change the table. */
void dict_each(const struct dict *d, void (*fn)(const char *key, void *value, void *arg), void *arg);
#endif
