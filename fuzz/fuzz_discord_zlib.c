/* fuzz_discord_zlib.c - Discord's zlib-stream gateway transport
 * (platforms/discord/discord_zlib.c). Two ways in: the input fed as the
 * compressed stream itself (what a hostile or broken peer sends), and the
 * input split into payloads that are compressed here the way Discord does
 * (one stream, a sync flush after each) and must come back byte for byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "platforms/discord/discord_zlib.h"
#include "fuzz_input.h"

/* Feed bytes as is, in fragments; whatever comes out stays in bounds. */
static void feed_raw(const uint8_t *p, size_t len, size_t max, unsigned seed) {
    struct discord_zlib *z = discord_zlib_new(max);
    for (size_t i = 0; i < len;) {
        size_t n = 1 + (seed + i * 13) % 97;
        if (n > len - i) n = len - i;
        int rc = discord_zlib_feed(z, p + i, n);
        i += n;
        if (rc) {
            if (rc != DISCORD_ZLIB_TOO_BIG && rc != DISCORD_ZLIB_CORRUPT) abort();
            if (!*discord_zlib_error(z) || discord_zlib_feed(z, p, 1) != rc) abort();   /* stays dead */
            break;
        }
        size_t got;
        const char *out = discord_zlib_take(z, &got);
        if (out && (got > max || out[got] != '\0')) abort();
    }
    discord_zlib_free(z);
}

/* Compress each payload with a sync flush and check it comes back. */
static void round_trip(const uint8_t *p, size_t len, size_t max) {
    z_stream d;
    memset(&d, 0, sizeof(d));
    if (deflateInit(&d, Z_DEFAULT_COMPRESSION) != Z_OK) abort();
    struct discord_zlib *z = discord_zlib_new(max);
    unsigned char *buf = malloc(len * 2 + 64);
    size_t i = 0;
    while (i <= len) {
        const uint8_t *sep = i < len ? memchr(p + i, 0xFE, len - i) : NULL;
        size_t n = sep ? (size_t)(sep - (p + i)) : len - i;
        if (n == 0) {                       /* Discord sends no empty payloads */
            i++;
            continue;
        }
        d.next_in = (Bytef *)(p + i);
        d.avail_in = (uInt)n;
        d.next_out = buf;
        d.avail_out = (uInt)(len * 2 + 64);
        if (deflate(&d, Z_SYNC_FLUSH) != Z_OK || d.avail_in) abort();
        size_t clen = (size_t)(d.next_out - buf);
        /* In two websocket fragments, cut in the middle. */
        int rc = discord_zlib_feed(z, buf, clen / 2);
        if (rc == 0) rc = discord_zlib_feed(z, buf + clen / 2, clen - clen / 2);
        if (rc) {
            if (rc != DISCORD_ZLIB_TOO_BIG || n <= max) {
                fprintf(stderr, "feed failed (%d: %s) on a payload of %zu bytes, cap %zu\n", rc,
                        discord_zlib_error(z), n, max);
                abort();
            }
            break;
        }
        size_t got;
        const char *out = discord_zlib_take(z, &got);
        if (!out || got != n || memcmp(out, p + i, n) != 0) {
            fprintf(stderr, "payload of %zu bytes came back as %zu\n", n, out ? got : 0);
            abort();
        }
        i += n + 1;
    }
    free(buf);
    deflateEnd(&d);
    discord_zlib_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    unsigned mode = fuzz_byte(&in);
    size_t max = 1 + fuzz_uint(&in, 2) % 4096;
    size_t len;
    const uint8_t *rest = fuzz_rest(&in, &len);
    if (mode & 1) round_trip(rest, len, max);
    else feed_raw(rest, len, max, mode);
    return 0;
}
