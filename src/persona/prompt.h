/* prompt.h - the one function that assembles what a persona sends a model.
 *
 * messages[0] is the system message: the persona's prompt verbatim, then
 * what the persona knows and feels (character, style, mood, who it talks
 * with and whether they are new or returning, the facts it learned, how
 * they seem to feel, a summary of older turns). Then the recent turns of
 * this channel with this persona, oldest first and verbatim, as many as fit
 * the persona's token budget (tokens.h), then the current message. A skill
 * can call it (chorus.prompt.build) or build its own messages instead. */
#ifndef CHORUS_PROMPT_H
#define CHORUS_PROMPT_H
#include <jansson.h>

struct persona;

/* CTX (borrowed) may hold: turns [{role, content}], summary (string), facts
 * [string], observation {sentiment{label}, mood{label}, user{new, returning,
 * away_s, turns}}. Returns a new messages array. */
json_t *prompt_build(const struct persona *p, const char *user_name, const char *text, const json_t *ctx);
#endif
