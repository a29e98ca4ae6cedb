/* persona.h - personas defined in the config: who speaks in a channel. */
#ifndef CHORUS_PERSONA_H
#define CHORUS_PERSONA_H
#include <stddef.h>
#include <jansson.h>
#include "persona/manners.h"

struct config;
struct lorebook;

struct persona {
    char *name;           /* key used in Redis and in replies */
    char *display_name;
    char *prompt;         /* system prompt, sent verbatim first */
    char *model;          /* model name from the registry */
    char *apology;        /* said when the model fails */
    char *avatar;
    char *description;
    json_t *def;          /* the whole definition: style, traits, pacing, ... */
    char **skills;        /* plugins it may use (NULL-terminated), NULL = all */
    char **default_for;   /* platforms where it is the default, NULL-terminated */
    long max_prompt_tokens;   /* budget of the assembled prompt */
    long history_turns;   /* recent turns kept before they are summarised */
    char *summary_model;  /* model or route that writes summaries */
    /* A character card (docs/personas.md): the V3 card of a `card = ...`
     * file, an imported card, or card fields given in the config; NULL for
     * a plain persona. Its lorebook and the attached ones, card's first. */
    json_t *card;
    struct lorebook *card_book;   /* owned */
    struct lorebook **books;      /* array owned; books other than card_book belong to the set */
    int nbooks;
    /* Long-term recall (recall_store.h): the embedding model, NULL when off. */
    char *embedding_model;
    int recall_k;         /* turns brought back, default 4 */
    double recall_min_score;   /* cosine floor, default 0.25 */
    long recall_max_turns;     /* records kept per channel, default 100000 */
    int refs;             /* imported personas: the cache and the jobs using it (persona_import.c) */
    struct persona *origin;   /* a job's live-edited copy of an imported persona: the one it borrows from */
    struct manners manners;   /* the defaults with def's manners over them (persona_manners) */
    int manners_ready;        /* manners is made (on first use; a copy made by value keeps it) */
};

struct persona_set {
    struct persona *items;
    int count;
    struct lorebook **books;      /* `lorebook "name" { file = ... }` statements */
    char **book_names;
    int nbooks;
    const struct persona *fallback;   /* default_persona, or the first one */
};

void persona_config_register(void);
/* Build the set from a validated config. Never fails on a validated config. */
struct persona_set *persona_set_new(const struct config *cfg);
void persona_set_free(struct persona_set *set);
const struct persona *persona_find(const struct persona_set *set, const char *name);
/* The persona of a channel that has none set: the platform's default, or the fallback. */
const struct persona *persona_default_for(const struct persona_set *set, const char *platform);
/* A persona from a checked V3 card (an import): the card's fields, its
 * lorebook, MODEL. Takes a reference to CARD. */
struct persona *persona_from_card(const char *name, json_t *card, const char *model);
void persona_free(struct persona *p);
/* The card's string field KEY, or "" (also for a persona without a card). */
const char *persona_card_str(const struct persona *p, const char *key);
/* The persona as a V3 card (a new reference), for export. */
json_t *persona_to_card(const struct persona *p);
/* May persona P use plugin NAME? */
int persona_allows_skill(const struct persona *p, const char *name);

/* P's group-chat manners: the defaults with those of its definition over
 * them, read once (they are asked twice for every message in a group). */
const struct manners *persona_manners(const struct persona *p);

#endif
