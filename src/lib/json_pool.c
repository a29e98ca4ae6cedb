/* json_pool.c - every message builds and drops a hundred or more small
 * jansson values (strings, objects, their hash table entries): glibc's
 * tcache keeps only 7 blocks per size, so most of them went through
 * _int_malloc and _int_free. Here freed blocks of up to 120 bytes wait on a
 * per-thread list per size class (glibc's own 16-byte chunk classes, read
 * back with malloc_usable_size) for the next value of that class. The
 * blocks stay plain malloc blocks: free() on one is always right. Off in
 * sanitizer builds, where reuse would hide a use after free. */
#include <stdlib.h>
#include <jansson.h>
#include "lib/json_pool.h"

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(CHORUS_NO_JSON_POOL)
#include <malloc.h>
#define JSON_POOL_ON 1
#endif

#ifdef JSON_POOL_ON
#define POOL_CLASSES 9            /* chunk sizes 32..128 bytes: usable 24..120 */
#define POOL_KEEP 1024            /* free blocks kept per class and thread */

struct pool_block {
    struct pool_block *next;
};

static __thread struct pool_block *pool_list[POOL_CLASSES];
static __thread unsigned pool_count[POOL_CLASSES];

/* The size class of a request of N bytes (glibc rounds N + 8 up to 16,
 * at least 32), or -1 when it is too large to pool. */
static int class_of_request(size_t n) {
    size_t chunk = (n + 8 + 15) & ~(size_t)15;
    if (chunk < 32) chunk = 32;
    if (chunk > 32 + 16 * (POOL_CLASSES - 1)) return -1;
    return (int)((chunk - 32) / 16);
}

/* A block of N bytes, from the free list of its class when one waits. */
static void *pool_malloc(size_t n) {
    int c = class_of_request(n);
    if (c >= 0 && pool_list[c]) {
        struct pool_block *b = pool_list[c];
        pool_list[c] = b->next;
        pool_count[c]--;
        return b;
    }
    /* Ask for the class's whole usable size, so the block goes back to the
     * same class when freed. */
    return malloc(c >= 0 ? (size_t)(32 + 16 * c - 8) : n);
}

/* Keep a small block for the next value of its class, else free it. */
static void pool_free(void *p) {
    if (!p) return;
    size_t usable = malloc_usable_size(p);
    if (usable >= 24 && usable <= 120 && (usable + 8) % 16 == 0) {
        int c = (int)((usable + 8 - 32) / 16);
        if (pool_count[c] < POOL_KEEP) {
            struct pool_block *b = p;
            b->next = pool_list[c];
            pool_list[c] = b;
            pool_count[c]++;
            return;
        }
    }
    free(p);
}
#endif

void json_pool_install(void) {
#ifdef JSON_POOL_ON
    json_set_alloc_funcs(pool_malloc, pool_free);
#endif
}
