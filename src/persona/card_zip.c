/* card_zip.c - one file out of a CHARX zip, inflated with zlib under a hard cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "persona/card.h"
#include "lib/xalloc.h"

static unsigned le16(const unsigned char *p) {
    return (unsigned)p[0] | ((unsigned)p[1] << 8);
}

static unsigned long le32(const unsigned char *p) {
    return (unsigned long)p[0] | ((unsigned long)p[1] << 8) | ((unsigned long)p[2] << 16) | ((unsigned long)p[3] << 24);
}

/* The end-of-central-directory record, searched from the end (it may carry a comment). */
static const unsigned char *find_eocd(const unsigned char *buf, size_t len) {
    if (len < 22) return NULL;
    size_t lowest = len > 22 + 65535 ? len - 22 - 65535 : 0;
    for (size_t at = len - 22 + 1; at-- > lowest;)
        if (le32(buf + at) == 0x06054b50ul) return buf + at;
    return NULL;
}

/* Inflate raw deflate data IN into at most MAX bytes; -1 when it would exceed MAX. */
static int inflate_capped(const unsigned char *in, size_t inlen, unsigned char *out, size_t max, size_t *outlen,
                          const char *name, char *err, size_t errlen) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        snprintf(err, errlen, "%s: zlib cannot start", name);
        return -1;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)inlen;
    zs.next_out = out;
    zs.avail_out = (uInt)(max + 1);   /* one byte more: a full buffer means over the cap */
    int rc = inflate(&zs, Z_FINISH);
    size_t got = zs.total_out;
    inflateEnd(&zs);
    if (got > max || (rc == Z_BUF_ERROR && zs.avail_out == 0)) {
        snprintf(err, errlen, "%s: inflates beyond %zu bytes (a zip bomb?)", name, max);
        return -1;
    }
    if (rc != Z_STREAM_END) {
        snprintf(err, errlen, "%s: broken deflate data", name);
        return -1;
    }
    *outlen = got;
    return 0;
}

char *card_zip_file(const unsigned char *buf, size_t len, const char *name, size_t max, size_t *outlen,
                    char *err, size_t errlen) {
    const unsigned char *eocd = find_eocd(buf, len);
    if (!eocd) {
        snprintf(err, errlen, "charx: not a zip file (no end of central directory)");
        return NULL;
    }
    unsigned long entries = le16(eocd + 10), cd_size = le32(eocd + 12), cd_off = le32(eocd + 16);
    if (cd_off > len || cd_size > len - cd_off) {
        snprintf(err, errlen, "charx: the central directory lies outside the file");
        return NULL;
    }
    size_t nlen = strlen(name), at = cd_off, end = cd_off + cd_size;
    for (unsigned long i = 0; i < entries; i++) {
        if (end - at < 46 || le32(buf + at) != 0x02014b50ul) {
            snprintf(err, errlen, "charx: a broken central directory entry at byte %zu", at);
            return NULL;
        }
        const unsigned char *e = buf + at;
        unsigned flags = le16(e + 8), method = le16(e + 10), fnlen = le16(e + 28);
        unsigned long crc = le32(e + 16), csize = le32(e + 20), usize = le32(e + 24), local = le32(e + 42);
        size_t next = at + 46 + fnlen + le16(e + 30) + le16(e + 32);
        if (next > end) {
            snprintf(err, errlen, "charx: a broken central directory entry at byte %zu", at);
            return NULL;
        }
        if (fnlen != nlen || memcmp(e + 46, name, nlen)) {
            at = next;
            continue;
        }
        if (flags & 1) {
            snprintf(err, errlen, "%s: encrypted", name);
            return NULL;
        }
        if (csize == 0xfffffffful || usize == 0xfffffffful) {
            snprintf(err, errlen, "%s: zip64 entries are not supported", name);
            return NULL;
        }
        if (usize > max) {
            snprintf(err, errlen, "%s: %lu bytes uncompressed, over the %zu-byte limit", name, usize, max);
            return NULL;
        }
        if (local > len || len - local < 30 || le32(buf + local) != 0x04034b50ul) {
            snprintf(err, errlen, "%s: its local header is missing", name);
            return NULL;
        }
        size_t data = local + 30 + le16(buf + local + 26) + le16(buf + local + 28);
        if (data > len || csize > len - data) {
            snprintf(err, errlen, "%s: its data runs past the end of the file", name);
            return NULL;
        }
        unsigned char *out = xmalloc(max + 2);
        size_t got = 0;
        if (method == 0) {
            if (csize > max) {
                free(out);
                snprintf(err, errlen, "%s: %lu bytes, over the %zu-byte limit", name, csize, max);
                return NULL;
            }
            memcpy(out, buf + data, csize);
            got = csize;
        } else if (method == 8) {
            if (inflate_capped(buf + data, csize, out, max, &got, name, err, errlen) < 0) {
                free(out);
                return NULL;
            }
        } else {
            free(out);
            snprintf(err, errlen, "%s: compression method %u is not supported (stored or deflate only)", name, method);
            return NULL;
        }
        if (got != usize || crc32(crc32(0L, Z_NULL, 0), out, (uInt)got) != crc) {
            free(out);
            snprintf(err, errlen, "%s: size or CRC does not match the zip directory", name);
            return NULL;
        }
        out[got] = '\0';
        *outlen = got;
        return (char *)out;
    }
    snprintf(err, errlen, "charx: no %s in the zip", name);
    return NULL;
}
