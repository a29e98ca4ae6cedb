/* persona.c - load personas from `persona "name" { ... }` statements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "persona/persona.h"
#include "persona/card.h"
#include "persona/lorebook.h"
#include "persona/manners.h"
#include "persona/prompt.h"
#include "lib/log.h"
#include "model/model.h"
#include "model/router.h"
#include "lib/xalloc.h"

#define DEFAULT_APOLOGY "Sorry, I can't answer right now. Please try again in a moment."
/* The prompt of a card persona that has none: also what {{original}} means in a card's system_prompt. */
#define CARD_DEFAULT_PROMPT "Write {{char}}'s next reply in a chat between {{char}} and {{user}}. Stay in character."

/* Card fields that may be given in the config, beside or instead of a card file. */
static const char *const card_string_keys[] = {
    "description", "personality", "scenario", "first_mes", "mes_example", "post_history_instructions",
    "creator_notes", "nickname", NULL
};
static const char *const card_list_keys[] = { "alternate_greetings", "tags", NULL };

/* Does the block define a card (a file, or card fields beyond the description)? */
static int block_has_card(const struct config_block *b) {
    if (json_object_get(b->value, "card")) return 1;
    for (int i = 1; card_string_keys[i]; i++)
        if (json_object_get(b->value, card_string_keys[i])) return 1;
    return json_object_get(b->value, "alternate_greetings") != NULL;
}

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
    if (!b->value) {
        snprintf(err, errlen, "persona \"%s\" needs a { ... } table after its name", b->name);
        return -1;
    }
    if (!json_object_get(b->value, "prompt") && !json_object_get(b->value, "card")) {
        snprintf(err, errlen, "persona \"%s\" is missing the required key 'prompt' (or give a card = \"file\")", b->name);
        return -1;
    }
    if (json_object_get(b->value, "plugins") && json_object_get(b->value, "skills")) {
        snprintf(err, errlen, "persona \"%s\": give plugins or skills (the same list), not both", b->name);
        return -1;
    }
    const char *pkey;
    json_t *pval;
    json_object_foreach(json_object_get(b->value, "plugin_config"), pkey, pval) {
        if (!json_is_object(pval)) {
            snprintf(err, errlen, "persona \"%s\": plugin_config.%s must be a table of that plugin's settings, "
                     "e.g. plugin_config = { %s = { units = \"metric\" } }", b->name, pkey, pkey);
            return -1;
        }
    }
    const char *card = config_str(b, "card", NULL);
    if (card) {
        char *path = config_path(cfg, card), why[400];
        json_t *c = card_load_file(path, why, sizeof(why));
        free(path);
        if (!c) {
            snprintf(err, errlen, "persona \"%s\": card %s", b->name, why);
            return -1;
        }
        json_decref(c);
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(b->value, "lorebooks"), i, v)
        if (!config_find(cfg, "lorebook", json_string_value(v))) {
            snprintf(err, errlen, "persona \"%s\" uses lorebook \"%s\", which is not defined (add lorebook \"%s\" { file = \"...\" })",
                     b->name, json_string_value(v), json_string_value(v));
            return -1;
        }
    char what[200];
    snprintf(what, sizeof(what), "persona \"%s\"", b->name);
    if (manners_validate(b->value, what, err, errlen) < 0) return -1;
    const char *emb = config_str(b, "embedding_model", NULL);
    if (emb && !model_defined(cfg, emb)) {
        snprintf(err, errlen, "persona \"%s\" uses embedding_model \"%s\", which is not a model (add model \"%s\" { ... }, or use \"local\")",
                 b->name, emb, emb);
        return -1;
    }
    struct config_block *mb = emb ? config_find(cfg, "model", emb) : NULL;
    const char *provider = mb ? config_str(mb, "provider", "") : "";
    if (!strcmp(provider, "anthropic")) {
        snprintf(err, errlen, "persona \"%s\": embedding_model \"%s\" is an anthropic model, which serves no embeddings (use openai, ollama or local)",
                 b->name, emb);
        return -1;
    }
    json_t *recall = json_object_get(b->value, "recall");
    const char *rkey;
    json_t *rv;
    json_object_foreach(recall, rkey, rv) {
        int ok = (!strcmp(rkey, "k") && json_is_integer(rv) && json_integer_value(rv) >= 1 && json_integer_value(rv) <= 32) ||
                 (!strcmp(rkey, "min_score") && json_is_number(rv) && json_number_value(rv) >= -1 && json_number_value(rv) <= 1) ||
                 (!strcmp(rkey, "max_turns") && json_is_integer(rv) && json_integer_value(rv) >= 10);
        if (!ok) {
            snprintf(err, errlen, "persona \"%s\": recall.%s must be %s", b->name, rkey,
                     !strcmp(rkey, "k") ? "a whole number from 1 to 32" : !strcmp(rkey, "min_score") ? "a number from -1 to 1"
                     : !strcmp(rkey, "max_turns") ? "a whole number of at least 10" : "one of k, min_score, max_turns");
            return -1;
        }
    }
    if (model && !router_defined(cfg, model)) {
        snprintf(err, errlen, "persona \"%s\" uses model \"%s\", which is not defined (add model \"%s\" { ... } or route \"%s\" { ... })",
                 b->name, model, model, model);
        return -1;
    }
    return 0;
}

