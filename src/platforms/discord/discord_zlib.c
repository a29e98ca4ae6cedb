/* discord_zlib.c - one zlib-stream inflate context per gateway connection
 * (see discord_zlib.h). Bytes are inflated as they arrive, so only the
 * inflated payload is ever buffered, and the cap is checked on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "platforms/discord/discord_zlib.h"
#include "lib/xalloc.h"

#define CHUNK 16384

struct discord_zlib {
    z_stream zs;
    char *out;                     /* the payload inflated so far, plus a NUL */
    size_t len, cap;
    size_t max;
    unsigned char tail[4];         /* the last four stream bytes fed */
    size_t fed;                    /* stream bytes fed since the last take */
    int failed;                    /* 0, or the DISCORD_ZLIB_ error that killed the stream */
    int header;                    /* bytes of the zlib header seen (2: all) */
    unsigned char cmf[2];
    char error[160];
};

struct discord_zlib *discord_zlib_new(size_t max_payload) {
    struct discord_zlib *z = xcalloc(1, sizeof(*z));
    if (!z) return NULL;
    /* Raw deflate: the stream's two-byte zlib header is checked and skipped
     * here (discord_zlib_feed), and a stream that never ends has no Adler-32
     * trailer to check, so computing the checksum is wasted work. */
    if (inflateInit2(&z->zs, -15) != Z_OK) {
        free(z);
        return NULL;
    }
    z->max = max_payload;
    return z;
}

void discord_zlib_free(struct discord_zlib *z) {
    if (!z) return;
    inflateEnd(&z->zs);
    free(z->out);
    free(z);
}

/* Mark Z dead with CODE and a message for the log. */
static int fail(struct discord_zlib *z, int code, const char *what) {
    z->failed = code;
    snprintf(z->error, sizeof(z->error), "%s", what);
    return code;
}

/* Make room for at least CHUNK more inflated bytes (and the NUL), but never
 * for more than one byte past the cap: that byte is how overflow shows. */
static int grow(struct discord_zlib *z) {
    if (z->cap - z->len > CHUNK) return 0;
    size_t want = z->cap ? z->cap * 2 : CHUNK * 2;
    if (want > z->max + 2) want = z->max + 2;
    if (want <= z->cap) return 0;
    char *p = xrealloc(z->out, want);
    if (!p) return -1;
    z->out = p;
    z->cap = want;
    return 0;
}

/* Remember the last four bytes of the stream, across fragments. */
static void keep_tail(struct discord_zlib *z, const unsigned char *in, size_t len) {
    if (len >= 4) {
        memcpy(z->tail, in + len - 4, 4);
    } else {
        memmove(z->tail, z->tail + len, 4 - len);
        memcpy(z->tail + 4 - len, in, len);
    }
    z->fed += len;
}

int discord_zlib_feed(struct discord_zlib *z, const void *in, size_t len) {
    if (z->failed) return z->failed;
    keep_tail(z, in, len);
    const unsigned char *b = in;
    while (z->header < 2 && len > 0) {           /* the zlib header: deflate, no preset dictionary */
        z->cmf[z->header++] = *b++;
        len--;
        if (z->header == 2 && ((z->cmf[0] & 0x0f) != 8 || (z->cmf[0] >> 4) > 7 || (z->cmf[1] & 0x20) ||
                               ((unsigned)z->cmf[0] * 256 + z->cmf[1]) % 31 != 0))
            return fail(z, DISCORD_ZLIB_CORRUPT, "incorrect header check");
    }
    in = b;
    z->zs.next_in = (Bytef *)in;
    z->zs.avail_in = (uInt)len;
    for (;;) {
        if (grow(z) < 0) return fail(z, DISCORD_ZLIB_TOO_BIG, "out of memory inflating a payload");
        size_t room = z->cap - z->len - 1;
        z->zs.next_out = (Bytef *)z->out + z->len;
        z->zs.avail_out = (uInt)room;
        int rc = inflate(&z->zs, Z_SYNC_FLUSH);
        z->len += room - z->zs.avail_out;
        if (z->len > z->max) return fail(z, DISCORD_ZLIB_TOO_BIG, "a payload inflated past the size cap");
        if (rc == Z_STREAM_END) return fail(z, DISCORD_ZLIB_CORRUPT, "the zlib stream ended early");
        if (rc == Z_BUF_ERROR) break;              /* no progress possible: needs more input */
        if (rc != Z_OK) return fail(z, DISCORD_ZLIB_CORRUPT, z->zs.msg ? z->zs.msg : "inflate failed");
        if (z->zs.avail_in == 0 && z->zs.avail_out > 0) break;   /* all in, all out */
    }
    return 0;
}

const char *discord_zlib_take(struct discord_zlib *z, size_t *len) {
    static const unsigned char marker[4] = { 0x00, 0x00, 0xff, 0xff };
    if (z->failed || z->fed < 4 || memcmp(z->tail, marker, 4) != 0) return NULL;
    if (!z->out && grow(z) < 0) return NULL;
    z->out[z->len] = '\0';
    *len = z->len;
    z->len = 0;
    z->fed = 0;
    return z->out;
}

const char *discord_zlib_error(const struct discord_zlib *z) {
    return z->error;
}
