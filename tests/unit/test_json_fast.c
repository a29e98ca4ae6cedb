/* test_json_fast.c - json_fast_loadb must give exactly what json_loadb gives:
 * the same value (same keys in the same order) or the same error. */
#include <stdlib.h>
#include <string.h>
#include "lib/json_fast.h"
#include "tap.h"

/* 1 if both readers agree on BUF[0..len). */
static int agree(const char *buf, size_t len) {
    json_error_t e1, e2;
    json_t *a = json_fast_loadb(buf, len, &e1);
    json_t *b = json_loadb(buf, len, 0, &e2);
    int same;
    if (!a || !b) {
        same = !a && !b && !strcmp(e1.text, e2.text);
    } else {
        char *x = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
        char *y = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
        same = json_equal(a, b) && x && y && !strcmp(x, y);
        free(x);
        free(y);
    }
    json_decref(a);
    json_decref(b);
    return same;
}

static const char *const cases[] = {
    "{}", "[]", " { } ", "{\"a\":1}", "[1,2,3]", "{\"a\":{\"b\":[true,false,null]}}",
    "{\"op\":0,\"s\":12,\"t\":\"MESSAGE_CREATE\",\"d\":{\"id\":\"1234567890123456789\",\"content\":\"hi\"}}",
    "{\"s\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"}",
    "{\"a\":1,\"a\":2}", "{\"b\":1,\"a\":2,\"b\":3}",
    "[123456789012345678, -123456789012345678, 1234567890123456789, 99999999999999999999]",
    "[0, -0, 01, -, 1.5, 1e3, 2E-2, -0.0]", "[1.5]", "[01]", "[-]",
    "{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}",
    "{\"a\":\"\\x\"}", "{\"a\":\"\x01\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"\xff\":1}",
    "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{\"a\":1", "[1 2]", "{\"a\":1} x", "\"top\"", "42", "true", "",
    "  ", "{\"a\":tru}", "{\"a\":truex}", "{\"a\":nul}", "[[[[[[[[[[]]]]]]]]]]", "{\"a\":\"\xe2\x82\xac\"}",
    "\xef\xbb\xbf{}", "{\"a\":1}\n", "[\"a\"\t,\r\n\"b\"]",
};

