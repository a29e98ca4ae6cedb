/* xalloc.h - allocation that cannot fail silently.
 *
 * chorusd cannot answer anyone without memory, so running out is fatal
 * with one clear line instead of a NULL checked (or not) at each of a few
 * hundred call sites. Memory a plugin may exhaust on purpose (a Lua
 * state's allocator) keeps plain malloc and its own limit. */
#ifndef CHORUS_XALLOC_H
#define CHORUS_XALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
#endif
