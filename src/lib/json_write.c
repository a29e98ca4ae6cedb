/* json_write.c - JSON text written straight into a buffer (json_write.h). */
#include <stdlib.h>
#include <string.h>
#include "lib/json_write.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

#define MAX_DEPTH 512

/* Make room for N more bytes (and a NUL). */
static void grow(struct json_buf *b, size_t n) {
    if (b->len + n + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + n + 1) cap *= 2;
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
}

void json_buf_raw(struct json_buf *b, const char *s, size_t n) {
    grow(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void json_buf_put(struct json_buf *b, const char *s) {
    json_buf_raw(b, s, strlen(s));
}

/* The escape of byte C inside a JSON string, as jansson writes it: its
 * length, and the text in OUT. 0 when C goes as it is. */
static size_t escape_of(unsigned char c, char out[6]) {
    static const char hex[] = "0123456789ABCDEF";
    char e = 0;
    switch (c) {
    case '"': e = '"'; break;
    case '\\': e = '\\'; break;
    case '\b': e = 'b'; break;
    case '\f': e = 'f'; break;
    case '\n': e = 'n'; break;
    case '\r': e = 'r'; break;
    case '\t': e = 't'; break;
    default:
        if (c >= 0x20) return 0;
        memcpy(out, "\\u00", 4);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        return 6;
    }
    out[0] = '\\';
    out[1] = e;
    return 2;
}

void json_buf_string(struct json_buf *b, const char *s, size_t n) {
    grow(b, n + 2);
    b->s[b->len++] = '"';
    size_t run = 0;   /* start of the bytes not yet copied */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        char esc[6];
        size_t k = escape_of(c, esc);
        grow(b, (i - run) + k + (n - i) + 1);
        memcpy(b->s + b->len, s + run, i - run);
        b->len += i - run;
        memcpy(b->s + b->len, esc, k);
        b->len += k;
        run = i + 1;
    }
    grow(b, (n - run) + 1);
    memcpy(b->s + b->len, s + run, n - run);
    b->len += n - run;
    b->s[b->len++] = '"';
    b->s[b->len] = '\0';
}

size_t json_int_text(char *out, long long v) {
    char tmp[JSON_INT_TEXT];
    size_t i = sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[--i] = '-';
    size_t n = sizeof(tmp) - i;
    memcpy(out, tmp + i, n);
    out[n] = '\0';
    return n;
}

void json_buf_int(struct json_buf *b, long long v) {
    char tmp[JSON_INT_TEXT];
    json_buf_raw(b, tmp, json_int_text(tmp, v));
}

/* Write V at nesting DEPTH. */
static int write_value(struct json_buf *b, const json_t *v, int depth) {
    if (depth > MAX_DEPTH) return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        json_buf_raw(b, "{", 1);
        int first = 1;
        for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it)) {
            if (!first) json_buf_raw(b, ",", 1);
            first = 0;
            json_buf_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
            json_buf_raw(b, ":", 1);
            if (write_value(b, json_object_iter_value(it), depth + 1) < 0) return -1;
        }
        json_buf_raw(b, "}", 1);
        return 0;
    }
    case JSON_ARRAY: {
        json_buf_raw(b, "[", 1);
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            if (i) json_buf_raw(b, ",", 1);
            if (write_value(b, json_array_get(v, i), depth + 1) < 0) return -1;
        }
        json_buf_raw(b, "]", 1);
        return 0;
    }
    case JSON_STRING:
        json_buf_string(b, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER:
        json_buf_int(b, (long long)json_integer_value(v));
        return 0;
    case JSON_REAL: {   /* rare: jansson's own formatting, to the digit */
        char *r = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!r) return -1;
        json_buf_raw(b, r, strlen(r));
        free(r);
        return 0;
    }
    case JSON_TRUE:
        json_buf_raw(b, "true", 4);
        return 0;
    case JSON_FALSE:
        json_buf_raw(b, "false", 5);
        return 0;
    case JSON_NULL:
        json_buf_raw(b, "null", 4);
        return 0;
    }
    return -1;
}

int json_buf_value(struct json_buf *b, const json_t *v) {
    return v ? write_value(b, v, 0) : -1;
}

char *json_buf_take(struct json_buf *b, size_t *len) {
    grow(b, 0);
    b->s[b->len] = '\0';
    char *s = b->s;
    if (len) *len = b->len;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void json_buf_free(struct json_buf *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

char *json_write_compact(const json_t *v) {
    if (!json_is_object(v) && !json_is_array(v)) return NULL;
    struct json_buf b = { 0 };
    if (write_value(&b, v, 0) < 0) {   /* a loop, or absurdly deep: as jansson says */
        json_buf_free(&b);
        return json_dumps(v, JSON_COMPACT);
    }
    return json_buf_take(&b, NULL);
}

char *json_write_strings(int n, const char *const *keys, const char *const *vals, const size_t *lens) {
    struct json_buf b = { 0 };
    int members = 0;
    json_buf_raw(&b, "{", 1);
    for (int i = 0; i < n; i++) {
        if (!vals[i]) continue;
        if (!utf8_valid(vals[i], lens[i])) {
            json_buf_free(&b);
            return NULL;
        }
        if (members++) json_buf_raw(&b, ",", 1);
        json_buf_raw(&b, "\"", 1);
        json_buf_put(&b, keys[i]);
        json_buf_raw(&b, "\":", 2);
        json_buf_string(&b, vals[i], lens[i]);
    }
    json_buf_raw(&b, "}", 1);
    return json_buf_take(&b, NULL);
}
