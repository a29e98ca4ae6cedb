/* lorebook.c - compile a lorebook and find the entries a conversation activates. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "persona/lorebook.h"
#include "persona/lore_ac.h"
#include "lib/tokens.h"
#include "lib/xalloc.h"

#define LORE_MAX_ENTRIES 10000
#define LORE_MAX_KEYS 256
#define LORE_MAX_SECONDARY 64
#define LORE_MAX_RECURSION 10
#define LORE_REGEX_MAX 512
#define LORE_FILE_MAX (8u * 1024 * 1024)

/* A key's place: entry, primary or secondary, and its index there. */
struct lore_key {
    int entry;
    int index;
    int secondary;
    size_t len;
};

struct lore_regex {
    regex_t re;
    int entry, index, secondary;
};

/* What one match found for an entry (scratch, reset per match). */
struct lore_state {
    int prim;                  /* first primary key seen, -1 = none */
    int prim_msg;              /* in which message (0 = the newest), or -1 - source entry */
    unsigned long long sec;    /* secondary keys seen, one bit each */
    int active;                /* 0, or 1 + the recursion round it was activated in */
    int scanned;               /* its content was scanned for recursion */
};

struct lorebook {
    char *name;
    struct lore_entry *entries;
    int count;
    int scan_depth;
    int max_depth;             /* the deepest scan of any entry */
    long token_budget;
    int recursive, max_recursion;
    struct lore_key *keys;
    int nkeys;
    struct lore_ac *fold, *exact;
    struct lore_regex *regexes;
    int nregexes;
    struct lore_state *state;  /* one per entry */
    char *buf;                 /* the scanned text, newest message first */
    size_t bufcap;
};

/* ---- reading the JSON, in either the card's or SillyTavern's field names ---- */

static json_t *field(const json_t *e, const char *a, const char *b) {
    json_t *v = json_object_get(e, a);
    if (!v && b) v = json_object_get(e, b);
    if (!v) v = json_object_get(json_object_get(e, "extensions"), a);
    if (!v && b) v = json_object_get(json_object_get(e, "extensions"), b);
    return json_is_null(v) ? NULL : v;
}

static int flag(const json_t *e, const char *a, const char *b, int def) {
    json_t *v = field(e, a, b);
    if (json_is_boolean(v)) return json_is_true(v);
    if (json_is_integer(v)) return json_integer_value(v) != 0;
    return def;
}

static long number(const json_t *e, const char *a, const char *b, long def) {
    json_t *v = field(e, a, b);
    return json_is_number(v) ? (long)json_number_value(v) : def;
}

/* A list of strings (or a comma-separated string) into KEYS. */
static int read_keys(const json_t *v, char ***out, int *n, int max, const char *where, char *err, size_t errlen) {
    *out = NULL;
    *n = 0;
    if (!v) return 0;
    if (json_is_string(v)) {
        /* "dragon, wyrm": SillyTavern's older files. */
        const char *s = json_string_value(v);
        *out = xcalloc((size_t)max + 1, sizeof(char *));
        while (*s && *n < max) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            while (len && (*s == ' ')) s++, len--;
            while (len && s[len - 1] == ' ') len--;
            if (len) (*out)[(*n)++] = xstrndup(s, len);
            s = comma ? comma + 1 : s + strlen(s);
        }
        return 0;
    }
    if (!json_is_array(v)) {
        snprintf(err, errlen, "%s: expected a list of strings", where);
        return -1;
    }
    if (json_array_size(v) > (size_t)max) {
        snprintf(err, errlen, "%s: more than %d keys", where, max);
        return -1;
    }
    *out = xcalloc(json_array_size(v) + 1, sizeof(char *));
    size_t i;
    json_t *k;
    json_array_foreach(v, i, k) {
        if (!json_is_string(k)) {
            snprintf(err, errlen, "%s[%zu]: expected a string", where, i);
            return -1;
        }
        if (json_string_length(k) > 0) (*out)[(*n)++] = xstrdup(json_string_value(k));
    }
    return 0;
}

