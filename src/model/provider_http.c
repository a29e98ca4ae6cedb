/* provider_http.c - one HTTP call to a model server, streamed or not, for
 * every HTTP provider (see provider_http.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/http_client.h"
#include "model/model.h"
#include "model/provider_http.h"
#include "lib/tokens.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

json_t *provider_http_json(struct provider_http_call *pc, const char *s, size_t len) {
    if (utf8_valid(s, len)) return json_loadb(s, len, JSON_ALLOW_NUL, NULL);
    size_t fixed_len;
    /* A call marks bad bytes (its text joins them later); others repair at once. */
    char *fixed = pc ? utf8_mark_invalid(s, len, &fixed_len) : utf8_repair(s, len, &fixed_len);
    json_t *root = fixed ? json_loadb(fixed, fixed_len, JSON_ALLOW_NUL, NULL) : NULL;
    free(fixed);
    if (pc) pc->marked = 1;
    return root;
}

const char *provider_http_str(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

void provider_http_url(char *out, size_t outlen, const char *base, const char *path) {
    size_t bl = strlen(base);
    const char *slash = strchr(path + 1, '/');
    size_t pl = slash ? (size_t)(slash - path) : 0;           /* "/v1" of "/v1/messages" */
    if (pl > 0 && bl >= pl && !strncmp(base + bl - pl, path, pl)) path += pl;
    snprintf(out, outlen, "%s%s", base, path);
}

int provider_http_fail(struct provider_http_call *pc, enum model_error kind, const char *fmt, ...) {
    if (pc->kind != MODEL_OK) return 1;                        /* the first reason stands */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pc->error, sizeof(pc->error), fmt, ap);
    va_end(ap);
    pc->kind = kind;
    return 1;
}

void provider_http_token(struct provider_http_call *pc) {
    if (!pc->first_token_ns) pc->first_token_ns = uv_hrtime();
}

/* Append valid text to the answer and hand it to the stream's receiver. */
static void append_text(struct provider_http_call *pc, const char *s, size_t len) {
    if (len == 0) return;
    if (pc->tlen + len + 1 > pc->tcap) {
        size_t cap = pc->tcap ? pc->tcap : 256;
        while (cap < pc->tlen + len + 1) cap *= 2;
        char *p = xrealloc(pc->text, cap);
        if (!p) {
            provider_http_fail(pc, MODEL_ERR_MALFORMED, "out of memory reading the answer");
            return;
        }
        pc->text = p;
        pc->tcap = cap;
    }
    memcpy(pc->text + pc->tlen, s, len);
    pc->tlen += len;
    pc->text[pc->tlen] = '\0';
    if (pc->stream && pc->on_delta) pc->on_delta(s, len, pc->delta_data);
}

/* Text with marked bad bytes: a character cut at the end of one piece
 * waits for the rest in the next; what stays invalid becomes U+FFFD. */
static void append_marked(struct provider_http_call *pc, const char *s, size_t len, int last) {
    char *buf = xmalloc(pc->carry_len + len + 1);
    if (!buf) {
        provider_http_fail(pc, MODEL_ERR_MALFORMED, "out of memory reading the answer");
        return;
    }
    memcpy(buf, pc->carry, pc->carry_len);
    memcpy(buf + pc->carry_len, s, len);
    size_t n = utf8_unmark(buf, pc->carry_len + len);
    size_t tail = last ? 0 : utf8_cut_tail(buf, n);
    size_t fixed_len = 0;
    char *fixed = utf8_repair(buf, n - tail, &fixed_len);
    if (fixed) append_text(pc, fixed, fixed_len);
    else provider_http_fail(pc, MODEL_ERR_MALFORMED, "out of memory reading the answer");
    memcpy(pc->carry, buf + n - tail, tail);
    pc->carry_len = tail;
    free(fixed);
    free(buf);
}

void provider_http_text(struct provider_http_call *pc, const char *s, size_t len) {
    if (len == 0) return;
    provider_http_token(pc);
    if (pc->marked) append_marked(pc, s, len, 0);
    else append_text(pc, s, len);
}

/* A string of a tool call read from marked input: bytes back, then repaired. */
static void unmark_string(char **sp, size_t *lenp) {
    if (!*sp) return;
    size_t n = utf8_unmark(*sp, lenp ? *lenp : strlen(*sp));
    size_t fixed_len;
    char *fixed = utf8_repair(*sp, n, &fixed_len);
    if (!fixed) return;
    free(*sp);
    *sp = fixed;
    if (lenp) *lenp = fixed_len;
}

