/* malloc_count.c - counts a process's malloc, calloc, realloc and free
 * calls for bench/discord/run.js --malloc (LD_PRELOAD=bench/tools/malloc_count.so).
 * The counters live in a shared mapping of the file MALLOC_COUNT_FILE, so the
 * bench reads them whenever it likes without signalling the process:
 * four little-endian 64-bit numbers: allocations, frees, reallocs, bytes
 * asked for. Plain builds only (sanitizers replace malloc themselves).
 *   make -C bench/tools */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static volatile uint64_t *counts;   /* NULL until the constructor has mapped the file */

/* Map the counter file before main, if the environment names one. */
__attribute__((constructor)) static void count_init(void) {
    const char *path = getenv("MALLOC_COUNT_FILE");
    if (!path) return;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return;
    if (ftruncate(fd, 4096) == 0) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) counts = p;
    }
    close(fd);
}

/* Add to counter I (relaxed atomics: curl's resolver thread allocates too). */
static void bump(int i, uint64_t v) {
    if (counts) __atomic_fetch_add(&counts[i], v, __ATOMIC_RELAXED);
}

void *malloc(size_t n) {
    bump(0, 1);
    bump(3, n);
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b) {
    bump(0, 1);
    bump(3, a * b);
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n) {
    if (!p) bump(0, 1);
    else bump(2, 1);
    bump(3, n);
    return __libc_realloc(p, n);
}

void free(void *p) {
    if (p) bump(1, 1);
    __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n) {
    bump(0, 1);
    bump(3, n);
    void *p = __libc_memalign(align, n);
    if (!p) return 12;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n) {
    bump(0, 1);
    bump(3, n);
    return __libc_memalign(align, n);
}
