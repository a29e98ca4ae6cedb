/* sentiment.c - lexicon-based valence and arousal of chat messages.
 *
 * One left-to-right pass over at most the first 4 KiB of the text, no
 * allocation. The text is cut into tokens:
 *   - ASCII words ([A-Za-z0-9'], a typographic apostrophe inside a word
 *     counts as '), lowercased and looked up in sent_words; a word marked
 *     SENT_HEAD is first tried with the next word as a phrase ("fed up");
 *     a word with a letter repeated three times or more is retried with
 *     the run cut to two and to one letter ("sooo", "happyyy");
 *   - emoticons: a whole space-separated chunk, or the punctuation at the
 *     end of a word ("thanks:)"), looked up case-sensitively;
 *   - anything starting with a non-ASCII byte: the longest entry of
 *     sent_spans starting there (Chinese, emoji), else one code point.
 * Each token then goes through a small state machine modelled on VADER
 * (Hutto and Gilbert, 2014): a negator flips the terms of the next three
 * tokens (times -0.74), a booster scales the next term, "but" halves what
 * came before and weighs what follows by 1.5, a post-booster ("af", "死了")
 * scales the term just before it, and ALL-CAPS terms weigh 1.2 times more.
 * A clause break (, . ; : ! ? newline, and their CJK forms) ends negation
 * and boosting. The sum S of the weighted valences, plus 0.292 per '!'
 * (at most four) in its direction, becomes valence S / sqrt(S^2 + 15).
 * Arousal is the mean arousal of the hits, where an arousal the lexicon
 * derived from valence weighs 0.35 of one it was given; exclamation marks,
 * shouting, repeated emoji and stretched words then close a small part of
 * the gap between it and 1. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "persona/sentiment.h"
#include "persona/sentiment_lexicon.h"

#define MAX_BYTES 4096
#define WORD_BUF 64             /* longest word or phrase + 1 */
#define NEG_SCALE -0.74         /* VADER's negation factor */
#define NEG_SCOPE 3             /* tokens a negator reaches */
#define BOOST_SCOPE 2           /* plain tokens a booster survives */
#define CAPS_SCALE 1.2
#define STRETCH_SCALE 1.1
#define BUT_BEFORE 0.5
#define BUT_AFTER 1.5
#define EXCL_VALENCE 0.292      /* VADER's amplifier per '!' */
#define NORM_ALPHA 15.0         /* VADER's normalisation */
#define AROUSAL_BASE 0.35       /* arousal of a text without hits */
#define DERIVED_WEIGHT 0.35     /* weight of an arousal derived from valence */
#define INVALID_CP 0xFFFFFFFFu

/* The state of one pass. */
struct scan {
    double sum;         /* weighted valence, VADER units */
    double asum, aw;    /* weighted arousal and its total weight */
    int hits;
    int neg;            /* a negation is active */
    int negleft;        /* tokens it still reaches */
    double boost;       /* scale waiting for the next term */
    int boostleft;
    int but;            /* a "but" was seen */
    const struct sent_term *amb; /* booster-or-term waiting for the next token */
    int ambcaps;
    const struct sent_term *last; /* last hit, for repeats and post-boosters */
    double lastv;       /* its weighted valence */
    long lasttok;       /* token number of the last hit */
    long tok;           /* tokens seen so far */
    int excl, quest, caps, repeats, stretched;
};

/* Compare the key S (N bytes) with row T: memcmp order, a prefix first. */
static int term_cmp(const char *s, size_t n, const struct sent_term *t) {
    size_t m = n < t->len ? n : t->len;
    int c = memcmp(s, t->text, m);

    if (c) return c;
    return n < t->len ? -1 : n > t->len;
}

/* Binary search for the row whose text is exactly S (N bytes), or NULL. */
static const struct sent_term *find(const struct sent_term *tab, size_t count,
                                    const char *s, size_t n) {
    size_t lo = 0, hi = count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = term_cmp(s, n, &tab[mid]);
        if (c == 0) return &tab[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

/* Decode one UTF-8 code point at P (AVAIL bytes left) into *N bytes.
 * Returns INVALID_CP with *N = 1 for a bad, overlong or cut sequence. */
static uint32_t utf8_next(const unsigned char *p, size_t avail, size_t *n) {
    uint32_t cp;
    size_t len, i;

    *n = 1;
    if (p[0] < 0x80) return p[0];
    if (p[0] >= 0xC2 && p[0] <= 0xDF) len = 2, cp = p[0] & 0x1F;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) len = 3, cp = p[0] & 0x0F;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4) len = 4, cp = p[0] & 0x07;
    else return INVALID_CP;
    if (len > avail) return INVALID_CP;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return INVALID_CP;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return INVALID_CP;
    *n = len;
    return cp;
}

