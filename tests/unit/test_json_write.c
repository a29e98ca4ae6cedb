/* test_json_write.c - json_write_compact and json_write_strings must write
 * what json_dumps (JSON_COMPACT) writes, byte for byte, and refuse what
 * json_pack refuses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json_write.h"
#include "tap.h"

/* 1 if both writers give the same text for V. */
static int same_text(const json_t *v) {
    char *a = json_write_compact(v);
    char *b = json_dumps(v, JSON_COMPACT);
    int same = (!a && !b) || (a && b && !strcmp(a, b));
    if (!same) fprintf(stderr, "json_write: %s\njson_dumps: %s\n", a ? a : "(null)", b ? b : "(null)");
    free(a);
    free(b);
    return same;
}

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

/* A random value of DEPTH levels at most, from the generator state *R. */
static json_t *random_value(unsigned *r, int depth) {
    static const char *const strs[] = { "", "a", "caf\xc3\xa9", "q\"uo\\te", "tab\there\nnl\r\b\f", "\x01\x1f\x7f",
                                        "\xf0\x9f\x98\x80 emoji", "slash/", "long text with spaces and more" };
    *r = *r * 1103515245u + 12345u;
    int kind = (int)((*r >> 16) % (depth > 0 ? 9 : 7));
    switch (kind) {
    case 0: return json_string(strs[(*r >> 8) % (sizeof(strs) / sizeof(strs[0]))]);
    case 1: return json_integer((json_int_t)(*r) - 2000000000LL);
    case 2: return json_integer((*r & 1) ? INT64_MIN + (*r & 7) : INT64_MAX - (*r & 7));
    case 3: return json_real((double)(*r % 100000) / 7.0);
    case 4: return json_true();
    case 5: return json_false();
    case 6: return json_null();
    case 7: {
        json_t *o = json_object();
        int n = (int)((*r >> 4) % 5);
        for (int i = 0; i < n; i++) {
            char key[16];
            snprintf(key, sizeof(key), "k%d\"\n", (int)((*r >> (i + 3)) % 7));
            json_object_set_new(o, key, random_value(r, depth - 1));
        }
        return o;
    }
    default: {
        json_t *a = json_array();
        int n = (int)((*r >> 4) % 5);
        for (int i = 0; i < n; i++) json_array_append_new(a, random_value(r, depth - 1));
        return a;
    }
    }
}

int main(void) {
    json_t *v = json_loads("{\"chat_id\":-1001234567890,\"text\":\"echo: hello \\\"x\\\"\\n\\u0001\",\"reply_parameters\":"
                           "{\"message_id\":42,\"allow_sending_without_reply\":true},\"a\":[],\"o\":{},\"n\":null,\"f\":false,"
                           "\"r\":1.5,\"e\":1e300,\"u\":\"\\u00e9\\ud83d\\ude00\\u2028\"}", 0, NULL);
    ok(v && same_text(v), "a Bot API request reads the same");
    json_decref(v);
    json_t *empty_object = json_object(), *empty_array = json_array();
    ok(same_text(empty_object) && same_text(empty_array), "empty object and array");
    json_decref(empty_object);
    json_decref(empty_array);
    json_t *s = json_string("x");
    char *t = json_write_compact(s);
    ok(t == NULL, "a string alone is not written (as json_dumps without JSON_ENCODE_ANY)");
    json_decref(s);
    json_t *o = json_object();   /* keys set again keep their place; a key with a NUL in it */
    json_object_set_new(o, "b", json_integer(1));
    json_object_set_new(o, "a", json_integer(2));
    json_object_set_new(o, "b", json_integer(3));
    json_object_setn_new(o, "n\0ul", 4, json_true());
    ok(same_text(o), "member order is the order of setting; a key with a NUL byte");
    json_decref(o);
    json_t *loop = json_array();
    json_t *inner = json_array();
    json_array_append(loop, inner);
    json_array_append(inner, loop);
    t = json_write_compact(loop);
    ok(t == NULL, "a loop gives NULL, as json_dumps does");
    json_array_clear(inner);
    json_decref(inner);
    json_decref(loop);
    int bad = 0;
    unsigned r = 7;
    for (int i = 0; i < 2000; i++) {
        json_t *x = random_value(&r, 4);
        if (!json_is_object(x) && !json_is_array(x)) {
            json_t *w = json_array();
            json_array_append_new(w, x);
            x = w;
        }
        if (!same_text(x)) bad++;
        json_decref(x);
    }
    ok(bad == 0, "2000 random values read the same (%d did not)", bad);
    struct json_buf b = { 0 };
    json_buf_raw(&b, "{\"n\":", 5);
    json_buf_int(&b, -9223372036854775807LL - 1);
    json_buf_raw(&b, ",\"s\":", 5);
    json_buf_string(&b, "a\"b", 3);
    json_buf_raw(&b, "}", 1);
    size_t len;
    t = json_buf_take(&b, &len);
    ok(len == strlen(t) && !strcmp(t, "{\"n\":-9223372036854775808,\"s\":\"a\\\"b\"}"), "the pieces write what they say");
    free(t);
    /* json_write_strings: an object of string members. */
    {
    static const char *const texts[] = { "", "echo: hello 5", "say \"hi\" \\o/", "tab\tnew\nline\rfeed\fback\b",
                                         "bell\a esc\x1b del\x7f", "caf\xc3\xa9 \xe2\x9c\x85 \xf0\x9f\x8e\x89", "</script>&", NULL };
    int all = 1;
    for (int i = 0; texts[i]; i++) all &= same_as_jansson(texts[i], strlen(texts[i]));
    ok(all, "quotes, backslashes, control characters and UTF-8 are written as json_dumps writes them");
    ok(same_as_jansson("a\0b", 3), "a NUL inside is \\u0000");
    static const char *const not_utf8[] = { "\xff", "caf\xc3", "\xed\xa0\x80", NULL };
    int refused = 1;
    for (int i = 0; not_utf8[i]; i++) {
        static const char *const keys[] = { "text" };
        const char *vals[] = { not_utf8[i] };
        size_t lens[] = { strlen(not_utf8[i]) };
        char *out = json_write_strings(1, keys, vals, lens);
        refused &= out == NULL && same_as_jansson(not_utf8[i], strlen(not_utf8[i]));
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
    }
    return done_testing();
}
