/* test_utf8.c - unit tests for src/utf8.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "lib/utf8.h"

/* An independent validator that decodes code point values and checks the
 * RFC 3629 limits arithmetically, to cross-check the table-driven one. */
static int ref_valid(const unsigned char *s, size_t n) {
    size_t i = 0, j, k;
    unsigned long cp, min;

    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            k = 1; cp = c & 0x1F; min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2; cp = c & 0x0F; min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < k) return 0;
        for (j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

/* Check utf8_valid() on a byte string given with its length. */
static void valid_case(const char *s, size_t len, int expected, const char *name) {
    is_int(utf8_valid(s, len), expected, "utf8_valid: %s", name);
}

/* Repair s and compare the result byte by byte with expected. */
static void repair_case(const char *s, size_t len, const char *expected, size_t explen,
                        const char *name) {
    size_t outlen = (size_t)-1;
    char *out = utf8_repair(s, len, &outlen);

    is_mem(out, outlen, expected, explen, "utf8_repair: %s", name);
    ok(out != NULL && out[outlen] == '\0', "utf8_repair: %s is NUL-terminated", name);
    ok(out != NULL && utf8_valid(out, outlen), "utf8_repair: %s output is valid", name);
    free(out);
}

#define FFFD "\xEF\xBF\xBD"

/* Known good and known bad sequences, one property each. */
static void test_valid(void) {
    valid_case("", 0, 1, "empty");
    valid_case("hello", 5, 1, "ASCII");
    valid_case("a\0b", 3, 1, "embedded NUL");
    valid_case("\xC2\x80", 2, 1, "U+0080, smallest 2-byte");
    valid_case("\xC3\xA9", 2, 1, "e-acute");
    valid_case("\xDF\xBF", 2, 1, "U+07FF");
    valid_case("\xE0\xA0\x80", 3, 1, "U+0800, smallest 3-byte");
    valid_case("\xE4\xB8\xAD\xE6\x96\x87", 6, 1, "CJK");
    valid_case("\xED\x9F\xBF", 3, 1, "U+D7FF, just below surrogates");
    valid_case("\xEE\x80\x80", 3, 1, "U+E000, just above surrogates");
    valid_case("\xEF\xBF\xBF", 3, 1, "U+FFFF");
    valid_case("\xF0\x90\x80\x80", 4, 1, "U+10000, smallest 4-byte");
    valid_case("\xF0\x9F\x98\x80", 4, 1, "4-byte emoji");
    valid_case("\xF4\x8F\xBF\xBF", 4, 1, "U+10FFFF");

    valid_case("\xC0\x80", 2, 0, "overlong NUL C0 80");
    valid_case("\xC1\xBF", 2, 0, "overlong C1 BF");
    valid_case("\xE0\x80\x80", 3, 0, "overlong E0 80 80");
    valid_case("\xE0\x9F\xBF", 3, 0, "overlong E0 9F BF");
    valid_case("\xF0\x80\x80\x80", 4, 0, "overlong F0 80 80 80");
    valid_case("\xF0\x8F\xBF\xBF", 4, 0, "overlong F0 8F BF BF");
    valid_case("\xED\xA0\x80", 3, 0, "surrogate U+D800");
    valid_case("\xED\xBF\xBF", 3, 0, "surrogate U+DFFF");
    valid_case("\xED\xA0\xBD\xED\xB8\x80", 6, 0, "CESU-8 surrogate pair");
    valid_case("\xF4\x90\x80\x80", 4, 0, "U+110000");
    valid_case("\xF5\x80\x80\x80", 4, 0, "lead F5");
    valid_case("\xFE", 1, 0, "byte FE");
    valid_case("\xFF", 1, 0, "byte FF");
    valid_case("\x80", 1, 0, "stray continuation 80");
    valid_case("a\xBFz", 3, 0, "stray continuation BF inside ASCII");
    valid_case("\xC3\xA9\xA9", 3, 0, "extra continuation after e-acute");
    valid_case("ab\xC3", 3, 0, "truncated 2-byte at end");
    valid_case("ab\xE4\xB8", 4, 0, "truncated 3-byte at end");
    valid_case("ab\xF0\x9F\x98", 5, 0, "truncated 4-byte at end");
    valid_case("\xE4\xB8z", 3, 0, "3-byte interrupted by ASCII");
    valid_case("\xC3\xA9", 1, 0, "len cuts a valid sequence");
    valid_case("\xF0\x9F\x98\x80", 3, 0, "len cuts an emoji");
}

/* Replacement of maximal subparts, compared byte for byte. */
static void test_repair(void) {
    /* The example from the Unicode standard, section 3.9 (table 3-8). */
    repair_case("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", 13,
                "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d", 3 + 3 * 6 + 1,
                "Unicode table 3-8 example");
    repair_case("", 0, "", 0, "empty");
    repair_case("plain", 5, "plain", 5, "valid ASCII unchanged");
    repair_case("\xF0\x9F\x98", 3, FFFD, 3, "a cut 4-byte sequence as long as its replacement is still replaced");
    repair_case("caf\xC3\xA9 \xE2\x82\xAC", 9, "caf\xC3\xA9 \xE2\x82\xAC", 9, "valid multi-byte text copied as it is");
    repair_case("\xE4\xB8\xAD\xF0\x9F\x98\x80", 7, "\xE4\xB8\xAD\xF0\x9F\x98\x80", 7,
                "valid CJK + emoji unchanged");
    repair_case("a\0\xFF" "b", 4, "a\0" FFFD "b", 6, "NUL kept, FF replaced");
    repair_case("\xC0\x80", 2, FFFD FFFD, 6, "C0 80 -> two");
    repair_case("\xE0\x80\x80", 3, FFFD FFFD FFFD, 9, "E0 80 80 -> three");
    repair_case("\xED\xA0\x80", 3, FFFD FFFD FFFD, 9, "surrogate ED A0 80 -> three");
    repair_case("\xF4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD, 12, "F4 90 80 80 -> four");
    repair_case("\xF5\x80", 2, FFFD FFFD, 6, "F5 80 -> two");
    repair_case("x\x80\x80y", 4, "x" FFFD FFFD "y", 8, "two stray continuations");
    repair_case("ab\xF0\x9F\x98", 5, "ab" FFFD, 5, "truncated emoji at end -> one");
    repair_case("ab\xE4\xB8", 4, "ab" FFFD, 5, "truncated CJK at end -> one");
    repair_case("ab\xC3", 3, "ab" FFFD, 5, "truncated 2-byte at end -> one");
    repair_case("\xE4\xB8z", 3, FFFD "z", 4, "truncated CJK then ASCII");
    repair_case("\xF0\x9F\xF0\x9F\x98\x80", 6, FFFD "\xF0\x9F\x98\x80", 7,
                "broken emoji then emoji");
    repair_case("\xE0\xA0\xC3\xA9", 4, FFFD "\xC3\xA9", 5, "E0 A0 then e-acute");

    /* outlen is optional. */
    {
        char *out = utf8_repair("\xFF", 1, NULL);
        is_str(out, FFFD, "utf8_repair: outlen may be NULL");
        free(out);
    }
}

/* Code point counting and cutting on mixed 1- to 4-byte text. */
static void test_measure(void) {
    const char *mix = "a\xE4\xB8\xAD\xF0\x9F\x98\x80" "b";   /* a + CJK + emoji + b */
    size_t mixlen = strlen(mix);

    is_int(utf8_codepoints("", 0), 0, "codepoints: empty");
    is_int(utf8_codepoints("abc", 3), 3, "codepoints: ASCII");
    is_int(utf8_codepoints("a\0b", 3), 3, "codepoints: NUL counts");
    is_int(utf8_codepoints(mix, mixlen), 4, "codepoints: mixed widths");
    is_int(utf8_codepoints("\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80", 9), 3,
           "codepoints: 2+3+4 bytes");

    is_int(mixlen, 9, "prefix: test string is 9 bytes");
    is_int(utf8_prefix(mix, mixlen, 0), 0, "prefix: 0 code points");
    is_int(utf8_prefix(mix, mixlen, 1), 1, "prefix: 1 code point");
    is_int(utf8_prefix(mix, mixlen, 2), 4, "prefix: 2 code points ends after CJK");
    is_int(utf8_prefix(mix, mixlen, 3), 8, "prefix: 3 code points ends after emoji");
    is_int(utf8_prefix(mix, mixlen, 4), 9, "prefix: exactly all");
    is_int(utf8_prefix(mix, mixlen, 100), 9, "prefix: limit above length");
    is_int(utf8_prefix(mix, 3, 5), 3, "prefix: never beyond len");
    is_int(utf8_prefix("", 0, 3), 0, "prefix: empty");
}

/* Every 1-, 2- and 3-byte input, and 4-byte inputs around the interesting
 * boundaries, must agree with the reference validator; repairing any of
 * them must give valid UTF-8 and leave valid input untouched. */
static void test_exhaustive(void) {
    static const unsigned char tails[] = { 0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF };
    unsigned char b[4];
    unsigned long i, bad = 0, badrep = 0;
    size_t t1, t2;

    for (i = 0; i < 0x1000000UL; i++) {
        b[0] = (unsigned char)(i >> 16);
        b[1] = (unsigned char)(i >> 8);
        b[2] = (unsigned char)i;
        if (utf8_valid((char *)b, 3) != ref_valid(b, 3)) bad++;
        if (i < 0x10000UL && utf8_valid((char *)b + 1, 2) != ref_valid(b + 1, 2)) bad++;
        if (i < 0x100UL && utf8_valid((char *)b + 2, 1) != ref_valid(b + 2, 1)) bad++;
    }
    is_int(bad, 0, "utf8_valid agrees with reference on all inputs up to 3 bytes");

    bad = 0;
    for (i = 0xF0; i <= 0xFF; i++) {
        unsigned b1;
        for (b1 = 0; b1 < 256; b1++) {
            for (t1 = 0; t1 < sizeof tails; t1++) {
                for (t2 = 0; t2 < sizeof tails; t2++) {
                    size_t outlen;
                    char *out;
                    b[0] = (unsigned char)i;
                    b[1] = (unsigned char)b1;
                    b[2] = tails[t1];
                    b[3] = tails[t2];
                    if (utf8_valid((char *)b, 4) != ref_valid(b, 4)) bad++;
                    out = utf8_repair((char *)b, 4, &outlen);
                    if (out == NULL || !utf8_valid(out, outlen)) badrep++;
                    else if (ref_valid(b, 4) && (outlen != 4 || memcmp(out, b, 4) != 0)) badrep++;
                    free(out);
                }
            }
        }
    }
    is_int(bad, 0, "utf8_valid agrees with reference on 4-byte boundary inputs");
    is_int(badrep, 0, "utf8_repair output always valid, valid input kept");
}

/* Random byte strings: repair output is valid, and repairing it again
 * changes nothing. */
static void test_random(void) {
    uint32_t seed = 12345;
    unsigned long bad = 0;
    unsigned char buf[64];
    int round;
    size_t i;

    for (round = 0; round < 20000; round++) {
        size_t len = round % 64, n1, n2;
        char *a, *b;
        for (i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            /* Bias towards bytes that form multi-byte sequences. */
            buf[i] = (unsigned char)((seed >> 16) & 1 ? 0x80 | ((seed >> 8) & 0x7F) : seed >> 24);
        }
        a = utf8_repair((char *)buf, len, &n1);
        b = a ? utf8_repair(a, n1, &n2) : NULL;
        if (a == NULL || b == NULL || !utf8_valid(a, n1) || n1 != n2 || memcmp(a, b, n1) != 0)
            bad++;
        if (utf8_valid((char *)buf, len) != ref_valid(buf, len)) bad++;
        free(a);
        free(b);
    }
    is_int(bad, 0, "random inputs: repair is valid and idempotent, valid matches reference");
}

/* Bad bytes kept as markers through a parser, then joined across pieces:
 * a character cut between two stream events comes back whole. */
static void test_marks(void) {
    size_t n;
    char *m = utf8_mark_invalid("caf\xC3", 4, &n);
    ok(m && utf8_valid(m, n), "marked text is valid UTF-8");
    is_int((long)n, 3 + 4, "one marker of 4 bytes for the lone lead byte");
    char *m2 = utf8_mark_invalid("\xA9 \xE2\x82", 4, &n);
    size_t n2 = n;
    ok(m2 && utf8_valid(m2, n2), "a continuation and a cut 3-byte lead are marked");
    char buf[64];
    size_t a = utf8_unmark(m, strlen(m));
    memcpy(buf, m, a);
    size_t b = utf8_unmark(m2, n2);
    memcpy(buf + a, m2, b);
    is_mem(buf, a + b, "caf\xC3\xA9 \xE2\x82", 8, "unmarked pieces are the original bytes");
    is_int((long)utf8_cut_tail(buf, a + b), 2, "the cut euro sign waits for its last byte");
    is_int((long)utf8_cut_tail("caf\xC3", 4), 1, "a lone lead byte at the end waits");
    is_int((long)utf8_cut_tail("ok", 2), 0, "ASCII does not wait");
    is_int((long)utf8_cut_tail("\xC3\xA9", 2), 0, "a whole character does not wait");
    is_int((long)utf8_cut_tail("\xF0\x9F\x98", 3), 3, "three bytes of a four-byte emoji wait");
    is_int((long)utf8_cut_tail("x\xE0\x80", 3), 0, "an overlong start is not a cut character");
    is_int((long)utf8_cut_tail("x\x80", 2), 0, "a stray continuation is not a cut character");
    char pua[] = "\xF4\x8F\xBF\xBF";
    is_int((long)utf8_unmark(pua, 4), 1, "the last marker stands for one byte");
    is_int((unsigned char)pua[0], 0xFF, "U+10FFFF is the marker of FF");
    free(m);
    free(m2);
}

/* Run every group; the exit status says whether all passed. */
int main(void) {
    test_valid();
    test_repair();
    test_measure();
    test_exhaustive();
    test_random();
    test_marks();
    return done_testing();
}
