/* test_json_write.c - json_write_compact must write what json_dumps
 * (JSON_COMPACT) writes, byte for byte. */
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
    ok(same_text(json_object()) && same_text(json_array()), "empty object and array");
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
    return done_testing();
}
