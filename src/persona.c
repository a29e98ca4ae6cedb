/* persona.c - load personas from `persona "name" { ... }` statements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "config_schema.h"
#include "persona.h"
#include "model.h"
#include "router.h"

#define DEFAULT_APOLOGY "Sorry, I can't answer right now. Please try again in a moment."

/* A persona's model must exist, and its name must be a safe Redis key part. */
static int validate_persona(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    const char *model = config_str(b, "model", NULL);
    for (const char *p = b->name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-')) {
            snprintf(err, errlen, "persona \"%s\": a name may hold only letters, digits, '_' and '-'", b->name);
            return -1;
        }
    }
    if (b->name[0] == '\0') {
        snprintf(err, errlen, "a persona needs a non-empty name");
        return -1;
    }
    if (model && !router_defined(cfg, model)) {
        snprintf(err, errlen, "persona \"%s\" uses model \"%s\", which is not defined (add model \"%s\" { ... } or route \"%s\" { ... })",
                 b->name, model, model, model);
        return -1;
    }
    return 0;
}

static const struct config_key persona_keys[] = {
    { "prompt", CONFIG_STRING, 1, "the system prompt, e.g. \"You are Aiko, ...\"" },
    { "display_name", CONFIG_STRING, 0, "the name people see" },
    { "model", CONFIG_STRING, 0, "a model name; default \"default\" when defined, else \"local\"" },
    { "apology", CONFIG_STRING, 0, "what to say when the model fails" },
    { "avatar", CONFIG_STRING, 0, "an image URL" },
    { "description", CONFIG_STRING, 0, "a line about the persona" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema persona_schema = {
    .kind = "persona", .named = 1, .value = CONFIG_NONE, .keys = persona_keys,
    .validate = validate_persona
};

/* Register `persona "name" { ... }`. */
void persona_config_register(void) {
    config_schema_register(&persona_schema);
}

/* Fill one persona from its block, with the documented defaults. */
static void persona_fill(struct persona *p, const struct config *cfg, const struct config_block *b) {
    const char *model = config_str(b, "model", NULL);
    if (!model) model = model_defined(cfg, "default") ? "default" : "local";
    p->name = strdup(b->name);
    p->display_name = strdup(config_str(b, "display_name", b->name));
    p->prompt = strdup(config_str(b, "prompt", ""));
    p->model = strdup(model);
    p->apology = strdup(config_str(b, "apology", DEFAULT_APOLOGY));
    const char *avatar = config_str(b, "avatar", NULL);
    p->avatar = avatar ? strdup(avatar) : NULL;
}

struct persona_set *persona_set_new(const struct config *cfg) {
    struct persona_set *set = calloc(1, sizeof(*set));
    int n = 0;
    for (struct config_block *b = config_first(cfg, "persona"); b; b = config_next(b, "persona")) n++;
    if (n == 0) {
        /* No persona configured: a plain assistant on the offline model. */
        set->items = calloc(1, sizeof(struct persona));
        struct persona *p = &set->items[0];
        p->name = strdup("chorus");
        p->display_name = strdup("Chorus");
        p->prompt = strdup("You are Chorus, a friendly assistant.");
        p->model = strdup(model_defined(cfg, "default") ? "default" : "local");
        p->apology = strdup(DEFAULT_APOLOGY);
        set->count = 1;
    } else {
        set->items = calloc((size_t)n, sizeof(struct persona));
        for (struct config_block *b = config_first(cfg, "persona"); b; b = config_next(b, "persona"))
            persona_fill(&set->items[set->count++], cfg, b);
    }
    set->fallback = &set->items[0];
    if (cfg->default_persona) {
        const struct persona *p = persona_find(set, cfg->default_persona);
        if (p) set->fallback = p;
    }
    return set;
}

void persona_set_free(struct persona_set *set) {
    if (!set) return;
    for (int i = 0; i < set->count; i++) {
        struct persona *p = &set->items[i];
        free(p->name);
        free(p->display_name);
        free(p->prompt);
        free(p->model);
        free(p->apology);
        free(p->avatar);
    }
    free(set->items);
    free(set);
}

const struct persona *persona_find(const struct persona_set *set, const char *name) {
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0) return &set->items[i];
    return NULL;
}
