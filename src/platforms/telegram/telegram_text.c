/* telegram_text.c - splitting at UTF-16 limits and MarkdownV2 escaping
 * (telegram_text.h). */
#include <string.h>
#include "platforms/telegram/telegram_text.h"
#include "lib/xalloc.h"

/* Bytes of the UTF-8 sequence that starts with byte C (1 for a stray byte). */
static size_t seq_len(unsigned char c) {
    if (c >= 0xf0) return 4;
    if (c >= 0xe0) return 3;
    if (c >= 0xc0) return 2;
    return 1;
}

size_t telegram_utf16_len(const char *text, size_t len) {
    size_t units = 0;
    for (size_t i = 0; i < len;) {
        size_t n = seq_len((unsigned char)text[i]);
        units += n == 4 ? 2 : 1;
        i += n;
    }
    return units;
}

size_t telegram_split(const char *text, size_t len, size_t max_units) {
    size_t units = 0, i = 0, newline = 0, space = 0, half = 0;
    while (i < len) {
        size_t n = seq_len((unsigned char)text[i]);
        size_t u = n == 4 ? 2 : 1;
        if (units + u > max_units) break;
        units += u;
        if (i + n > len) n = len - i;
        i += n;
        if (!half && units >= max_units / 2) half = i;
        if (half && text[i - 1] == '\n') newline = i;
        if (half && text[i - 1] == ' ') space = i;
    }
    if (i >= len) return len;
    if (newline) return newline;
    if (space) return space;
    return i ? i : seq_len((unsigned char)text[0]);
}

/* Is C one of the characters MarkdownV2 reserves? */
static int reserved(char c) {
    return c && strchr("_*[]()~`>#+-=|{}.!\\", c) != NULL;
}

/* A growing output buffer. */
struct out {
    char *buf;
    size_t len, cap;
};

/* Append N bytes of S to O. */
static void put(struct out *o, const char *s, size_t n) {
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 64;
        while (cap < o->len + n + 1) cap *= 2;
        o->buf = xrealloc(o->buf, cap);
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

/* Append TEXT[0..len) with every reserved character escaped. */
static void put_escaped(struct out *o, const char *text, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (reserved(text[i])) put(o, "\\", 1);
        put(o, text + i, 1);
    }
}

/* Append code or pre content: only ` and \ are escaped there. */
static void put_code(struct out *o, const char *text, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '`' || text[i] == '\\') put(o, "\\", 1);
        put(o, text + i, 1);
    }
}

char *telegram_md2_escape(const char *text, size_t len) {
    struct out o = { 0 };
    put(&o, "", 0);
    put_escaped(&o, text, len);
    return o.buf;
}

/* Where NEEDLE next occurs in TEXT[from..len), or -1. */
static long find(const char *text, size_t len, size_t from, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = from; i + n <= len; i++)
        if (!memcmp(text + i, needle, n)) return (long)i;
    return -1;
}

/* Does TEXT[a..b) hold something besides spaces and newlines? */
static int has_content(const char *text, size_t a, size_t b) {
    for (size_t i = a; i < b; i++)
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r') return 1;
    return 0;
}

enum { SPAN_NONE, SPAN_PRE, SPAN_CODE, SPAN_BOLD };

/* Does a construct that is kept start at TEXT[i]? Its kind (and SP), or
 * SPAN_NONE: ```pre``` with content, `code` on one line, **bold** on one
 * line with content. */
static int span_at(const char *text, size_t len, size_t i, struct telegram_md_span *sp) {
    if (text[i] == '`' && i + 2 < len && text[i + 1] == '`' && text[i + 2] == '`') {
        long end = find(text, len, i + 3, "```");
        size_t body = i + 3;
        size_t lang = body;
        while (lang < len && lang < (size_t)(end < 0 ? 0 : end) &&
               ((text[lang] >= 'a' && text[lang] <= 'z') || (text[lang] >= 'A' && text[lang] <= 'Z') ||
                (text[lang] >= '0' && text[lang] <= '9') || text[lang] == '_' || text[lang] == '+' || text[lang] == '-'))
            lang++;
        size_t content = lang < len && text[lang] == '\n' ? lang + 1 : body;
        if (end < 0 || !has_content(text, content, (size_t)end)) return SPAN_NONE;
        *sp = (struct telegram_md_span){ i, body, content, (size_t)end, (size_t)end + 3 };
        return SPAN_PRE;
    }
    if (text[i] == '`') {
        long end = find(text, len, i + 1, "`");
        long nl = find(text, len, i + 1, "\n");
        if (end <= (long)i + 1 || (nl >= 0 && nl < end)) return SPAN_NONE;
        *sp = (struct telegram_md_span){ i, i + 1, i + 1, (size_t)end, (size_t)end + 1 };
        return SPAN_CODE;
    }
    if (text[i] == '*' && i + 1 < len && text[i + 1] == '*') {
        long end = find(text, len, i + 2, "**");
        long nl = find(text, len, i + 2, "\n");
        if (end <= (long)i + 2 || (nl >= 0 && nl < end) || !has_content(text, i + 2, (size_t)end)) return SPAN_NONE;
        *sp = (struct telegram_md_span){ i, i + 2, i + 2, (size_t)end, (size_t)end + 2 };
        return SPAN_BOLD;
    }
    return SPAN_NONE;
}

char *telegram_md2_from_markdown(const char *text, size_t len) {
    struct out o = { 0 };
    put(&o, "", 0);
    size_t i = 0, plain = 0;
    struct telegram_md_span sp;
    while (i < len) {
        int kind = span_at(text, len, i, &sp);
        if (kind == SPAN_NONE) {
            i++;
            continue;
        }
        put_escaped(&o, text + plain, i - plain);
        if (kind == SPAN_PRE) {
            put(&o, "```", 3);
            if (sp.body > sp.fence_end) put(&o, text + sp.fence_end, sp.body - sp.fence_end);
            else put(&o, "\n", 1);
            put_code(&o, text + sp.body, sp.body_end - sp.body);
            put(&o, "```", 3);
        } else if (kind == SPAN_CODE) {
            put(&o, "`", 1);
            put_code(&o, text + sp.body, sp.body_end - sp.body);
            put(&o, "`", 1);
        } else {
            put(&o, "*", 1);
            put_escaped(&o, text + sp.body, sp.body_end - sp.body);
            put(&o, "*", 1);
        }
        i = plain = sp.end;
    }
    put_escaped(&o, text + plain, len - plain);
    return o.buf;
}

int telegram_md_span_cut(const char *text, size_t len, size_t cut, struct telegram_md_span *sp) {
    for (size_t i = 0; i < cut && i < len;) {
        int kind = span_at(text, len, i, sp);
        if (kind == SPAN_NONE) {
            i++;
            continue;
        }
        if (sp->end > cut) return kind == SPAN_PRE ? TELEGRAM_CUT_BLOCK : TELEGRAM_CUT_INLINE;
        i = sp->end;
    }
    return TELEGRAM_CUT_NONE;
}

size_t telegram_split_spans(const char *text, size_t len, size_t max_units) {
    size_t n = telegram_split(text, len, max_units);
    struct telegram_md_span sp;
    if (n >= len || !telegram_md_span_cut(text, len, n, &sp) || sp.start == 0) return n;
    /* A construct that starts the piece is longer than one: cut inside it. */
    return telegram_blank(text, sp.start) ? n : sp.start;
}

int telegram_blank(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r') return 0;
    return 1;
}
