/* json_fast.c - a quick JSON reader for the payloads read on every message.
 *
 * jansson's json_loadb reads a byte at a time through a stream and copies
 * each byte of each string on its own; for a gateway event that is most of
 * the cost of handling the message. This reader builds the same jansson
 * values straight from the buffer. It only takes what it is sure of:
 * anything else (reals, escapes it does not know, deep nesting, bad UTF-8,
 * any syntax error) makes it give up, and json_loadb reads the text
 * instead, with its own errors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json_fast.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "lib/utf8.h"
#include "lib/xalloc.h"

#define MAX_DEPTH 512

/* A list of keys made into a small open-addressed table, so that telling
 * whether a key is listed costs a hash and (mostly) no comparison, where a
 * walk along the list cost a dozen string comparisons for each listed key. */
#define KEY_SET_MAX 200
struct key_set {
    const char *const *list;        /* the caller's list, which the set is of */
    int n;                          /* its keys; -1: too many, the list is walked */
    const char *key[KEY_SET_MAX];   /* list[i] as it was when the set was made */
    unsigned char len[KEY_SET_MAX];
    unsigned char slot[256];        /* 1 + the index of a key, or 0 (empty) */
};

struct reader {
    const char *p, *end;
    int depth;
    const struct key_set *skip;   /* keys left out of every object, or NULL */
    const struct key_set *keep;   /* the top-level members built (the rest skipped), or NULL */
};

static json_t *read_value(struct reader *r);

/* Skip JSON whitespace. */
static void skip_ws(struct reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')) r->p++;
}

/* Four hex digits at P, or -1. */
static long hex4(const char *p) {
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

/* Code point CP as UTF-8 at OUT; returns the bytes written. */
static size_t put_utf8(char *out, long cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode the escapes of the string body [S, E) into OUT (at most E - S
 * bytes); returns the length, or -1 for anything json_loadb would refuse
 * or this reader does not handle (\u0000, lone surrogates). */
static long unescape(const char *s, const char *e, char *out) {
    size_t n = 0;
    while (s < e) {
        if (*s != '\\') {   /* copy the run up to the next escape at once */
            const char *b = memchr(s, '\\', (size_t)(e - s));
            size_t k = b ? (size_t)(b - s) : (size_t)(e - s);
            memcpy(out + n, s, k);
            n += k;
            s += k;
            continue;
        }
        if (e - s < 2) return -1;
        char c = s[1];
        s += 2;
        switch (c) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            if (e - s < 4) return -1;
            long cp = hex4(s);
            s += 4;
            if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (e - s < 6 || s[0] != '\\' || s[1] != 'u') return -1;
                long lo = hex4(s + 2);
                if (lo < 0xDC00 || lo > 0xDFFF) return -1;
                s += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += put_utf8(out + n, cp);
            break;
        }
        default:
            return -1;
        }
    }
    return (long)n;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Does any of the 8 bytes of V end a plain run of string: a quote, a
 * backslash or a control character? (Bytes from 0x80 up are not flagged.) */
static uint64_t special_bytes(uint64_t v) {
    uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((v - ONES * 0x20) & ~v)) & HIGHS;
}

/* Step r->p over the bytes of a string that need no look, 16 at a time
 * with SSE2 (every x86-64 has it) and then 8 at a time, up to the first
 * that does; *HIGH collects top bits (any set: not plain ASCII; bytes past
 * the stop may add to it, which only asks for a UTF-8 check). The lowest
 * flagged byte is always a real one (a borrow only runs upwards), so r->p
 * lands on it exactly. */
static inline void skip_plain(struct reader *r, uint64_t *high) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1F);
    while (r->end - r->p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)r->p);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                   _mm_cmpeq_epi8(_mm_max_epu8(v, control), control));   /* a byte <= 0x1F */
        if (_mm_movemask_epi8(v)) *high |= HIGHS;
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask) {
            r->p += __builtin_ctz(mask);
            return;
        }
        r->p += 16;
    }
#endif
    while (r->end - r->p >= 8) {
        uint64_t v;
        memcpy(&v, r->p, 8);
        *high |= v;
        uint64_t special = special_bytes(v);
        if (special) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            r->p += __builtin_ctzll(special) / 8;   /* the first byte in memory is the lowest */
#endif
            return;
        }
        r->p += 8;
    }
}

/* A string at r->p (the opening quote): its bytes in *OUT, *LEN; *OWNED
 * is set when *OUT was allocated for the unescaped text. 0, or -1. */