/* The longest row of sent_spans that P (AVAIL bytes) starts with, or NULL. */
static const struct sent_term *span_match(const unsigned char *p, size_t avail) {
    size_t n, lo = 0, hi = SENT_SPAN_RUNS, i;
    uint32_t cp = utf8_next(p, avail, &n);
    const struct sent_term *best = NULL;

    if (cp == INVALID_CP) return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sent_span_runs[mid].cp == cp) {
            const struct sent_span_run *r = &sent_span_runs[mid];
            for (i = r->first; i < (size_t)r->first + r->count; i++) {
                const struct sent_term *t = &sent_spans[i];
                if (t->len <= avail && (best == NULL || t->len > best->len) &&
                    memcmp(p, t->text, t->len) == 0)
                    best = t;
            }
            return best;
        }
        if (sent_span_runs[mid].cp > cp) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

/* Count one hit of row T: weigh its valence and arousal by the pending
 * booster, negation and contrast, then add them to the sums. */
static void add_hit(struct scan *s, const struct sent_term *t, int caps, int stretched) {
    double v = t->valence / 10.0, a = t->arousal / 100.0;
    double w = (t->flags & SENT_AROUSAL) ? 1.0 : DERIVED_WEIGHT;

    if (caps && v != 0) v *= CAPS_SCALE;
    if (stretched) {
        v *= STRETCH_SCALE;
        s->stretched++;
    }
    if (s->boost != 0) {
        v *= 1.0 + s->boost;
        if (s->boost > 0) a += 0.06 * s->boost;
        s->boost = 0;
        s->boostleft = 0;
    }
    if (s->neg) a = 0.35 + (0.5 - a) * 0.5, v *= NEG_SCALE;
    if (s->but) v *= BUT_AFTER, w *= BUT_AFTER;
    s->sum += v;
    s->asum += w * a;
    s->aw += w;
    s->hits++;
    s->last = t;
    s->lastv = v;
    s->lasttok = s->tok;
}

/* Settle a pending ambiguous term ("super", "好"): NEXT_POLAR says whether
 * the token after it has a valence, in which case it boosts that token;
 * otherwise it counts as a term of its own. */
static void settle_amb(struct scan *s, int next_polar) {
    const struct sent_term *t = s->amb;

    if (t == NULL) return;
    s->amb = NULL;
    if (next_polar) {
        s->boost += t->scale / 100.0;
        s->boostleft = BOOST_SCOPE;
    } else {
        add_hit(s, t, s->ambcaps, 0);
    }
}

/* Kinds of token, for end_token(). */
#define TOK_PLAIN 0     /* matched nothing, or a neutral row */
#define TOK_TERM 1      /* a term, negator or contrast */
#define TOK_BOOST 2     /* a booster: negation reaches past it */

/* End of a token of kind KIND: negation and boosting reach only so far. */
static void end_token(struct scan *s, int kind) {
    s->tok++;
    if (kind != TOK_BOOST && s->negleft > 0 && --s->negleft == 0) s->neg = 0;
    if (kind == TOK_PLAIN && s->boostleft > 0 && --s->boostleft == 0) s->boost = 0;
}

/* A clause break: negation and boosting stop here. */
static void clause(struct scan *s) {
    settle_amb(s, 0);
    s->neg = 0;
    s->negleft = 0;
    s->boost = 0;
    s->boostleft = 0;
    s->last = NULL;
}

/* A token that matched nothing. */
static void plain_token(struct scan *s) {
    settle_amb(s, 0);
    end_token(s, TOK_PLAIN);
}

/* Feed one lexicon row found in the text. CAPS: the word was in capitals;
 * STRETCHED: it had to be un-stretched to match. */