/* V3 decorators at the top of CONTENT ("@@depth 2"): applied to E, removed from the text. */
static const char *decorators(struct lore_entry *e, const char *content) {
    while (content[0] == '@' && content[1] == '@') {
        const char *nl = strchr(content, '\n');
        size_t len = nl ? (size_t)(nl - content) : strlen(content);
        char line[128];
        snprintf(line, sizeof(line), "%.*s", (int)(len - 2 < sizeof(line) ? len - 2 : sizeof(line) - 1), content + 2);
        if (strchr(line, '\r')) *strchr(line, '\r') = '\0';
        char *arg = strchr(line, ' ');
        if (arg) *arg++ = '\0';
        if (!strcmp(line, "depth") && arg) {
            e->position = LORE_AT_DEPTH;
            e->depth = atoi(arg);
        } else if (!strcmp(line, "scan_depth") && arg) e->scan_depth = atoi(arg);
        else if (!strcmp(line, "activate")) e->constant = 1;
        else if (!strcmp(line, "dont_activate")) e->never = 1;
        else if (!strcmp(line, "role") && arg) e->role = !strcmp(arg, "user") ? "user" : !strcmp(arg, "assistant") ? "assistant" : "system";
        content += len;
        if (*content == '\n') content++;
    }
    return content;
}

/* Is KEY written as a regex ("/pattern/flags")? Then its pattern and flags. */
static int slash_regex(const char *key, char *pattern, size_t plen, int *icase) {
    size_t len = strlen(key);
    if (len < 3 || key[0] != '/') return 0;
    const char *end = strrchr(key, '/');
    if (end == key) return 0;
    for (const char *f = end + 1; *f; f++)
        if (!strchr("gimsuy", *f)) return 0;
    *icase = strchr(end + 1, 'i') != NULL;
    snprintf(pattern, plen, "%.*s", (int)(end - key - 1), key + 1);
    return 1;
}

