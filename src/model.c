/* model.c - model registry from `model "name" { ... }` and call dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "config_schema.h"
#include "http_client.h"
#include "local_model.h"
#include "log.h"
#include "model.h"
#include "redact.h"
#include "script_model.h"
#include "utf8.h"

/* Check the provider and the keys it needs. */
static int validate_model(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    (void)cfg;
    const char *provider = config_str(b, "provider", "openai");
    if (strcmp(b->name, "local") == 0 && strcmp(provider, "local") != 0) {
        snprintf(err, errlen, "model \"local\" is the built-in offline model; choose another name");
        return -1;
    }
    if (strcmp(provider, "local") == 0) return 0;
    if (strcmp(provider, "script") == 0) {
        if (script_model_enabled()) return 0;
        snprintf(err, errlen, "model \"%s\": provider \"script\" exists only under chorus-test", b->name);
        return -1;
    }
    if (strcmp(provider, "openai") != 0) {
        snprintf(err, errlen, "model \"%s\": provider \"%s\" is not one of openai, local", b->name, provider);
        return -1;
    }
    const char *base = config_str(b, "base_url", NULL);
    if (!base) {
        snprintf(err, errlen, "model \"%s\" is missing the required key 'base_url' (for example \"http://127.0.0.1:11434/v1\")", b->name);
        return -1;
    }
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        snprintf(err, errlen, "model \"%s\": base_url must start with http:// or https://", b->name);
        return -1;
    }
    if (!config_str(b, "model", NULL)) {
        snprintf(err, errlen, "model \"%s\" is missing the required key 'model' (the provider's model name)", b->name);
        return -1;
    }
    return 0;
}

static const struct config_key model_keys[] = {
    { "provider", CONFIG_STRING, 0, "openai (any OpenAI-compatible server) or local" },
    { "base_url", CONFIG_STRING, 0, "API base including the version, e.g. http://host:port/v1" },
    { "api_key", CONFIG_STRING, 0, "the key; use env(\"...\") or file(\"...\")" },
    { "model", CONFIG_STRING, 0, "the provider's model name" },
    { "connect_timeout_ms", CONFIG_INT, 0, "connect timeout, default 5000" },
    { "timeout_ms", CONFIG_INT, 0, "whole-request timeout, default 60000" },
    { "max_tokens", CONFIG_INT, 0, "max_completion_tokens to ask for" },
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

/* Fill one model from its block; secrets are registered for redaction. */
static void model_fill(struct model *m, const struct config_block *b) {
    const char *provider = config_str(b, "provider", "openai");
    m->name = strdup(b->name);
    m->provider = strcmp(provider, "local") == 0    ? MODEL_PROVIDER_LOCAL
                  : strcmp(provider, "script") == 0 ? MODEL_PROVIDER_SCRIPT
                                                    : MODEL_PROVIDER_OPENAI;
    const char *s;
    if ((s = config_str(b, "base_url", NULL))) {
        m->base_url = strdup(s);
        size_t n = strlen(m->base_url);
        while (n > 0 && m->base_url[n - 1] == '/') m->base_url[--n] = '\0';
    }
    if ((s = config_str(b, "api_key", NULL)) && *s) {
        m->api_key = strdup(s);
        redact_add_secret(s);
    }
    if ((s = config_str(b, "model", NULL))) m->model_id = strdup(s);
    m->connect_timeout_ms = config_int(b, "connect_timeout_ms", 5000);
    m->timeout_ms = config_int(b, "timeout_ms", 60000);
    m->max_tokens = config_int(b, "max_tokens", 0);
}

struct model_set *model_set_new(const struct config *cfg) {
    struct model_set *set = calloc(1, sizeof(*set));
    int n = 1;
    for (struct config_block *b = config_first(cfg, "model"); b; b = config_next(b, "model")) n++;
    set->items = calloc((size_t)n, sizeof(struct model));
    set->items[0].name = strdup("local");
    set->items[0].provider = MODEL_PROVIDER_LOCAL;
    set->count = 1;
    for (struct config_block *b = config_first(cfg, "model"); b; b = config_next(b, "model"))
        model_fill(&set->items[set->count++], b);
    return set;
}

void model_set_free(struct model_set *set) {
    if (!set) return;
    for (int i = 0; i < set->count; i++) {
        free(set->items[i].name);
        free(set->items[i].base_url);
        free(set->items[i].api_key);
        free(set->items[i].model_id);
    }
    free(set->items);
    free(set);
}

const struct model *model_find(const struct model_set *set, const char *name) {
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0) return &set->items[i];
    return NULL;
}

struct model_call {
    enum model_provider provider;
    struct http_call *http;
    uv_timer_t timer;            /* local model: deliver on the next loop turn */
    char *text;
    char *error;                 /* script model: the queued error */
    uint64_t started;
    model_done_fn *cb;
    void *data;
};

/* Free a call whose handle memory is owned by its timer (local) or itself. */
static void local_closed(uv_handle_t *h) {
    struct model_call *call = h->data;
    free(call->text);
    free(call->error);
    free(call);
}

/* The local model's answer, delivered from the loop as every provider's is. */
static void local_deliver(uv_timer_t *t) {
    struct model_call *call = t->data;
    struct model_result res = { .text = call->text, .error = call->error, .retry_after_ms = -1,
                                .latency_ms = (double)(uv_now(t->loop) - call->started) };
    call->cb(&res, call->data);
    uv_close((uv_handle_t *)t, local_closed);
}

