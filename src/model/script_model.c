/* script_model.c - queued model answers and a log of requests, for tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/provider.h"
#include "model/script_model.h"
#include "lib/xalloc.h"

static int enabled;
static json_t *queue;      /* [{text} | {error, kind} | {tool: {name, arguments}}] */
static json_t *requests;   /* [{model, messages, tools?}] */
static long call_seq;      /* ids of scripted tool calls */

/* Create the lists on first use, so nothing is allocated outside tests. */
static void ensure(void) {
    if (!queue) queue = json_array();
    if (!requests) requests = json_array();
}

/* Only the test mode accepts provider "script"; turning it off frees the lists. */
void script_model_enable(int on) {
    enabled = on;
    if (!on) {
        json_decref(queue);
        json_decref(requests);
        queue = requests = NULL;
    }
}

/* model.c asks this when validating a config. */
int script_model_enabled(void) {
    return enabled;
}

/* A test queues the next answer before the message that needs it. */
void script_model_push(const char *text, const char *error) {
    ensure();
    json_array_append_new(queue, error ? json_pack("{s:s, s:i}", "error", error, "kind", MODEL_ERR_SERVER)
                                       : json_pack("{s:s}", "text", text));
}

/* A failure the plugin sees as nil, err, KIND. */
int script_model_push_failure(const char *kind, const char *error) {
    for (int k = MODEL_ERR_RATE_LIMIT; k <= MODEL_ERR_CUT; k++) {
        if (strcmp(model_error_name((enum model_error)k), kind) != 0) continue;
        char dflt[120];
        snprintf(dflt, sizeof(dflt), "scripted %s failure", kind);
        ensure();
        json_array_append_new(queue, json_pack("{s:s, s:i}", "error", error ? error : dflt, "kind", k));
        return 0;
    }
    return -1;
}

/* The model asks for a tool; the runtime calls it and asks again. */
void script_model_push_tool_call(const char *name, const json_t *args) {
    ensure();
    char *text = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
    json_array_append_new(queue, json_pack("{s:{s:s, s:s}}", "tool", "name", name, "arguments", text ? text : "{}"));
    free(text);
}

/* Was a tool named NAME offered (OpenAI tools format)? */
static int offered(const json_t *tools, const char *name) {
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *n = json_string_value(json_object_get(json_object_get(t, "function"), "name"));
        if (n && !strcmp(n, name)) return 1;
    }
    return 0;
}

/* Turn a queued tool call into the provider's answer, as a real model
 * could only call a tool the request offered. */
static void take_tool_call(const json_t *tool, const json_t *tools, struct script_answer *out) {
    const char *name = json_string_value(json_object_get(tool, "name"));
    char why[400];
    out->kind = MODEL_ERR_BAD_REQUEST;
    if (!tools || json_array_size(tools) == 0) {
        snprintf(why, sizeof(why), "the scripted model was to call tool \"%s\" (t.model.tool_call), but the request "
                 "offered no tools: pass tools = \"auto\" to chorus.model.chat, on a model with "
                 "capabilities = { \"tools\" }", name);
        out->error = xstrdup(why);
        return;
    }
    if (!offered(tools, name)) {
        snprintf(why, sizeof(why), "the scripted model was to call tool \"%s\" (t.model.tool_call), but the request "
                 "did not offer it (is the plugin that registers it loaded? see plugins { ... })", name);
        out->error = xstrdup(why);
        return;
    }
    char id[32];
    snprintf(id, sizeof(id), "call_%ld", ++call_seq);
    out->kind = MODEL_OK;
    out->text = xstrdup("");
    out->tool_calls = json_pack("[{s:s, s:s, s:s}]", "id", id, "name", name, "arguments",
                                json_string_value(json_object_get(tool, "arguments")));
}

/* model_chat() of a script model: log the request, hand out the next answer. */
void script_model_take(const char *model, const json_t *messages, const json_t *tools, struct script_answer *out) {
    ensure();
    json_t *logged = json_pack("{s:s, s:O}", "model", model, "messages", messages);
    if (tools) json_object_set(logged, "tools", (json_t *)tools);
    json_array_append_new(requests, logged);
    memset(out, 0, sizeof(*out));
    json_t *next = json_array_get(queue, 0);
    if (!next) {
        out->error = xstrdup("no scripted reply is queued (call t.model.reply(\"...\") before the message)");
        out->kind = MODEL_ERR_SERVER;
        return;
    }
    const char *e = json_string_value(json_object_get(next, "error"));
    if (e) {
        out->error = xstrdup(e);
        out->kind = (int)json_integer_value(json_object_get(next, "kind"));
    } else if (json_object_get(next, "tool")) {
        take_tool_call(json_object_get(next, "tool"), tools, out);
    } else {
        out->text = xstrdup(json_string_value(json_object_get(next, "text")));
    }
    json_array_remove(queue, 0);
}

void script_answer_free(struct script_answer *a) {
    free(a->text);
    free(a->error);
    json_decref(a->tool_calls);
    memset(a, 0, sizeof(*a));
}

/* Tests assert on the prompts plugins sent. */
const json_t *script_model_requests(void) {
    ensure();
    return requests;
}

/* Each test starts with nothing queued and nothing asked. */
void script_model_reset(void) {
    if (queue) json_array_clear(queue);
    if (requests) json_array_clear(requests);
    call_seq = 0;
}
