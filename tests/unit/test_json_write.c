/* test_json_write.c - json_write_strings must write what json_dumps writes
 * for the same object of strings, and refuse what json_pack refuses. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "lib/json_write.h"
#include "tap.h"

/* 1 if json_write_strings and json_dumps(JSON_COMPACT) agree on one member
 * "text" holding S[0..len) between two plain ones. */
static int same_as_jansson(const char *s, size_t len) {
    static const char *const keys[] = { "channel", "text", "thread_ts" };
    const char *vals[] = { "C0GENERAL", s, "1700000000.000100" };
    size_t lens[] = { 9, len, 17 };
    char *mine = json_write_strings(3, keys, vals, lens);
    json_t *o = json_pack("{s:s, s:s%, s:s}", "channel", "C0GENERAL", "text", s, len, "thread_ts", "1700000000.000100");
    char *theirs = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int same = (!mine && !theirs) || (mine && theirs && !strcmp(mine, theirs));
    free(mine);
    free(theirs);
    json_decref(o);
    return same;
}

int main(void) {
    static const char *const texts[] = { "", "echo: hello 5", "say \"hi\" \\o/", "tab\tnew\nline\rfeed\fback\b",
                                         "bell\a esc\x1b del\x7f", "caf\xc3\xa9 \xe2\x9c\x85 \xf0\x9f\x8e\x89", "</script>&", NULL };
    int all = 1;
    for (int i = 0; texts[i]; i++) all &= same_as_jansson(texts[i], strlen(texts[i]));
    ok(all, "quotes, backslashes, control characters and UTF-8 are written as json_dumps writes them");
    ok(same_as_jansson("a\0b", 3), "a NUL inside is \\u0000");
    static const char *const bad[] = { "\xff", "caf\xc3", "\xed\xa0\x80", NULL };
    int refused = 1;
    for (int i = 0; bad[i]; i++) {
        static const char *const keys[] = { "text" };
        const char *vals[] = { bad[i] };
        size_t lens[] = { strlen(bad[i]) };
        char *out = json_write_strings(1, keys, vals, lens);
        refused &= out == NULL && same_as_jansson(bad[i], strlen(bad[i]));
        free(out);
    }
    ok(refused, "text that is not valid UTF-8 is refused, as json_pack refuses it");
    static const char *const keys[] = { "channel_id", "message", "root_id" };
    const char *vals[] = { "c1", "hi", NULL };
    size_t lens[] = { 2, 2, 0 };
    char *out = json_write_strings(3, keys, vals, lens);
    is_str(out, "{\"channel_id\":\"c1\",\"message\":\"hi\"}", "a NULL value leaves its member out");
    free(out);
    const char *none[] = { NULL, NULL, NULL };
    out = json_write_strings(3, keys, none, lens);
    is_str(out, "{}", "no members: an empty object");
    free(out);
    return done_testing();
}
