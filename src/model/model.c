/* model.c - the model registry from `model "name" { ... }` statements. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "model/model.h"
#include "lib/redact.h"
#include "model/script_model.h"
#include "lib/xalloc.h"

static const char *const provider_names[] = { "openai", "anthropic", "ollama", "local", "script" };

const char *model_provider_name(enum model_provider p) {
    return provider_names[p];
}

/* Provider kind by name; -1 if unknown. */
static int provider_of(const char *name) {
    for (int i = 0; i < 5; i++)
        if (!strcmp(provider_names[i], name)) return i;
    return -1;
}

/* Is URL an http(s) URL? */
static int is_http_url(const char *url) {
    return url && (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8));
}

/* Check the provider, its endpoints and the shape of prices and capabilities. */
static int validate_model(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    (void)cfg;
    const char *provider = config_str(b, "provider", "openai");
    int kind = provider_of(provider);
    if (!strcmp(b->name, "local") && kind != MODEL_PROVIDER_LOCAL) {
        snprintf(err, errlen, "model \"local\" is the built-in offline model; choose another name");
        return -1;
    }
    if (kind < 0 || (kind == MODEL_PROVIDER_SCRIPT && !script_model_enabled())) {
        snprintf(err, errlen, "model \"%s\": provider \"%s\" is not one of openai, anthropic, ollama, local", b->name, provider);
        return -1;
    }
    if (kind == MODEL_PROVIDER_LOCAL || kind == MODEL_PROVIDER_SCRIPT) return 0;
    json_t *deps = b->value ? json_object_get(b->value, "deployments") : NULL;
    if (deps) {
        size_t i;
        json_t *d;
        if (!json_is_array(deps) || json_array_size(deps) == 0) {
            snprintf(err, errlen, "model \"%s\": deployments must be a list of { base_url = ..., api_key = ... }", b->name);
            return -1;
        }
        json_array_foreach(deps, i, d) {
            if (!is_http_url(json_string_value(json_object_get(d, "base_url")))) {
                snprintf(err, errlen, "model \"%s\": deployment %zu needs a base_url starting with http:// or https://", b->name, i + 1);
                return -1;
            }
        }
    } else {
        const char *base = config_str(b, "base_url", NULL);
        if (!base) {
            snprintf(err, errlen, "model \"%s\" is missing the required key 'base_url' (for example \"http://127.0.0.1:11434/v1\")", b->name);
            return -1;
        }
        if (!is_http_url(base)) {
            snprintf(err, errlen, "model \"%s\": base_url must start with http:// or https://", b->name);
            return -1;
        }
    }
    if (!config_str(b, "model", NULL)) {
        snprintf(err, errlen, "model \"%s\" is missing the required key 'model' (the provider's model name)", b->name);
        return -1;
    }
    json_t *price = b->value ? json_object_get(b->value, "price") : NULL;
    if (price && (!json_is_object(price) || (json_object_get(price, "input") && !json_is_number(json_object_get(price, "input"))) ||
                  (json_object_get(price, "output") && !json_is_number(json_object_get(price, "output"))))) {
        snprintf(err, errlen, "model \"%s\": price must be { input = N, output = N } per million tokens", b->name);
        return -1;
    }
    json_t *caps = b->value ? json_object_get(b->value, "capabilities") : NULL;
    size_t i;
    json_t *c;
    json_array_foreach(caps, i, c) {
        const char *s = json_string_value(c);
        if (!s || (strcmp(s, "tools") && strcmp(s, "vision") && strcmp(s, "streaming"))) {
            snprintf(err, errlen, "model \"%s\": capabilities are \"tools\", \"vision\" and \"streaming\"", b->name);
            return -1;
        }
    }
    return 0;
}

