/* provider_openai.c - OpenAI Chat Completions (and every compatible
 * server): POST {base}/chat/completions, base_url including /v1. Streams
 * as server-sent events: chunks of choices[0].delta, a usage chunk
 * (stream_options.include_usage), then "data: [DONE]". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/model.h"
#include "model/provider_http.h"
#include "lib/sse.h"
#include "lib/xalloc.h"

#define MAX_EVENT (1u << 20)       /* one SSE event's data; a chunk is a few hundred bytes */

struct openai_call {
    struct provider_http_call pc;               /* first: the call is a pcall */
    struct sse_parser sse;
    int done;                      /* saw [DONE] */
};

/* The answer's fields common to a chunk and a whole body. */
static void read_usage(struct provider_http_call *pc, json_t *root) {
    json_t *usage = json_object_get(root, "usage");
    if (!json_is_object(usage)) return;
    pc->prompt_tokens = (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
    pc->completion_tokens = (long)json_integer_value(json_object_get(usage, "completion_tokens"));
}

/* Keep the finish reason of the first choice. */
static void read_finish(struct provider_http_call *pc, json_t *choice) {
    const char *f = json_string_value(json_object_get(choice, "finish_reason"));
    if (f) snprintf(pc->finish, sizeof(pc->finish), "%s", f);
}

/* Tool-call fragments of one delta, merged by index (and id). */
static int read_tool_deltas(struct provider_http_call *pc, json_t *calls) {
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc) {
        json_t *fn = json_object_get(tc, "function");
        json_t *idx = json_object_get(tc, "index");
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        provider_http_token(pc);
        if (tool_calls_add(&pc->tools, json_is_integer(idx) ? (long)json_integer_value(idx) : (long)i,
                           json_string_value(json_object_get(tc, "id")), json_string_value(json_object_get(fn, "name")),
                           args, args ? strlen(args) : 0) != 0)
            return provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model's tool calls are larger than the limit");
    }
    return 0;
}

/* One SSE event: a chunk, an error, or [DONE]. */
static int on_event(const char *event, const char *data, size_t len, void *ud) {
    struct openai_call *c = ud;
    struct provider_http_call *pc = &c->pc;
    (void)event;
    if (c->done) return 0;                                     /* nothing counts after [DONE] */
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        c->done = 1;
        return 0;
    }
    json_t *root = provider_http_json(pc, data, len);
    if (!json_is_object(root)) {
        json_decref(root);
        return provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model sent a malformed stream chunk (not JSON): %.80s", data);
    }
    int rc = 0;
    json_t *err = json_object_get(root, "error");
    json_t *choices = json_object_get(root, "choices");
    if (err) {
        char why[300];
        char *text = json_dumps(root, JSON_COMPACT);
        enum model_error kind = provider_classify_http(provider_error_status_json(root), text, text ? strlen(text) : 0, why, sizeof(why));
        free(text);
        rc = provider_http_fail(pc, kind, "the model failed in the middle of the stream: %s", why);
    } else if (choices && !json_is_array(choices) && !json_is_null(choices)) {   /* null: a usage-only chunk (vLLM) */
        rc = provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model sent a stream chunk whose choices is not a list");
    } else {
        json_t *choice = json_array_get(choices, 0);
        json_t *delta = json_object_get(choice, "delta");
        json_t *content = json_object_get(delta, "content");
        json_t *refusal = json_object_get(delta, "refusal");     /* the model's own refusal: its answer */
        if (json_is_string(content)) provider_http_text(pc, json_string_value(content), json_string_length(content));
        if (json_is_string(refusal)) provider_http_text(pc, json_string_value(refusal), json_string_length(refusal));
        if (json_is_array(json_object_get(delta, "tool_calls"))) rc = read_tool_deltas(pc, json_object_get(delta, "tool_calls"));
        read_finish(pc, choice);
        read_usage(pc, root);
    }
    json_decref(root);
    return rc;
}

static int openai_feed(struct provider_http_call *pc, const char *chunk, size_t len) {
    struct openai_call *c = (struct openai_call *)pc;
    int rc = sse_feed(&c->sse, chunk, len);
    if (rc == SSE_ERR_LINE) return provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model sent a stream line longer than %u bytes", MAX_EVENT);
    if (rc == SSE_ERR_NOMEM) return provider_http_fail(pc, MODEL_ERR_MALFORMED, "out of memory reading the stream");
    return rc;
}

/* The stream ended: it must have said [DONE] or given a finish reason. */
static void openai_stream_end(struct provider_http_call *pc) {
    struct openai_call *c = (struct openai_call *)pc;
    if (!c->done && !pc->finish[0])
        provider_http_fail(pc, MODEL_ERR_CUT, "the stream ended before it finished (no finish_reason, no [DONE])");
}

/* A whole chat.completion body. */
static void openai_parse_body(struct provider_http_call *pc, json_t *root) {
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *message = json_object_get(choice, "message");
    json_t *content = json_object_get(message, "content");
    json_t *calls = json_object_get(message, "tool_calls");
    if (!json_is_string(content)) content = json_object_get(message, "refusal");   /* content null, a refusal instead */
    if (!root) {
        provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model server sent a malformed body (not JSON)");
        return;
    }
    if (!json_is_string(content) && !json_is_array(calls)) {
        provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model server sent no choices[0].message.content");
        return;
    }
    if (json_is_string(content)) provider_http_text(pc, json_string_value(content), json_string_length(content));
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc) {
        json_t *fn = json_object_get(tc, "function");
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        tool_calls_add(&pc->tools, (long)i, json_string_value(json_object_get(tc, "id")),
                       json_string_value(json_object_get(fn, "name")), args, args ? strlen(args) : 0);
    }
    read_finish(pc, choice);
    read_usage(pc, root);
}

static void openai_release(struct provider_http_call *pc) {
    sse_free(&((struct openai_call *)pc)->sse);
}

static const struct provider_http_ops openai_ops = {
    .feed = openai_feed, .stream_end = openai_stream_end, .parse_body = openai_parse_body,
    .classify = provider_classify_http, .release = openai_release
};

struct provider_call *openai_start(uv_loop_t *loop, struct http_client *hc, const struct provider_request *req,
                                   provider_done_fn *cb, void *data, char *err, size_t errlen) {
    const struct model *m = req->model;
    const struct deployment *d = req->dep;
    (void)loop;
    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(m->model_id));
    json_object_set(body, "messages", req->messages);
    json_object_set_new(body, "stream", json_boolean(req->stream));
    if (req->stream) json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1));
    if (req->tools && json_array_size(req->tools) > 0) json_object_set(body, "tools", req->tools);
    long max_tokens = req->max_tokens ? req->max_tokens : m->max_tokens;
    if (max_tokens > 0) json_object_set_new(body, "max_completion_tokens", json_integer(max_tokens));
    char url[1024], auth[1024];
    snprintf(url, sizeof(url), "%s/chat/completions", d->base_url);
    const char *headers[4] = { "Content-Type: application/json",
                               req->stream ? "Accept: text/event-stream" : "Accept: application/json", NULL, NULL };
    if (d->api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", d->api_key);
        headers[2] = auth;
    }
    struct openai_call *c = xcalloc(1, sizeof(*c));
    sse_init(&c->sse, MAX_EVENT, on_event, c);
    struct provider_call *pc = provider_http_start(&c->pc, &openai_ops, hc, req, url, headers, body, cb, data, err, errlen);
    json_decref(body);
    return pc;
}