/* Compile one regex key; refuse what could run away (backreferences, length). */
static int add_regex(struct lorebook *lb, const char *pattern, int icase, int entry, int index, int secondary,
                     const char *where, char *err, size_t errlen) {
    if (strlen(pattern) > LORE_REGEX_MAX) {
        snprintf(err, errlen, "%s: regex longer than %d bytes", where, LORE_REGEX_MAX);
        return -1;
    }
    for (const char *p = pattern; *p; p++)
        if (p[0] == '\\' && p[1] >= '1' && p[1] <= '9') {
            snprintf(err, errlen, "%s: backreferences are not allowed in regex keys", where);
            return -1;
        }
    lb->regexes = xrealloc(lb->regexes, (size_t)(lb->nregexes + 1) * sizeof(*lb->regexes));
    struct lore_regex *r = &lb->regexes[lb->nregexes];
    int rc = regcomp(&r->re, pattern, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
    if (rc) {
        char why[160];
        regerror(rc, &r->re, why, sizeof(why));
        snprintf(err, errlen, "%s: bad regex (%s)", where, why);
        return -1;
    }
    r->entry = entry;
    r->index = index;
    r->secondary = secondary;
    lb->nregexes++;
    return 0;
}

/* Index one entry's keys: literal keys in an automaton, regex keys compiled. */
static int index_keys(struct lorebook *lb, int ei, char **keys, int n, int secondary, const char *where,
                      char *err, size_t errlen) {
    struct lore_entry *e = &lb->entries[ei];
    for (int i = 0; i < n; i++) {
        char kwhere[300], pattern[LORE_REGEX_MAX + 8];
        int icase = !e->case_sensitive;
        snprintf(kwhere, sizeof(kwhere), "%s.%s[%d]", where, secondary ? "secondary_keys" : "keys", i);
        if (e->use_regex || slash_regex(keys[i], pattern, sizeof(pattern), &icase)) {
            if (e->use_regex && !slash_regex(keys[i], pattern, sizeof(pattern), &icase)) {
                snprintf(pattern, sizeof(pattern), "%s", keys[i]);
                icase = !e->case_sensitive;
            }
            if (add_regex(lb, pattern, icase, ei, i, secondary, kwhere, err, errlen) < 0) return -1;
            continue;
        }
        struct lore_ac **ac = e->case_sensitive ? &lb->exact : &lb->fold;
        if (!*ac) *ac = lore_ac_new(!e->case_sensitive);
        lb->keys = xrealloc(lb->keys, (size_t)(lb->nkeys + 1) * sizeof(*lb->keys));
        lb->keys[lb->nkeys] = (struct lore_key){ .entry = ei, .index = i, .secondary = secondary, .len = strlen(keys[i]) };
        lore_ac_add(*ac, keys[i], strlen(keys[i]), lb->nkeys);
        lb->nkeys++;
    }
    return 0;
}

/* Read entry E (JSON) into LB's entry EI. */
static int read_entry(struct lorebook *lb, int ei, const json_t *j, const char *where, char *err, size_t errlen) {
    struct lore_entry *e = &lb->entries[ei];
    char w[300];
    if (!json_is_object(j)) {
        snprintf(err, errlen, "%s: expected an object", where);
        return -1;
    }
    snprintf(w, sizeof(w), "%s.keys", where);
    if (read_keys(field(j, "keys", "key"), &e->keys, &e->nkeys, LORE_MAX_KEYS, w, err, errlen) < 0) return -1;
    snprintf(w, sizeof(w), "%s.secondary_keys", where);
    if (read_keys(field(j, "secondary_keys", "keysecondary"), &e->secondary, &e->nsecondary, LORE_MAX_SECONDARY, w,
                  err, errlen) < 0) return -1;
    json_t *content = field(j, "content", NULL);
    if (content && !json_is_string(content)) {
        snprintf(err, errlen, "%s.content: expected a string", where);
        return -1;
    }
    const char *name = json_string_value(field(j, "name", NULL));
    if (!name || !*name) name = json_string_value(field(j, "comment", NULL));
    e->name = xstrdup(name && *name ? name : e->nkeys ? e->keys[0] : "entry");
    e->enabled = flag(j, "enabled", NULL, 1) && !flag(j, "disable", NULL, 0);
    e->constant = flag(j, "constant", NULL, 0);
    e->selective = flag(j, "selective", NULL, 0) && e->nsecondary > 0;
    e->case_sensitive = flag(j, "case_sensitive", "caseSensitive", 0);
    e->whole_words = flag(j, "match_whole_words", "matchWholeWords", 0);
    e->use_regex = flag(j, "use_regex", NULL, 0);
    e->insertion_order = (int)number(j, "insertion_order", "order", 100);
    e->priority = (int)number(j, "priority", NULL, e->insertion_order);
    e->scan_depth = (int)number(j, "scan_depth", "scanDepth", -1);
    e->prevent_recursion = flag(j, "prevent_recursion", "preventRecursion", 0);
    e->exclude_recursion = flag(j, "exclude_recursion", "excludeRecursion", 0);
    e->role = "system";
    long role = number(j, "role", NULL, 0);
    if (role == 1) e->role = "user";
    else if (role == 2) e->role = "assistant";
    json_t *logic = field(j, "selectiveLogic", "selective_logic");
    const char *ls = json_string_value(logic);
    e->logic = json_is_integer(logic) && json_integer_value(logic) >= 0 && json_integer_value(logic) <= 3
                   ? (enum lore_logic)json_integer_value(logic)
               : ls && !strcmp(ls, "not_all") ? LORE_NOT_ALL
               : ls && !strcmp(ls, "not_any") ? LORE_NOT_ANY
               : ls && !strcmp(ls, "and_all") ? LORE_AND_ALL : LORE_AND_ANY;
    /* Position: the card's "before_char"/"after_char", or SillyTavern's number (4: at a depth). */
    json_t *pos = json_object_get(j, "position");
    json_t *xpos = json_object_get(json_object_get(j, "extensions"), "position");
    e->position = LORE_BEFORE_CHAR;
    if (json_is_string(pos) && !strcmp(json_string_value(pos), "after_char")) e->position = LORE_AFTER_CHAR;
    if (json_is_integer(xpos) || json_is_integer(pos)) {
        long p = json_integer_value(json_is_integer(xpos) ? xpos : pos);
        e->position = p == 4 ? LORE_AT_DEPTH : p == 0 ? LORE_BEFORE_CHAR : LORE_AFTER_CHAR;
    }
    e->depth = (int)number(j, "depth", NULL, 4);
    e->content = xstrdup(decorators(e, json_string_value(content) ? json_string_value(content) : ""));
    if (e->depth < 0) e->depth = 0;
    e->tokens = tokens_estimate(e->content, strlen(e->content));
    if (index_keys(lb, ei, e->keys, e->nkeys, 0, where, err, errlen) < 0) return -1;
    if (index_keys(lb, ei, e->secondary, e->nsecondary, 1, where, err, errlen) < 0) return -1;
    return 0;
}

struct lorebook *lorebook_compile(const json_t *book, const char *where, char *err, size_t errlen) {
    if (!json_is_object(book)) {
        snprintf(err, errlen, "%s: expected an object", where);
        return NULL;
    }
    json_t *entries = json_object_get(book, "entries");
    size_t n = json_is_array(entries) ? json_array_size(entries) : json_is_object(entries) ? json_object_size(entries) : 0;
    if (!json_is_array(entries) && !json_is_object(entries)) {
        snprintf(err, errlen, "%s.entries: expected a list of entries", where);
        return NULL;
    }
    if (n > LORE_MAX_ENTRIES) {
        snprintf(err, errlen, "%s.entries: more than %d entries", where, LORE_MAX_ENTRIES);
        return NULL;
    }
    struct lorebook *lb = xcalloc(1, sizeof(*lb));
    const char *name = json_string_value(json_object_get(book, "name"));
    lb->name = xstrdup(name && *name ? name : "lorebook");
    lb->entries = xcalloc(n ? n : 1, sizeof(*lb->entries));
    lb->state = xcalloc(n ? n : 1, sizeof(*lb->state));
    lb->scan_depth = (int)number(book, "scan_depth", "scanDepth", 2);
    if (lb->scan_depth < 1) lb->scan_depth = 1;
    lb->token_budget = number(book, "token_budget", NULL, 0);
    lb->recursive = flag(book, "recursive_scanning", NULL, json_is_object(entries));
    lb->max_recursion = (int)number(book, "max_recursion", NULL, 3);
    if (lb->max_recursion > LORE_MAX_RECURSION) lb->max_recursion = LORE_MAX_RECURSION;
    if (lb->max_recursion < 0) lb->max_recursion = 0;
    char w[300];
    if (json_is_array(entries)) {
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e) {
            snprintf(w, sizeof(w), "%s.entries[%zu]", where, i);
            if (read_entry(lb, lb->count++, e, w, err, errlen) < 0) goto fail;
        }
    } else {
        const char *k;
        json_t *e;
        json_object_foreach(entries, k, e) {
            snprintf(w, sizeof(w), "%s.entries.%.40s", where, k);
            if (read_entry(lb, lb->count++, e, w, err, errlen) < 0) goto fail;
        }
    }
    lb->max_depth = lb->scan_depth;
    for (int i = 0; i < lb->count; i++)
        if (lb->entries[i].scan_depth > lb->max_depth) lb->max_depth = lb->entries[i].scan_depth;
    if (lb->fold) lore_ac_build(lb->fold);
    if (lb->exact) lore_ac_build(lb->exact);
    return lb;
fail:
    lorebook_free(lb);
    return NULL;
}