static const struct config_key persona_keys[] = {
    { "prompt", CONFIG_STRING, 0, "the system prompt, e.g. \"You are Aiko, ...\" (needed unless a card gives one)" },
    { "display_name", CONFIG_STRING, 0, "the name people see" },
    { "model", CONFIG_STRING, 0, "a model name; default \"default\" when defined, else \"local\"" },
    { "apology", CONFIG_STRING, 0, "what to say when the model fails" },
    { "avatar", CONFIG_STRING, 0, "an image URL" },
    { "description", CONFIG_STRING, 0, "a line about the persona" },
    { "style", CONFIG_TABLE, 0, "{ length = \"short\"|\"medium\"|\"long\", emoji = bool, languages = {...}, formality = \"casual\"|\"formal\" }" },
    { "traits", CONFIG_STRINGS, 0, "a few words of character, e.g. { \"curious\", \"warm\" }" },
    { "skills", CONFIG_STRINGS, 0, "the plugins it may use (default: all)" },
    { "plugins", CONFIG_STRINGS, 0, "the plugins it may use, like skills: { \"trivia\", \"weather\" } (default: all)" },
    { "plugin_config", CONFIG_TABLE, 0, "per-plugin settings when it speaks: { weather = { units = \"metric\" } }, over plugin \"weather\" { ... }" },
    { "pacing", CONFIG_TABLE, 0, "{ split = true, typing_ms_per_char = 30, max_parts = 3 }: human-like split replies" },
    { "default_for", CONFIG_STRINGS, 0, "platforms where it speaks in channels that have no persona set" },
    { "max_prompt_tokens", CONFIG_INT, 0, "token budget of the assembled prompt, default 3000" },
    { "history_turns", CONFIG_INT, 0, "recent turns kept before older ones are summarised, default 24" },
    { "summary_model", CONFIG_STRING, 0, "model or route that writes the rolling summary (default: its model)" },
    { "card", CONFIG_STRING, 0, "a character card (V2/V3 JSON, PNG or CHARX), relative to this file; keys beside it override the card's" },
    { "lorebooks", CONFIG_STRINGS, 0, "lorebooks it consults, by name: { \"world\" }" },
    { "personality", CONFIG_STRING, 0, "card field: a summary of its personality" },
    { "scenario", CONFIG_STRING, 0, "card field: the circumstances of the conversation" },
    { "first_mes", CONFIG_STRING, 0, "card field: its greeting, said once per channel" },
    { "alternate_greetings", CONFIG_STRINGS, 0, "card field: other greetings (kept for export)" },
    { "mes_example", CONFIG_STRING, 0, "card field: example dialogue, <START> before each example" },
    { "post_history_instructions", CONFIG_STRING, 0, "card field: instructions sent after the conversation" },
    { "creator_notes", CONFIG_STRING, 0, "card field: notes for people, never sent to a model" },
    { "nickname", CONFIG_STRING, 0, "card field: another name it answers to" },
    { "tags", CONFIG_STRINGS, 0, "card field: tags" },
    { "reply", CONFIG_STRING, 0, "group-chat manners: \"addressed\", \"auto\" or \"always\" (default: what the platform marks as addressed)" },
    { "reply_probability", CONFIG_NUMBER, 0, "reply = \"auto\": chance to join in when the topic is for it, 0 to 1, default 1" },
    { "reply_cooldown_ms", CONFIG_INT, 0, "reply = \"auto\": least time between uninvited answers in a channel, default 60000" },
    { "followup_ms", CONFIG_INT, 0, "reply = \"auto\": a question this soon after it spoke is for it, default 120000" },
    { "interests", CONFIG_STRINGS, 0, "reply = \"auto\": topics it joins in on, e.g. { \"tea\", \"astronomy\" }" },
    { "proactive", CONFIG_TABLE, 0, "{ after_silence_ms = 3600000, schedule = \"0 9 * * *\", quiet_hours = \"22:00-08:00\", daily_cap = 3, prompt = \"...\" }: speaking first" },
    { "embedding_model", CONFIG_STRING, 0, "long-term recall: the model that embeds turns (openai, ollama or \"local\"); turns recall on" },
    { "recall", CONFIG_TABLE, 0, "long-term recall: { k = 4, min_score = 0.25, max_turns = 100000 }; alone, recall with the \"local\" model" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema persona_schema = {
    .kind = "persona", .named = 1, .value = CONFIG_NONE, .keys = persona_keys,
    .validate = validate_persona
};

/* A lorebook file must load and compile. */
static int validate_lorebook(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    char *path = config_path(cfg, config_str(b, "file", ""));
    struct lorebook *lb = lorebook_load_file(path, err, errlen);
    free(path);
    lorebook_free(lb);
    return lb ? 0 : -1;
}

static const struct config_key lorebook_keys[] = {
    { "file", CONFIG_STRING, 1, "a lorebook JSON file (a card's character_book, or SillyTavern world info), relative to this file" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema lorebook_schema = {
    .kind = "lorebook", .named = 1, .value = CONFIG_NONE, .keys = lorebook_keys, .validate = validate_lorebook
};

/* A channel block names "platform:channel" and holds valid manners. */
static int validate_channel(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    char what[300];
    (void)cfg;
    if (!strchr(b->name, ':')) {
        snprintf(err, errlen, "channel \"%s\": name it as platform:channel, e.g. channel \"discord:1234\"", b->name);
        return -1;
    }
    snprintf(what, sizeof(what), "channel \"%s\"", b->name);
    return b->value ? manners_validate(b->value, what, err, errlen) : 0;
}

static const struct config_key channel_keys[] = {
    { "reply", CONFIG_STRING, 0, "\"addressed\", \"auto\" or \"always\" here, over the persona's" },
    { "reply_probability", CONFIG_NUMBER, 0, "reply = \"auto\": chance to join in, 0 to 1" },
    { "reply_cooldown_ms", CONFIG_INT, 0, "reply = \"auto\": least time between uninvited answers" },
    { "followup_ms", CONFIG_INT, 0, "reply = \"auto\": a question this soon after it spoke is for it" },
    { "interests", CONFIG_STRINGS, 0, "reply = \"auto\": topics it joins in on here" },
    { "proactive", CONFIG_TABLE, 0, "speaking first here: the persona's proactive keys" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema channel_schema = {
    .kind = "channel", .named = 1, .value = CONFIG_NONE, .keys = channel_keys, .validate = validate_channel
};

/* Register `persona "name" { ... }`, `lorebook "name" { file = ... }` and
 * `channel "platform:channel" { reply = ... }`. */
void persona_config_register(void) {
    config_schema_register(&persona_schema);
    config_schema_register(&lorebook_schema);
    config_schema_register(&channel_schema);
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
    json_t *allowed = json_object_get(b->value, "plugins");
    p->skills = string_list(allowed ? allowed : json_object_get(b->value, "skills"));
    p->default_for = string_list(json_object_get(b->value, "default_for"));
    p->max_prompt_tokens = config_int(b, "max_prompt_tokens", 3000);
    p->history_turns = config_int(b, "history_turns", 24);
    const char *sm = config_str(b, "summary_model", NULL);
    p->summary_model = xstrdup(sm ? sm : p->model);
    json_t *recall = json_object_get(b->value, "recall");
    const char *emb = config_str(b, "embedding_model", NULL);
    p->embedding_model = emb || recall ? xstrdup(emb ? emb : "local") : NULL;
    json_t *k = json_object_get(recall, "k"), *ms = json_object_get(recall, "min_score"), *mt = json_object_get(recall, "max_turns");
    p->recall_k = k ? (int)json_integer_value(k) : 4;
    p->recall_min_score = ms ? json_number_value(ms) : 0.25;
    p->recall_max_turns = mt ? (long)json_integer_value(mt) : 100000;
}

/* The card of a config persona: its file, with the config's card fields over it. */
static json_t *block_card(const struct config *cfg, const struct config_block *b) {
    json_t *card = NULL;
    const char *file = config_str(b, "card", NULL);
    char why[400];
    if (file) {
        char *path = config_path(cfg, file);
        card = card_load_file(path, why, sizeof(why));
        free(path);
        if (!card) log_warn("persona \"%s\": card %s", b->name, why);   /* changed since validation */
    }
    if (!card) card = json_pack("{s:s, s:s, s:{s:s}}", "spec", "chara_card_v3", "spec_version", "3.0", "data", "name",
                                config_str(b, "display_name", b->name));
    json_t *data = json_object_get(card, "data");
    for (int i = 0; card_string_keys[i]; i++) {
        json_t *v = json_object_get(b->value, card_string_keys[i]);
        if (json_is_string(v)) json_object_set(data, card_string_keys[i], v);
    }
    for (int i = 0; card_list_keys[i]; i++) {
        json_t *v = json_object_get(b->value, card_list_keys[i]);
        if (json_is_array(v)) json_object_set_new(data, card_list_keys[i], json_deep_copy(v));
        else if (json_is_string(v)) json_object_set_new(data, card_list_keys[i], json_pack("[O]", v));
    }
    if (card_check(card, why, sizeof(why)) < 0) log_warn("persona \"%s\": %s", b->name, why);
    return card;
}

/* Set P's card: its prompt unless one is given, and its lorebook first in P's books. */
static void persona_set_card(struct persona *p, json_t *card, int have_prompt) {
    p->card = card;
    json_t *data = json_object_get(card, "data");
    if (!have_prompt) {
        const char *sys = json_string_value(json_object_get(data, "system_prompt"));
        free(p->prompt);
        p->prompt = prompt_replace(sys && *sys ? sys : CARD_DEFAULT_PROMPT, "{{original}}", CARD_DEFAULT_PROMPT);
    }
    json_t *book = json_object_get(data, "character_book");
    if (book) {
        char why[400];
        p->card_book = lorebook_compile(book, "data.character_book", why, sizeof(why));
        if (!p->card_book) log_warn("persona \"%s\": %s", p->name, why);
    }
    if (p->card_book) {
        p->books = xrealloc(p->books, (size_t)(p->nbooks + 1) * sizeof(*p->books));
        memmove(p->books + 1, p->books, (size_t)p->nbooks * sizeof(*p->books));
        p->books[0] = p->card_book;
        p->nbooks++;
    }
}

struct persona *persona_from_card(const char *name, json_t *card, const char *model) {
    struct persona *p = xcalloc(1, sizeof(*p));
    json_t *data = json_object_get(card, "data");
    const char *display = json_string_value(json_object_get(data, "name"));
    p->name = xstrdup(name);
    p->display_name = xstrdup(display ? display : name);
    p->prompt = xstrdup("");
    p->model = xstrdup(model);
    p->apology = xstrdup(DEFAULT_APOLOGY);
    const char *desc = json_string_value(json_object_get(data, "creator_notes"));
    p->description = desc && *desc ? xstrndup(desc, 200) : NULL;
    p->def = json_object();
    p->max_prompt_tokens = 3000;
    p->history_turns = 24;
    p->summary_model = xstrdup(model);
    persona_set_card(p, json_incref(card), 0);
    return p;
}

/* Free what a persona owns (not the struct). */
static void persona_clear(struct persona *p) {
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
    free(p->embedding_model);
    json_decref(p->card);
    lorebook_free(p->card_book);
    free(p->books);
}

void persona_free(struct persona *p) {
    if (!p) return;
    persona_clear(p);
    free(p);
}

const char *persona_card_str(const struct persona *p, const char *key) {
    const char *v = json_string_value(json_object_get(json_object_get(p->card, "data"), key));
    return v ? v : "";
}

json_t *persona_to_card(const struct persona *p) {
    json_t *card = p->card ? json_deep_copy(p->card)
                           : json_pack("{s:s, s:s, s:{}}", "spec", "chara_card_v3", "spec_version", "3.0", "data");
    json_t *data = json_object_get(card, "data");
    json_object_set_new(data, "name", json_string(p->display_name));
    if (!p->card) {
        json_object_set_new(data, "system_prompt", json_string(p->prompt));
        if (p->description) json_object_set_new(data, "creator_notes", json_string(p->description));
    } else if (strcmp(p->prompt, persona_card_str(p, "system_prompt")) && *p->prompt) {
        /* A prompt given beside the card (or by a live edit) is the system prompt now. */
        const char *sys = persona_card_str(p, "system_prompt");
        char *def = prompt_replace(*sys ? sys : CARD_DEFAULT_PROMPT, "{{original}}", CARD_DEFAULT_PROMPT);
        if (strcmp(def, p->prompt)) json_object_set_new(data, "system_prompt", json_string(p->prompt));
        free(def);
    }
    char why[200];
    card_check(card, why, sizeof(why));
    return card;
}

struct persona_set *persona_set_new(const struct config *cfg) {
    struct persona_set *set = xcalloc(1, sizeof(*set));
    int n = 0;
    for (struct config_block *b = config_first(cfg, "persona"); b; b = config_next(b, "persona")) n++;
    for (struct config_block *b = config_first(cfg, "lorebook"); b; b = config_next(b, "lorebook")) set->nbooks++;
    set->books = xcalloc((size_t)set->nbooks + 1, sizeof(*set->books));
    set->book_names = xcalloc((size_t)set->nbooks + 1, sizeof(char *));
    int nb = 0;
    for (struct config_block *b = config_first(cfg, "lorebook"); b; b = config_next(b, "lorebook"), nb++) {
        char *path = config_path(cfg, config_str(b, "file", "")), why[400];
        set->books[nb] = lorebook_load_file(path, why, sizeof(why));
        if (!set->books[nb]) log_warn("lorebook \"%s\": %s", b->name, why);
        set->book_names[nb] = xstrdup(b->name);
        free(path);
    }
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
        for (struct config_block *b = config_first(cfg, "persona"); b; b = config_next(b, "persona")) {
            struct persona *p = &set->items[set->count++];
            persona_fill(p, cfg, b);
            size_t i;
            json_t *v;
            json_array_foreach(json_object_get(b->value, "lorebooks"), i, v)
                for (int k = 0; k < set->nbooks; k++)
                    if (set->books[k] && !strcmp(set->book_names[k], json_string_value(v))) {
                        p->books = xrealloc(p->books, (size_t)(p->nbooks + 1) * sizeof(*p->books));
                        p->books[p->nbooks++] = set->books[k];
                    }
            if (block_has_card(b)) {
                persona_set_card(p, block_card(cfg, b), json_object_get(b->value, "prompt") != NULL);
                const char *cname = persona_card_str(p, "name");
                if (!json_object_get(b->value, "display_name") && *cname) {
                    free(p->display_name);
                    p->display_name = xstrdup(cname);
                }
            }
        }
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
    for (int i = 0; i < set->count; i++) persona_clear(&set->items[i]);
    for (int i = 0; i < set->nbooks; i++) {
        lorebook_free(set->books[i]);
        free(set->book_names[i]);
    }
    free(set->books);
    free(set->book_names);
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

const struct manners *persona_manners(const struct persona *p) {
    struct persona *own = (struct persona *)p;   /* a cache in the persona's own memory */
    if (!own->manners_ready) {
        manners_defaults(&own->manners);
        manners_parse(p->def, &own->manners);
        own->manners_ready = 1;
    }
    return &p->manners;
}
