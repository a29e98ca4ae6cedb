/* test_script_model.c - the scripted model of the test kit: answers come
 * out in the order queued, every request is logged with its tools, an empty
 * queue says how to fix the test, failures keep their kind, a tool call is
 * handed out only when the request offered that tool, and the provider is
 * refused outside test mode. */
#include <stdlib.h>
#include <string.h>
#include "model/provider.h"
#include "model/script_model.h"
#include "tap.h"

/* Take one answer for a one-message conversation saying SAY, offering TOOLS. */
static void take_with(const char *say, const json_t *tools, struct script_answer *a) {
    json_t *messages = json_pack("[{s:s, s:s}]", "role", "user", "content", say);
    script_model_take("default", messages, tools, a);
    json_decref(messages);
}

static void take(const char *say, struct script_answer *a) {
    take_with(say, NULL, a);
}

int main(void) {
    struct script_answer a;
    ok(!script_model_enabled(), "off until the test mode turns it on");
    script_model_enable(1);
    script_model_push("first", NULL);
    script_model_push("", "rate limited");
    take("a", &a);
    is_str(a.text, "first", "the first queued answer comes first");
    ok(a.error == NULL && a.tool_calls == NULL, "  with no error and no tool call");
    script_answer_free(&a);
    take("b", &a);
    ok(a.text == NULL, "a queued failure gives no text");
    is_str(a.error, "rate limited", "  but its error");
    is_int(a.kind, MODEL_ERR_SERVER, "  a plain message is a server failure");
    script_answer_free(&a);
    take("c", &a);
    ok(a.text == NULL && a.error && strstr(a.error, "t.model.reply"), "an empty queue names the fix");
    script_answer_free(&a);
    const json_t *log = script_model_requests();
    is_int((int)json_array_size(log), 3, "every request is logged");
    is_str(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(log, 1), "messages"), 0), "content")),
           "b", "  with its messages");
    is_str(json_string_value(json_object_get(json_array_get(log, 0), "model")), "default", "  and its model");
    ok(json_object_get(json_array_get(log, 0), "tools") == NULL, "  and no tools when none were offered");

    ok(script_model_push_failure("timeout", NULL) == 0, "a failure of a known kind is queued");
    ok(script_model_push_failure("sulking", NULL) < 0, "an unknown kind is refused");
    take("d", &a);
    is_int(a.kind, MODEL_ERR_TIMEOUT, "the failure keeps its kind");
    is_str(a.error, "scripted timeout failure", "  and says what it is");
    script_answer_free(&a);

    json_t *args = json_pack("{s:s}", "city", "Oslo");
    json_t *tools = json_pack("[{s:s, s:{s:s}}]", "type", "function", "function", "name", "weather");
    script_model_push_tool_call("weather", args);
    take("e", &a);
    is_int(a.kind, MODEL_ERR_BAD_REQUEST, "a tool call without tools offered fails like a real model's");
    ok(a.error && strstr(a.error, "tools = \"auto\""), "  and names the fix");
    script_answer_free(&a);
    script_model_push_tool_call("calendar", args);
    take_with("f", tools, &a);
    ok(a.error && strstr(a.error, "did not offer it"), "a tool the request did not offer cannot be called");
    script_answer_free(&a);
    script_model_push_tool_call("weather", args);
    take_with("g", tools, &a);
    ok(a.error == NULL && a.text && !strcmp(a.text, ""), "an offered tool is called, with empty text");
    json_t *call = json_array_get(a.tool_calls, 0);
    is_str(json_string_value(json_object_get(call, "name")), "weather", "  the tool's name");
    is_str(json_string_value(json_object_get(call, "arguments")), "{\"city\":\"Oslo\"}", "  its arguments as JSON text");
    ok(json_string_value(json_object_get(call, "id")) != NULL, "  and an id");
    script_answer_free(&a);
    ok(json_object_get(json_array_get(script_model_requests(), 6), "tools") != NULL, "the offered tools are logged");
    json_decref(args);
    json_decref(tools);

    script_model_reset();
    is_int((int)json_array_size(script_model_requests()), 0, "reset forgets the requests");
    script_model_enable(0);
    ok(!script_model_enabled(), "off again");
    return done_testing();
}
