/* provider_anthropic.c - Anthropic Messages: POST {base}/v1/messages with
 * x-api-key and anthropic-version. base_url is the host, as in Anthropic's
 * SDKs ("https://api.anthropic.com"); a trailing /v1 is accepted and not
 * doubled. Streams as named SSE events: message_start, content_block_start
 * / _delta (text_delta, input_json_delta) / _stop, message_delta
 * (stop_reason, usage), message_stop, ping and error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/anthropic_convert.h"
#include "model/model.h"
#include "model/provider_http.h"
#include "lib/sse.h"
#include "lib/xalloc.h"

#define MAX_EVENT (1u << 20)
#define DEFAULT_MAX_TOKENS 1024    /* required by the API; the router reserves budget for as many */

struct anthropic_call {
    struct provider_http_call pc;
    struct sse_parser sse;
    int stopped;                   /* saw message_stop */
    long in[3];                    /* input, cache creation, cache read tokens so far */
};

/* Anthropic's stop reasons in the Chat Completions words the router knows. */
static void read_stop(struct provider_http_call *pc, const char *reason) {
    if (!reason) return;
    const char *f = !strcmp(reason, "end_turn") || !strcmp(reason, "stop_sequence") ? "stop"
                  : !strcmp(reason, "max_tokens") ? "length"
                  : !strcmp(reason, "tool_use") ? "tool_calls"
                  : !strcmp(reason, "refusal") ? "content_filter" : reason;
    snprintf(pc->finish, sizeof(pc->finish), "%s", f);
}

/* Usage: input tokens (cache writes and reads included) and output tokens.
 * message_delta repeats the counts cumulatively, each one optional or null:
 * a count it leaves out keeps the value message_start gave. */
static void read_usage(struct provider_http_call *pc, long in[3], json_t *usage) {
    static const char *const keys[3] = { "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens" };
    if (!json_is_object(usage)) return;
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(usage, keys[i]);
        if (json_is_integer(v)) in[i] = (long)json_integer_value(v);
    }
    pc->prompt_tokens = in[0] + in[1] + in[2];
    json_t *out = json_object_get(usage, "output_tokens");
    if (json_is_integer(out)) pc->completion_tokens = (long)json_integer_value(out);
}

/* An error object ({type:"error", error{type, message}}) in a 200 stream. */
static int stream_error(struct provider_http_call *pc, json_t *root, const char *data, size_t len) {
    char why[300];
    enum model_error kind = provider_classify_http(provider_error_status_json(root), data, len, why, sizeof(why));
    return provider_http_fail(pc, kind, "the model failed in the middle of the stream: %s", why);
}

/* A content block begins: text (maybe with some already) or a tool_use. */
static int block_start(struct provider_http_call *pc, json_t *root) {
    json_t *block = json_object_get(root, "content_block");
    long index = (long)json_integer_value(json_object_get(root, "index"));
    const char *type = provider_http_str(block, "type");
    if (!strcmp(type, "text")) {
        json_t *t = json_object_get(block, "text");
        provider_http_text(pc, json_string_value(t) ? json_string_value(t) : "", json_string_length(t));
    } else if (!strcmp(type, "tool_use")) {
        provider_http_token(pc);
        if (tool_calls_add(&pc->tools, index, provider_http_str(block, "id"), provider_http_str(block, "name"), NULL, 0) != 0)
            return provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model's tool calls are larger than the limit");
    }
    return 0;
}

/* A piece of a content block: text, or a fragment of a tool's JSON input. */
static int block_delta(struct provider_http_call *pc, json_t *root) {
    json_t *delta = json_object_get(root, "delta");
    const char *type = provider_http_str(delta, "type");
    if (!strcmp(type, "text_delta")) {
        json_t *t = json_object_get(delta, "text");
        provider_http_text(pc, json_string_value(t) ? json_string_value(t) : "", json_string_length(t));
    } else if (!strcmp(type, "input_json_delta")) {
        json_t *j = json_object_get(delta, "partial_json");
        if (tool_calls_add(&pc->tools, (long)json_integer_value(json_object_get(root, "index")), NULL, NULL,
                           json_string_value(j), json_string_length(j)) != 0)
            return provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model's tool calls are larger than the limit");
    }
    return 0;                      /* thinking and signature deltas are not part of the answer */
}

