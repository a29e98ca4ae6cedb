/* json_write.h - JSON text written straight into a buffer.
 *
 * json_dumps checks every object and array it writes for a loop (a
 * snprintf of its address and a hash table entry each) and formats every
 * integer with snprintf; for the small requests sent on each message that
 * costs more than making them. These write the same text (JSON_COMPACT:
 * no spaces, members in the order they were set, strings escaped as
 * jansson escapes them) without those costs. */
#ifndef CHORUS_JSON_WRITE_H
#define CHORUS_JSON_WRITE_H
#include <stddef.h>
#include <jansson.h>

/* A growing text; start it zeroed ({0}). */
struct json_buf {
    char *s;
    size_t len, cap;
};

/* Append N bytes of S as they are. */
void json_buf_raw(struct json_buf *b, const char *s, size_t n);
/* Append the NUL-terminated S as it is (JSON punctuation and names). */
void json_buf_put(struct json_buf *b, const char *s);
/* Append S[0..n) as a JSON string, quotes included: '"', '\\' and control
 * bytes escaped, UTF-8 as is. S must be valid UTF-8 (the caller checks,
 * as jansson would have refused it). */
void json_buf_string(struct json_buf *b, const char *s, size_t n);
/* Append V as a JSON number. */
void json_buf_int(struct json_buf *b, long long v);
/* V in decimal, as "%lld" writes it, into OUT (JSON_INT_TEXT bytes at
 * least), NUL-terminated: its length. For ids written per message, where
 * snprintf costs more than the rest of the work. */
#define JSON_INT_TEXT 24
size_t json_int_text(char *out, long long v);
/* Append jansson value V, as json_dumps(V, JSON_COMPACT | JSON_ENCODE_ANY)
 * writes it. 0, or -1 (a loop, or nesting past 512: nothing sensible). */
int json_buf_value(struct json_buf *b, const json_t *v);
/* The text, NUL-terminated, now the caller's (free it); *LEN its length
 * when LEN is not NULL. B is empty again after. */
char *json_buf_take(struct json_buf *b, size_t *len);
/* Forget B's text. */
void json_buf_free(struct json_buf *b);

/* json_dumps(V, JSON_COMPACT), the same text, faster. NULL when V is not
 * an object or array, or cannot be written. */
char *json_write_compact(const json_t *v);
/* The object {"KEYS[0]":"VALS[0]",...} of N string members as malloc'd,
 * NUL-terminated text: the keys as they are (plain ASCII names), each
 * value VALS[i][0..LENS[i]) escaped as json_dumps escapes it; a NULL value
 * leaves its member out. NULL when a value is not valid UTF-8 (json_pack
 * refuses it too). For the request bodies sent on every message. */
char *json_write_strings(int n, const char *const *keys, const char *const *vals, const size_t *lens);

#endif
