/* test_script_model.c - the scripted model of the test kit: answers come
 * out in the order queued, every request is logged, an empty queue says
 * how to fix the test, and the provider is refused outside test mode. */
#include <stdlib.h>
#include <string.h>
#include "model/script_model.h"
#include "tap.h"

/* Take one answer for a one-message conversation saying SAY. */
static void take(const char *say, char **text, char **error) {
    json_t *messages = json_pack("[{s:s, s:s}]", "role", "user", "content", say);
    script_model_take("default", messages, text, error);
    json_decref(messages);
}

int main(void) {
    char *text, *error;
    ok(!script_model_enabled(), "off until the test mode turns it on");
    script_model_enable(1);
    script_model_push("first", NULL);
    script_model_push("", "rate limited");
    take("a", &text, &error);
    is_str(text, "first", "the first queued answer comes first");
    ok(error == NULL, "  with no error");
    free(text);
    take("b", &text, &error);
    ok(text == NULL, "a queued failure gives no text");
    is_str(error, "rate limited", "  but its error");
    free(error);
    take("c", &text, &error);
    ok(text == NULL && error && strstr(error, "t.model.reply"), "an empty queue names the fix");
    free(error);
    const json_t *log = script_model_requests();
    is_int((int)json_array_size(log), 3, "every request is logged");
    is_str(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(log, 1), "messages"), 0), "content")),
           "b", "  with its messages");
    is_str(json_string_value(json_object_get(json_array_get(log, 0), "model")), "default", "  and its model");
    script_model_reset();
    is_int((int)json_array_size(script_model_requests()), 0, "reset forgets the requests");
    script_model_enable(0);
    ok(!script_model_enabled(), "off again");
    return done_testing();
}