static void feed(struct scan *s, const struct sent_term *t, int caps, int stretched) {
    int adjacent;

    settle_amb(s, t->valence != 0 && !(t->flags & (SENT_NEG | SENT_BUT | SENT_POST)));
    adjacent = s->last != NULL && s->lasttok == s->tok - 1;
    if (t->flags & SENT_NEG) {
        s->neg = !s->neg;
        s->negleft = s->neg ? NEG_SCOPE + 1 : 0;
        end_token(s, TOK_TERM);
        return;
    }
    if (t->flags & SENT_BUT) {
        clause(s);
        s->sum *= BUT_BEFORE;
        s->asum *= BUT_BEFORE;
        s->aw *= BUT_BEFORE;
        s->but = 1;
        end_token(s, TOK_TERM);
        return;
    }
    if ((t->flags & SENT_POST) && adjacent && s->lastv != 0) {
        s->sum += s->lastv * t->scale / 100.0;
        s->asum += 0.05 * s->aw;
        s->last = NULL;
        end_token(s, TOK_TERM);
        return;
    }
    if ((t->flags & SENT_BOOST) && !(t->flags & SENT_POST)) {
        if (t->valence != 0) {
            s->amb = t;
            s->ambcaps = caps;
        } else {
            s->boost += t->scale / 100.0;
            if (s->boost > 2) s->boost = 2;
            s->boostleft = BOOST_SCOPE;
        }
        end_token(s, TOK_BOOST);
        return;
    }
    if (!(t->flags & SENT_HIT)) {
        end_token(s, TOK_PLAIN);
        return;
    }
    if (adjacent && t == s->last) {
        /* "哈哈哈哈", "😭😭😭": one hit, a little more arousal. */
        s->repeats++;
        s->lasttok = s->tok;
        end_token(s, TOK_TERM);
        return;
    }
    add_hit(s, t, caps, stretched);
    end_token(s, TOK_TERM);
}

/* Is C an ASCII word byte? */
static int word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '\'';
}

/* Is P (AVAIL bytes) a typographic apostrophe (U+2019) inside a word? */
static int curly_apostrophe(const unsigned char *p, size_t avail) {
    return avail >= 4 && p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x99 &&
           ((p[3] | 0x20) >= 'a' && (p[3] | 0x20) <= 'z');
}

/* Read the ASCII word at P (before END) into BUF (lowercase, apostrophes
 * trimmed at both ends). Returns the bytes consumed; *N gets the word's
 * length: 0 when it was only apostrophes, WORD_BUF when it was too long to
 * match anything. *CAPS is set when it has at least three letters, all
 * capitals. */
static size_t read_word(const unsigned char *p, const unsigned char *end, char *buf,
                        size_t *n, int *caps) {
    const unsigned char *q = p;
    size_t len = 0, upper = 0, letters = 0, start = 0;
    int toolong = 0;

    while (q < end) {
        unsigned char c = *q;
        if (word_byte(c)) {
            q++;
        } else if (len > 0 && curly_apostrophe(q, (size_t)(end - q))) {
            c = '\'';
            q += 3;
        } else {
            break;
        }
        if (c >= 'A' && c <= 'Z') upper++, c = (unsigned char)(c | 0x20);
        if (c >= 'a' && c <= 'z') letters++;
        if (len < WORD_BUF - 1) buf[len++] = (char)c;
        else toolong = 1;
    }
    while (start < len && buf[start] == '\'') start++;
    while (len > start && buf[len - 1] == '\'') len--;
    if (start > 0) memmove(buf, buf + start, len - start);
    *n = toolong ? WORD_BUF : len - start;
    *caps = letters >= 3 && upper == letters;
    return (size_t)(q - p);
}

/* Copy WORD (N bytes) into OUT with every run of three or more equal
 * letters cut to KEEP letters; shorter runs stay. Returns the new length. */
static size_t unstretch(const char *word, size_t n, char *out, size_t keep) {
    size_t i = 0, o = 0, j, run;

    while (i < n) {
        for (j = i + 1; j < n && word[j] == word[i]; j++) continue;
        run = j - i;
        if (run >= 3 && word[i] >= 'a' && word[i] <= 'z') run = keep;
        while (run-- > 0) out[o++] = word[i];
        i = j;
    }
    return o;
}

/* Does WORD (N bytes) have a letter repeated three times in a row? */
static int stretched_word(const char *word, size_t n) {
    size_t i;

    for (i = 2; i < n; i++)
        if (word[i] == word[i - 1] && word[i] == word[i - 2] && word[i] >= 'a' && word[i] <= 'z')
            return 1;
    return 0;
}

/* Look up a word, trying its un-stretched forms. *STRETCHED is set when
 * only those matched. */
