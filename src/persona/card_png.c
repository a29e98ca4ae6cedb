/* card_png.c - the card JSON hidden in a PNG's tEXt chunk, read by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "persona/card.h"
#include "lib/xalloc.h"

static const unsigned char png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

static unsigned long be32(const unsigned char *p) {
    return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) | p[3];
}

/* The value of one base64 character, or -1. */
static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

unsigned char *card_base64_decode(const char *in, size_t len, size_t *outlen) {
    while (len > 0 && in[len - 1] == '=') len--;
    if (len % 4 == 1) return NULL;
    unsigned char *out = xmalloc(len / 4 * 3 + 3);
    size_t n = 0;
    unsigned long acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1ul << bits) - 1;
        }
    }
    *outlen = n;
    return out;
}

char *card_png_json(const unsigned char *buf, size_t len, size_t *outlen, char *err, size_t errlen) {
    if (len < 8 || memcmp(buf, png_magic, 8)) {
        snprintf(err, errlen, "png: not a PNG file");
        return NULL;
    }
    const unsigned char *chara = NULL, *ccv3 = NULL;
    size_t chara_len = 0, ccv3_len = 0, at = 8;
    for (;;) {
        if (len - at < 12) {
            snprintf(err, errlen, "png: truncated at byte %zu (no IEND chunk)", at);
            return NULL;
        }
        unsigned long clen = be32(buf + at);
        const unsigned char *type = buf + at + 4;
        if (clen > len - at - 12) {
            snprintf(err, errlen, "png: chunk %.4s at byte %zu claims %lu bytes, past the end of the file", type, at, clen);
            return NULL;
        }
        const unsigned char *data = buf + at + 8;
        unsigned long crc = crc32(crc32(0L, Z_NULL, 0), type, (uInt)(clen + 4));
        if (crc != be32(data + clen)) {
            snprintf(err, errlen, "png: chunk %.4s at byte %zu has a bad CRC", type, at);
            return NULL;
        }
        if (!memcmp(type, "IEND", 4)) break;
        if (!memcmp(type, "tEXt", 4)) {
            const unsigned char *nul = memchr(data, 0, clen);
            if (nul) {
                size_t klen = (size_t)(nul - data), tlen = clen - klen - 1;
                if (klen == 4 && !memcmp(data, "ccv3", 4)) ccv3 = nul + 1, ccv3_len = tlen;
                else if (klen == 5 && !memcmp(data, "chara", 5)) chara = nul + 1, chara_len = tlen;
            }
        }
        at += 12 + clen;
    }
    const char *field = ccv3 ? "ccv3" : "chara";
    const unsigned char *text = ccv3 ? ccv3 : chara;
    size_t tlen = ccv3 ? ccv3_len : chara_len;
    if (!text) {
        snprintf(err, errlen, "png: no \"ccv3\" or \"chara\" tEXt chunk (not a character card)");
        return NULL;
    }
    if (tlen / 4 * 3 > CARD_JSON_MAX) {
        snprintf(err, errlen, "%s: the card is over the %u-byte limit", field, CARD_JSON_MAX);
        return NULL;
    }
    size_t n;
    unsigned char *json = card_base64_decode((const char *)text, tlen, &n);
    if (!json) {
        snprintf(err, errlen, "%s: broken base64", field);
        return NULL;
    }
    *outlen = n;
    return (char *)json;
}