struct lorebook *lorebook_load_file(const char *path, char *err, size_t errlen) {
    json_error_t jerr;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    if (size > (long)LORE_FILE_MAX) {
        snprintf(err, errlen, "%s: %ld bytes, over the %u-byte limit", path, size, LORE_FILE_MAX);
        return NULL;
    }
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) {
        snprintf(err, errlen, "%s: not JSON (%s at line %d)", path, jerr.text, jerr.line);
        return NULL;
    }
    /* A whole card is fine too: its character_book. */
    json_t *book = json_object_get(json_object_get(j, "data"), "character_book");
    char why[400];
    struct lorebook *lb = lorebook_compile(book ? book : j, book ? "data.character_book" : "lorebook", why, sizeof(why));
    if (!lb) snprintf(err, errlen, "%s: %s", path, why);
    json_decref(j);
    return lb;
}

void lorebook_free(struct lorebook *lb) {
    if (!lb) return;
    for (int i = 0; i < lb->count; i++) {
        struct lore_entry *e = &lb->entries[i];
        free(e->name);
        free(e->content);
        for (int k = 0; k < e->nkeys; k++) free(e->keys[k]);
        for (int k = 0; k < e->nsecondary; k++) free(e->secondary[k]);
        free(e->keys);
        free(e->secondary);
    }
    for (int i = 0; i < lb->nregexes; i++) regfree(&lb->regexes[i].re);
    free(lb->regexes);
    lore_ac_free(lb->fold);
    lore_ac_free(lb->exact);
    free(lb->keys);
    free(lb->entries);
    free(lb->state);
    free(lb->buf);
    free(lb->name);
    free(lb);
}

