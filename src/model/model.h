/* model.h - the model registry: every model of the config, its provider,
 * deployments, prices, limits and capabilities.
 *
 *   model "small" {
 *     provider = "openai",                 -- openai | anthropic | ollama | local (| script in tests)
 *     base_url = "http://127.0.0.1:8000/v1", api_key = env("KEY"), model = "qwen2.5-7b",
 *     deployments = { { base_url = ..., api_key = ... }, ... },   -- several behind one name
 *     price = { input = 0.15, output = 0.60 },   -- per million tokens
 *     context_window = 32768, capabilities = { "tools", "streaming" },
 *     max_concurrency = 16, connect_timeout_ms = 2000, first_token_timeout_ms = 10000, timeout_ms = 60000,
 *   }
 *
 * Money is integer micro-units of the model's currency (1 USD = 1,000,000),
 * never floats. The router (router.h) decides which model answers. */
#ifndef CHORUS_MODEL_H
#define CHORUS_MODEL_H
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

struct config;
struct http_client;

enum model_provider {
    MODEL_PROVIDER_OPENAI, MODEL_PROVIDER_ANTHROPIC, MODEL_PROVIDER_OLLAMA, MODEL_PROVIDER_LOCAL,
    MODEL_PROVIDER_SCRIPT   /* the plugin test kit's scripted answers (test mode only) */
};

#define MODEL_CAP_TOOLS 1
#define MODEL_CAP_VISION 2
#define MODEL_CAP_STREAMING 4

/* One endpoint serving a model; several share the load. */
struct deployment {
    char *base_url;        /* as the provider takes it (docs/router.md), no trailing slash */
    char *api_key;         /* NULL when the server needs none */
    int index;
    /* Live state, for load balancing and the circuit breaker. */
    int in_flight;
    double latency_ewma_ms;
    int failures;          /* consecutive */
    uint64_t cooldown_until;   /* uv_now() ms; 0 = healthy */
    char last_error[200];  /* the newest failure, for status ("" = none yet) */
    uint64_t last_error_at;    /* uv_now() ms of it */
};

struct model {
    char *name;
    enum model_provider provider;
    char *model_id;        /* the provider's model name */
    struct deployment *deps;
    int ndeps;
    int64_t price_in;      /* micro-units per million input tokens */
    int64_t price_out;     /* micro-units per million output tokens */
    char currency[8];
    long context_window;
    int caps;
    int max_concurrency;   /* per deployment; 0 = unlimited */
    long connect_timeout_ms;
    long first_token_timeout_ms;
    long timeout_ms;
    long max_tokens;       /* 0: not sent */
};

struct model_set {
    struct model *items;
    int count;
};

void model_config_register(void);
/* Is NAME a model of this config (or the built-in "local")? */
int model_defined(const struct config *cfg, const char *name);
struct model_set *model_set_new(const struct config *cfg);
void model_set_free(struct model_set *set);
const struct model *model_find(const struct model_set *set, const char *name);
/* The cost in micro-units of a call with these token counts, rounded up. */
int64_t model_cost(const struct model *m, long prompt_tokens, long completion_tokens);
/* The name of a provider kind. */
const char *model_provider_name(enum model_provider p);
#endif
