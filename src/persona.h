/* persona.h - personas defined in the config: who speaks in a channel. */
#ifndef CHORUS_PERSONA_H
#define CHORUS_PERSONA_H
#include <stddef.h>

struct config;

struct persona {
    char *name;           /* key used in Redis and in replies */
    char *display_name;
    char *prompt;         /* system prompt, sent verbatim first */
    char *model;          /* model name from the registry */
    char *apology;        /* said when the model fails */
    char *avatar;
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

#endif
