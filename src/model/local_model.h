/* local_model.h - the built-in offline model "local".
 *
 * A small rule- and template-based persona responder in the spirit of ELIZA.
 * It lets the quick start work with no API key and no network. It is not a
 * language model, and says so when asked what it is. */
#ifndef CHORUS_LOCAL_MODEL_H
#define CHORUS_LOCAL_MODEL_H

#include <jansson.h>

/* Reply to a Chat Completions style conversation. `messages` is a JSON array
 * of objects {"role": "system"|"user"|"assistant", "content": string}; the
 * last "user" message is the one to answer; a leading "system" message holds
 * the persona's prompt ("You are Aiko." gives the persona a name).
 * Returns a malloc'd NUL-terminated UTF-8 string (never NULL except on out of
 * memory; never empty). The same messages always give the same reply. */
char *local_model_reply(const json_t *messages);

#endif
