/* provider.h - one request to one deployment of one model.
 *
 * A provider speaks one wire protocol: OpenAI Chat Completions (SSE when
 * streaming), Anthropic Messages (SSE events), Ollama native (NDJSON), or
 * the built-in offline responder. It turns the answer, streamed or not,
 * into one provider_result with the error classified, so the router
 * (router.h) can decide on retries and fallbacks without knowing wire
 * formats. Streamed text is handed out as it arrives. */
#ifndef CHORUS_PROVIDER_H
#define CHORUS_PROVIDER_H
#include <stddef.h>
#include <jansson.h>
#include <uv.h>

struct http_client;
struct model;
struct deployment;

/* Why a call failed, as far as retrying and falling back care. */
enum model_error {
    MODEL_OK = 0,
    MODEL_ERR_RATE_LIMIT,     /* 429 rate limit, 529 overloaded: back off, retry */
    MODEL_ERR_QUOTA,          /* quota or spend limit exhausted: never retry */
    MODEL_ERR_SERVER,         /* 5xx */
    MODEL_ERR_TIMEOUT,        /* connect, first token or total timeout */
    MODEL_ERR_CONNECT,        /* refused, DNS, TLS */
    MODEL_ERR_CONTEXT,        /* the prompt is over the context window */
    MODEL_ERR_FILTER,         /* refused by a content filter */
    MODEL_ERR_AUTH,           /* 401/403 */
    MODEL_ERR_BAD_REQUEST,    /* other 4xx */
    MODEL_ERR_MALFORMED,      /* a body, SSE event or NDJSON line we cannot read */
    MODEL_ERR_CUT             /* the stream ended before it finished */
};

const char *model_error_name(enum model_error e);

typedef void provider_delta_fn(const char *text, size_t len, void *data);

struct provider_request {
    const struct model *model;
    const struct deployment *dep;
    json_t *messages;             /* Chat Completions messages (borrowed) */
    json_t *tools;                /* OpenAI-style tools array, or NULL (borrowed) */
    long max_tokens;              /* 0: the model's default */
    int stream;                   /* stream the answer */
    provider_delta_fn *on_delta;  /* streamed text pieces, or NULL */
    void *delta_data;
};

struct provider_result {
    enum model_error kind;
    const char *error;            /* a plain sentence, NULL on success */
    long status;                  /* HTTP status, 0 if none */
    long retry_after_ms;          /* from Retry-After or rate-limit reset headers, -1 if none */
    const char *text;             /* the whole answer text ("" when only tool calls) */
    json_t *tool_calls;           /* [{id, name, arguments (JSON text)}] or NULL */
    const char *finish_reason;    /* stop, length, tool_calls, content_filter, ... */
    long prompt_tokens, completion_tokens;
    int prompt_estimated;         /* the server did not count the prompt: prompt_tokens is lib/tokens.h's estimate */
    int completion_estimated;     /* nor the answer: completion_tokens is the estimate of its text */
    double latency_ms;            /* start to end */
    double ttft_ms;               /* start to first token (= latency when not streamed) */
    int final;                    /* never retry (the test kit's scripted failures) */
};

typedef void provider_done_fn(const struct provider_result *res, void *data);
struct provider_call;

/* Start a call. The callback runs exactly once, later, from the loop,
 * unless the call is cancelled. Returns NULL with err when nothing could
 * start (then the callback never runs). */
struct provider_call *provider_start(uv_loop_t *loop, struct http_client *hc, const struct provider_request *req,
                                     provider_done_fn *cb, void *data, char *err, size_t errlen);
void provider_cancel(struct provider_call *call);
#endif
