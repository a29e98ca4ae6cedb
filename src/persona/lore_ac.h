/* lore_ac.h - an Aho-Corasick automaton over byte strings: every
 * occurrence of every key in one pass over the text. */
#ifndef CHORUS_LORE_AC_H
#define CHORUS_LORE_AC_H
#include <stddef.h>

struct lore_ac;

/* FOLD: keys and text compared with ASCII letters folded to lower case. */
struct lore_ac *lore_ac_new(int fold);
/* Add key number ID (ids are small and dense: 0, 1, 2, ...). */
void lore_ac_add(struct lore_ac *ac, const char *key, size_t len, int id);
/* Finish: failure links and the packed edge table. No adds after this. */
void lore_ac_build(struct lore_ac *ac);
int lore_ac_keys(const struct lore_ac *ac);
void lore_ac_free(struct lore_ac *ac);

/* Called for each occurrence: key ID ending at byte END (exclusive). */
typedef void lore_ac_hit_fn(int id, size_t end, void *data);
void lore_ac_scan(const struct lore_ac *ac, const char *text, size_t len, lore_ac_hit_fn *fn, void *data);
#endif
