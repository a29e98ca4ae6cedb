/* test_lorebook.c - which lorebook entries a conversation activates, and why. */
#include <stdlib.h>
#include <string.h>
#include "persona/lorebook.h"
#include "tap.h"

static struct lorebook *book(const char *json) {
    char err[300];
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    if (!j) {
        printf("# bad test JSON: %s\n", jerr.text);
        return NULL;
    }
    struct lorebook *lb = lorebook_compile(j, "book", err, sizeof(err));
    if (!lb) printf("# %s\n", err);
    json_decref(j);
    return lb;
}

/* The names of the entries activated by TEXTS, joined with commas. */
static const char *names(struct lorebook *lb, const char *const *texts, int n, long budget) {
    static char out[1024];
    struct lore_hit hits[64];
    int k = lorebook_match(&lb, 1, texts, n, budget, hits, 64);
    out[0] = '\0';
    for (int i = 0; i < k; i++) {
        strcat(out, i ? "," : "");
        strcat(out, hits[i].entry->name);
    }
    return out;
}

int main(void) {
    struct lorebook *lb = book("{\"entries\":["
        "{\"name\":\"dragon\",\"keys\":[\"dragon\",\"wyrm\"],\"content\":\"Dragons breathe fire.\",\"insertion_order\":10},"
        "{\"name\":\"castle\",\"keys\":[\"Castle\"],\"case_sensitive\":true,\"content\":\"The castle is old.\",\"insertion_order\":5},"
        "{\"name\":\"sun\",\"constant\":true,\"keys\":[],\"content\":\"It is summer.\",\"position\":\"after_char\"},"
        "{\"name\":\"off\",\"enabled\":false,\"keys\":[\"dragon\"],\"content\":\"never\"},"
        "{\"name\":\"word\",\"keys\":[\"cat\"],\"content\":\"Cats.\",\"extensions\":{\"match_whole_words\":true}}"
        "]}");
    const char *t1[] = { "I saw a DRAGON near the castle" };
    is_str(names(lb, t1, 1, 0), "dragon,sun", "keys ignore case unless the entry says so; constant always in; disabled never");
    const char *t2[] = { "the Castle of the wyrm" };
    is_str(names(lb, t2, 1, 0), "castle,dragon,sun", "insertion order sorts entries of one position");
    const char *t3[] = { "a category of concatenation" };
    is_str(names(lb, t3, 1, 0), "sun", "whole-word keys do not match inside words");
    const char *t4[] = { "my cat sleeps" };
    is_str(names(lb, t4, 1, 0), "word,sun", "whole-word keys match whole words");
    struct lore_hit hits[8];
    int k = lorebook_match(&lb, 1, t1, 1, 0, hits, 8);
    ok(k == 2 && !strcmp(hits[0].why, "key \"dragon\" in the message"), "why: %s", k ? hits[0].why : "");
    ok(k == 2 && !strcmp(hits[1].why, "constant"), "why: %s", k > 1 ? hits[1].why : "");
    ok(k == 2 && hits[1].entry->position == LORE_AFTER_CHAR, "position after the character");
    lorebook_free(lb);

    /* Scan depth: only the newest messages count. */
    lb = book("{\"scan_depth\":2,\"entries\":[{\"name\":\"tea\",\"keys\":[\"tea\"],\"content\":\"Tea.\"},"
              "{\"name\":\"deep\",\"keys\":[\"coffee\"],\"content\":\"Coffee.\",\"extensions\":{\"scan_depth\":4}}]}");
    const char *t5[] = { "hello", "how are you", "I like tea and coffee" };
    is_str(names(lb, t5, 3, 0), "deep", "scan_depth 2 ignores the third message back; an entry's own depth reaches it");
    const char *t6[] = { "hello", "I like tea" };
    is_str(names(lb, t6, 2, 0), "tea", "within the depth it matches");
    k = lorebook_match(&lb, 1, t6, 2, 0, hits, 8);
    ok(k == 1 && !strcmp(hits[0].why, "key \"tea\" 1 message back"), "why: %s", k ? hits[0].why : "");
    lorebook_free(lb);

    /* Selective logic. */
    lb = book("{\"entries\":["
        "{\"name\":\"and_any\",\"keys\":[\"king\"],\"selective\":true,\"secondary_keys\":[\"crown\",\"throne\"],\"content\":\"a\",\"extensions\":{\"selectiveLogic\":0}},"
        "{\"name\":\"and_all\",\"keys\":[\"king\"],\"selective\":true,\"secondary_keys\":[\"crown\",\"throne\"],\"content\":\"b\",\"extensions\":{\"selectiveLogic\":3}},"
        "{\"name\":\"not_any\",\"keys\":[\"king\"],\"selective\":true,\"secondary_keys\":[\"crown\",\"throne\"],\"content\":\"c\",\"extensions\":{\"selectiveLogic\":2}},"
        "{\"name\":\"not_all\",\"keys\":[\"king\"],\"selective\":true,\"secondary_keys\":[\"crown\",\"throne\"],\"content\":\"d\",\"extensions\":{\"selectiveLogic\":1}}"
        "]}");
    const char *s1[] = { "the king" };
    is_str(names(lb, s1, 1, 0), "not_any,not_all", "no secondary key: NOT ANY and NOT ALL");
    const char *s2[] = { "the king and his crown" };
    is_str(names(lb, s2, 1, 0), "and_any,not_all", "one secondary key: AND ANY and NOT ALL");
    const char *s3[] = { "the king, his crown and throne" };
    is_str(names(lb, s3, 1, 0), "and_any,and_all", "all secondary keys: AND ANY and AND ALL");
    lorebook_free(lb);

    /* Regex keys, both ways of writing them. */
    lb = book("{\"entries\":["
        "{\"name\":\"num\",\"keys\":[\"room [0-9]+\"],\"use_regex\":true,\"content\":\"Rooms.\"},"
        "{\"name\":\"slash\",\"keys\":[\"/colou?r/i\"],\"content\":\"Colours.\"}]}");
    const char *r1[] = { "go to Room 42, the COLOR is red" };
    is_str(names(lb, r1, 1, 0), "num,slash", "use_regex (case-insensitive by default) and /pattern/flags keys");
    const char *r2[] = { "a room without number" };
    is_str(names(lb, r2, 1, 0), "", "a regex that does not match");
    lorebook_free(lb);

    /* Budget: the lowest priority goes first. */
    lb = book("{\"token_budget\":10,\"entries\":["
        "{\"name\":\"low\",\"keys\":[\"x\"],\"priority\":1,\"content\":\"aaaaaaaaaaaaaaaaaaaaaaaa\"},"
        "{\"name\":\"high\",\"keys\":[\"x\"],\"priority\":9,\"content\":\"bbbbbbbbbbbbbbbbbbbbbbbb\"}]}");
    const char *b1[] = { "x" };
    is_str(names(lb, b1, 1, 0), "high", "over the budget, the lower priority entry is cut");
    lorebook_free(lb);

    /* Recursion with a cap: a -> b -> c -> d, cap 2. */
    lb = book("{\"recursive_scanning\":true,\"max_recursion\":2,\"entries\":["
        "{\"name\":\"a\",\"keys\":[\"alpha\"],\"content\":\"see beta\"},"
        "{\"name\":\"b\",\"keys\":[\"beta\"],\"content\":\"see gamma\"},"
        "{\"name\":\"c\",\"keys\":[\"gamma\"],\"content\":\"see delta\"},"
        "{\"name\":\"d\",\"keys\":[\"delta\"],\"content\":\"the end\"},"
        "{\"name\":\"x\",\"keys\":[\"beta\"],\"content\":\"only from chat\",\"extensions\":{\"exclude_recursion\":true}}]}");
    const char *c1[] = { "alpha" };
    is_str(names(lb, c1, 1, 0), "a,b,c", "recursion follows entries' content up to the cap");
    k = lorebook_match(&lb, 1, c1, 1, 0, hits, 8);
    ok(k == 3 && !strcmp(hits[1].why, "key \"beta\" in entry \"a\" (recursion 1)"), "why: %s", k > 1 ? hits[1].why : "");
    lorebook_free(lb);

    /* Depth position and decorators. */
    lb = book("{\"entries\":[{\"name\":\"d\",\"keys\":[\"moon\"],\"content\":\"@@depth 2\\n@@role user\\nThe moon is full.\"},"
              "{\"name\":\"st\",\"keys\":[\"sun\"],\"content\":\"Sun.\",\"extensions\":{\"position\":4,\"depth\":1,\"role\":2}}]}");
    const char *d1[] = { "moon and sun" };
    k = lorebook_match(&lb, 1, d1, 1, 0, hits, 8);
    ok(k == 2 && hits[0].entry->position == LORE_AT_DEPTH, "both at a depth");
    ok(k == 2 && !strcmp(hits[0].entry->content, "The moon is full.") && hits[0].entry->depth == 2 &&
       !strcmp(hits[0].entry->role, "user"), "decorators set depth and role and leave the content");
    ok(k == 2 && hits[1].entry->depth == 1 && !strcmp(hits[1].entry->role, "assistant"), "SillyTavern's position 4 and depth");
    lorebook_free(lb);

    /* SillyTavern world info: entries keyed by uid, "key"/"keysecondary". */
    lb = book("{\"entries\":{\"0\":{\"uid\":0,\"key\":[\"elf\"],\"keysecondary\":[],\"comment\":\"Elves\",\"content\":\"Elves live long.\",\"order\":100,\"position\":0}}}");
    const char *w1[] = { "an elf" };
    is_str(names(lb, w1, 1, 0), "Elves", "a SillyTavern world info file");
    lorebook_free(lb);

    char err[300];
    json_t *bad = json_loads("{\"entries\":[{\"keys\":[\"(a)\\\\1\"],\"use_regex\":true}]}", 0, NULL);
    ok(!lorebook_compile(bad, "book", err, sizeof(err)) && strstr(err, "book.entries[0].keys[0]: backreferences"), "backreferences refused: %s", err);
    json_decref(bad);
    bad = json_loads("{\"entries\":[{\"keys\":[\"a\"],\"content\":7}]}", 0, NULL);
    ok(!lorebook_compile(bad, "book", err, sizeof(err)) && strstr(err, "book.entries[0].content"), "a bad field named: %s", err);
    json_decref(bad);
    return done_testing();
}
