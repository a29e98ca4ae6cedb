/* test_local_model.c - unit tests for src/local_model.c, the offline model. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "tap.h"
#include "model/local_model.h"

/* A plain UTF-8 check written for this test (RFC 3629 limits), so the
 * module is not trusted to judge its own output. */
static int valid_utf8(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, j, k, n = strlen(str);
    unsigned long cp, min;

    while (i < n) {
        if (s[i] < 0x80) { i++; continue; }
        if ((s[i] & 0xE0) == 0xC0) { k = 1; cp = s[i] & 0x1F; min = 0x80; }
        else if ((s[i] & 0xF0) == 0xE0) { k = 2; cp = s[i] & 0x0F; min = 0x800; }
        else if ((s[i] & 0xF8) == 0xF0) { k = 3; cp = s[i] & 0x07; min = 0x10000; }
        else return 0;
        if (n - i - 1 < k) return 0;
        for (j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

/* Whether a reply holds a CJK ideograph (U+4E00..U+9FFF are E4..E9 leads). */
static int has_cjk(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0xE4 && (unsigned char)*s <= 0xE9) return 1;
    return 0;
}

/* Append one {"role", "content"} message to a conversation. */
static void add_msg(json_t *msgs, const char *role, const char *content) {
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", role, "content", content));
}

/* Build a conversation: an optional system prompt and one user message. */
static json_t *convo(const char *system, const char *user) {
    json_t *msgs = json_array();
    if (system) add_msg(msgs, "system", system);
    if (user) add_msg(msgs, "user", user);
    return msgs;
}

/* Reply to a conversation and free it; the caller frees the reply. */
static char *reply_to(json_t *msgs) {
    char *r = local_model_reply(msgs);
    json_decref(msgs);
    return r;
}

/* Check the promises made for any input: non-NULL, non-empty, valid UTF-8. */
static void check_sane(char *r, const char *what) {
    ok(r != NULL && r[0] != '\0' && valid_utf8(r), "%s: non-empty valid UTF-8 reply", what);
    free(r);
}

/* Check that a reply contains a piece of text, showing the reply if not. */
static void check_has(char *r, const char *piece, const char *what) {
    int pass = r != NULL && strstr(r, piece) != NULL;
    ok(pass, "%s", what);
    if (!pass) printf("# reply: %s\n# wanted: %s\n", r ? r : "NULL", piece);
    free(r);
}

/* Persona name, user name and greetings. */
static void test_names(void) {
    json_t *m;
    char *r;

    check_has(reply_to(convo("You are Aiko, a cheerful barista.", "Hello!")), "I'm Aiko.",
              "greeting introduces the persona by name");
    check_has(reply_to(convo("You are Aiko.", "HEY THERE")), "Aiko",
              "keywords match case-insensitively");
    r = reply_to(convo("You are a helpful assistant.", "hi"));
    ok(r && strstr(r, "I'm") == NULL, "a lowercase description is not taken as a name");
    free(r);
    r = reply_to(convo(NULL, "hello"));
    ok(r && strstr(r, "I'm") == NULL && strstr(r, "{") == NULL, "no persona: no name, no placeholder");
    free(r);
    check_has(reply_to(convo(NULL, "my name is sam")), "Sam", "my name is sam: greeted, capitalized");

    m = convo("You are Aiko.", "Hi, my name is Sam.");
    add_msg(m, "assistant", "Nice to meet you Sam!");
    add_msg(m, "user", "hello");
    r = reply_to(m);
    ok(r && strstr(r, "Sam") && strstr(r, "Aiko"), "a later hello greets Sam, as Aiko");
    if (r) printf("# %s\n", r);
    free(r);

    r = reply_to(convo(NULL, "this is it"));
    ok(r && strncmp(r, "Hi", 2) != 0 && strncmp(r, "Hello", 5) != 0,
       "\"hi\" does not fire inside \"this\"");
    free(r);
}

/* Emotions, reflection and the honest self-description. */
static void test_rules(void) {
    json_t *m;
    char *r;
    int i;

    r = reply_to(convo(NULL, "I feel sad about my job."));
    ok(r && strstr(r, "sad about your job") &&
       (strstr(r, "sorry") || strstr(r, "hard") || strstr(r, "okay")),
       "I feel sad: empathetic, reflected");
    if (r) printf("# %s\n", r);
    free(r);
    check_has(reply_to(convo(NULL, "I'm so tired today")), "so tired today", "I'm so tired: reflected");
    check_has(reply_to(convo(NULL, "can you help me?")), "help you", "can you help me -> help you");
    check_has(reply_to(convo(NULL, "I need my friends")), "your friends", "I need my friends -> your friends");
    check_has(reply_to(convo(NULL, "You are mean to me!")), "mean to you", "you are mean to me -> mean to you");
    check_has(reply_to(convo(NULL, "I am angry that you ignored me")), "angry that I ignored you",
              "subject you -> I, me -> you");
    check_has(reply_to(convo(NULL, "I want you to stop")), "me to stop", "object you -> me");
    r = reply_to(convo(NULL, "I'm happy because my exam went well"));
    ok(r && strstr(r, "happy") && !strstr(r, "because"), "a fragment stops at the next clause");
    free(r);
    r = reply_to(convo(NULL, "I'm not happy"));
    ok(r && !strstr(r, "lovely") && !strstr(r, "glad"), "a negated emotion is not cheered");
    free(r);
    r = reply_to(convo(NULL, "Thanks a lot"));
    ok(r && (strstr(r, "welcome") || strstr(r, "Happy to help") || strstr(r, "Any time")),
       "thanks answered");
    free(r);
    check_has(reply_to(convo(NULL, "My mother called")), "family", "family words");
    check_has(reply_to(convo(NULL, "Is it going to rain?")), "?", "a question gets a question-like answer");

    for (i = 0; i < 3; i++) {       /* every template of the rule, via turn count */
        m = convo("You are Aiko.", NULL);
        for (int k = 0; k <= i; k++) add_msg(m, "user", "Who are you?");
        r = reply_to(m);
        ok(r && strstr(r, "offline") && strstr(r, "Chorus") && strstr(r, "model") && strstr(r, "Aiko"),
           "who are you (turn %d): honest offline answer", i + 1);
        free(r);
    }
}

/* Chinese input gets a Chinese reply. */
static void test_chinese(void) {
    char *r;

    r = reply_to(convo("You are Aiko.", "你好"));
    ok(r && has_cjk(r) && strstr(r, "Aiko") && valid_utf8(r), "你好 gets a Chinese greeting by name");
    if (r) printf("# %s\n", r);
    free(r);
    r = reply_to(convo(NULL, "今天天气怎么样？"));
    ok(r && has_cjk(r) && valid_utf8(r), "other Chinese gets a Chinese reply");
    free(r);
    r = reply_to(convo(NULL, "你是谁"));
    ok(r && strstr(r, "离线") && strstr(r, "Chorus"), "你是谁: honest in Chinese");
    free(r);
}

/* Same input, same reply; successive turns vary and never echo verbatim. */
static void test_determinism(void) {
    json_t *a = convo("You are Aiko.", "I want a cup of tea"), *b = json_deep_copy(a), *m;
    char *r1 = local_model_reply(a), *r2 = local_model_reply(a), *r3 = local_model_reply(b);
    char *seen[6];
    int i, j, distinct = 0, echo = 0;

    ok(r1 && r2 && r3 && strcmp(r1, r2) == 0 && strcmp(r1, r3) == 0, "same messages, same reply");
    free(r1); free(r2); free(r3);
    json_decref(a); json_decref(b);

    m = convo("You are Aiko.", NULL);
    for (i = 0; i < 6; i++) {
        add_msg(m, "user", "tell me something");
        seen[i] = local_model_reply(m);
        if (i > 0 && seen[i] && seen[i - 1] && strcmp(seen[i], seen[i - 1]) == 0) echo = 1;
        add_msg(m, "assistant", seen[i] ? seen[i] : "");
    }
    for (i = 0; i < 6; i++) {
        for (j = 0; j < i && (seen[i] == NULL || seen[j] == NULL || strcmp(seen[i], seen[j])); j++) {}
        if (j == i) distinct++;
    }
    ok(distinct >= 3, "a repeated message gets varied replies over turns (%d distinct of 6)", distinct);
    ok(!echo, "never the same line twice in a row");
    for (i = 0; i < 6; i++) free(seen[i]);
    json_decref(m);
}

/* Broken input still gets a sensible reply. */
static void test_bad_input(void) {
    json_t *m;

    check_sane(local_model_reply(NULL), "NULL");
    check_sane(reply_to(json_array()), "empty array");
    check_sane(reply_to(json_object()), "an object, not an array");
    check_sane(reply_to(json_string("hello")), "a string, not an array");
    check_sane(reply_to(json_pack("[i, s, n, []]", 1, "x")), "array of non-messages");
    check_sane(reply_to(json_pack("[{s:s}]", "role", "user")), "missing content");
    check_sane(reply_to(json_pack("[{s:s, s:i}]", "role", "user", "content", 42)), "integer content");
    check_sane(reply_to(json_pack("[{s:s, s:n}]", "role", "user", "content")), "null content");
    check_sane(reply_to(json_pack("[{s:i, s:s}]", "role", 5, "content", "hi")), "integer role");
    check_sane(reply_to(json_pack("[{s:s}]", "content", "hi")), "missing role");
    check_sane(reply_to(convo(NULL, "")), "empty text");
    check_sane(reply_to(convo(NULL, " \t\n\r ")), "blank text");
    check_sane(reply_to(convo("You are Aiko.", NULL)), "system prompt only");
    check_sane(reply_to(convo(NULL, "?!.,;")), "punctuation only");
    check_sane(reply_to(convo(NULL, "I feel")), "capture rule with nothing to capture");
    check_sane(reply_to(convo(NULL, "my name is")), "name rule with no name");

    m = json_array();
    json_array_append_new(m, json_pack("{s:s, s:o}", "role", "system", "content",
                                       json_string_nocheck("You are \xff\xfe")));
    json_array_append_new(m, json_pack("{s:s, s:o}", "role", "user", "content",
                                       json_string_nocheck("I feel \xc3 sad \xed\xa0\x80 and \xe4\xbd")));
    check_sane(reply_to(m), "invalid UTF-8 in content");
    m = json_array();
    json_array_append_new(m, json_pack("{s:s, s:o}", "role", "user", "content",
                                       json_string_nocheck("my name is J\xc3")));
    check_sane(reply_to(m), "invalid UTF-8 in a name");
}

/* Huge input: captured fragments stay near 200 bytes, cut on code points. */
static void test_long_input(void) {
    size_t n = 200000, i;
    char *text = malloc(n + 64), *r;

    strcpy(text, "I want x");       /* 'x' makes every 'é' start at an odd offset */
    for (i = strlen(text); i + 2 < n; i += 2) memcpy(text + i, "\xc3\xa9", 2);
    text[i] = '\0';
    r = reply_to(convo(NULL, text));
    ok(r && valid_utf8(r) && strlen(r) < 200 + 120 && strstr(r, "x\xc3\xa9"),
       "long two-byte fragment capped on a code point boundary (%zu bytes)", r ? strlen(r) : 0);
    free(r);

    strcpy(text, "I feel sad");
    for (i = strlen(text); i + 4 < n; i += 4) memcpy(text + i, " my ", 4);
    text[i] = '\0';
    r = reply_to(convo(NULL, text));
    ok(r && valid_utf8(r) && strlen(r) < 200 + 120, "long reflected fragment capped (%zu bytes)",
       r ? strlen(r) : 0);
    free(r);

    for (i = 0; i + 3 < n; i += 3) memcpy(text + i, "我", 3);
    text[i] = '\0';
    r = reply_to(convo(NULL, text));
    ok(r && valid_utf8(r) && has_cjk(r), "long Chinese text");
    free(r);

    strcpy(text, "my name is ");
    for (i = strlen(text); i < 1000; i++) text[i] = 'a';
    text[i] = '\0';
    r = reply_to(convo(NULL, text));
    ok(r && valid_utf8(r) && strlen(r) < 120, "long name capped (%zu bytes)", r ? strlen(r) : 0);
    free(r);
    free(text);
}

/* Run every group and report in TAP. */
int main(void) {
    test_names();
    test_rules();
    test_chinese();
    test_determinism();
    test_bad_input();
    test_long_input();
    return done_testing();
}
