/* utf8.c - checking, repairing and measuring UTF-8 text.
 *
 * Validation follows the table of well-formed byte sequences in the Unicode
 * standard (chapter 3, table 3-7). Only the second byte of a sequence has a
 * range narrower than 80..BF; that one range is what rules out overlongs,
 * surrogates and code points above U+10FFFF. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/utf8.h"
#include "lib/xalloc.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Look at the sequence starting at s[0] (n > 0 bytes available). Returns
 * its length in bytes. *ok is 1 if it is a complete well-formed sequence;
 * otherwise it is 0 and the length is that of the maximal subpart, the
 * longest prefix that could have started a well-formed sequence (at least 1
 * byte), which is what gets replaced by one U+FFFD. */
static size_t seq_scan(const unsigned char *s, size_t n, int *ok) {
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;    /* allowed range of byte 2 */
    size_t need, i;

    *ok = 0;
    if (c < 0x80) {
        *ok = 1;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;          /* overlong below U+0800 */
        if (c == 0xED) hi = 0x9F;          /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;          /* overlong below U+10000 */
        if (c == 0xF4) hi = 0x8F;          /* above U+10FFFF */
    } else {
        return 1;                          /* 80..C1, F5..FF never start one */
    }

    for (i = 1; i < need; i++) {
        if (i >= n) return i;              /* cut short by the buffer end */
        if (i == 1) {
            if (s[i] < lo || s[i] > hi) return i;
        } else if (s[i] < 0x80 || s[i] > 0xBF) {
            return i;
        }
    }
    *ok = 1;
    return need;
}

/* Walk buf once, copying well-formed sequences and writing U+FFFD for each
 * maximal invalid subpart into out. With out NULL it only measures, so the
 * caller can size the allocation exactly. Returns the output length. */
static size_t repair_into(const unsigned char *buf, size_t len, char *out) {
    size_t i = 0, o = 0, n;
    int ok;

    while (i < len) {
        n = seq_scan(buf + i, len - i, &ok);
        if (ok) {
            if (out) memcpy(out + o, buf + i, n);
            o += n;
        } else {
            if (out) memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
        i += n;
    }
    return o;
}

/* Check text before trusting it as UTF-8, e.g. before putting it in JSON. */
int utf8_valid(const char *buf, size_t len) {
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;
    int ok;

    while (i < len) {
        if (s[i] < 0x80) {                 /* fast path for ASCII, 16 or 8 bytes at a time */
            i++;
#if defined(__SSE2__)
            while (len - i >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
                if (_mm_movemask_epi8(v)) break;
                i += 16;
            }
#endif
            while (len - i >= 8) {
                uint64_t v;
                memcpy(&v, s + i, 8);
                if (v & 0x8080808080808080ULL) break;
                i += 8;
            }
            continue;
        }
        i += seq_scan(s + i, len - i, &ok);
        if (!ok) return 0;
    }
    return 1;
}

/* Turn untrusted bytes into valid UTF-8 without dropping the valid parts,
 * replacing what is broken the same way browsers and other decoders do. */
char *utf8_repair(const char *buf, size_t len, size_t *outlen) {
    const unsigned char *s = (const unsigned char *)buf;
    size_t n;
    char *out;

    if (len > (SIZE_MAX - 1) / 3) return NULL;   /* output could not be sized */
    /* Most text is valid already (every reply goes through here): one quick
     * check and a copy instead of two walks a sequence at a time. */
    int valid = utf8_valid(buf, len);
    n = valid ? len : repair_into(s, len, NULL);
    out = xmalloc(n + 1);
    if (out == NULL) return NULL;
    if (valid) memcpy(out, buf, len);
    else repair_into(s, len, out);
    out[n] = '\0';
    if (outlen) *outlen = n;
    return out;
}

/* Measure text the way users and platform limits count characters. */
size_t utf8_codepoints(const char *buf, size_t len) {
    const unsigned char *s = (const unsigned char *)buf;
    size_t i, count = 0;

    for (i = 0; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) count++;
    return count;
}

/* Cut text to a character limit without splitting a multi-byte character. */
size_t utf8_prefix(const char *buf, size_t len, size_t max_cp) {
    const unsigned char *s = (const unsigned char *)buf;
    size_t i, count = 0;

    for (i = 0; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            if (count == max_cp) return i;
            count++;
        }
    }
    return len;
}