static const struct config_key model_keys[] = {
    { "provider", CONFIG_STRING, 0, "openai (any OpenAI-compatible server), anthropic, ollama or local" },
    { "base_url", CONFIG_STRING, 0, "openai: the API base with /v1; anthropic: the host; ollama: the server (docs/router.md)" },
    { "api_key", CONFIG_STRING, 0, "the key; use env(\"...\") or file(\"...\")" },
    { "model", CONFIG_STRING, 0, "the provider's model name" },
    { "deployments", CONFIG_TABLE, 0, "several { base_url =, api_key = } serving this model" },
    { "price", CONFIG_TABLE, 0, "{ input = N, output = N } per million tokens" },
    { "currency", CONFIG_STRING, 0, "currency of the price, default USD" },
    { "context_window", CONFIG_INT, 0, "tokens the model accepts" },
    { "capabilities", CONFIG_STRINGS, 0, "any of tools, vision, streaming" },
    { "max_concurrency", CONFIG_INT, 0, "calls at once per deployment" },
    { "connect_timeout_ms", CONFIG_INT, 0, "connect timeout, default 5000" },
    { "first_token_timeout_ms", CONFIG_INT, 0, "time to the first token, default 30000" },
    { "timeout_ms", CONFIG_INT, 0, "whole-request timeout, default 60000" },
    { "max_tokens", CONFIG_INT, 0, "max tokens to generate" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema model_schema = {
    .kind = "model", .named = 1, .value = CONFIG_NONE, .keys = model_keys, .validate = validate_model
};

/* Register `model "name" { ... }`. */
void model_config_register(void) {
    config_schema_register(&model_schema);
}

int model_defined(const struct config *cfg, const char *name) {
    return strcmp(name, "local") == 0 || config_find(cfg, "model", name) != NULL;
}

/* A copy of URL without trailing slashes. */
static char *clean_url(const char *url) {
    char *s = xstrdup(url);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/') s[--n] = '\0';
    return s;
}

/* Fill one deployment; its key is registered for redaction. */
static void deployment_fill(struct deployment *d, int index, const char *base, const char *key) {
    d->index = index;
    d->base_url = clean_url(base);
    if (key && *key) {
        d->api_key = xstrdup(key);
        redact_add_secret(key);
    }
}

/* A price per million tokens as integer micro-units. */
static int64_t micro_units(json_t *v) {
    return json_is_number(v) ? (int64_t)llround(json_number_value(v) * 1e6) : 0;
}

/* Fill one model from its block. */
static void model_fill(struct model *m, const struct config_block *b) {
    m->name = xstrdup(b->name);
    m->provider = (enum model_provider)provider_of(config_str(b, "provider", "openai"));
    const char *id = config_str(b, "model", NULL);
    m->model_id = id ? xstrdup(id) : NULL;
    json_t *deps = json_object_get(b->value, "deployments");
    if (json_is_array(deps)) {
        size_t i;
        json_t *d;
        m->deps = xcalloc(json_array_size(deps), sizeof(*m->deps));
        json_array_foreach(deps, i, d)
            deployment_fill(&m->deps[m->ndeps++], (int)i, json_string_value(json_object_get(d, "base_url")),
                            json_string_value(json_object_get(d, "api_key")));
    } else if (config_str(b, "base_url", NULL)) {
        m->deps = xcalloc(1, sizeof(*m->deps));
        deployment_fill(&m->deps[m->ndeps++], 0, config_str(b, "base_url", NULL), config_str(b, "api_key", NULL));
    }
    json_t *price = json_object_get(b->value, "price");
    m->price_in = micro_units(json_object_get(price, "input"));
    m->price_out = micro_units(json_object_get(price, "output"));
    snprintf(m->currency, sizeof(m->currency), "%s", config_str(b, "currency", "USD"));
    m->context_window = config_int(b, "context_window", 0);
    json_t *caps = json_object_get(b->value, "capabilities");
    size_t i;
    json_t *c;
    json_array_foreach(caps, i, c) {
        const char *s = json_string_value(c);
        if (!strcmp(s, "tools")) m->caps |= MODEL_CAP_TOOLS;
        else if (!strcmp(s, "vision")) m->caps |= MODEL_CAP_VISION;
        else if (!strcmp(s, "streaming")) m->caps |= MODEL_CAP_STREAMING;
    }
    if (json_is_string(caps)) m->caps |= !strcmp(json_string_value(caps), "tools") ? MODEL_CAP_TOOLS : 0;
    m->max_concurrency = (int)config_int(b, "max_concurrency", 0);
    m->connect_timeout_ms = config_int(b, "connect_timeout_ms", 5000);
    m->first_token_timeout_ms = config_int(b, "first_token_timeout_ms", 30000);
    m->timeout_ms = config_int(b, "timeout_ms", 60000);
    m->max_tokens = config_int(b, "max_tokens", 0);
}

/* The built-in offline model. */
static void local_fill(struct model *m) {
    m->name = xstrdup("local");
    m->provider = MODEL_PROVIDER_LOCAL;
    m->model_id = xstrdup("local");
    snprintf(m->currency, sizeof(m->currency), "USD");
    m->caps = MODEL_CAP_STREAMING;
    m->timeout_ms = 60000;
}

struct model_set *model_set_new(const struct config *cfg) {
    struct model_set *set = xcalloc(1, sizeof(*set));
    int n = 1;
    for (struct config_block *b = config_first(cfg, "model"); b; b = config_next(b, "model")) n++;
    set->items = xcalloc((size_t)n, sizeof(struct model));
    local_fill(&set->items[0]);
    set->count = 1;
    for (struct config_block *b = config_first(cfg, "model"); b; b = config_next(b, "model"))
        model_fill(&set->items[set->count++], b);
    return set;
}

void model_set_free(struct model_set *set) {
    if (!set) return;
    for (int i = 0; i < set->count; i++) {
        struct model *m = &set->items[i];
        for (int j = 0; j < m->ndeps; j++) {
            free(m->deps[j].base_url);
            free(m->deps[j].api_key);
        }
        free(m->deps);
        free(m->name);
        free(m->model_id);
    }
    free(set->items);
    free(set);
}

const struct model *model_find(const struct model_set *set, const char *name) {
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0) return &set->items[i];
    return NULL;
}

int64_t model_cost(const struct model *m, long prompt_tokens, long completion_tokens) {
    int64_t micro = (int64_t)prompt_tokens * m->price_in + (int64_t)completion_tokens * m->price_out;
    return (micro + 999999) / 1000000;
}
