/* anthropic_convert.h - Chat Completions requests in Anthropic's shape.
 *
 * Skills and the router speak the OpenAI message format. Anthropic's
 * Messages API wants the system prompt apart (`system`), tool calls as
 * tool_use content blocks, tool results as tool_result blocks in a user
 * turn, and tools as {name, description, input_schema}. */
#ifndef CHORUS_ANTHROPIC_CONVERT_H
#define CHORUS_ANTHROPIC_CONVERT_H
#include <jansson.h>

/* Set "system" and "messages" on BODY from OpenAI-style MESSAGES. */
void anthropic_messages(json_t *body, json_t *messages);
/* OpenAI-style tools as Anthropic tools (a new reference). */
json_t *anthropic_tools(json_t *tools);
#endif
