/* anthropic_convert.c - OpenAI-format messages and tools as Anthropic's
 * (see anthropic_convert.h). */
#include <stdlib.h>
#include <string.h>
#include "model/anthropic_convert.h"
#include "lib/xalloc.h"

/* The text of a message's content: a string, or the text parts of a list. */
static void append_text(json_t *content, json_t *into, const char *sep) {
    if (json_is_string(content)) {
        const char *was = json_string_value(into);
        size_t a = json_string_length(into), b = json_string_length(content), s = a ? strlen(sep) : 0;
        char *buf = xmalloc(a + s + b + 1);
        if (!buf) return;
        memcpy(buf, was, a);
        memcpy(buf + a, sep, s);
        memcpy(buf + a + s, json_string_value(content), b);
        json_string_setn(into, buf, a + s + b);
        free(buf);
        return;
    }
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) append_text(json_object_get(part, "text"), into, sep);
}

/* An assistant turn: its text, then one tool_use block per tool call. */
static json_t *assistant_blocks(json_t *msg) {
    json_t *blocks = json_array();
    json_t *text = json_string("");
    append_text(json_object_get(msg, "content"), text, "");
    if (json_string_length(text) > 0) json_array_append_new(blocks, json_pack("{s:s, s:O}", "type", "text", "text", text));
    json_decref(text);
    size_t i;
    json_t *tc;
    json_array_foreach(json_object_get(msg, "tool_calls"), i, tc) {
        json_t *fn = json_object_get(tc, "function");
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        json_t *input = args ? json_loads(args, 0, NULL) : NULL;
        if (!json_is_object(input)) {
            json_decref(input);
            input = json_object();
        }
        const char *id = json_string_value(json_object_get(tc, "id"));
        const char *name = json_string_value(json_object_get(fn, "name"));
        json_array_append_new(blocks, json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id", id ? id : "",
                                                "name", name ? name : "", "input", input));
    }
    return blocks;
}

/* Append a turn, merging into the previous one when it has the same role
 * (tool results that follow each other go into one user turn). */
static void push_turn(json_t *out, const char *role, json_t *blocks) {
    if (!json_is_array(blocks) || json_array_size(blocks) == 0) {
        json_decref(blocks);
        return;
    }
    json_t *last = json_array_get(out, json_array_size(out) - 1);
    if (last && !strcmp(json_string_value(json_object_get(last, "role")), role)) {
        json_array_extend(json_object_get(last, "content"), blocks);
        json_decref(blocks);
        return;
    }
    json_array_append_new(out, json_pack("{s:s, s:o}", "role", role, "content", blocks));
}

void anthropic_messages(json_t *body, json_t *messages) {
    json_t *system = json_string("");
    json_t *out = json_array();
    size_t i;
    json_t *msg;
    json_array_foreach(messages, i, msg) {
        const char *role = json_string_value(json_object_get(msg, "role"));
        json_t *content = json_object_get(msg, "content");
        if (!role) continue;
        if (!strcmp(role, "system") || !strcmp(role, "developer")) {
            append_text(content, system, "\n\n");
        } else if (!strcmp(role, "assistant")) {
            push_turn(out, "assistant", assistant_blocks(msg));
        } else if (!strcmp(role, "tool")) {
            json_t *text = json_string("");
            append_text(content, text, "");
            const char *id = json_string_value(json_object_get(msg, "tool_call_id"));
            push_turn(out, "user", json_pack("[{s:s, s:s, s:o}]", "type", "tool_result", "tool_use_id", id ? id : "",
                                             "content", text));
        } else {
            json_t *text = json_string("");
            append_text(content, text, "");
            if (json_string_length(text) > 0)          /* Anthropic refuses empty text blocks */
                push_turn(out, "user", json_pack("[{s:s, s:o}]", "type", "text", "text", text));
            else
                json_decref(text);
        }
    }
    if (json_string_length(system) > 0) json_object_set(body, "system", system);
    json_decref(system);
    json_object_set_new(body, "messages", out);
}

json_t *anthropic_tools(json_t *tools) {
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *fn = json_object_get(t, "function");
        json_t *params = json_object_get(fn, "parameters");
        json_t *tool = json_pack("{s:O?}", "name", json_object_get(fn, "name"));
        if (!tool) continue;
        if (json_is_string(json_object_get(fn, "description"))) json_object_set(tool, "description", json_object_get(fn, "description"));
        json_object_set_new(tool, "input_schema", json_is_object(params) ? json_incref(params) : json_pack("{s:s}", "type", "object"));
        json_array_append_new(out, tool);
    }
    return out;
}