const char *lorebook_name(const struct lorebook *lb) {
    return lb->name;
}

int lorebook_size(const struct lorebook *lb) {
    return lb->count;
}

/* ---- matching ---- */

struct scan {
    struct lorebook *lb;
    const char *text;
    size_t len;
    const size_t *ends;        /* where each message ends in text */
    int nmsg;
    int source;                /* -1: the conversation; else the entry whose content is scanned */
    int msg;                   /* the message the scan is in */
};

static int word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/* Which message (0 = newest) holds byte AT of the conversation text. */
static int message_at(const struct scan *s, size_t at) {
    int m = 0;
    while (m < s->nmsg - 1 && at >= s->ends[m]) m++;
    return m;
}

static int entry_depth(const struct lorebook *lb, const struct lore_entry *e) {
    return e->scan_depth > 0 ? e->scan_depth : lb->scan_depth;
}

/* Record that key INDEX (primary or secondary) of entry EI was seen in message MSG. */
static void saw_key(struct scan *s, int ei, int index, int secondary, int msg) {
    struct lorebook *lb = s->lb;
    struct lore_entry *e = &lb->entries[ei];
    struct lore_state *st = &lb->state[ei];
    if (!e->enabled || st->active) return;
    if (s->source >= 0 && e->exclude_recursion) return;
    if (s->source < 0 && msg >= entry_depth(lb, e)) return;
    if (secondary) {
        if (index < 64) st->sec |= 1ull << index;
    } else if (st->prim < 0) {
        st->prim = index;
        st->prim_msg = s->source >= 0 ? -1 - s->source : msg;
    }
}

static void on_ac_hit(int id, size_t end, void *data) {
    struct scan *s = data;
    const struct lore_key *k = &s->lb->keys[id];
    const struct lore_entry *e = &s->lb->entries[k->entry];
    size_t start = end - k->len;
    if (e->whole_words && ((start > 0 && word_byte((unsigned char)s->text[start - 1])) ||
                           (end < s->len && word_byte((unsigned char)s->text[end]))))
        return;
    saw_key(s, k->entry, k->index, k->secondary, s->source >= 0 ? 0 : message_at(s, start));
}