/* Turn an HTTP error body into a short sentence for logs and skills. */
static void describe_http_error(const struct http_response *r, char *out, size_t len) {
    json_t *root = json_loadb(r->body, r->body_len, 0, NULL);
    const char *detail = NULL;
    json_t *e = root ? json_object_get(root, "error") : NULL;
    if (json_is_object(e)) detail = json_string_value(json_object_get(e, "message"));
    else if (json_is_string(e)) detail = json_string_value(e);
    if (r->status == 429) snprintf(out, len, "the model is rate limited (HTTP 429)%s%.200s", detail ? ": " : "", detail ? detail : "");
    else if (r->status >= 500) snprintf(out, len, "the model server failed (HTTP %ld)%s%.200s", r->status, detail ? ": " : "", detail ? detail : "");
    else snprintf(out, len, "the model server refused the request (HTTP %ld)%s%.200s", r->status, detail ? ": " : "", detail ? detail : "");
    json_decref(root);
}

/* An OpenAI-compatible answer arrived: parse it into a result. */
static void openai_done(const struct http_response *r, void *data) {
    struct model_call *call = data;
    struct model_result res = { .status = r->status, .retry_after_ms = r->retry_after_ms, .latency_ms = r->total_ms };
    char err[400];
    json_t *root = NULL;
    call->http = NULL;
    if (r->error) {
        snprintf(err, sizeof(err), "the model request failed: %s", r->error);
        res.error = err;
    } else if (r->status < 200 || r->status > 299) {
        describe_http_error(r, err, sizeof(err));
        res.error = err;
    } else {
        /* Repair invalid UTF-8 first: one bad byte must not lose the answer. */
        size_t fixed_len;
        char *fixed = utf8_repair(r->body, r->body_len, &fixed_len);
        json_error_t jerr;
        root = fixed ? json_loadb(fixed, fixed_len, 0, &jerr) : NULL;
        free(fixed);
        json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
        json_t *content = json_object_get(json_object_get(choice, "message"), "content");
        if (!root) {
            snprintf(err, sizeof(err), "the model server sent a malformed body (not JSON)");
            res.error = err;
        } else if (!json_is_string(content)) {
            snprintf(err, sizeof(err), "the model server sent no choices[0].message.content");
            res.error = err;
        } else {
            res.text = json_string_value(content);
            json_t *usage = json_object_get(root, "usage");
            res.prompt_tokens = (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
            res.completion_tokens = (long)json_integer_value(json_object_get(usage, "completion_tokens"));
        }
    }
    call->cb(&res, call->data);
    json_decref(root);
    free(call);
}

/* Build and send POST {base}/chat/completions. */
static struct model_call *openai_start(struct http_client *hc, const struct model *m, json_t *messages,
                                       struct model_call *call, char *err, size_t errlen) {
    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(m->model_id));
    json_object_set(body, "messages", messages);
    json_object_set_new(body, "stream", json_false());
    if (m->max_tokens > 0) json_object_set_new(body, "max_completion_tokens", json_integer(m->max_tokens));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char url[1024], auth[1024];
    snprintf(url, sizeof(url), "%s/chat/completions", m->base_url);
    const char *headers[4] = { "Content-Type: application/json", "Accept: application/json", NULL, NULL };
    if (m->api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", m->api_key);
        headers[2] = auth;
    }
    struct http_request req = {
        .method = "POST", .url = url, .headers = headers, .body = text, .body_len = text ? strlen(text) : 0,
        .connect_timeout_ms = m->connect_timeout_ms, .timeout_ms = m->timeout_ms
    };
    call->http = text ? http_start(hc, &req, openai_done, call) : NULL;
    free(text);
    if (!call->http) {
        snprintf(err, errlen, "could not start the request to model \"%s\"", m->name);
        free(call);
        return NULL;
    }
    return call;
}

struct model_call *model_chat(uv_loop_t *loop, struct http_client *hc, const struct model *m,
                              json_t *messages, model_done_fn *cb, void *data,
                              char *err, size_t errlen) {
    struct model_call *call = calloc(1, sizeof(*call));
    call->provider = m->provider;
    call->cb = cb;
    call->data = data;
    call->started = uv_now(loop);
    if (m->provider == MODEL_PROVIDER_OPENAI) return openai_start(hc, m, messages, call, err, errlen);
    if (m->provider == MODEL_PROVIDER_SCRIPT) script_model_take(m->name, messages, &call->text, &call->error);
    else call->text = local_model_reply(messages);
    if (!call->text && !call->error) {
        snprintf(err, errlen, "the local model ran out of memory");
        free(call);
        return NULL;
    }
    uv_timer_init(loop, &call->timer);
    call->timer.data = call;
    uv_timer_start(&call->timer, local_deliver, 0, 0);
    return call;
}

void model_call_cancel(struct model_call *call) {
    if (!call) return;
    if (call->provider == MODEL_PROVIDER_OPENAI) {
        http_cancel(call->http);
        free(call);
        return;
    }
    uv_timer_stop(&call->timer);
    uv_close((uv_handle_t *)&call->timer, local_closed);
}
