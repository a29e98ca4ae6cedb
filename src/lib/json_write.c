/* json_write.c - small JSON objects written straight to text (json_write.h). */
#include <stdlib.h>
#include <string.h>
#include "lib/json_write.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

/* Write S[0..len) escaped at OUT (room for 6 * len bytes): " \ and the
 * control characters, as json_dumps writes them; the rest as it is.
 * Returns the bytes written. */
static size_t escape(char *out, const char *s, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        out[n++] = '\\';
        switch (c) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '\b': out[n++] = 'b'; break;
        case '\f': out[n++] = 'f'; break;
        case '\n': out[n++] = 'n'; break;
        case '\r': out[n++] = 'r'; break;
        case '\t': out[n++] = 't'; break;
        default:
            memcpy(out + n, "u00", 3);
            out[n + 3] = hex[c >> 4];
            out[n + 4] = hex[c & 15];
            n += 5;
        }
    }
    return n;
}

char *json_write_strings(int n, const char *const *keys, const char *const *vals, const size_t *lens) {
    size_t size = 3;
    for (int i = 0; i < n; i++) {
        if (!vals[i]) continue;
        if (!utf8_valid(vals[i], lens[i])) return NULL;
        size += strlen(keys[i]) + 6 * lens[i] + 6;
    }
    char *out = xmalloc(size);
    size_t pos = 0;
    out[pos++] = '{';
    for (int i = 0; i < n; i++) {
        if (!vals[i]) continue;
        if (pos > 1) out[pos++] = ',';
        size_t k = strlen(keys[i]);
        out[pos++] = '"';
        memcpy(out + pos, keys[i], k);
        pos += k;
        memcpy(out + pos, "\":\"", 3);
        pos += 3;
        pos += escape(out + pos, vals[i], lens[i]);
        out[pos++] = '"';
    }
    out[pos++] = '}';
    out[pos] = '\0';
    return out;
}