/* One SSE event. The type inside the data is the one that counts. */
static int on_event(const char *event, const char *data, size_t len, void *ud) {
    struct anthropic_call *c = ud;
    struct provider_http_call *pc = &c->pc;
    json_t *root = provider_http_json(pc, data, len);
    if (!json_is_object(root)) {
        json_decref(root);
        return provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model sent a malformed %s event (not JSON): %.80s", event, data);
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    if (!type) type = event;
    int rc = 0;
    if (!strcmp(type, "message_start")) read_usage(pc, c->in, json_object_get(json_object_get(root, "message"), "usage"));
    else if (!strcmp(type, "content_block_start")) rc = block_start(pc, root);
    else if (!strcmp(type, "content_block_delta")) rc = block_delta(pc, root);
    else if (!strcmp(type, "message_delta")) {
        read_stop(pc, json_string_value(json_object_get(json_object_get(root, "delta"), "stop_reason")));
        read_usage(pc, c->in, json_object_get(root, "usage"));
    } else if (!strcmp(type, "message_stop")) c->stopped = 1;
    else if (!strcmp(type, "error")) rc = stream_error(pc, root, data, len);
    json_decref(root);             /* ping, content_block_stop and unknown events: nothing to do */
    return rc;
}

static int anthropic_feed(struct provider_http_call *pc, const char *chunk, size_t len) {
    int rc = sse_feed(&((struct anthropic_call *)pc)->sse, chunk, len);
    if (rc == SSE_ERR_LINE) return provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model sent a stream line longer than %u bytes", MAX_EVENT);
    if (rc == SSE_ERR_NOMEM) return provider_http_fail(pc, MODEL_ERR_MALFORMED, "out of memory reading the stream");
    return rc;
}

/* A stream is finished only by message_stop. */
static void anthropic_stream_end(struct provider_http_call *pc) {
    if (!((struct anthropic_call *)pc)->stopped)
        provider_http_fail(pc, MODEL_ERR_CUT, "the stream ended before it finished (no message_stop)");
}

/* A whole message: content blocks, stop_reason and usage. */
static void anthropic_parse_body(struct provider_http_call *pc, json_t *root) {
    json_t *content = json_object_get(root, "content");
    if (!root) {
        provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model server sent a malformed body (not JSON)");
        return;
    }
    if (!json_is_array(content)) {
        provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model server sent a message without a content list");
        return;
    }
    size_t i;
    json_t *b;
    json_array_foreach(content, i, b) {
        const char *type = provider_http_str(b, "type");
        if (!strcmp(type, "text")) {
            json_t *t = json_object_get(b, "text");
            provider_http_text(pc, json_string_value(t) ? json_string_value(t) : "", json_string_length(t));
        } else if (!strcmp(type, "tool_use")) {
            char *args = json_dumps(json_object_get(b, "input"), JSON_COMPACT | JSON_ENCODE_ANY);
            tool_calls_add(&pc->tools, (long)i, provider_http_str(b, "id"), provider_http_str(b, "name"), args, args ? strlen(args) : 0);
            free(args);
        }
    }
    long in[3] = { 0, 0, 0 };
    read_stop(pc, json_string_value(json_object_get(root, "stop_reason")));
    read_usage(pc, in, json_object_get(root, "usage"));
}

static void anthropic_release(struct provider_http_call *pc) {
    sse_free(&((struct anthropic_call *)pc)->sse);
}

static const struct provider_http_ops anthropic_ops = {
    .feed = anthropic_feed, .stream_end = anthropic_stream_end, .parse_body = anthropic_parse_body,
    .classify = provider_classify_http, .release = anthropic_release
};

struct provider_call *anthropic_start(uv_loop_t *loop, struct http_client *hc, const struct provider_request *req,
                                      provider_done_fn *cb, void *data, char *err, size_t errlen) {
    const struct model *m = req->model;
    const struct deployment *d = req->dep;
    (void)loop;
    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(m->model_id));
    anthropic_messages(body, req->messages);
    long max_tokens = req->max_tokens ? req->max_tokens : m->max_tokens ? m->max_tokens : DEFAULT_MAX_TOKENS;
    json_object_set_new(body, "max_tokens", json_integer(max_tokens));
    if (req->stream) json_object_set_new(body, "stream", json_true());
    if (req->tools && json_array_size(req->tools) > 0) json_object_set_new(body, "tools", anthropic_tools(req->tools));
    char url[1024], key[1024];
    provider_http_url(url, sizeof(url), d->base_url, "/v1/messages");
    const char *headers[5] = { "Content-Type: application/json", "anthropic-version: 2023-06-01",
                               req->stream ? "Accept: text/event-stream" : "Accept: application/json", NULL, NULL };
    if (d->api_key) {
        snprintf(key, sizeof(key), "x-api-key: %s", d->api_key);
        headers[3] = key;
    }
    struct anthropic_call *c = xcalloc(1, sizeof(*c));
    sse_init(&c->sse, MAX_EVENT, on_event, c);
    struct provider_call *pc = provider_http_start(&c->pc, &anthropic_ops, hc, req, url, headers, body, cb, data, err, errlen);
    json_decref(body);
    return pc;
}
