/* provider_ollama.c - Ollama's native API: POST {base}/api/chat. base_url
 * is the server ("http://127.0.0.1:11434"); a trailing /api is accepted
 * and not doubled. Streams newline-delimited JSON: {message{content},
 * done:false} lines, then {done:true, done_reason, prompt_eval_count,
 * eval_count}; errors are {error:"..."}. Ollama before mid-2024
 * (ollama/ollama#2068, fixed by #5371) leaves prompt_eval_count out when
 * the prompt came from its cache: provider_http.c then counts the prompt
 * with lib/tokens.h's estimate and marks it so. (Ollama's
 * OpenAI-compatible /v1 endpoint is the openai provider's business.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/model.h"
#include "lib/ndjson.h"
#include "model/provider_http.h"
#include "lib/xalloc.h"

#define MAX_LINE (1u << 20)

struct ollama_call {
    struct provider_http_call pc;
    struct ndjson_splitter nd;
    int done;                      /* saw done:true */
};

/* Ollama wants a tool call's arguments as an object, not JSON text. */
static json_t *ollama_messages(json_t *messages) {
    json_t *out = json_deep_copy(messages);
    size_t i, j;
    json_t *msg, *tc;
    json_array_foreach(out, i, msg) {
        json_array_foreach(json_object_get(msg, "tool_calls"), j, tc) {
            json_t *fn = json_object_get(tc, "function");
            const char *args = json_string_value(json_object_get(fn, "arguments"));
            if (!args) continue;
            json_t *obj = json_loads(args, 0, NULL);
            json_object_set_new(fn, "arguments", json_is_object(obj) ? obj : json_object());
            if (!json_is_object(obj)) json_decref(obj);
        }
    }
    return out;
}

/* The fields a line and a whole answer share: text, tool calls, the end. */
static int read_message(struct provider_http_call *pc, json_t *root) {
    json_t *message = json_object_get(root, "message");
    json_t *content = json_object_get(message, "content");
    if (json_is_string(content)) provider_http_text(pc, json_string_value(content), json_string_length(content));
    size_t i;
    json_t *tc;
    json_array_foreach(json_object_get(message, "tool_calls"), i, tc) {
        json_t *fn = json_object_get(tc, "function");
        char *args = json_dumps(json_object_get(fn, "arguments"), JSON_COMPACT | JSON_ENCODE_ANY);
        provider_http_token(pc);
        /* Each call arrives whole; number them in arrival order. */
        int rc = tool_calls_add(&pc->tools, pc->tools.n, json_string_value(json_object_get(tc, "id")),
                                provider_http_str(fn, "name"), args, args ? strlen(args) : 0);
        free(args);
        if (rc) return provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model's tool calls are larger than the limit");
    }
    if (json_is_true(json_object_get(root, "done"))) {
        const char *reason = json_string_value(json_object_get(root, "done_reason"));
        snprintf(pc->finish, sizeof(pc->finish), "%s", pc->tools.n ? "tool_calls" : reason ? reason : "stop");
        pc->prompt_tokens = (long)json_integer_value(json_object_get(root, "prompt_eval_count"));
        pc->completion_tokens = (long)json_integer_value(json_object_get(root, "eval_count"));
    }
    return 0;
}

/* One NDJSON line: a piece of the answer, its end, or an error. */
static int on_line(const char *line, size_t len, void *ud) {
    struct ollama_call *c = ud;
    struct provider_http_call *pc = &c->pc;
    json_t *root = provider_http_json(pc, line, len);
    int rc;
    if (!json_is_object(root)) {
        rc = provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model sent a malformed stream line (not JSON): %.80s", line);
    } else if (json_object_get(root, "error")) {
        char why[300];
        enum model_error kind = provider_classify_http(500, line, len, why, sizeof(why));
        rc = provider_http_fail(pc, kind, "the model failed in the middle of the stream: %s", why);
    } else {
        rc = read_message(pc, root);
        if (json_is_true(json_object_get(root, "done"))) c->done = 1;
    }
    json_decref(root);
    return rc;
}

static int ollama_feed(struct provider_http_call *pc, const char *chunk, size_t len) {
    int rc = ndjson_feed(&((struct ollama_call *)pc)->nd, chunk, len);
    if (rc == NDJSON_ERR_LINE) return provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model sent a stream line longer than %u bytes", MAX_LINE);
    if (rc == NDJSON_ERR_NOMEM) return provider_http_fail(pc, MODEL_ERR_MALFORMED, "out of memory reading the stream");
    return rc;
}

/* A stream is finished only by a done:true line. */
static void ollama_stream_end(struct provider_http_call *pc) {
    struct ollama_call *c = (struct ollama_call *)pc;
    if (!c->done)
        provider_http_fail(pc, MODEL_ERR_CUT, "the stream ended before it finished (no done:true line%s)",
                   ndjson_pending(&c->nd) ? ", the last line cut short" : "");
}

/* A whole answer (stream:false): one object like the last line of a stream. */
static void ollama_parse_body(struct provider_http_call *pc, json_t *root) {
    if (!root) {
        provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model server sent a malformed body (not JSON)");
        return;
    }
    if (!json_is_object(json_object_get(root, "message"))) {
        provider_http_fail(pc, MODEL_ERR_MALFORMED, "the model server sent no message");
        return;
    }
    read_message(pc, root);
}

static void ollama_release(struct provider_http_call *pc) {
    struct ollama_call *c = (struct ollama_call *)pc;
    ndjson_free(&c->nd);
}

static const struct provider_http_ops ollama_ops = {
    .feed = ollama_feed, .stream_end = ollama_stream_end, .parse_body = ollama_parse_body,
    .classify = provider_classify_http, .release = ollama_release
};

struct provider_call *ollama_start(uv_loop_t *loop, struct http_client *hc, const struct provider_request *req,
                                   provider_done_fn *cb, void *data, char *err, size_t errlen) {
    const struct model *m = req->model;
    const struct deployment *d = req->dep;
    (void)loop;
    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(m->model_id));
    json_object_set_new(body, "messages", ollama_messages(req->messages));
    json_object_set_new(body, "stream", json_boolean(req->stream));
    if (req->tools && json_array_size(req->tools) > 0) json_object_set(body, "tools", req->tools);
    long max_tokens = req->max_tokens ? req->max_tokens : m->max_tokens;
    if (max_tokens > 0) json_object_set_new(body, "options", json_pack("{s:I}", "num_predict", (json_int_t)max_tokens));
    char url[1024], auth[1024];
    provider_http_url(url, sizeof(url), d->base_url, "/api/chat");
    const char *headers[4] = { "Content-Type: application/json", NULL, NULL, NULL };
    if (d->api_key) {              /* a proxy in front of Ollama may want one */
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", d->api_key);
        headers[1] = auth;
    }
    struct ollama_call *c = xcalloc(1, sizeof(*c));
    ndjson_init(&c->nd, MAX_LINE, on_line, c);
    struct provider_call *pc = provider_http_start(&c->pc, &ollama_ops, hc, req, url, headers, body, cb, data, err, errlen);
    json_decref(body);
    return pc;
}
