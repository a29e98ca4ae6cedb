/* script_model.c - queued model answers and a log of requests, for tests. */
#include <stdlib.h>
#include <string.h>
#include "model/script_model.h"
#include "lib/xalloc.h"

static int enabled;
static json_t *queue;      /* [{text} | {error}] */
static json_t *requests;   /* [{model, messages}] */

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
    json_array_append_new(queue, error ? json_pack("{s:s}", "error", error) : json_pack("{s:s}", "text", text));
}

/* model_chat() of a script model: log the request, hand out the next answer. */
void script_model_take(const char *model, const json_t *messages, char **text, char **error) {
    ensure();
    json_array_append_new(requests, json_pack("{s:s, s:O}", "model", model, "messages", messages));
    *text = *error = NULL;
    json_t *next = json_array_get(queue, 0);
    if (!next) {
        *error = xstrdup("no scripted reply is queued (call t.model.reply(\"...\") before the message)");
        return;
    }
    const char *e = json_string_value(json_object_get(next, "error"));
    if (e) *error = xstrdup(e);
    else *text = xstrdup(json_string_value(json_object_get(next, "text")));
    json_array_remove(queue, 0);
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
}
