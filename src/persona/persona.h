/* persona.h - personas defined in the config: who speaks in a channel. */
#ifndef CHORUS_PERSONA_H
#define CHORUS_PERSONA_H
#include <stddef.h>
#include <jansson.h>

struct config;

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
};

struct persona_set {
    struct persona *items;
    int count;
    const struct persona *fallback;   /* default_persona, or the first one */
};

void persona_config_register(void);
/* Build the set from a validated config. Never fails on a validated config. */
struct persona_set *persona_set_new(const struct config *cfg);
void persona_set_free(struct persona_set *set);
const struct persona *persona_find(const struct persona_set *set, const char *name);
/* The persona of a channel that has none set: the platform's default, or the fallback. */
const struct persona *persona_default_for(const struct persona_set *set, const char *platform);
/* May persona P use plugin NAME? */
int persona_allows_skill(const struct persona *p, const char *name);

#endif
