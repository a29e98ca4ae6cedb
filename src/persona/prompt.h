/* prompt.h - the one function that assembles what a persona sends a model.
 *
 * messages[0] is the system message: the persona's prompt (a card's
 * system_prompt), then for a card persona the lorebook entries placed
 * before the character, its description, personality and scenario, the
 * entries placed after it; then what the persona knows and feels
 * (character, style, mood, who it talks with and whether they are new or
 * returning, the facts it learned, how they seem to feel, a summary of
 * older turns, and the older turns recalled by meaning, recall_store.h).
 * Then the card's example dialogue (a system message, within
 * a quarter of the budget), the recent turns of this channel with this
 * persona, oldest first and verbatim, as many as fit the persona's token
 * budget (tokens.h), with lorebook entries placed at a depth among them,
 * the current message, and last the card's post_history_instructions.
 * {{char}}, {{user}} (and <BOT>, <USER>) are replaced everywhere. A skill
 * can call it (chorus.prompt.build) or build its own messages instead. */
#ifndef CHORUS_PROMPT_H
#define CHORUS_PROMPT_H
#include <jansson.h>

struct persona;

/* CTX (borrowed) may hold: turns [{role, content}], summary (string),
 * recalled [{role, name, content, score}], facts
 * [string], observation {sentiment{label}, mood{label}, user{new, returning,
 * away_s, turns}}. Returns a new messages array. */
json_t *prompt_build(const struct persona *p, const char *user_name, const char *text, const json_t *ctx);
/* The same; when EXPLAIN is an object it receives "lore": [{book, entry,
 * why, position, depth, tokens}], "tokens" (the estimate) and "examples"
 * (how many example blocks fit), "recall" (the recalled turns with their
 * scores). For the preview. */
json_t *prompt_build_explain(const struct persona *p, const char *user_name, const char *text, const json_t *ctx,
                             json_t *explain);
/* TEXT with every FROM replaced by TO, malloc'd. */
char *prompt_replace(const char *text, const char *from, const char *to);
/* TEXT with the card macros replaced: {{char}}, {{user}}, <BOT>, <USER>, {{original}}. */
char *prompt_macros(const char *text, const char *char_name, const char *user_name, const char *original);
#endif
