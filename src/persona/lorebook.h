/* lorebook.h - lorebooks (world info): entries whose content goes into the
 * prompt when their keys appear in the recent conversation.
 *
 * A book is compiled once (from a card's character_book, or a SillyTavern
 * world-info file) into one Aho-Corasick automaton for the literal keys
 * that ignore case (ASCII letters folded) and one for those that do not,
 * plus POSIX regexes for regex keys. Matching scans the newest messages
 * once, however many entries the book has; then secondary keys (AND/NOT
 * logic), constant entries, recursion through activated entries' content
 * (with a depth cap), and the token budget (lowest priority dropped first)
 * decide what goes in. Matching uses scratch space inside the book: one
 * caller at a time (the loop). */
#ifndef CHORUS_LOREBOOK_H
#define CHORUS_LOREBOOK_H
#include <stddef.h>
#include <jansson.h>

enum lore_position { LORE_BEFORE_CHAR = 0, LORE_AFTER_CHAR = 1, LORE_AT_DEPTH = 2 };
enum lore_logic { LORE_AND_ANY = 0, LORE_NOT_ALL = 1, LORE_NOT_ANY = 2, LORE_AND_ALL = 3 };

struct lore_entry {
    char *name;              /* its name or comment, for explanations */
    char *content;           /* what goes into the prompt (decorators removed) */
    long tokens;             /* tokens_estimate of content */
    char **keys, **secondary;
    int nkeys, nsecondary;
    int enabled, constant, selective, case_sensitive, whole_words, use_regex;
    int never;               /* @@dont_activate */
    enum lore_logic logic;
    enum lore_position position;
    int depth;               /* LORE_AT_DEPTH: messages from the end */
    const char *role;        /* role of a depth entry: "system", "user" or "assistant" */
    int insertion_order, priority;
    int scan_depth;          /* messages scanned; -1: the book's */
    int prevent_recursion;   /* its content does not activate others */
    int exclude_recursion;   /* only the conversation activates it */
};

struct lorebook;

struct lore_hit {
    const struct lorebook *book;
    const struct lore_entry *entry;
    char why[200];           /* "key \"dragon\" in the message", "constant", ... */
};

/* Compile BOOK (JSON). WHERE names it in errors ("data.character_book").
 * Returns NULL with ERR naming the field on a bad book. */
struct lorebook *lorebook_compile(const json_t *book, const char *where, char *err, size_t errlen);
struct lorebook *lorebook_load_file(const char *path, char *err, size_t errlen);
void lorebook_free(struct lorebook *lb);
const char *lorebook_name(const struct lorebook *lb);
int lorebook_size(const struct lorebook *lb);

/* Match BOOKS against TEXTS (newest first: TEXTS[0] is the message being
 * answered). A book without its own token budget gets DEFAULT_BUDGET
 * (0: none). Fills up to MAX hits, ordered by position then insertion
 * order; returns how many. */
int lorebook_match(struct lorebook *const *books, int nbooks, const char *const *texts, int ntexts,
                   long default_budget, struct lore_hit *hits, int max);
#endif
