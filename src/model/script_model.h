/* script_model.h - the "script" model provider of the plugin test kit.
 *
 * Tests queue the answers (t.model.reply / t.model.fail); every request is
 * recorded so tests can assert on the prompts a plugin sends. The provider
 * exists only in test mode: a config naming it elsewhere is refused. */
#ifndef CHORUS_SCRIPT_MODEL_H
#define CHORUS_SCRIPT_MODEL_H
#include <jansson.h>

/* Allow provider "script" in configs (test mode only). */
void script_model_enable(int on);
int script_model_enabled(void);
/* Queue the next answer: TEXT, or an error sentence when ERROR is set. */
void script_model_push(const char *text, const char *error);
/* Record a request to MODEL and take the next queued answer: sets *TEXT or
 * *ERROR (malloc'd; an empty queue is an error naming the fix). */
void script_model_take(const char *model, const json_t *messages, char **text, char **error);
/* Every request so far, oldest first: [{model, messages}] (borrowed). */
const json_t *script_model_requests(void);
/* Empty the queue and the request log. */
void script_model_reset(void);
#endif