static const struct sent_term *find_word(const char *word, size_t n, int *stretched) {
    const struct sent_term *t = find(sent_words, SENT_WORDS, word, n);
    char buf[WORD_BUF];
    size_t m;

    *stretched = 0;
    if (t != NULL || !stretched_word(word, n)) return t;
    m = unstretch(word, n, buf, 2);
    t = find(sent_words, SENT_WORDS, buf, m);
    if (t == NULL) {
        m = unstretch(word, n, buf, 1);
        t = find(sent_words, SENT_WORDS, buf, m);
    }
    *stretched = t != NULL;
    return t;
}

/* Handle the word at P; returns the bytes consumed (phrases take two
 * words). */
static size_t scan_word(struct scan *s, const unsigned char *p, const unsigned char *end) {
    char w[WORD_BUF], w2[WORD_BUF];
    size_t n, n2, used, used2;
    int caps, caps2, stretched;
    const struct sent_term *t;

    used = read_word(p, end, w, &n, &caps);
    if (n == 0) return used;
    if (n == WORD_BUF) {
        plain_token(s);
        return used;
    }
    if (caps) s->caps++;
    t = find_word(w, n, &stretched);
    if (t != NULL && (t->flags & SENT_HEAD) && n + 1 < WORD_BUF) {
        const unsigned char *q = p + used;
        while (q < end && (*q == ' ' || *q == '\t')) q++;
        if (q > p + used && q < end && word_byte(*q)) {
            used2 = read_word(q, end, w2, &n2, &caps2);
            if (n2 > 0 && n2 < WORD_BUF && n + 1 + n2 < WORD_BUF) {
                const struct sent_term *ph;
                w[n] = ' ';
                memcpy(w + n + 1, w2, n2);
                ph = find(sent_words, SENT_WORDS, w, n + 1 + n2);
                if (ph != NULL) {
                    feed(s, ph, caps && caps2, 0);
                    return (size_t)(q - p) + used2;
                }
            }
        }
    }
    if (t == NULL && n > 3 && memcmp(w + n - 3, "n't", 3) == 0)
        t = find(sent_words, SENT_WORDS, "not", 3);
    if (t != NULL) feed(s, t, caps, stretched);
    else plain_token(s);
    return used;
}

/* The emoticon that the ASCII chunk P..END (no spaces inside) is, after
 * dropping trailing . , ! ? and cutting a repeated last character (":(((").
 * *N gets the bytes it spans from P. Returns NULL if none. */
static const struct sent_term *find_emoticon(const unsigned char *p, const unsigned char *end,
                                             size_t *n) {
    size_t len = (size_t)(end - p);
    const struct sent_term *t;

    while (len > 2 && (p[len - 1] == '.' || p[len - 1] == ',' || p[len - 1] == '!' ||
                       p[len - 1] == '?'))
        len--;
    if (len < 2 || len > SENT_EMOTICON_MAX + 8) return NULL;
    *n = len;
    if (len <= SENT_EMOTICON_MAX &&
        (t = find(sent_emoticons, SENT_EMOTICONS, (const char *)p, len)) != NULL)
        return t;
    while (len > 2 && p[len - 1] == p[len - 2]) len--;
    if (len == *n || len > SENT_EMOTICON_MAX) return NULL;
    return find(sent_emoticons, SENT_EMOTICONS, (const char *)p, len);
}

/* Is code point CP a clause break (CJK punctuation, ellipsis)? */
static int cjk_break(uint32_t cp) {
    return cp == 0x3002 || cp == 0xFF0C || cp == 0xFF1B || cp == 0xFF1A || cp == 0xFF01 ||
           cp == 0xFF1F || cp == 0x3001 || cp == 0x2026 || cp == 0xFF0E;
}

/* Is code point CP invisible glue (variation selector, joiner, skin tone)? */
static int glue(uint32_t cp) {
    return cp == 0xFE0F || cp == 0xFE0E || cp == 0x200D || cp == 0x200B ||
           (cp >= 0x1F3FB && cp <= 0x1F3FF);
}

/* Handle one ASCII punctuation or control byte C. */
static void scan_punct(struct scan *s, unsigned char c) {
    if (c == '!') s->excl++;
    else if (c == '?') s->quest++;
    if (c == '!' || c == '?' || c == ',' || c == '.' || c == ';' || c == ':' || c == '\n')
        clause(s);
}

/* Is C a lowercase ASCII letter or a digit? */
static int lower_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Is C a byte that separates chunks (space, control)? */
static int space_byte(unsigned char c) {
    return c <= 0x20 || c == 0x7F;
}

