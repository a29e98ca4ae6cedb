/* fuzz_utf8.c - UTF-8 checking, repair and cutting (lib/utf8.c) against a
 * reference: the WHATWG decoder, whose error handling is the Unicode
 * "substitution of maximal subparts" that utf8_repair promises. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/utf8.h"
#include "fuzz_input.h"

/* Append code point CP as UTF-8. */
static size_t put_cp(unsigned char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { out[0] = 0xC0 | (cp >> 6); out[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) {
        out[0] = 0xE0 | (cp >> 12); out[1] = 0x80 | ((cp >> 6) & 0x3F); out[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    out[0] = 0xF0 | (cp >> 18); out[1] = 0x80 | ((cp >> 12) & 0x3F);
    out[2] = 0x80 | ((cp >> 6) & 0x3F); out[3] = 0x80 | (cp & 0x3F);
    return 4;
}

/* The WHATWG Encoding standard's UTF-8 decoder, written from its steps;
 * returns the re-encoded text's length and counts the errors. */
static size_t whatwg_decode(const unsigned char *s, size_t len, unsigned char *out, size_t *errors) {
    uint32_t cp = 0;
    int needed = 0, seen = 0;
    unsigned lower = 0x80, upper = 0xBF;
    size_t o = 0;
    *errors = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned b = s[i];
        if (needed == 0) {
            if (b <= 0x7F) o += put_cp(out + o, b);
            else if (b >= 0xC2 && b <= 0xDF) { needed = 1; cp = b & 0x1F; }
            else if (b >= 0xE0 && b <= 0xEF) {
                if (b == 0xE0) lower = 0xA0;
                if (b == 0xED) upper = 0x9F;
                needed = 2; cp = b & 0xF;
            } else if (b >= 0xF0 && b <= 0xF4) {
                if (b == 0xF0) lower = 0x90;
                if (b == 0xF4) upper = 0x8F;
                needed = 3; cp = b & 0x7;
            } else { o += put_cp(out + o, 0xFFFD); (*errors)++; }
            continue;
        }
        if (b < lower || b > upper) {
            cp = 0; needed = 0; seen = 0; lower = 0x80; upper = 0xBF;
            o += put_cp(out + o, 0xFFFD); (*errors)++;
            i--;                                   /* prepend the byte to the stream */
            continue;
        }
        lower = 0x80; upper = 0xBF;
        cp = (cp << 6) | (b & 0x3F);
        if (++seen == needed) {
            o += put_cp(out + o, cp);
            cp = 0; needed = 0; seen = 0;
        }
    }
    if (needed) { o += put_cp(out + o, 0xFFFD); (*errors)++; }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    size_t max_cp = fuzz_byte(&in);
    size_t len;
    const char *s = (const char *)fuzz_rest(&in, &len);

    unsigned char *ref = malloc(len * 3 + 1);
    size_t errors, reflen = whatwg_decode((const unsigned char *)s, len, ref, &errors);
    int valid = utf8_valid(s, len);
    if (valid != (errors == 0)) {
        fprintf(stderr, "utf8_valid says %d, the reference found %zu errors\n", valid, errors);
        abort();
    }
    size_t outlen = 0;
    char *fixed = utf8_repair(s, len, &outlen);
    if (!fixed || outlen != reflen || memcmp(fixed, ref, reflen) != 0 || fixed[outlen] != '\0') {
        fprintf(stderr, "utf8_repair differs from the WHATWG decoder (%zu vs %zu bytes)\n", outlen, reflen);
        abort();
    }
    if (!utf8_valid(fixed, outlen)) abort();
    if (valid && (outlen != len || memcmp(fixed, s, len) != 0)) abort();

    size_t cps = utf8_codepoints(fixed, outlen);
    size_t cut = utf8_prefix(fixed, outlen, max_cp);
    if (cut > outlen) abort();
    if (!utf8_valid(fixed, cut)) abort();                         /* cut on a boundary */
    if (utf8_codepoints(fixed, cut) != (cps < max_cp ? cps : max_cp)) abort();
    if (utf8_prefix(s, len, max_cp) > len) abort();
    free(fixed);
    free(ref);
    return 0;
}
