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

/* The marker of invalid byte b (80..FF): U+10FF00 + b, F4 8F BE|BF xx. */
static void mark_byte(unsigned char b, char *out) {
    out[0] = (char)0xF4;
    out[1] = (char)0x8F;
    out[2] = (char)(b >= 0xC0 ? 0xBF : 0xBE);
    out[3] = (char)(0x80 | (b & 0x3F));
}

/* Keep invalid bytes through a strict JSON parser, so a character cut
 * between two stream events can be joined after both were parsed. */
char *utf8_mark_invalid(const char *buf, size_t len, size_t *outlen) {
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0, o = 0, n, k;
    int ok;
    char *out = xmalloc(len * 4 + 1);
    if (!out) return NULL;
    while (i < len) {
        n = seq_scan(s + i, len - i, &ok);
        if (ok) {
            memcpy(out + o, s + i, n);
            o += n;
        } else {
            for (k = 0; k < n; k++, o += 4) mark_byte(s[i + k], out + o);
        }
        i += n;
    }
    out[o] = '\0';
    if (outlen) *outlen = o;
    return out;
}

/* Turn markers back into the bytes they stand for, in place. */
size_t utf8_unmark(char *buf, size_t len) {
    unsigned char *s = (unsigned char *)buf;
    size_t i = 0, o = 0;
    while (i < len) {
        if (i + 3 < len && s[i] == 0xF4 && s[i + 1] == 0x8F && (s[i + 2] == 0xBE || s[i + 2] == 0xBF) &&
            s[i + 3] >= 0x80 && s[i + 3] <= 0xBF) {
            s[o++] = (unsigned char)((s[i + 2] == 0xBF ? 0xC0 : 0x80) | (s[i + 3] & 0x3F));
            i += 4;
        } else {
            s[o++] = s[i++];
        }
    }
    return o;
}

/* A text piece may end inside a character whose rest comes next: find it. */
size_t utf8_cut_tail(const char *buf, size_t len) {
    const unsigned char *s = (const unsigned char *)buf;
    for (size_t k = 1; k <= 3 && k <= len; k++) {
        unsigned char c = s[len - k];
        if (c >= 0x80 && c <= 0xBF) continue;              /* a continuation: look further back */
        if (c < 0xC2 || c > 0xF4) return 0;
        int ok;
        return seq_scan(s + len - k, k, &ok) == k && !ok ? k : 0;
    }
    return 0;
}
