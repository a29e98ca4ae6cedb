/* provider_http.h - what the HTTP providers share (private to them).
 *
 * One call to a model server, streamed or not: the request goes out on
 * http_client, a streamed body goes to the provider's feed function, a
 * whole JSON body to its parse function, and the outcome, with the error
 * classified, goes to the router once. The provider fills in the answer
 * (provider_http_text, the tool calls, finish reason and usage) as it reads. */
#ifndef CHORUS_PROVIDER_HTTP_H
#define CHORUS_PROVIDER_HTTP_H
#include <stdint.h>
#include "model/provider_impl.h"
#include "model/tool_calls.h"

struct http_call;
struct provider_http_call;

struct provider_http_ops {
    /* Bytes of a streamed body. Return 0 to go on; nonzero after provider_http_fail() to stop. */
    int (*feed)(struct provider_http_call *pc, const char *chunk, size_t len);
    /* The stream ended without a transport error: was the answer complete? (provider_http_fail if not) */
    void (*stream_end)(struct provider_http_call *pc);
    /* A whole JSON body, valid UTF-8 (NULL if it was not JSON). */
    void (*parse_body)(struct provider_http_call *pc, json_t *root);
    /* A non-2xx status and its body. */
    enum model_error (*classify)(long status, const char *body, size_t len, char *why, size_t whylen);
    /* Release what the provider added to the call (not the call itself). */
    void (*release)(struct provider_http_call *pc);
};

struct provider_http_call {
    struct provider_call base;
    const struct provider_http_ops *ops;
    struct http_call *http;
    provider_done_fn *cb;
    void *data;
    provider_delta_fn *on_delta;
    void *delta_data;
    int stream;                    /* the request asked for a stream */
    int mode;                      /* -1 undecided, 0 a whole JSON body, 1 a stream */
    char *raw;                     /* a JSON body that came when a stream was asked for */
    size_t rawlen, rawcap;
    long first_token_timeout_ms;
    uint64_t started_ns, first_token_ns;
    int marked;                    /* some input had invalid UTF-8, kept as markers */
    char carry[4];                 /* a character cut at the end of the last piece */
    size_t carry_len;
    char *text;                    /* the answer so far */
    size_t tlen, tcap;
    struct tool_calls tools;
    char finish[32];
    long prompt_tokens, completion_tokens;
    int prompt_estimated;          /* prompt_tokens is our estimate, not the server's count */
    int completion_estimated;      /* the same for completion_tokens */
    json_t *prompt;                /* the request's messages, to estimate a count the server left out */
    enum model_error kind;         /* an error found while reading (MODEL_OK: none) */
    char error[400];
};

/* Start the request. On failure PC is freed (with what its provider added)
 * and NULL comes back with err. */
struct provider_call *provider_http_start(struct provider_http_call *pc, const struct provider_http_ops *ops, struct http_client *hc,
                                  const struct provider_request *req, const char *url, const char *const *headers,
                                  json_t *body, provider_done_fn *cb, void *data, char *err, size_t errlen);
/* Append answer text and hand it to the stream's receiver. */
void provider_http_text(struct provider_http_call *pc, const char *s, size_t len);
/* A token arrived (text or a tool call): the first one sets the ttft. */
void provider_http_token(struct provider_http_call *pc);
/* Record why the answer cannot be read; returns 1 so a feed can `return provider_http_fail(...)`. */
int provider_http_fail(struct provider_http_call *pc, enum model_error kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Parse JSON although it may hold invalid UTF-8 (one bad byte must not lose
 * an answer). With a call, bad bytes are kept as markers (utf8_mark_invalid)
 * so provider_http_text can join a character cut between two events; the
 * answer and tool calls get U+FFFD for what stays invalid. Without one
 * (PC NULL) they are repaired at once. */
json_t *provider_http_json(struct provider_http_call *pc, const char *s, size_t len);
/* A base URL with PATH appended, without doubling a version suffix the
 * user already gave (e.g. base ".../v1" and path "/v1/messages"). */
void provider_http_url(char *out, size_t outlen, const char *base, const char *path);
/* The JSON string at key, or "" . */
const char *provider_http_str(json_t *o, const char *key);
#endif
