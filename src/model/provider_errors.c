/* provider_errors.c - HTTP errors of every provider, classified for
 * retries and fallbacks. OpenAI ({error{message, type, code}}), Anthropic
 * ({type:"error", error{type, message}}) and Ollama ({error:"..."}) all
 * put the message at error.message or error. */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "model/provider_impl.h"

/* Does any of the strings mention any of the words? */
static int mentions(const char *const *texts, const char *const *words) {
    for (; *texts; texts++)
        for (const char *const *w = words; *w; w++)
            if (strstr(*texts, *w)) return 1;
    return 0;
}

/* Quota, spend or credit exhausted: waiting will not help, never retry. */
static const char *const quota_words[] = {
    "insufficient_quota", "exceeded your current quota", "quota exceeded", "spend limit", "spend_limit",
    "credit balance", "plan and billing details", "usage limits", "insufficient credits", NULL
};
static const char *const context_words[] = {
    "context_length", "context length", "context window", "maximum context", "prompt is too long",
    "context size", "exceed_context_size", "input is too long", NULL     /* llama.cpp: "exceeds the available context size" */
};
static const char *const filter_words[] = { "content_filter", "content_policy", "content filter", NULL };

enum model_error provider_classify_http(long status, const char *body, size_t len, char *why, size_t whylen) {
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *e = root ? json_object_get(root, "error") : NULL;
    const char *msg = json_is_object(e) ? json_string_value(json_object_get(e, "message")) : json_string_value(e);
    const char *code = json_is_object(e) ? json_string_value(json_object_get(e, "code")) : NULL;
    const char *type = json_is_object(e) ? json_string_value(json_object_get(e, "type")) : NULL;
    const char *texts[] = { code ? code : "", type ? type : "", msg ? msg : "", NULL };
    enum model_error kind;
    if (status == 402 || ((status == 400 || status == 403 || status == 429) && mentions(texts, quota_words)))
        kind = MODEL_ERR_QUOTA;                                /* 402 Payment Required: billing, whatever it says */
    else if (status == 429 || status == 529 || (type && !strcmp(type, "overloaded_error"))) kind = MODEL_ERR_RATE_LIMIT;
    else if (status >= 500) kind = MODEL_ERR_SERVER;
    else if (status == 401 || status == 403) kind = MODEL_ERR_AUTH;
    else if (mentions(texts, context_words)) kind = MODEL_ERR_CONTEXT;
    else if (mentions(texts, filter_words)) kind = MODEL_ERR_FILTER;
    else kind = MODEL_ERR_BAD_REQUEST;
    static const char *const labels[] = {
        [MODEL_ERR_QUOTA] = "the model's quota is exhausted", [MODEL_ERR_RATE_LIMIT] = "the model is rate limited",
        [MODEL_ERR_SERVER] = "the model server failed", [MODEL_ERR_AUTH] = "the model server refused the key",
        [MODEL_ERR_CONTEXT] = "the prompt is longer than the model's context window",
        [MODEL_ERR_FILTER] = "the model's content filter refused it",
        [MODEL_ERR_BAD_REQUEST] = "the model server refused the request"
    };
    snprintf(why, whylen, "%s (HTTP %ld)%s%.200s", labels[kind], status, msg ? ": " : "", msg ? msg : "");
    json_decref(root);
    return kind;
}

/* The status an error type or code names, or 0. Anthropic's types, and
 * OpenAI's types and codes as OpenAI-compatible servers send them. */
static long status_of_name(const char *name) {
    static const struct { const char *name; long status; } map[] = {
        { "overloaded_error", 529 }, { "rate_limit_error", 429 }, { "api_error", 500 },
        { "authentication_error", 401 }, { "permission_error", 403 }, { "not_found_error", 404 },
        { "request_too_large", 413 }, { "invalid_request_error", 400 }, { "billing_error", 402 },
        { "timeout_error", 504 }, { "insufficient_quota", 429 }, { "rate_limit_exceeded", 429 },
        { "server_error", 500 }, { "context_length_exceeded", 400 }, { "exceed_context_size_error", 400 }
    };
    for (size_t i = 0; name && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i].name, name)) return map[i].status;
    return 0;
}

long provider_error_status(const char *type) {
    long status = status_of_name(type);
    return status ? status : 500;
}

long provider_error_status_json(json_t *root) {
    json_t *e = json_object_get(root, "error");
    json_t *code = json_object_get(e, "code");
    if (json_is_integer(code) && json_integer_value(code) >= 400 && json_integer_value(code) <= 599)
        return (long)json_integer_value(code);               /* llama.cpp, OpenRouter: the HTTP status */
    long status = status_of_name(json_string_value(json_object_get(e, "type")));
    if (!status) status = status_of_name(json_string_value(code));
    return status ? status : 500;
}