/* The answer is over: a character still cut short is U+FFFD, and tool
 * calls read from marked input get their bytes back. */
static void finish_marked(struct provider_http_call *pc) {
    if (!pc->marked) return;
    if (pc->carry_len) append_marked(pc, "", 0, 1);
    for (int i = 0; i < pc->tools.n; i++) {
        struct tool_slot *t = &pc->tools.slots[i];
        unmark_string(&t->id, NULL);
        unmark_string(&t->name, NULL);
        unmark_string(&t->args, &t->alen);
        t->acap = t->args ? t->alen + 1 : 0;
    }
}

/* Free the call and what its provider added. */
/* A server that sent no usage (an OpenAI-compatible one without
 * stream_options support, Ollama with a cached prompt) still spent tokens:
 * no prompt and no answer (text or tool calls) is free, so what it left
 * out (or gave as 0) is counted with lib/tokens.h's estimate, the one
 * budgets reserve with, and marked estimated. */
static void count_what_was_not_counted(struct provider_http_call *pc) {
    if (pc->prompt_tokens <= 0 && pc->prompt) {
        pc->prompt_tokens = tokens_estimate_messages(pc->prompt);
        pc->prompt_estimated = 1;
    }
    if (pc->completion_tokens > 0) return;
    long out = pc->tlen > 0 ? tokens_estimate(pc->text, pc->tlen) : 0;
    for (int i = 0; i < pc->tools.n; i++) {
        const struct tool_slot *ts = &pc->tools.slots[i];
        if (ts->name) out += tokens_estimate(ts->name, strlen(ts->name));
        if (ts->alen) out += tokens_estimate(ts->args, ts->alen);
    }
    if (out > 0) {
        pc->completion_tokens = out;
        pc->completion_estimated = 1;
    }
}

static void pcall_free(struct provider_http_call *pc) {
    if (pc->ops->release) pc->ops->release(pc);
    json_decref(pc->prompt);
    tool_calls_free(&pc->tools);
    free(pc->raw);
    free(pc->text);
    free(pc);
}

static void pcall_cancel(struct provider_call *call) {
    struct provider_http_call *pc = (struct provider_http_call *)call;
    http_cancel(pc->http);
    pcall_free(pc);
}

/* Streamed bytes: decide once whether this is a stream or one JSON body
 * (a server may ignore "stream"), then feed or buffer. */
static int pcall_on_data(const char *chunk, size_t len, void *data) {
    struct provider_http_call *pc = data;
    if (pc->mode < 0) {
        const char *ct = http_call_content_type(pc->http);
        pc->mode = !(ct && strstr(ct, "application/json"));
    }
    if (pc->mode == 1) return pc->ops->feed(pc, chunk, len) || pc->kind != MODEL_OK;
    if (pc->rawlen + len + 1 > pc->rawcap) {
        size_t cap = pc->rawcap ? pc->rawcap * 2 : 4096;
        while (cap < pc->rawlen + len + 1) cap *= 2;
        char *p = xrealloc(pc->raw, cap);
        if (!p) return provider_http_fail(pc, MODEL_ERR_MALFORMED, "out of memory reading the answer");
        pc->raw = p;
        pc->rawcap = cap;
    }
    memcpy(pc->raw + pc->rawlen, chunk, len);
    pc->rawlen += len;
    return 0;
}

/* The transfer failed: a timeout, a connection that never worked, or a
 * stream that broke off after it began. */
static void transport_error(struct provider_http_call *pc, const struct http_response *r) {
    if (r->first_byte_timeout)
        provider_http_fail(pc, MODEL_ERR_TIMEOUT, "the model sent nothing within the first-token timeout (%ld ms)", pc->first_token_timeout_ms);
    else if (r->timed_out)
        provider_http_fail(pc, MODEL_ERR_TIMEOUT, "the model request timed out%s", r->streamed ? " in the middle of the stream" : "");
    else if (pc->mode == 1 && r->streamed > 0)
        provider_http_fail(pc, MODEL_ERR_CUT, "the stream broke off before it finished: %s", r->error);
    else
        provider_http_fail(pc, MODEL_ERR_CONNECT, "the model request failed: %s", r->error);
}

