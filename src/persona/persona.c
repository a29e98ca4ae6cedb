/* persona.c - load personas from `persona "name" { ... }` statements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "persona/persona.h"
#include "model/model.h"
#include "model/router.h"
#include "lib/xalloc.h"

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
    { "style", CONFIG_TABLE, 0, "{ length = \"short\"|\"medium\"|\"long\", emoji = bool, languages = {...}, formality = \"casual\"|\"formal\" }" },
    { "traits", CONFIG_STRINGS, 0, "a few words of character, e.g. { \"curious\", \"warm\" }" },
    { "skills", CONFIG_STRINGS, 0, "the plugins it may use (default: all)" },
    { "pacing", CONFIG_TABLE, 0, "{ split = true, typing_ms_per_char = 30, max_parts = 3 }: human-like split replies" },
    { "default_for", CONFIG_STRINGS, 0, "platforms where it speaks in channels that have no persona set" },
    { "max_prompt_tokens", CONFIG_INT, 0, "token budget of the assembled prompt, default 3000" },
    { "history_turns", CONFIG_INT, 0, "recent turns kept before older ones are summarised, default 24" },
    { "summary_model", CONFIG_STRING, 0, "model or route that writes the rolling summary (default: its model)" },
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

/* A NULL-terminated copy of a JSON list of strings (or one string), or NULL. */
static char **string_list(json_t *v) {
    if (json_is_string(v)) {
        char **out = xcalloc(2, sizeof(char *));
        out[0] = xstrdup(json_string_value(v));
        return out;
    }
    if (!json_is_array(v)) return NULL;
    char **out = xcalloc(json_array_size(v) + 1, sizeof(char *));
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(v, i, e) if (json_is_string(e)) out[n++] = xstrdup(json_string_value(e));
    return out;
}

static void free_list(char **list) {
    for (char **p = list; p && *p; p++) free(*p);
    free(list);
}

/* Fill one persona from its block, with the documented defaults. */
static void persona_fill(struct persona *p, const struct config *cfg, const struct config_block *b) {
    const char *model = config_str(b, "model", NULL);
    if (!model) model = model_defined(cfg, "default") ? "default" : "local";
    p->name = xstrdup(b->name);
    p->display_name = xstrdup(config_str(b, "display_name", b->name));
    p->prompt = xstrdup(config_str(b, "prompt", ""));
    p->model = xstrdup(model);
    p->apology = xstrdup(config_str(b, "apology", DEFAULT_APOLOGY));
    const char *avatar = config_str(b, "avatar", NULL);
    p->avatar = avatar ? xstrdup(avatar) : NULL;
    const char *desc = config_str(b, "description", NULL);
    p->description = desc ? xstrdup(desc) : NULL;
    p->def = json_incref(b->value);
    p->skills = string_list(json_object_get(b->value, "skills"));
    p->default_for = string_list(json_object_get(b->value, "default_for"));
    p->max_prompt_tokens = config_int(b, "max_prompt_tokens", 3000);
    p->history_turns = config_int(b, "history_turns", 24);
    const char *sm = config_str(b, "summary_model", NULL);
    p->summary_model = xstrdup(sm ? sm : p->model);
}

struct persona_set *persona_set_new(const struct config *cfg) {
    struct persona_set *set = xcalloc(1, sizeof(*set));
    int n = 0;
    for (struct config_block *b = config_first(cfg, "persona"); b; b = config_next(b, "persona")) n++;
    if (n == 0) {
        /* No persona configured: a plain assistant on the offline model. */
        set->items = xcalloc(1, sizeof(struct persona));
        struct persona *p = &set->items[0];
        p->name = xstrdup("chorus");
        p->display_name = xstrdup("Chorus");
        p->prompt = xstrdup("You are Chorus, a friendly assistant.");
        p->model = xstrdup(model_defined(cfg, "default") ? "default" : "local");
        p->apology = xstrdup(DEFAULT_APOLOGY);
        p->max_prompt_tokens = 3000;
        p->history_turns = 24;
        p->summary_model = xstrdup(p->model);
        set->count = 1;
    } else {
        set->items = xcalloc((size_t)n, sizeof(struct persona));
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
        free(p->description);
        json_decref(p->def);
        free_list(p->skills);
        free_list(p->default_for);
        free(p->summary_model);
    }
    free(set->items);
    free(set);
}

const struct persona *persona_find(const struct persona_set *set, const char *name) {
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0) return &set->items[i];
    return NULL;
}

const struct persona *persona_default_for(const struct persona_set *set, const char *platform) {
    for (int i = 0; i < set->count; i++)
        for (char **p = set->items[i].default_for; platform && p && *p; p++)
            if (!strcmp(*p, platform)) return &set->items[i];
    return set->fallback;
}

int persona_allows_skill(const struct persona *p, const char *name) {
    if (!p->skills) return 1;
    for (char **s = p->skills; *s; s++)
        if (!strcmp(*s, name)) return 1;
    return 0;
}