/* Scan TEXT for every key: both automata, then the regexes. */
static void scan_text(struct scan *s) {
    struct lorebook *lb = s->lb;
    lore_ac_scan(lb->fold, s->text, s->len, on_ac_hit, s);
    lore_ac_scan(lb->exact, s->text, s->len, on_ac_hit, s);
    for (int i = 0; i < lb->nregexes; i++) {
        const struct lore_regex *r = &lb->regexes[i];
        const struct lore_entry *e = &lb->entries[r->entry];
        struct lore_state *st = &lb->state[r->entry];
        if (!e->enabled || st->active || (!r->secondary && st->prim >= 0)) continue;
        if (r->secondary && r->index < 64 && (st->sec & (1ull << r->index))) continue;
        /* The conversation: only the messages within the entry's scan depth, newest first. */
        size_t upto = s->len;
        int depth = entry_depth(lb, e);
        if (s->source < 0 && depth < s->nmsg) upto = s->ends[depth - 1];
        regmatch_t m[1] = { { .rm_so = 0, .rm_eo = (regoff_t)upto } };
        if (regexec(&r->re, s->text, 1, m, REG_STARTEND) == 0) {
            int msg = 0;
            if (s->source < 0) {
                /* Which message: the first whose prefix matches. */
                for (msg = 0; msg < s->nmsg - 1; msg++) {
                    regmatch_t mm[1] = { { .rm_so = 0, .rm_eo = (regoff_t)s->ends[msg] } };
                    if (regexec(&r->re, s->text, 1, mm, REG_STARTEND) == 0) break;
                }
            }
            saw_key(s, r->entry, r->index, r->secondary, msg);
        }
    }
}

static int popcount64(unsigned long long v) {
    int n = 0;
    for (; v; v &= v - 1) n++;
    return n;
}

/* Do the keys seen activate entry E? */
static int activates(const struct lore_entry *e, const struct lore_state *st) {
    if (!e->enabled || e->never) return 0;
    if (e->constant) return 1;
    if (st->prim < 0) return 0;
    if (!e->selective) return 1;
    int seen = popcount64(st->sec), all = e->nsecondary < 64 ? e->nsecondary : 64;
    switch (e->logic) {
    case LORE_AND_ANY: return seen > 0;
    case LORE_NOT_ALL: return seen < all;
    case LORE_NOT_ANY: return seen == 0;
    case LORE_AND_ALL: return seen == all;
    }
    return 0;
}

/* Activate every entry whose keys are satisfied; returns how many are new. */
static int activate_round(struct lorebook *lb, int round) {
    int fresh = 0;
    for (int i = 0; i < lb->count; i++)
        if (!lb->state[i].active && activates(&lb->entries[i], &lb->state[i])) {
            lb->state[i].active = round + 1;
            fresh++;
        }
    return fresh;
}

/* Why entry EI is in: for explanations. */
static void explain(const struct lorebook *lb, int ei, char *out, size_t len) {
    const struct lore_entry *e = &lb->entries[ei];
    const struct lore_state *st = &lb->state[ei];
    if (e->constant || st->prim < 0) {
        snprintf(out, len, "constant");
        return;
    }
    const char *key = e->keys[st->prim];
    int n;
    if (st->prim_msg >= 0 && st->prim_msg == 0) n = snprintf(out, len, "key \"%.60s\" in the message", key);
    else if (st->prim_msg > 0) n = snprintf(out, len, "key \"%.60s\" %d message%s back", key, st->prim_msg, st->prim_msg > 1 ? "s" : "");
    else n = snprintf(out, len, "key \"%.60s\" in entry \"%.40s\" (recursion %d)", key,
                      lb->entries[-1 - st->prim_msg].name, st->active - 1);
    if (e->selective && n > 0 && (size_t)n < len) {
        const char *what = e->logic == LORE_AND_ANY ? "and one of" : e->logic == LORE_AND_ALL ? "and all of"
                         : e->logic == LORE_NOT_ANY ? "and none of" : "and not all of";
        snprintf(out + n, len - (size_t)n, ", %s the secondary keys", what);
    }
}

struct candidate {
    int entry;
    const struct lorebook *book;
};

static const struct lorebook *sort_book;

