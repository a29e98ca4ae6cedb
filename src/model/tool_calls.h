/* tool_calls.h - assembling tool calls from the fragments a stream sends.
 *
 * OpenAI streams a call as fragments keyed by index (the id and name come
 * first, the arguments in pieces): the index identifies the call. Servers
 * stray from that two ways: some reuse index 0 for every call and tell
 * them apart only by id (Ollama's /v1, LiteLLM's Responses bridge); some
 * stamp a fresh id on every fragment of one call. A fragment with a new id
 * at a known index therefore starts a new call only when it names a
 * function and the call at that index is done (its arguments are whole
 * JSON, or it has none and named another function); otherwise it goes on
 * with that call, which keeps its first id. Anthropic
 * streams tool_use blocks by index. All come out as the provider_result
 * shape: [{id, name, arguments (JSON text)}]. */
#ifndef CHORUS_TOOL_CALLS_H
#define CHORUS_TOOL_CALLS_H
#include <stddef.h>
#include <jansson.h>

struct tool_slot {
    long index;
    char *id, *name;
    char *args;
    size_t alen, acap;
    int depth;                     /* the arguments' JSON nesting so far */
    char in_string, escaped, opened;   /* inside a string; after a backslash; a { or [ was seen */
};

struct tool_calls {
    struct tool_slot *slots;
    int n, cap;
    size_t max_bytes;              /* arguments of all calls together; past it, an error */
    size_t bytes;
};

void tool_calls_init(struct tool_calls *t, size_t max_bytes);
/* One fragment: ID, NAME and ARGS may each be NULL. A new id at a known
 * index starts a new call only as described above. Returns 0, or -1 when
 * over the cap or out of memory. */
int tool_calls_add(struct tool_calls *t, long index, const char *id, const char *name, const char *args, size_t args_len);
/* The calls so far, or NULL when none (a new reference). */
json_t *tool_calls_json(const struct tool_calls *t);
void tool_calls_free(struct tool_calls *t);
#endif
