/* model.h - the model registry and one call interface for every provider.
 *
 * Skills ask for a chat completion by model name. This layer picks the
 * provider (an OpenAI-compatible HTTP server, or the built-in offline
 * `local` responder) and reports a plain result or a plain error. The
 * hybrid router of a later issue sits on top of this interface. */
#ifndef CHORUS_MODEL_H
#define CHORUS_MODEL_H
#include <jansson.h>
#include <uv.h>

struct config;
struct http_client;

enum model_provider { MODEL_PROVIDER_OPENAI, MODEL_PROVIDER_LOCAL, MODEL_PROVIDER_SCRIPT /* tests only */ };

struct model {
    char *name;
    enum model_provider provider;
    char *base_url;       /* e.g. http://host:port/v1 (no trailing slash) */
    char *api_key;        /* NULL when the server needs none */
    char *model_id;       /* the provider's model name */
    long connect_timeout_ms;
    long timeout_ms;
    long max_tokens;      /* 0: not sent */
};

struct model_set {
    struct model *items;
    int count;
};

struct model_result {
    const char *text;            /* valid UTF-8; NULL on error */
    const char *error;           /* plain sentence; NULL on success */
    long status;                 /* HTTP status, 0 if none */
    long retry_after_ms;         /* -1 if not given */
    long prompt_tokens, completion_tokens;
    double latency_ms;
};

typedef void model_done_fn(const struct model_result *res, void *data);
struct model_call;

void model_config_register(void);
/* Is NAME a model of this config (or the built-in "local")? */
int model_defined(const struct config *cfg, const char *name);
struct model_set *model_set_new(const struct config *cfg);
void model_set_free(struct model_set *set);
const struct model *model_find(const struct model_set *set, const char *name);

/* Start a chat completion. `messages` is a Chat Completions messages array
 * (borrowed). The callback runs exactly once, later, from the loop, unless
 * the call is cancelled. Returns NULL with err set when nothing could start. */
struct model_call *model_chat(uv_loop_t *loop, struct http_client *hc, const struct model *m,
                              json_t *messages, model_done_fn *cb, void *data,
                              char *err, size_t errlen);
void model_call_cancel(struct model_call *call);

#endif
