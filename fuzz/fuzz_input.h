/* fuzz_input.h - taking a fuzzer's input apart: bytes, small numbers and
 * strings, in order, until the input runs out (then zeros and "").
 * Header-only: each target includes it once. */
#ifndef CHORUS_FUZZ_INPUT_H
#define CHORUS_FUZZ_INPUT_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_input {
    const uint8_t *p;
    size_t n;
};

/* One byte, or 0 at the end. */
static inline unsigned fuzz_byte(struct fuzz_input *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

/* A little-endian number of N bytes (N <= 8). */
static inline uint64_t fuzz_uint(struct fuzz_input *in, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)fuzz_byte(in) << (8 * i);
    return v;
}

/* A malloc'd NUL-terminated string: the bytes up to the next SEP (dropped)
 * or the end. Its length goes to *LEN when LEN is not NULL. */
static inline char *fuzz_str(struct fuzz_input *in, int sep, size_t *len) {
    const uint8_t *end = in->n ? memchr(in->p, sep, in->n) : NULL;
    size_t k = end ? (size_t)(end - in->p) : in->n;
    char *s = malloc(k + 1);
    if (!s) abort();
    if (k) memcpy(s, in->p, k);
    s[k] = '\0';
    in->p += k;
    in->n -= k;
    if (end) {
        in->p++;
        in->n--;
    }
    if (len) *len = k;
    return s;
}

/* The rest of the input, not copied. */
static inline const uint8_t *fuzz_rest(struct fuzz_input *in, size_t *len) {
    const uint8_t *p = in->p;
    *len = in->n;
    in->p += in->n;
    in->n = 0;
    return p;
}
#endif