static int read_string(struct reader *r, const char **out, size_t *len, char **owned) {
    const char *s = ++r->p;
    int escaped = 0;
    uint64_t high = 0;
    for (;;) {
        skip_plain(r, &high);
        if (r->p >= r->end || *r->p == '"') break;
        unsigned char c = (unsigned char)*r->p;
        if (c < 0x20) return -1;
        if (c == '\\') {
            escaped = 1;
            if (r->p + 1 >= r->end) return -1;
            high |= (unsigned char)r->p[1];
            r->p += 2;
        } else {
            high |= c;
            r->p++;
        }
    }
    if (r->p >= r->end) return -1;
    const char *e = r->p++;
    *owned = NULL;
    if (!escaped) {
        *out = s;
        *len = (size_t)(e - s);
    } else {
        char *buf = xmalloc((size_t)(e - s) + 1);
        if (!buf) return -1;
        long n = unescape(s, e, buf);
        if (n < 0) {
            free(buf);
            return -1;
        }
        *out = buf;
        *len = (size_t)n;
        *owned = buf;
    }
    if ((high & HIGHS) && !utf8_valid(*out, *len)) {   /* plain ASCII is valid UTF-8 */
        free(*owned);
        return -1;
    }
    return 0;
}

/* An integer of at most 18 digits (no fraction, no exponent), or NULL. */
static json_t *read_number(struct reader *r) {
    int neg = 0;
    if (*r->p == '-') {
        neg = 1;
        r->p++;
    }
    const char *d = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
    size_t n = (size_t)(r->p - d);
    if (n == 0 || n > 18 || (n > 1 && *d == '0')) return NULL;
    if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E')) return NULL;
    long long v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (d[i] - '0');
    return json_integer(neg ? -v : v);
}

/* WORD (true, false or null) at r->p, or 0. */
static int read_word(struct reader *r, const char *word, size_t n) {
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return 0;
    r->p += n;
    return 1;
}

/* A key's slot among 256, from its first and last bytes and its length. */
static unsigned key_hash(const char *key, size_t len) {
    return ((unsigned char)key[0] * 31u + (unsigned char)key[len - 1] * 7u + (unsigned)len * 13u) & 255u;
}

/* Make KS the table of LIST (NULL-terminated, no key longer than 255
 * bytes). A list of more than KEY_SET_MAX keys is left to be walked. */
static void key_set_build(struct key_set *ks, const char *const *list) {
    memset(ks->slot, 0, sizeof(ks->slot));
    ks->list = list;
    ks->n = 0;
    for (const char *const *k = list; *k; k++) {
        size_t len = strlen(*k);
        if (ks->n == KEY_SET_MAX || len > 255) {
            ks->n = -1;
            return;
        }
        ks->key[ks->n] = *k;
        ks->len[ks->n] = (unsigned char)len;
        if (len > 0) {
            unsigned h = key_hash(*k, len);
            while (ks->slot[h]) h = (h + 1) & 255u;
            ks->slot[h] = (unsigned char)(ks->n + 1);
        }
        ks->n++;
    }
}

/* Is KS still the table of LIST: the same key pointers, in the same order?
 * (A list on the stack may reuse an address another list had.) */
static int key_set_current(const struct key_set *ks, const char *const *list) {
    if (ks->list != list) return 0;
    if (ks->n < 0) return 1;
    for (int i = 0; i < ks->n; i++)
        if (list[i] != ks->key[i]) return 0;
    return list[ks->n] == NULL;
}

/* The table of LIST, made once per list and thread and remembered by its
 * address; a few lists are in use on any hot path, so eight are kept. */
static const struct key_set *key_set_of(const char *const *list) {
    static _Thread_local struct key_set sets[8];
    static _Thread_local unsigned next;
    if (!list) return NULL;
    for (int i = 0; i < 8; i++)
        if (key_set_current(&sets[i], list)) return &sets[i];
    struct key_set *ks = &sets[next++ & 7u];
    key_set_build(ks, list);
    return ks;
}

/* Is KEY (KLEN bytes) in KS? */
static int key_set_has(const struct key_set *ks, const char *key, size_t klen) {
    if (ks->n < 0) {
        for (const char *const *k = ks->list; *k; k++)
            if (!strncmp(*k, key, klen) && (*k)[klen] == '\0') return 1;
        return 0;
    }
    if (klen == 0 || klen > 255) return 0;
    for (unsigned h = key_hash(key, klen); ks->slot[h]; h = (h + 1) & 255u) {
        int i = ks->slot[h] - 1;
        if (ks->len[i] == klen && !memcmp(ks->key[i], key, klen)) return 1;
    }
    return 0;
}