/* The exchange is over: read what is left, classify, report once, free. */
static void pcall_done(const struct http_response *r, void *data) {
    struct provider_http_call *pc = data;
    pc->http = NULL;
    if (pc->kind != MODEL_OK) {
        /* A feed already said why (malformed, cut); that is the error. */
    } else if (r->error) {
        transport_error(pc, r);
    } else if (r->status < 200 || r->status > 299) {
        pc->kind = pc->ops->classify(r->status, r->body, r->body_len, pc->error, sizeof(pc->error));
    } else if (pc->mode == 1 || pc->mode == -1) {          /* -1: a stream without a byte */
        pc->ops->stream_end(pc);
    } else {
        const char *body = pc->mode == 0 ? (pc->raw ? pc->raw : "") : r->body;
        size_t len = pc->mode == 0 ? pc->rawlen : r->body_len;
        json_t *root = provider_http_json(pc, body, len);
        json_t *e = json_object_get(root, "error");
        if (e && !json_is_null(e)) {
            /* An error sent with 200 (some proxies do): classify it as if its status had said so. */
            char why[300];
            char *text = json_dumps(root, JSON_COMPACT);
            enum model_error kind = pc->ops->classify(provider_error_status_json(root), text ? text : "", text ? strlen(text) : 0, why, sizeof(why));
            free(text);
            provider_http_fail(pc, kind, "the model server answered 200 with an error: %s", why);
        } else {
            pc->ops->parse_body(pc, root);
        }
        json_decref(root);
    }
    finish_marked(pc);
    double latency = (double)(uv_hrtime() - pc->started_ns) / 1e6;
    struct provider_result res = {
        .kind = pc->kind, .status = r->status, .retry_after_ms = r->retry_after_ms, .latency_ms = latency,
        .ttft_ms = pc->first_token_ns ? (double)(pc->first_token_ns - pc->started_ns) / 1e6 : latency
    };
    if (res.kind == MODEL_OK && !strcmp(pc->finish, "content_filter") && pc->tlen == 0)
        provider_http_fail(pc, MODEL_ERR_FILTER, "the model's content filter refused it"), res.kind = pc->kind;
    if (res.kind == MODEL_OK) {
        res.text = pc->text ? pc->text : "";
        res.tool_calls = tool_calls_json(&pc->tools);
        res.finish_reason = pc->finish[0] ? pc->finish : NULL;
        count_what_was_not_counted(pc);
        res.prompt_tokens = pc->prompt_tokens;
        res.prompt_estimated = pc->prompt_estimated;
        res.completion_tokens = pc->completion_tokens;
        res.completion_estimated = pc->completion_estimated;
    } else {
        res.error = pc->error;
    }
    pc->cb(&res, pc->data);
    json_decref(res.tool_calls);
    pcall_free(pc);
}

struct provider_call *provider_http_start(struct provider_http_call *pc, const struct provider_http_ops *ops, struct http_client *hc,
                                  const struct provider_request *req, const char *url, const char *const *headers,
                                  json_t *body, provider_done_fn *cb, void *data, char *err, size_t errlen) {
    const struct model *m = req->model;
    pc->base.cancel = pcall_cancel;
    pc->ops = ops;
    pc->prompt = json_incref(req->messages);
    pc->cb = cb;
    pc->data = data;
    pc->stream = req->stream;
    pc->on_delta = req->on_delta;
    pc->delta_data = req->delta_data;
    pc->mode = req->stream ? -1 : 2;                           /* 2: curl buffers the body */
    pc->first_token_timeout_ms = m->first_token_timeout_ms;
    pc->started_ns = uv_hrtime();
    tool_calls_init(&pc->tools, 0);
    char *text = json_dumps(body, JSON_COMPACT);
    struct http_request hr = {
        .method = "POST", .url = url, .headers = headers, .body = text, .body_len = text ? strlen(text) : 0,
        .connect_timeout_ms = m->connect_timeout_ms, .timeout_ms = m->timeout_ms,
        /* Only a stream has a first token to wait for; a whole answer has the total timeout. */
        .on_data = req->stream ? pcall_on_data : NULL,
        .first_byte_timeout_ms = req->stream ? m->first_token_timeout_ms : 0
    };
    pc->http = text ? http_start(hc, &hr, pcall_done, pc) : NULL;
    free(text);
    if (!pc->http) {
        snprintf(err, errlen, "could not start the request to model \"%s\"", m->name);
        pcall_free(pc);
        return NULL;
    }
    return &pc->base;
}
