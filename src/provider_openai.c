/* provider_openai.c - OpenAI Chat Completions (and every compatible
 * server): POST {base}/chat/completions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http_client.h"
#include "model.h"
#include "provider_impl.h"
#include "utf8.h"

struct openai_call {
    struct provider_call base;
    struct http_call *http;
    provider_done_fn *cb;
    void *data;
};

enum model_error provider_classify_http(long status, const char *body, size_t len, char *why, size_t whylen) {
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *e = root ? json_object_get(root, "error") : NULL;
    const char *msg = json_is_object(e) ? json_string_value(json_object_get(e, "message")) : json_string_value(e);
    const char *code = json_is_object(e) ? json_string_value(json_object_get(e, "code")) : NULL;
    const char *type = json_is_object(e) ? json_string_value(json_object_get(e, "type")) : NULL;
    if (!code) code = "";
    if (!type) type = "";
    enum model_error kind;
    if (status == 429 && (strstr(code, "insufficient_quota") || strstr(type, "insufficient_quota") ||
                          (msg && (strstr(msg, "quota") || strstr(msg, "spend limit") || strstr(msg, "billing")))))
        kind = MODEL_ERR_QUOTA;
    else if (status == 429 || status == 529) kind = MODEL_ERR_RATE_LIMIT;
    else if (status >= 500) kind = MODEL_ERR_SERVER;
    else if (status == 401 || status == 403) kind = MODEL_ERR_AUTH;
    else if (strstr(code, "context_length") || (msg && (strstr(msg, "context length") || strstr(msg, "context window") ||
                                                         strstr(msg, "maximum context"))))
        kind = MODEL_ERR_CONTEXT;
    else if (strstr(code, "content_filter") || strstr(code, "content_policy") || (msg && strstr(msg, "content filter")))
        kind = MODEL_ERR_FILTER;
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

/* The answer arrived: parse it into a result. */
static void openai_done(const struct http_response *r, void *data) {
    struct openai_call *c = data;
    struct provider_result res = { .status = r->status, .retry_after_ms = r->retry_after_ms,
                                   .latency_ms = r->total_ms, .ttft_ms = r->total_ms };
    char why[400];
    json_t *root = NULL;
    if (r->error) {
        res.kind = r->timed_out ? MODEL_ERR_TIMEOUT : MODEL_ERR_CONNECT;
        snprintf(why, sizeof(why), "the model request failed: %s", r->error);
        res.error = why;
    } else if (r->status < 200 || r->status > 299) {
        res.kind = provider_classify_http(r->status, r->body, r->body_len, why, sizeof(why));
        res.error = why;
    } else {
        /* Repair invalid UTF-8 first: one bad byte must not lose the answer. */
        size_t fixed_len;
        char *fixed = utf8_repair(r->body, r->body_len, &fixed_len);
        root = fixed ? json_loadb(fixed, fixed_len, 0, NULL) : NULL;
        free(fixed);
        json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
        json_t *message = json_object_get(choice, "message");
        json_t *content = json_object_get(message, "content");
        json_t *calls = json_object_get(message, "tool_calls");
        if (!root) {
            res.kind = MODEL_ERR_MALFORMED;
            res.error = "the model server sent a malformed body (not JSON)";
        } else if (!json_is_string(content) && !json_is_array(calls)) {
            res.kind = MODEL_ERR_MALFORMED;
            res.error = "the model server sent no choices[0].message.content";
        } else {
            res.text = json_is_string(content) ? json_string_value(content) : "";
            res.finish_reason = json_string_value(json_object_get(choice, "finish_reason"));
            if (res.finish_reason && !strcmp(res.finish_reason, "content_filter") && !*res.text) {
                res.kind = MODEL_ERR_FILTER;
                res.error = "the model's content filter refused it";
            }
            if (json_is_array(calls) && json_array_size(calls) > 0) {
                res.tool_calls = json_array();
                size_t i;
                json_t *tc;
                json_array_foreach(calls, i, tc) {
                    json_t *fn = json_object_get(tc, "function");
                    json_array_append_new(res.tool_calls, json_pack("{s:s, s:s, s:s}",
                        "id", json_string_value(json_object_get(tc, "id")) ? json_string_value(json_object_get(tc, "id")) : "",
                        "name", json_string_value(json_object_get(fn, "name")) ? json_string_value(json_object_get(fn, "name")) : "",
                        "arguments", json_string_value(json_object_get(fn, "arguments")) ? json_string_value(json_object_get(fn, "arguments")) : "{}"));
                }
            }
            json_t *usage = json_object_get(root, "usage");
            res.prompt_tokens = (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
            res.completion_tokens = (long)json_integer_value(json_object_get(usage, "completion_tokens"));
        }
    }
    c->http = NULL;
    c->cb(&res, c->data);
    json_decref(res.tool_calls);
    json_decref(root);
    free(c);
}

static void openai_cancel(struct provider_call *call) {
    struct openai_call *c = (struct openai_call *)call;
    http_cancel(c->http);
    free(c);
}

struct provider_call *openai_start(uv_loop_t *loop, struct http_client *hc, const struct provider_request *req,
                                   provider_done_fn *cb, void *data, char *err, size_t errlen) {
    const struct model *m = req->model;
    const struct deployment *d = req->dep;
    (void)loop;
    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(m->model_id));
    json_object_set(body, "messages", req->messages);
    json_object_set_new(body, "stream", json_false());
    if (req->tools && json_array_size(req->tools) > 0) json_object_set(body, "tools", req->tools);
    long max_tokens = req->max_tokens ? req->max_tokens : m->max_tokens;
    if (max_tokens > 0) json_object_set_new(body, "max_completion_tokens", json_integer(max_tokens));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char url[1024], auth[1024];
    snprintf(url, sizeof(url), "%s/chat/completions", d->base_url);
    const char *headers[4] = { "Content-Type: application/json", "Accept: application/json", NULL, NULL };
    if (d->api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", d->api_key);
        headers[2] = auth;
    }
    struct http_request hr = {
        .method = "POST", .url = url, .headers = headers, .body = text, .body_len = text ? strlen(text) : 0,
        .connect_timeout_ms = m->connect_timeout_ms, .timeout_ms = m->timeout_ms
    };
    struct openai_call *c = calloc(1, sizeof(*c));
    c->base.cancel = openai_cancel;
    c->cb = cb;
    c->data = data;
    c->http = text ? http_start(hc, &hr, openai_done, c) : NULL;
    free(text);
    if (!c->http) {
        snprintf(err, errlen, "could not start the request to model \"%s\"", m->name);
        free(c);
        return NULL;
    }
    return &c->base;
}