/* Is KEY (KLEN bytes) a member to leave out of the object being read? */
static int skipped(const struct reader *r, const char *key, size_t klen) {
    if (r->keep && r->depth == 1 && !key_set_has(r->keep, key, klen)) return 1;
    return r->skip && key_set_has(r->skip, key, klen);
}

/* Step over the value at r->p without building it: its strings must end
 * and its brackets pair up (64 deep at most), the rest is not looked at
 * (the value is dropped). 0, or -1. */
static int skip_value(struct reader *r) {
    unsigned long long arrays = 0;   /* bit D set: the bracket open at depth D is '[' */
    int depth = 0;
    do {
        if (r->p >= r->end) return -1;
        char c = *r->p;
        if (c == '"') {
            uint64_t high = 0;
            for (r->p++;; r->p++) {
                skip_plain(r, &high);
                if (r->p >= r->end || *r->p == '"') break;
                if (*r->p == '\\' && r->p + 1 < r->end) r->p++;
            }
            if (r->p >= r->end) return -1;
            r->p++;
        } else if (c == '{' || c == '[') {
            if (depth == 64) return -1;
            if (c == '[') arrays |= 1ULL << depth;
            else arrays &= ~(1ULL << depth);
            depth++;
            r->p++;
        } else if (c == '}' || c == ']') {
            if (depth == 0 || ((arrays >> (depth - 1)) & 1) != (c == ']')) return -1;
            depth--;
            r->p++;
        } else if (depth > 0) {
            /* Inside the value only quotes and brackets matter: run to the next. */
            static const unsigned char structural[256] = { ['"'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1 };
            r->p++;
            while (r->p < r->end && !structural[(unsigned char)*r->p]) r->p++;
        } else {
            const char *s = r->p;
            while (r->p < r->end && *r->p != ',' && *r->p != '}' && *r->p != ']' && *r->p != ' ' && *r->p != '\n' &&
                   *r->p != '\r' && *r->p != '\t')
                r->p++;
            if (r->p == s) return -1;
        }
    } while (depth > 0);
    return 0;
}

/* An object at r->p (the opening brace). */
static json_t *read_object(struct reader *r) {
    json_t *o = json_object();
    if (!o) return NULL;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return o;
    }
    for (;;) {
        const char *key;
        size_t klen;
        char *owned;
        if (r->p >= r->end || *r->p != '"' || read_string(r, &key, &klen, &owned) < 0) break;
        skip_ws(r);
        json_t *v = NULL;
        int rc = -1;
        if (r->p < r->end && *r->p == ':') {
            r->p++;
            skip_ws(r);
            if (skipped(r, key, klen)) {
                free(owned);
                if (skip_value(r) < 0) break;
                goto next;
            }
            v = read_value(r);
        }
        rc = v ? json_object_setn_new_nocheck(o, key, klen, v) : -1;
        free(owned);
        if (rc < 0) break;
    next:
        skip_ws(r);
        if (r->p >= r->end) break;
        if (*r->p == '}') {
            r->p++;
            return o;
        }
        if (*r->p != ',') break;
        r->p++;
        skip_ws(r);
    }
    json_decref(o);
    return NULL;
}

/* An array at r->p (the opening bracket). */
static json_t *read_array(struct reader *r) {
    json_t *a = json_array();
    if (!a) return NULL;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return a;
    }
    for (;;) {
        json_t *v = read_value(r);
        if (!v || json_array_append_new(a, v) < 0) break;
        skip_ws(r);
        if (r->p >= r->end) break;
        if (*r->p == ']') {
            r->p++;
            return a;
        }
        if (*r->p != ',') break;
        r->p++;
        skip_ws(r);
    }
    json_decref(a);
    return NULL;
}

/* Any value at r->p, or NULL. */
static json_t *read_value(struct reader *r) {
    if (r->p >= r->end) return NULL;
    switch (*r->p) {
    case '{':
    case '[': {
        if (++r->depth > MAX_DEPTH) return NULL;
        json_t *v = *r->p == '{' ? read_object(r) : read_array(r);
        r->depth--;
        return v;
    }
    case '"': {
        const char *s;
        size_t n;
        char *owned;
        if (read_string(r, &s, &n, &owned) < 0) return NULL;
        json_t *v = json_stringn_nocheck(s, n);
        free(owned);
        return v;
    }
    case 't': return read_word(r, "true", 4) ? json_true() : NULL;
    case 'f': return read_word(r, "false", 5) ? json_false() : NULL;
    case 'n': return read_word(r, "null", 4) ? json_null() : NULL;
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) return read_number(r);
        return NULL;
    }
}

