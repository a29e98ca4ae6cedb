/* memfind.c - a short needle in a long text (memfind.h). */
#include <string.h>
#include "lib/memfind.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

const char *memfind(const char *hay, size_t n, const char *needle, size_t m) {
    if (m == 0) return hay;
    if (m > n) return NULL;
    if (m == 1) return memchr(hay, needle[0], n);
    size_t i = 0, last = n - m;   /* candidates start at 0..last */
#if defined(__SSE2__)
    const __m128i first = _mm_set1_epi8(needle[0]), end = _mm_set1_epi8(needle[m - 1]);
    for (; i + 16 <= last + 1; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(hay + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(hay + i + m - 1));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, end)));
        while (mask) {
            unsigned bit = (unsigned)__builtin_ctz(mask);
            if (!memcmp(hay + i + bit + 1, needle + 1, m - 2)) return hay + i + bit;
            mask &= mask - 1;
        }
    }
#endif
    for (; i <= last; i++)
        if (hay[i] == needle[0] && hay[i + m - 1] == needle[m - 1] && !memcmp(hay + i + 1, needle + 1, m - 2))
            return hay + i;
    return NULL;
}