/* Score TEXT; see the comment at the top of this file. */
struct sentiment sentiment_of(const char *text, size_t len) {
    struct scan s;
    struct sentiment r;
    const unsigned char *p = (const unsigned char *)text, *end;
    double bumps;

    memset(&s, 0, sizeof s);
    memset(&r, 0, sizeof r);
    s.lasttok = -2;
    if (text == NULL) {
        r.arousal = AROUSAL_BASE;
        return r;
    }
    if (len > MAX_BYTES) len = MAX_BYTES;
    end = p + len;
    while (p < end) {
        unsigned char c = *p;
        size_t n;

        if (space_byte(c)) {
            scan_punct(&s, c);
            p++;
            continue;
        }
        /* At the start of a chunk, the whole chunk may be an emoticon
         * (none is made of lowercase letters and digits alone). */
        if (c < 0x80 && (p == (const unsigned char *)text || space_byte(p[-1]))) {
            const struct sent_term *t;
            const unsigned char *chunk_end = p;
            int plain = 1;
            for (; chunk_end < end && !space_byte(*chunk_end); chunk_end++)
                if (!lower_alnum(*chunk_end)) plain = 0;
            if (!plain && (t = find_emoticon(p, chunk_end, &n)) != NULL) {
                feed(&s, t, 0, 0);
                p += n;
                continue;
            }
        }
        if (c >= 0x80) {
            const struct sent_term *t = span_match(p, (size_t)(end - p));
            uint32_t cp;
            if (t != NULL) {
                feed(&s, t, 0, 0);
                p += t->len;
                continue;
            }
            cp = utf8_next(p, (size_t)(end - p), &n);
            if (cp == INVALID_CP || glue(cp)) {
                /* skipped: not a token */
            } else if (cjk_break(cp)) {
                if (cp == 0xFF01) s.excl++;
                if (cp == 0xFF1F) s.quest++;
                clause(&s);
            } else {
                plain_token(&s);
            }
            p += n;
        } else if (word_byte(c)) {
            p += scan_word(&s, p, end);
        } else {
            /* Punctuation right after a word or a CJK character may be an
             * emoticon ("thanks:)", "谢谢:)"). */
            if (p > (const unsigned char *)text && (word_byte(p[-1]) || p[-1] >= 0x80)) {
                const unsigned char *q = p;
                const struct sent_term *t;
                while (q < end && !space_byte(*q) && *q < 0x80 && !word_byte(*q)) q++;
                if (q - p >= 2 && (q == end || space_byte(*q) || *q >= 0x80) &&
                    (t = find_emoticon(p, q, &n)) != NULL) {
                    feed(&s, t, 0, 0);
                    p += n;
                    continue;
                }
            }
            scan_punct(&s, c);
            p++;
        }
    }
    settle_amb(&s, 0);

    bumps = 0.05 * (s.excl < 3 ? s.excl : 3) + 0.04 * (s.caps < 3 ? s.caps : 3) +
            0.02 * (s.repeats < 3 ? s.repeats : 3) + 0.05 * (s.stretched < 2 ? s.stretched : 2) +
            (s.quest >= 2 ? 0.03 : 0);
    r.hits = s.hits;
    if (s.hits == 0) {
        r.valence = 0;
        r.arousal = AROUSAL_BASE;
    } else {
        double sum = s.sum;
        if (sum != 0 && s.excl > 0) sum += copysign(EXCL_VALENCE * (s.excl < 4 ? s.excl : 4), sum);
        r.valence = sum / sqrt(sum * sum + NORM_ALPHA);
        r.arousal = s.aw > 0 ? s.asum / s.aw : AROUSAL_BASE;
    }
    /* The bumps close part of the gap to 1, so they move calm texts more
     * than excited ones and never past 1. */
    if (r.arousal < 1) r.arousal += (1 - r.arousal) * bumps;
    if (r.valence > 1) r.valence = 1;
    if (r.valence < -1) r.valence = -1;
    if (r.arousal > 1) r.arousal = 1;
    if (r.arousal < 0) r.arousal = 0;
    return r;
}

/* Name the region of the valence-arousal plane that S falls in. */
const char *sentiment_label(struct sentiment s) {
    if (s.hits <= 0 || !(fabs(s.valence) >= 0.15)) return "neutral";
    if (s.valence > 0) return s.arousal >= 0.65 ? "excited" : "happy";
    if (s.arousal < 0.45) return "sad";
    if (s.arousal < 0.72) return "anxious";
    return "angry";
}
