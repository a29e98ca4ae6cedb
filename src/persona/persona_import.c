/* persona_import.c - the cache of personas built from imported cards. */
#include <stdlib.h>
#include <string.h>
#include "persona/persona.h"
#include "persona/persona_import.h"
#include "lib/dict.h"
#include "lib/xalloc.h"

struct imported {
    struct persona *p;
    char rev[17];
};

static struct dict *cache;

struct persona *persona_import_get(const char *name, const char *rev) {
    struct imported *e = cache ? dict_get(cache, name) : NULL;
    if (!e || (rev && strcmp(e->rev, rev))) return NULL;
    e->p->refs++;
    return e->p;
}

const struct persona *persona_import_peek(const char *name) {
    struct imported *e = cache ? dict_get(cache, name) : NULL;
    return e ? e->p : NULL;
}

void persona_import_release(struct persona *p) {
    if (p && --p->refs == 0) persona_free(p);
}

struct persona *persona_import_put(const char *name, const char *rev, json_t *card, const char *model) {
    if (!cache) cache = dict_new();
    struct imported *e = dict_get(cache, name);
    if (!e) {
        e = xcalloc(1, sizeof(*e));
        dict_set(cache, name, e);
    } else {
        persona_import_release(e->p);   /* jobs still using it keep it alive */
    }
    e->p = persona_from_card(name, card, model);
    e->p->refs = 2;                     /* the cache's and the caller's */
    snprintf(e->rev, sizeof(e->rev), "%s", rev);
    return e->p;
}

static void drop(const char *key, void *value, void *arg) {
    (void)key;
    (void)arg;
    struct imported *e = value;
    persona_import_release(e->p);
    free(e);
}

void persona_import_clear(void) {
    if (!cache) return;
    dict_each(cache, drop, NULL);
    dict_free(cache);
    cache = NULL;
}
