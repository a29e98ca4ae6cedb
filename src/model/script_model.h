/* script_model.h - the "script" model provider of the plugin test kit.
 *
 * Tests queue the answers (t.model.reply / t.model.fail / t.model.tool_call);
 * every request is recorded so tests can assert on the prompts and tools a
 * plugin sends. The provider exists only in test mode: a config naming it
 * elsewhere is refused. */
#ifndef CHORUS_SCRIPT_MODEL_H
#define CHORUS_SCRIPT_MODEL_H
#include <jansson.h>

/* One queued answer, as the provider hands it out. */
struct script_answer {
    char *text;            /* the answer's text ("" with tool calls) */
    char *error;           /* set: the call fails with this sentence */
    int kind;              /* enum model_error of the failure */
    json_t *tool_calls;    /* [{id, name, arguments (JSON text)}] or NULL */
};

/* Allow provider "script" in configs (test mode only). */
void script_model_enable(int on);
int script_model_enabled(void);
/* Queue the next answer: TEXT, or an error sentence when ERROR is set
 * (a "server" failure). */
void script_model_push(const char *text, const char *error);
/* Queue a failure of KIND (a model_error_name: "rate_limit", "timeout",
 * ...); returns -1 for an unknown kind. */
int script_model_push_failure(const char *kind, const char *error);
/* Queue a call of tool NAME with ARGS (a JSON object, borrowed). */
void script_model_push_tool_call(const char *name, const json_t *args);
/* Record a request to MODEL (with the TOOLS it offered, may be NULL) and
 * take the next queued answer into OUT (an empty queue, or a tool call the
 * request did not offer, is an error naming the fix). */
void script_model_take(const char *model, const json_t *messages, const json_t *tools, struct script_answer *out);
void script_answer_free(struct script_answer *a);
/* Every request so far, oldest first: [{model, messages, tools?}] (borrowed). */
const json_t *script_model_requests(void);
/* Empty the queue and the request log. */
void script_model_reset(void);
#endif
