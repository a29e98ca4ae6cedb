/* provider_impl.h - what each provider file implements (private to them). */
#ifndef CHORUS_PROVIDER_IMPL_H
#define CHORUS_PROVIDER_IMPL_H
#include "model/provider.h"

/* Every call starts with this header, so provider_cancel() can dispatch. */
struct provider_call {
    void (*cancel)(struct provider_call *call);
};

struct provider_call *openai_start(uv_loop_t *loop, struct http_client *hc, const struct provider_request *req,
                                   provider_done_fn *cb, void *data, char *err, size_t errlen);
struct provider_call *anthropic_start(uv_loop_t *loop, struct http_client *hc, const struct provider_request *req,
                                      provider_done_fn *cb, void *data, char *err, size_t errlen);
struct provider_call *ollama_start(uv_loop_t *loop, struct http_client *hc, const struct provider_request *req,
                                   provider_done_fn *cb, void *data, char *err, size_t errlen);
struct provider_call *local_start(uv_loop_t *loop, const struct provider_request *req,
                                  provider_done_fn *cb, void *data, char *err, size_t errlen);
struct provider_call *script_start(uv_loop_t *loop, const struct provider_request *req,
                                   provider_done_fn *cb, void *data, char *err, size_t errlen);
/* Classify an HTTP error status and body for retries and fallbacks. */
enum model_error provider_classify_http(long status, const char *body, size_t len, char *why, size_t whylen);
/* The HTTP status an error type in a stream stands for ("overloaded_error": 529). */
long provider_error_status(const char *type);
/* The HTTP status an error body ({error{code, type}} or {error:"..."}) stands
 * for: a numeric code, else a known type or code, else 500. */
long provider_error_status_json(json_t *root);
#endif
