/* memfind.h - find a short needle in a long text, 16 bytes at a time.
 *
 * glibc's memmem steps a byte at a time (two-way with a shift table) for
 * needles of three bytes or more; a gateway payload is searched for a
 * marker on every message. This compares the needle's first and last bytes
 * against 16 positions at once (SSE2) and checks the whole needle only
 * where both match. */
#ifndef CHORUS_MEMFIND_H
#define CHORUS_MEMFIND_H
#include <stddef.h>

/* The first occurrence of NEEDLE[0..m) in HAY[0..n), or NULL; as memmem
 * (an empty needle is found at HAY). */
const char *memfind(const char *hay, size_t n, const char *needle, size_t m);

#endif
