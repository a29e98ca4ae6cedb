/* onebot_segments.c - segments and CQ codes (onebot_segments.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platforms/onebot/onebot_segments.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

/* A growing string. */
struct buf {
    char *s;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        b->s = xrealloc(b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s) {
    buf_add(b, s, strlen(s));
}

/* The string, never NULL (taken over by the caller). */
static char *buf_take(struct buf *b) {
    return b->s ? b->s : xstrdup("");
}

char *onebot_cq_unescape(const char *s, size_t len, int value) {
    struct buf b = { 0 };
    buf_add(&b, "", 0);
    for (size_t i = 0; i < len;) {
        const char *p = s + i;
        size_t left = len - i;
        if (left >= 5 && !memcmp(p, "&amp;", 5)) {
            buf_add(&b, "&", 1);
            i += 5;
        } else if (left >= 5 && !memcmp(p, "&#91;", 5)) {
            buf_add(&b, "[", 1);
            i += 5;
        } else if (left >= 5 && !memcmp(p, "&#93;", 5)) {
            buf_add(&b, "]", 1);
            i += 5;
        } else if (value && left >= 5 && !memcmp(p, "&#44;", 5)) {
            buf_add(&b, ",", 1);
            i += 5;
        } else {
            buf_add(&b, p, 1);
            i++;
        }
    }
    return buf_take(&b);
}

char *onebot_cq_escape(const char *text, int value) {
    struct buf b = { 0 };
    buf_add(&b, "", 0);
    for (const char *p = text; *p; p++) {
        if (*p == '&') buf_str(&b, "&amp;");
        else if (*p == '[') buf_str(&b, "&#91;");
        else if (*p == ']') buf_str(&b, "&#93;");
        else if (value && *p == ',') buf_str(&b, "&#44;");
        else buf_add(&b, p, 1);
    }
    return buf_take(&b);
}

/* Append a text segment for S[0..LEN) (unescaped) to SEGS. */
static void add_text(json_t *segs, const char *s, size_t len) {
    if (!len) return;
    char *t = onebot_cq_unescape(s, len, 0);
    json_array_append_new(segs, json_pack("{s:s, s:{s:s}}", "type", "text", "data", "text", t));
    free(t);
}

/* Parse one code "CQ:type,k=v,..." (the text between [ and ]) into a
 * segment, or NULL when it is not one. */
static json_t *parse_code(const char *s, size_t len) {
    if (len < 4 || memcmp(s, "CQ:", 3)) return NULL;
    s += 3;
    len -= 3;
    size_t tl = 0;
    while (tl < len && s[tl] != ',') tl++;
    if (!tl) return NULL;
    char *type = xstrndup(s, tl);
    json_t *data = json_object();
    size_t i = tl;
    while (i < len) {
        i++;   /* the comma */
        size_t start = i;
        while (i < len && s[i] != ',') i++;
        const char *eq = memchr(s + start, '=', i - start);
        if (!eq || eq == s + start) {
            free(type);
            json_decref(data);
            return NULL;
        }
        char *key = xstrndup(s + start, (size_t)(eq - (s + start)));
        char *val = onebot_cq_unescape(eq + 1, (size_t)(s + i - (eq + 1)), 1);
        json_object_set_new(data, key, json_string(val));
        free(key);
        free(val);
    }
    json_t *seg = json_pack("{s:s, s:o}", "type", type, "data", data);
    free(type);
    return seg;
}

json_t *onebot_cq_parse(const char *s, size_t len) {
    json_t *segs = json_array();
    size_t text_start = 0, i = 0;
    while (i < len) {
        if (s[i] != '[' || len - i < 4 || memcmp(s + i + 1, "CQ:", 3)) {
            i++;
            continue;
        }
        const char *close = memchr(s + i, ']', len - i);
        json_t *seg = close ? parse_code(s + i + 1, (size_t)(close - (s + i + 1))) : NULL;
        if (!seg) {
            log_debug("onebot: a malformed CQ code is read as text");
            i++;
            continue;
        }
        add_text(segs, s + text_start, i - text_start);
        json_array_append_new(segs, seg);
        i = (size_t)(close - s) + 1;
        text_start = i;
    }
    add_text(segs, s + text_start, len - text_start);
    return segs;
}

/* A data value as a string for a CQ code (numbers as digits). */
static char *value_text(json_t *v) {
    char num[64];
    if (json_is_string(v)) return xstrdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        return xstrdup(num);
    }
    if (json_is_real(v)) {
        snprintf(num, sizeof(num), "%g", json_real_value(v));
        return xstrdup(num);
    }
    if (json_is_boolean(v)) return xstrdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

char *onebot_cq_build(json_t *segments) {
    struct buf b = { 0 };
    buf_add(&b, "", 0);
    size_t i;
    json_t *seg;
    json_array_foreach(segments, i, seg) {
        const char *type = json_string_value(json_object_get(seg, "type"));
        json_t *data = json_object_get(seg, "data");
        if (!type) continue;
        if (!strcmp(type, "text")) {
            const char *t = json_string_value(json_object_get(data, "text"));
            char *e = onebot_cq_escape(t ? t : "", 0);
            buf_str(&b, e);
            free(e);
            continue;
        }
        buf_str(&b, "[CQ:");
        buf_str(&b, type);
        const char *key;
        json_t *v;
        json_object_foreach(data, key, v) {
            char *vt = value_text(v);
            if (!vt) continue;
            char *e = onebot_cq_escape(vt, 1);
            buf_str(&b, ",");
            buf_str(&b, key);
            buf_str(&b, "=");
            buf_str(&b, e);
            free(e);
            free(vt);
        }
        buf_str(&b, "]");
    }
    return buf_take(&b);
}

/* An id-like value (a qq number, a message id) as a new string, or NULL. */
static char *id_text(json_t *v) {
    if (json_is_string(v) && *json_string_value(v)) return xstrdup(json_string_value(v));
    if (json_is_integer(v)) return value_text(v);
    return NULL;
}

/* Read one segment into OUT's text buffer B; -1 when it is malformed. */
static int read_segment(json_t *seg, const char *self_id, struct onebot_parsed *out, struct buf *b) {
    const char *type = json_string_value(json_object_get(seg, "type"));
    json_t *data = json_object_get(seg, "data");
    if (!json_is_object(seg) || !type || !json_is_object(data)) return -1;
    if (!strcmp(type, "text")) {
        const char *t = json_string_value(json_object_get(data, "text"));
        if (!t) return -1;
        buf_str(b, t);
    } else if (!strcmp(type, "at")) {
        char *qq = id_text(json_object_get(data, "qq"));
        if (!qq) return -1;
        if (self_id && !strcmp(qq, self_id)) {
            out->at_self = 1;
            if (b->len) buf_str(b, "@me");   /* mid-sentence: keep the place */
        } else if (!strcmp(qq, "all")) {
            buf_str(b, "@all");
        } else {
            const char *name = json_string_value(json_object_get(data, "name"));
            buf_str(b, "@");
            buf_str(b, name && *name ? name : qq);
        }
        if (out->nmentions < ONEBOT_MAX_MENTIONS && strcmp(qq, "all")) out->mentions[out->nmentions++] = qq;
        else free(qq);
    } else if (!strcmp(type, "reply")) {
        char *id = id_text(json_object_get(data, "id"));
        if (!id) return -1;
        free(out->reply_to);
        out->reply_to = id;
    } else if (!strcmp(type, "face")) {
        char *id = id_text(json_object_get(data, "id"));
        if (!id) return -1;
        buf_str(b, "[face:");
        buf_str(b, id);
        buf_str(b, "]");
        free(id);
    } else if (!strcmp(type, "image")) {
        const char *url = json_string_value(json_object_get(data, "url"));
        if (!url) url = json_string_value(json_object_get(data, "file"));
        if (!url) return -1;
        buf_str(b, "[image: ");
        buf_str(b, url);
        buf_str(b, "]");
    } else {
        buf_str(b, "[");
        buf_str(b, type);
        buf_str(b, "]");
    }
    return 0;
}

int onebot_segments_read(json_t *message, const char *self_id, struct onebot_parsed *out) {
    memset(out, 0, sizeof(*out));
    json_t *segs = NULL;
    if (json_is_string(message)) segs = onebot_cq_parse(json_string_value(message), json_string_length(message));
    else if (json_is_array(message)) segs = json_incref(message);
    else return -1;
    struct buf b = { 0 };
    buf_add(&b, "", 0);
    size_t i;
    json_t *seg;
    json_array_foreach(segs, i, seg) {
        if (read_segment(seg, self_id, out, &b) < 0) out->skipped++;
    }
    json_decref(segs);
    const char *t = b.s;
    while (*t == ' ' || *t == '\n' || *t == '\t') t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\n' || t[n - 1] == '\t')) n--;
    out->text = xstrndup(t, n);
    free(b.s);
    return 0;
}

void onebot_parsed_free(struct onebot_parsed *p) {
    free(p->text);
    free(p->reply_to);
    for (int i = 0; i < p->nmentions; i++) free(p->mentions[i]);
    memset(p, 0, sizeof(*p));
}

/* Length of an at code of a QQ number at P ("[CQ:at,qq=123]"), or 0:
 * what mention() writes; "qq=all" stays text, so no reply pings everyone. */
static size_t at_code(const char *p, const char **qq, size_t *qqlen) {
    if (strncmp(p, "[CQ:at,qq=", 10)) return 0;
    size_t n = 10;
    while (p[n] >= '0' && p[n] <= '9') n++;
    if (n == 10 || n > 30 || p[n] != ']') return 0;
    *qq = p + 10;
    *qqlen = n - 10;
    return n + 1;
}

json_t *onebot_segments_reply(const char *text, const char *reply_to) {
    json_t *segs = json_array();
    if (reply_to && *reply_to) json_array_append_new(segs, json_pack("{s:s, s:{s:s}}", "type", "reply", "data", "id", reply_to));
    const char *start = text;
    for (const char *p = text; *p; p++) {
        const char *qq;
        size_t qqlen, n = *p == '[' ? at_code(p, &qq, &qqlen) : 0;
        if (!n) continue;
        if (p > start)
            json_array_append_new(segs, json_pack("{s:s, s:{s:s%}}", "type", "text", "data", "text", start, (size_t)(p - start)));
        json_array_append_new(segs, json_pack("{s:s, s:{s:s%}}", "type", "at", "data", "qq", qq, qqlen));
        start = p + n;
        p += n - 1;
    }
    if (*start || json_array_size(segs) == 0 || (json_array_size(segs) == 1 && reply_to && *reply_to))
        json_array_append_new(segs, json_pack("{s:s, s:{s:s}}", "type", "text", "data", "text", start));
    return segs;
}

/* One segment {"type":TYPE,"data":{KEY:VAL}} after N others. */
static void write_segment(struct json_buf *b, int *n, const char *type, const char *key, const char *val, size_t len) {
    const char *head = *n ? ",{\"type\":\"" : "{\"type\":\"";
    json_buf_put(b, head);
    json_buf_put(b, type);
    json_buf_put(b, "\",\"data\":{\"");
    json_buf_put(b, key);
    json_buf_put(b, "\":");
    json_buf_string(b, val, len);
    json_buf_put(b, "}}");
    (*n)++;
}

int onebot_segments_reply_write(struct json_buf *b, const char *text, const char *reply_to) {
    int reply = reply_to && *reply_to;
    if (!utf8_valid(text, strlen(text)) || (reply && !utf8_valid(reply_to, strlen(reply_to)))) return -1;
    int n = 0;
    json_buf_put(b, "[");
    if (reply) write_segment(b, &n, "reply", "id", reply_to, strlen(reply_to));
    const char *start = text;
    for (const char *p = text; *p; p++) {
        const char *qq;
        size_t qqlen, k = *p == '[' ? at_code(p, &qq, &qqlen) : 0;
        if (!k) continue;
        if (p > start) write_segment(b, &n, "text", "text", start, (size_t)(p - start));
        write_segment(b, &n, "at", "qq", qq, qqlen);
        start = p + k;
        p += k - 1;
    }
    if (*start || n == 0 || (n == 1 && reply)) write_segment(b, &n, "text", "text", start, strlen(start));
    json_buf_put(b, "]");
    return 0;
}
