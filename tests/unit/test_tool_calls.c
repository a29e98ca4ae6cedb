/* test_tool_calls.c - unit tests for src/model/tool_calls.c: streamed
 * tool-call fragments as OpenAI documents them (the index names the call,
 * the id comes first) and as servers that stray from it send them. */
#include <stdlib.h>
#include <string.h>
#include "model/tool_calls.h"
#include "tap.h"

struct frag {
    long index;
    const char *id, *name, *args;
};

/* Feed FRAGS (ended by one with index -1) and return the calls as JSON text. */
static char *run(const struct frag *frags) {
    struct tool_calls t;
    tool_calls_init(&t, 0);
    for (const struct frag *f = frags; f->index >= 0; f++)
        tool_calls_add(&t, f->index, f->id, f->name, f->args, f->args ? strlen(f->args) : 0);
    json_t *j = tool_calls_json(&t);
    char *text = j ? json_dumps(j, JSON_COMPACT) : strdup("null");
    json_decref(j);
    tool_calls_free(&t);
    return text;
}

static void check(const struct frag *frags, const char *want, const char *what) {
    char *got = run(frags);
    is_str(got, want, "%s", what);
    free(got);
}

#define END { -1, NULL, NULL, NULL }

int main(void) {
    const struct frag spec[] = {
        { 0, "call_1", "get_weather", "" }, { 0, NULL, NULL, "{\"ci" }, { 0, NULL, NULL, "ty\":\"Lima\"}" },
        { 1, "call_2", "get_time", "" }, { 1, NULL, NULL, "{}" }, END };
    check(spec, "[{\"id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Lima\\\"}\"},"
                "{\"id\":\"call_2\",\"name\":\"get_time\",\"arguments\":\"{}\"}]",
          "as OpenAI streams them: by index, the id first");

    const struct frag fresh_ids[] = {
        { 0, "a1", "get_weather", "" }, { 0, "a2", NULL, "{\"ci" }, { 0, "a3", "get_weather", "ty\": \"Qu" },
        { 0, "a4", NULL, "ito\"}" }, END };
    check(fresh_ids, "[{\"id\":\"a1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Quito\\\"}\"}]",
          "a fresh id on every fragment of one call: one call, its first id");

    const struct frag reuse[] = {
        { 0, "a", "get_weather", "" }, { 0, NULL, NULL, "{\"city\":" }, { 0, NULL, NULL, "\"Oslo\"}" },
        { 0, "b", "get_weather", "" }, { 0, NULL, NULL, "{\"city\":\"Rome\"}" }, END };
    check(reuse, "[{\"id\":\"a\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"},"
                 "{\"id\":\"b\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Rome\\\"}\"}]",
          "every call at index 0, told apart by id once the first is whole");

    const struct frag whole[] = {
        { 0, "x", "get_weather", "{\"city\":\"Oslo\"}" }, { 0, "y", "get_weather", "{\"city\":\"Rome\"}" }, END };
    check(whole, "[{\"id\":\"x\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"},"
                 "{\"id\":\"y\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Rome\\\"}\"}]",
          "whole calls each in one chunk at index 0 (Ollama's /v1)");

    const struct frag tricky[] = {
        { 0, "s1", "say", "{\"text\":\"a } and a \\\"" }, { 0, "s2", "say", "{ too\"}" }, END };
    check(tricky, "[{\"id\":\"s1\",\"name\":\"say\",\"arguments\":\"{\\\"text\\\":\\\"a } and a \\\\\\\"{ too\\\"}\"}]",
          "braces and escaped quotes inside a string do not end the arguments");

    const struct frag noargs[] = { { 0, "t1", "get_time", NULL }, { 0, "w1", "get_weather", "{}" }, END };
    check(noargs, "[{\"id\":\"t1\",\"name\":\"get_time\",\"arguments\":\"{}\"},"
                  "{\"id\":\"w1\",\"name\":\"get_weather\",\"arguments\":\"{}\"}]",
          "a call without arguments, then another function at the same index");

    const struct frag noname[] = { { 0, "n1", "get_weather", "{\"city\":\"Oslo\"}" }, { 0, "n2", NULL, "" }, END };
    check(noname, "[{\"id\":\"n1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}]",
          "a trailing fragment with a new id and no name adds no call");
    return done_testing();
}
