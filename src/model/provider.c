/* provider.c - start a call with the provider a model names. */
#include <stdio.h>
#include "model/model.h"
#include "model/provider.h"
#include "model/provider_impl.h"

static const char *const error_names[] = {
    "ok", "rate_limit", "quota", "server", "timeout", "connect", "context_length",
    "content_filter", "auth", "bad_request", "malformed", "cut"
};

const char *model_error_name(enum model_error e) {
    return (unsigned)e < sizeof(error_names) / sizeof(error_names[0]) ? error_names[e] : "?";
}

struct provider_call *provider_start(uv_loop_t *loop, struct http_client *hc, const struct provider_request *req,
                                     provider_done_fn *cb, void *data, char *err, size_t errlen) {
    switch (req->model->provider) {
    case MODEL_PROVIDER_OPENAI: return openai_start(loop, hc, req, cb, data, err, errlen);
    case MODEL_PROVIDER_ANTHROPIC: return anthropic_start(loop, hc, req, cb, data, err, errlen);
    case MODEL_PROVIDER_OLLAMA: return ollama_start(loop, hc, req, cb, data, err, errlen);
    case MODEL_PROVIDER_LOCAL: return local_start(loop, req, cb, data, err, errlen);
    case MODEL_PROVIDER_SCRIPT: return script_start(loop, req, cb, data, err, errlen);
    default:
        snprintf(err, errlen, "model \"%s\": the %s provider is not available in this build",
                 req->model->name, model_provider_name(req->model->provider));
        return NULL;
    }
}

void provider_cancel(struct provider_call *call) {
    if (call) call->cancel(call);
}
