/* irc_line.c - parsing IRC lines and splitting replies (irc_line.h). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "platforms/irc/irc_line.h"

/* Undo IRCv3 tag value escaping in place (\: \s \\ \r \n). */
static void unescape_tag(char *v) {
    char *w = v;
    for (char *r = v; *r; r++) {
        if (*r != '\\') {
            *w++ = *r;
            continue;
        }
        r++;
        if (!*r) break;                 /* a lone trailing backslash is dropped */
        switch (*r) {
        case ':': *w++ = ';'; break;
        case 's': *w++ = ' '; break;
        case 'r': *w++ = '\r'; break;
        case 'n': *w++ = '\n'; break;
        default: *w++ = *r; break;
        }
    }
    *w = '\0';
}

/* Split "@a=b;c" (without the '@') into tags. */
static void parse_tags(char *s, struct irc_line *out) {
    while (s && *s && out->ntags < IRC_MAX_TAGS) {
        char *next = strchr(s, ';');
        if (next) *next++ = '\0';
        char *eq = strchr(s, '=');
        if (eq) *eq++ = '\0';
        if (*s) {
            out->tags[out->ntags].key = s;
            out->tags[out->ntags].value = eq ? eq : s + strlen(s);
            unescape_tag(out->tags[out->ntags].value);
            out->ntags++;
        }
        s = next;
    }
}

/* Skip spaces; returns the first other character. */
static char *skip_spaces(char *p) {
    while (*p == ' ') p++;
    return p;
}

/* Is TEXT plain ASCII? Most lines are, and need no UTF-8 repair (two
 * passes a byte); eight bytes are looked at a time. */
static int all_ascii(const char *text, size_t len) {
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, text + i, 8);
        if (w & 0x8080808080808080ULL) return 0;
    }
    for (; i < len; i++)
        if ((unsigned char)text[i] & 0x80) return 0;
    return 1;
}

/* A server line is untrusted: NULs and stray CR/LF end it, bad UTF-8 is
 * repaired, tags and params beyond the limits are ignored. */
int irc_line_parse(const char *text, size_t len, struct irc_line *out) {
    memset(out, 0, sizeof(*out));
    while (len && (text[len - 1] == '\r' || text[len - 1] == '\n')) len--;
    const char *nul = memchr(text, '\0', len);
    if (nul) len = (size_t)(nul - text);
    if (all_ascii(text, len)) {
        out->buf = xmalloc(len + 1);
        memcpy(out->buf, text, len);
        out->buf[len] = '\0';
    } else {
        out->buf = utf8_repair(text, len, NULL);
    }
    if (!out->buf) return -1;
    char *p = skip_spaces(out->buf);
    if (*p == '@') {
        char *sp = strchr(p, ' ');
        if (!sp) return -1;
        *sp = '\0';
        parse_tags(p + 1, out);
        p = skip_spaces(sp + 1);
    }
    if (*p == ':') {
        char *sp = strchr(p, ' ');
        if (!sp) return -1;
        *sp = '\0';
        out->prefix = p + 1;
        out->nick = out->prefix;
        char *bang = strpbrk(out->prefix, "!@");
        if (bang) {
            size_t n = (size_t)(bang - out->prefix);
            out->nick = xstrndup(out->prefix, n);
        } else {
            out->nick = xstrdup(out->prefix);
        }
        p = skip_spaces(sp + 1);
    }
    if (!*p) return -1;
    out->command = p;
    while (*p && *p != ' ') {
        *p = (char)toupper((unsigned char)*p);
        p++;
    }
    while (*p) {
        *p++ = '\0';
        p = skip_spaces(p);
        if (!*p) break;
        if (*p == ':' || out->nparams == IRC_MAX_PARAMS - 1) {
            out->params[out->nparams++] = *p == ':' ? p + 1 : p;
            break;
        }
        out->params[out->nparams++] = p;
        while (*p && *p != ' ') p++;
    }
    return 0;
}

void irc_line_free(struct irc_line *l) {
    if (l->prefix) free(l->nick);
    free(l->buf);
    memset(l, 0, sizeof(*l));
}

const char *irc_line_tag(const struct irc_line *l, const char *key) {
    for (int i = 0; i < l->ntags; i++)
        if (!strcmp(l->tags[i].key, key)) return l->tags[i].value;
    return NULL;
}

/* Back up from CUT to a UTF-8 lead byte so no code point is torn. */
static size_t utf8_boundary(const char *s, size_t cut) {
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--;
    return cut;
}

/* Append one piece to the growing array. */
static void push_piece(char ***out, int *n, const char *s, size_t len) {
    *out = xrealloc(*out, sizeof(char *) * (size_t)(*n + 1));
    (*out)[(*n)++] = xstrndup(s, len);
}

/* Long lines break at the last space that leaves at least half the room
 * used, else mid-word on a code point boundary. */
int irc_split(const char *text, size_t len, size_t max, char ***out) {
    *out = NULL;
    int n = 0;
    if (max < 4) max = 4;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '\n') end++;
        size_t lend = end;
        if (lend > i && text[lend - 1] == '\r') lend--;
        size_t s = i;
        while (s < lend) {
            size_t left = lend - s;
            if (left <= max) {
                push_piece(out, &n, text + s, left);
                break;
            }
            size_t cut = utf8_boundary(text + s, max);
            size_t sp = cut;
            while (sp > max / 2 && text[s + sp] != ' ') sp--;
            if (text[s + sp] == ' ' && sp > max / 2) cut = sp;
            if (cut == 0) cut = max;
            push_piece(out, &n, text + s, cut);
            s += cut;
            while (s < lend && text[s] == ' ') s++;
        }
        i = end + 1;
    }
    return n;
}

void irc_split_free(char **pieces, int n) {
    for (int i = 0; i < n; i++) free(pieces[i]);
    free(pieces);
}

/* Fold one byte the way the server's CASEMAPPING does: ascii folds A-Z;
 * rfc1459 also []\~ to {}|^ (Scandinavian letters); strict-rfc1459 all but ~. */
static unsigned char fold(unsigned char c, int casemap) {
    if (c >= 'A' && c <= 'Z') return (unsigned char)(c + 32);
    if (casemap == IRC_CASEMAP_ASCII) return c;
    if (c == '[') return '{';
    if (c == ']') return '}';
    if (c == '\\') return '|';
    if (c == '~' && casemap == IRC_CASEMAP_RFC1459) return '^';
    return c;
}

int irc_ncasecmp(const char *a, const char *b, size_t n, int casemap) {
    for (size_t i = 0; i < n; i++) {
        unsigned char x = fold((unsigned char)a[i], casemap), y = fold((unsigned char)b[i], casemap);
        if (x != y) return x < y ? -1 : 1;
        if (!x) return 0;
    }
    return 0;
}

int irc_casecmp(const char *a, const char *b, int casemap) {
    return irc_ncasecmp(a, b, (size_t)-1, casemap);
}

/* A CASEMAPPING value; anything unknown (rfc7613, rfc8265...) folds as ascii,
 * which those fold too for ASCII. */
int irc_casemap_parse(const char *name) {
    if (!strcmp(name, "rfc1459")) return IRC_CASEMAP_RFC1459;
    if (!strcmp(name, "strict-rfc1459")) return IRC_CASEMAP_STRICT_RFC1459;
    return IRC_CASEMAP_ASCII;
}