int main(void) {
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ok(agree(cases[i], strlen(cases[i])), "case %zu agrees with json_loadb: %s", i, cases[i]);
    ok(agree("[1,\0 2]", 7), "an embedded NUL agrees");

    /* Deep nesting: past the fast reader's limit it hands over to jansson. */
    size_t depth = 3000;
    char *deep = malloc(2 * depth);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    ok(agree(deep, 2 * depth), "nesting %zu deep agrees", depth);
    free(deep);

    /* Random edits of a gateway-like payload: every result must agree. */
    static const char seed[] =
        "{\"op\":0,\"s\":7,\"t\":\"MESSAGE_CREATE\",\"d\":{\"id\":\"1234567890123456789\",\"content\":"
        "\"h\\u00e9llo \\\"x\\\" \\ud83d\\ude00\\n\",\"author\":{\"id\":\"7\",\"bot\":false,\"name\":null},"
        "\"mentions\":[1,-2,0,[],{}],\"x\":1.5e3}}";
    static const char alphabet[] = "{}[]\",:0123456789-.eE \\/untfalsx\xc3\xa9\x80\xff\x01\t";
    char buf[512];
    unsigned seedv = 12345;
    int bad = 0;
    for (int it = 0; it < 100000; it++) {
        size_t n = sizeof(seed) - 1;
        memcpy(buf, seed, n);
        for (int m = 0; m < 3; m++) {
            seedv = seedv * 1103515245u + 12345u;
            size_t pos = (seedv >> 8) % n;
            char c = alphabet[(seedv >> 20) % (sizeof(alphabet) - 1)];
            if (m == 2 && n < sizeof(buf) - 1) {
                memmove(buf + pos + 1, buf + pos, n - pos);
                n++;
            }
            buf[pos] = c;
        }
        if (!agree(buf, n) && bad++ < 3) printf("# disagreement on: %.*s\n", (int)n, buf);
    }
    ok(bad == 0, "100000 edited payloads agree with json_loadb (%d did not)", bad);

    /* The lean reader: the skipped keys are left out of every object,
     * everything else is what json_loadb gives without them. */
    static const char *const skip[] = { "member", "embeds", NULL };
    static const char msg[] =
        "{\"t\":\"MESSAGE_CREATE\",\"member\":1,\"d\":{\"id\":\"5\",\"member\":{\"roles\":[\"1\",\"2\"],\"nick\":\"a\\\"}\"},"
        "\"embeds\":[{\"u\":\"]\"},[1.5e3,true,null]],\"author\":{\"id\":\"7\",\"member\":-2.5},\"content\":\"hi\"}}";
    json_t *lean = json_fast_loadb_lean(msg, sizeof(msg) - 1, skip, NULL);
    json_t *want = json_loads("{\"t\":\"MESSAGE_CREATE\",\"d\":{\"id\":\"5\",\"author\":{\"id\":\"7\"},\"content\":\"hi\"}}", 0, NULL);
    ok(lean && json_equal(lean, want), "the lean reader leaves out the skipped keys at every depth");
    json_decref(lean);
    json_decref(want);
    static const char broken[] = "{\"d\":{\"member\":{\"a\":[}},\"id\":\"5\"}}";
    lean = json_fast_loadb_lean(broken, sizeof(broken) - 1, skip, NULL);
    ok(lean == NULL, "a skipped value that is not JSON still makes the payload fail");
    json_decref(lean);
    bad = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = sizeof(seed) - 1;
        memcpy(buf, seed, n);
        seedv = seedv * 1103515245u + 12345u;
        buf[(seedv >> 8) % n] = alphabet[(seedv >> 20) % (sizeof(alphabet) - 1)];
        json_t *a = json_fast_loadb_lean(buf, n, skip, NULL);
        json_t *b = json_fast_loadb(buf, n, NULL);
        if ((a == NULL) != (b == NULL) && bad++ < 3) printf("# lean disagreement on: %.*s\n", (int)n, buf);
        json_decref(a);
        json_decref(b);
    }
    ok(bad == 0, "edited payloads without skipped keys read the same lean or not (%d did not)", bad);

    /* A long skip list (past what fits in one hash slot's neighbourhood)
     * and one on the stack that reuses an address: both still right. */
    static const char *const many[] = {
        "k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11", "k12", "k13",
        "k14", "k15", "k16", "k17", "k18", "k19", "k20", "k21", "k22", "k23", "k24", "k25", "k26", "k27",
        "k28", "k29", "k30", "k31", "k32", "k33", "k34", "k35", "k36", "k37", "k38", "k39", "member", NULL
    };
    static const char plain[] =   /* no real number: the fast reader builds it all */
        "{\"t\":\"MESSAGE_CREATE\",\"member\":1,\"d\":{\"id\":\"5\",\"member\":{\"nick\":\"a\"},"
        "\"embeds\":[{\"u\":\"]\"},[15,true,null]],\"author\":{\"id\":\"7\",\"member\":-2},\"content\":\"hi\"}}";
    lean = json_fast_loadb_lean(plain, sizeof(plain) - 1, many, NULL);
    want = json_loads("{\"t\":\"MESSAGE_CREATE\",\"d\":{\"id\":\"5\",\"embeds\":[{\"u\":\"]\"},[15,true,null]],"
                      "\"author\":{\"id\":\"7\"},\"content\":\"hi\"}}", 0, NULL);
    ok(lean && json_equal(lean, want), "a list of 41 keys skips the one listed key present, and only it");
    json_decref(lean);
    json_decref(want);
    int same = 1;
    for (int round = 0; round < 2; round++) {
        const char *stack[2] = { round ? "d" : "t", NULL };
        json_t *v = json_fast_loadb_lean(plain, sizeof(plain) - 1, stack, NULL);
        same &= v && (json_object_get(v, "t") != NULL) == (round == 1) && (json_object_get(v, "d") != NULL) == (round == 0);
        json_decref(v);
    }
    ok(same, "a list at an address another list had is read as itself");

    /* The keep reader: of the top level only the kept members. */
    static const char *const keep[] = { "id", "message", NULL };
    static const char answer[] =
        "{\"type\":0,\"author\":{\"id\":\"7\",\"message\":1},\"id\":\"99\",\"embeds\":[[{}]],\"message\":\"m\"}";
    json_t *only = json_fast_loadb_only(answer, sizeof(answer) - 1, keep, NULL);
    want = json_loads("{\"id\":\"99\",\"message\":\"m\"}", 0, NULL);
    ok(only && json_equal(only, want), "the keep reader builds the kept top-level members only");
    json_decref(only);
    json_decref(want);
    static const char answer_bad[] = "{\"id\":\"99\",\"embeds\":[[{]]}";
    only = json_fast_loadb_only(answer_bad, sizeof(answer_bad) - 1, keep, NULL);
    ok(only == NULL, "a stepped-over member that is not JSON still fails the answer");
    json_decref(only);

    /* json_fast_member: a value found by its path, nothing built. */
    const char *val;
    size_t vlen;
    static const char *const bot_path[] = { "d", "author", "id", NULL };
    ok(json_fast_member(msg, sizeof(msg) - 1, bot_path, &val, &vlen) == 0 && vlen == 3 && !memcmp(val, "\"7\"", 3),
       "the member d.author.id is found past skipped nested members (inside d.member a key is not a step)");
    static const char *const embeds_path[] = { "d", "embeds", NULL };
    static const char embeds[] = "[{\"u\":\"]\"},[1.5e3,true,null]]";
    ok(json_fast_member(msg, sizeof(msg) - 1, embeds_path, &val, &vlen) == 0 && vlen == sizeof(embeds) - 1 &&
           !memcmp(val, embeds, vlen),
       "a member's value is given whole (an array with a bracket inside a string)");
    static const char *const missing[] = { "d", "author", "bot", NULL };
    ok(json_fast_member(msg, sizeof(msg) - 1, missing, &val, &vlen) == -1, "a missing member is -1");
    static const char *const not_object[] = { "t", "x", NULL };
    ok(json_fast_member(msg, sizeof(msg) - 1, not_object, &val, &vlen) == -1, "a step into a string is -1");
    static const char *const top_s[] = { "s", NULL };
    static const char spaced[] = " { \"t\" : \"X\" , \"s\" : 42 , \"d\" : {} } ";
    ok(json_fast_member(spaced, sizeof(spaced) - 1, top_s, &val, &vlen) == 0 && vlen == 2 && !memcmp(val, "42", 2),
       "whitespace around keys and values is allowed");
    int clean = 1;
    for (size_t n = 0; n < sizeof(msg) - 1; n++)   /* every cut of the text: found whole, or -1; never past the end */
        if (json_fast_member(msg, n, bot_path, &val, &vlen) == 0 && (val + vlen > msg + n || vlen != 3)) clean = 0;
    ok(clean, "every truncation of the text either finds the whole value or says -1");
    ok(json_fast_member(msg, sizeof(msg) - 1, embeds_path, &val, NULL) == 0 && *val == '[',
       "with no length asked the member's start is given, not stepped over");
    static const char cut_member[] = "{\"d\":{\"embeds\":[1,";
    ok(json_fast_member(cut_member, sizeof(cut_member) - 1, embeds_path, &val, NULL) == 0 && *val == '[',
       "... even when the value does not end in the text");

    /* json_fast_members: one pass over the top level. */
    static const char *const keys[] = { "s", "t", "nope", NULL };
    const char *vals[3];
    size_t vlens[3];
    static const char top[] = " {\"t\":\"A\",\"d\":{\"s\":1,\"t\":[\"}\"]},\"s\":7,\"t\":\"B\"} \n";
    ok(json_fast_members(top, sizeof(top) - 1, keys, vals, vlens) == 0 && vlens[0] == 1 && vals[0][0] == '7' &&
           vlens[1] == 3 && !memcmp(vals[1], "\"B\"", 3) && !vals[2] && !vlens[2],
       "the top-level members: the last of a key given twice, nested keys not taken, a missing one NULL");
    static const char *const not_one[] = { "{\"a\":1,}", "{\"a\":1} x", "{\"a\" 1}", "[1]", "{\"a\":{\"b\":1}", "", NULL };
    int refused = 1;
    for (int i = 0; not_one[i]; i++)
        if (json_fast_members(not_one[i], strlen(not_one[i]), keys, vals, vlens) != -1) refused = 0;
    ok(refused, "a text that is not one whole object is -1");
    clean = 1;
    for (size_t n = 0; n < sizeof(top) - 3; n++)
        if (json_fast_members(top, n, keys, vals, vlens) != -1) clean = 0;
    ok(clean, "every truncation of the object is -1");
    ok(json_fast_members("{}", 2, keys, vals, vlens) == 0 && !vals[0], "an empty object has none");

    return done_testing();
}