/* Read BUF with the key sets SKIP and KEEP; json_loadb's value when the
 * fast reader gives up. */
static json_t *load(const char *buf, size_t len, const struct key_set *skip, const struct key_set *keep,
                    json_error_t *err) {
    struct reader r = { buf, buf + len, 0, skip, keep };
    skip_ws(&r);
    json_t *v = NULL;
    if (r.p < r.end && (*r.p == '{' || *r.p == '[')) v = read_value(&r);
    if (v) {
        skip_ws(&r);
        if (r.p == r.end) {
            if (err) err->text[0] = '\0';
            return v;
        }
        json_decref(v);
    }
    return json_loadb(buf, len, 0, err);
}

json_t *json_fast_loadb(const char *buf, size_t len, json_error_t *err) {
    return load(buf, len, NULL, NULL, err);
}

json_t *json_fast_loadb_lean(const char *buf, size_t len, const char *const *skip, json_error_t *err) {
    return load(buf, len, key_set_of(skip), NULL, err);
}

json_t *json_fast_loadb_only(const char *buf, size_t len, const char *const *keep, json_error_t *err) {
    return load(buf, len, NULL, key_set_of(keep), err);
}

int json_fast_member(const char *buf, size_t len, const char *const *path, const char **val, size_t *vlen) {
    struct reader r = { buf, buf + len, 0, NULL, NULL };
    for (const char *const *step = path; *step; step++) {
        skip_ws(&r);
        if (r.p >= r.end || *r.p != '{') return -1;
        r.p++;
        size_t want = strlen(*step);
        for (;;) {   /* the members of this object, up to the one named *step */
            const char *key;
            size_t klen;
            char *owned;
            skip_ws(&r);
            if (r.p >= r.end || *r.p != '"' || read_string(&r, &key, &klen, &owned) < 0) return -1;
            int found = klen == want && !memcmp(key, *step, want);
            free(owned);
            skip_ws(&r);
            if (r.p >= r.end || *r.p != ':') return -1;
            r.p++;
            skip_ws(&r);
            if (found) break;
            if (skip_value(&r) < 0) return -1;
            skip_ws(&r);
            if (r.p >= r.end || *r.p != ',') return -1;   /* '}': not a member here */
            r.p++;
        }
    }
    const char *start = r.p;
    if (vlen) {
        if (skip_value(&r) < 0) return -1;
        *vlen = (size_t)(r.p - start);
    } else if (r.p >= r.end) {
        return -1;
    }
    *val = start;
    return 0;
}

int json_fast_members(const char *buf, size_t len, const char *const *keys, const char **vals, size_t *vlens) {
    struct reader r = { buf, buf + len, 0, NULL, NULL };
    size_t nkeys = 0;
    for (; keys[nkeys]; nkeys++) {
        vals[nkeys] = NULL;
        vlens[nkeys] = 0;
    }
    skip_ws(&r);
    if (r.p >= r.end || *r.p != '{') return -1;
    r.p++;
    skip_ws(&r);
    if (r.p < r.end && *r.p == '}') {
        r.p++;
    } else {
        for (;;) {   /* every member: the listed ones noted, all stepped over */
            const char *key;
            size_t klen;
            char *owned;
            if (r.p >= r.end || *r.p != '"' || read_string(&r, &key, &klen, &owned) < 0) return -1;
            size_t which = nkeys;
            for (size_t i = 0; i < nkeys; i++) {
                if (!strncmp(keys[i], key, klen) && keys[i][klen] == '\0') {
                    which = i;
                    break;
                }
            }
            free(owned);
            skip_ws(&r);
            if (r.p >= r.end || *r.p != ':') return -1;
            r.p++;
            skip_ws(&r);
            const char *start = r.p;
            if (skip_value(&r) < 0) return -1;
            if (which < nkeys) {
                vals[which] = start;
                vlens[which] = (size_t)(r.p - start);
            }
            skip_ws(&r);
            if (r.p >= r.end) return -1;
            if (*r.p == '}') {
                r.p++;
                break;
            }
            if (*r.p != ',') return -1;
            r.p++;
            skip_ws(&r);
        }
    }
    skip_ws(&r);
    return r.p == r.end ? 0 : -1;
}
