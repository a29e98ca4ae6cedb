/* xalloc.c - allocation wrappers that abort on out-of-memory (xalloc.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/xalloc.h"

/* Out of memory: say so on stderr (no allocation needed) and stop. */
static void xalloc_fail(size_t n) {
    char line[96];
    int len = snprintf(line, sizeof(line), "chorusd: out of memory (allocating %zu bytes)\n", n);
    if (len > 0 && write(2, line, (size_t)len) < 0) { /* nothing more to do */ }
    abort();
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) xalloc_fail(n);
    return p;
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) xalloc_fail(count * size);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) xalloc_fail(n);
    return q;
}

char *xstrdup(const char *s) {
    char *p = strdup(s);
    if (!p) xalloc_fail(strlen(s) + 1);
    return p;
}

char *xstrndup(const char *s, size_t n) {
    char *p = strndup(s, n);
    if (!p) xalloc_fail(n + 1);
    return p;
}
