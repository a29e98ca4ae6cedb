/* tokens.c - the documented token estimate (see tokens.h). */
#include "lib/tokens.h"

/* Is code point CP a CJK character that tokenizers count about one each? */
static int is_cjk(unsigned long cp) {
    return (cp >= 0x3040 && cp <= 0x30ff) ||     /* Hiragana, Katakana */
           (cp >= 0x3400 && cp <= 0x4dbf) ||     /* CJK extension A */
           (cp >= 0x4e00 && cp <= 0x9fff) ||     /* CJK unified ideographs */
           (cp >= 0xac00 && cp <= 0xd7af) ||     /* Hangul syllables */
           (cp >= 0xf900 && cp <= 0xfaff) ||     /* compatibility ideographs */
           (cp >= 0xff00 && cp <= 0xffef) ||     /* full-width forms */
           (cp >= 0x20000 && cp <= 0x2fa1f);     /* supplementary ideographs */
}

long tokens_estimate(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    long tokens = 0;
    size_t other = 0, i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        unsigned long cp = c;
        if (n > 1 && i + n <= len) {
            cp = c & (0xff >> (n + 1));
            for (size_t k = 1; k < n; k++) cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (n > 1 && i + n <= len && is_cjk(cp)) {
            tokens += (long)((other + 3) / 4) + 1;
            other = 0;
        } else {
            other += n;
        }
        i += n;
    }
    return tokens + (long)((other + 3) / 4);
}

long tokens_estimate_messages(const json_t *messages) {
    long total = 0;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        json_t *content = json_object_get(m, "content");
        if (json_is_string(content)) total += tokens_estimate(json_string_value(content), json_string_length(content));
        total += 4;
    }
    return total;
}