static int by_priority(const void *a, const void *b) {
    const struct lore_entry *x = &sort_book->entries[((const struct candidate *)a)->entry];
    const struct lore_entry *y = &sort_book->entries[((const struct candidate *)b)->entry];
    if (x->priority != y->priority) return y->priority - x->priority;
    return ((const struct candidate *)a)->entry - ((const struct candidate *)b)->entry;
}

static int by_place(const void *a, const void *b) {
    const struct lore_hit *x = a, *y = b;
    if (x->entry->position != y->entry->position) return (int)x->entry->position - (int)y->entry->position;
    if (x->entry->insertion_order != y->entry->insertion_order) return x->entry->insertion_order - y->entry->insertion_order;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

/* One book: scan, recurse, cut to the budget; append hits. */
static int match_book(struct lorebook *lb, const char *const *texts, int ntexts, long default_budget,
                      struct lore_hit *hits, int nhits, int max) {
    for (int i = 0; i < lb->count; i++) lb->state[i] = (struct lore_state){ .prim = -1 };
    /* The conversation, newest message first, one line break between messages. */
    if (ntexts > lb->max_depth) ntexts = lb->max_depth;
    size_t ends[64], total = 0;
    if (ntexts > 64) ntexts = 64;
    for (int i = 0; i < ntexts; i++) total += strlen(texts[i]) + 1;
    if (total + 1 > lb->bufcap) {
        lb->bufcap = total + 1;
        lb->buf = xrealloc(lb->buf, lb->bufcap);
    }
    size_t at = 0;
    for (int i = 0; i < ntexts; i++) {
        size_t n = strlen(texts[i]);
        memcpy(lb->buf + at, texts[i], n);
        at += n;
        ends[i] = at;
        lb->buf[at++] = '\n';
    }
    lb->buf[at] = '\0';
    struct scan s = { .lb = lb, .text = lb->buf, .len = at, .ends = ends, .nmsg = ntexts, .source = -1 };
    if (ntexts > 0) scan_text(&s);
    activate_round(lb, 0);
    /* Recursion: activated entries' content may activate others, up to the cap. */
    for (int round = 1; lb->recursive && round <= lb->max_recursion; round++) {
        int scanned = 0;
        for (int i = 0; i < lb->count; i++) {
            struct lore_state *st = &lb->state[i];
            if (!st->active || st->scanned || lb->entries[i].prevent_recursion) continue;
            st->scanned = 1;
            scanned++;
            struct scan r = { .lb = lb, .text = lb->entries[i].content, .len = strlen(lb->entries[i].content),
                              .source = i, .nmsg = 1 };
            scan_text(&r);
        }
        if (!scanned || activate_round(lb, round) == 0) break;
    }
    /* The budget: the lowest priority goes first. */
    int nc = 0;
    struct candidate *c = xmalloc((size_t)(lb->count ? lb->count : 1) * sizeof(*c));
    for (int i = 0; i < lb->count; i++)
        if (lb->state[i].active) c[nc++] = (struct candidate){ .entry = i, .book = lb };
    sort_book = lb;
    qsort(c, (size_t)nc, sizeof(*c), by_priority);
    long budget = lb->token_budget > 0 ? lb->token_budget : default_budget, used = 0;
    for (int i = 0; i < nc && nhits < max; i++) {
        const struct lore_entry *e = &lb->entries[c[i].entry];
        if (budget > 0 && used + e->tokens > budget) continue;
        used += e->tokens;
        hits[nhits].book = lb;
        hits[nhits].entry = e;
        explain(lb, c[i].entry, hits[nhits].why, sizeof(hits[nhits].why));
        nhits++;
    }
    free(c);
    return nhits;
}

int lorebook_match(struct lorebook *const *books, int nbooks, const char *const *texts, int ntexts,
                   long default_budget, struct lore_hit *hits, int max) {
    int n = 0;
    for (int b = 0; b < nbooks; b++)
        if (books[b]) n = match_book(books[b], texts, ntexts, default_budget, hits, n, max);
    qsort(hits, (size_t)n, sizeof(*hits), by_place);
    return n;
}
