/* test_dict.c - unit tests for src/dict.c.
 *
 * The story: the daemon keeps one entry per chat channel it has seen. A few
 * friends talk, one leaves, one changes a value; then a busy server brings
 * ten thousand channels and the table must grow without losing anyone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "lib/dict.h"

#define MANY 10000

/* A few channels: set, get, replace, delete. */
static void test_basics(void) {
    struct dict *d = dict_new();
    int general = 1, chat = 2, chat2 = 3;

    ok(d != NULL, "a new table");
    is_int((long long)dict_size(d), 0, "  starts empty");
    ok(dict_get(d, "general") == NULL, "  an unknown key gives NULL");
    ok(dict_del(d, "general") == NULL, "  deleting an unknown key gives NULL");

    is_int(dict_set(d, "general", &general), 0, "set general");
    is_int(dict_set(d, "random", &chat), 0, "set random");
    is_int((long long)dict_size(d), 2, "  two entries");
    ok(dict_get(d, "general") == &general, "  get general");
    ok(dict_get(d, "random") == &chat, "  get random");
    ok(dict_get(d, "Random") == NULL, "  keys are case-sensitive");
    ok(dict_get(d, "") == NULL, "  the empty key is absent");

    is_int(dict_set(d, "random", &chat2), 0, "replace random");
    ok(dict_get(d, "random") == &chat2, "  get gives the new value");
    is_int((long long)dict_size(d), 2, "  replacing does not add an entry");

    {
        char key[16] = "temp";
        dict_set(d, key, &general);
        strcpy(key, "XXXX");
        ok(dict_get(d, "temp") == &general, "the key is copied, not borrowed");
        ok(dict_get(d, "XXXX") == NULL, "  changing the caller's buffer changes nothing");
        dict_del(d, "temp");
    }

    ok(dict_del(d, "general") == &general, "delete general returns its value");
    ok(dict_get(d, "general") == NULL, "  and it is gone");
    is_int((long long)dict_size(d), 1, "  one entry left");
    ok(dict_del(d, "general") == NULL, "  deleting it again gives NULL");
    ok(dict_get(d, "random") == &chat2, "  random is untouched");

    is_int(dict_set(d, "", &general), 0, "the empty string is a valid key");
    ok(dict_get(d, "") == &general, "  and can be read back");
    ok(dict_set(d, "null", NULL) == 0 && dict_size(d) == 3, "a NULL value is stored too");
    dict_free(d);
    dict_free(NULL);
    ok(1, "dict_free(NULL) is harmless");
}

/* What dict_each saw: how often each of the MANY keys was visited. */
struct visits {
    int seen[MANY];
    int calls;
    int bad;      /* keys or values that do not match */
};

static void count_visit(const char *key, void *value, void *arg) {
    struct visits *v = arg;
    int i;

    v->calls++;
    if (strncmp(key, "channel-", 8) != 0) {
        v->bad++;
        return;
    }
    i = atoi(key + 8);
    if (i < 0 || i >= MANY || value != (void *)(size_t)(i + 1)) {
        v->bad++;
        return;
    }
    v->seen[i]++;
}

/* A busy server: ten thousand channels grow the table through many resizes. */
static void test_growth(void) {
    struct dict *d = dict_new();
    struct visits *v = calloc(1, sizeof *v);
    char key[32];
    int wrong = 0, once = 0, failed = 0;

    for (int i = 0; i < MANY; i++) {
        snprintf(key, sizeof key, "channel-%d", i);
        if (dict_set(d, key, (void *)(size_t)(i + 1)) != 0) failed++;
        if (i == 16 || i == 1000) {
            snprintf(key, sizeof key, "channel-%d", 0);
            if (dict_get(d, key) != (void *)1) wrong++;
        }
    }
    is_int(failed, 0, "10,000 channels are added");
    is_int(wrong, 0, "  the first channel survives the resizes along the way");
    is_int((long long)dict_size(d), MANY, "  size is 10,000");
    for (int i = 0; i < MANY; i++) {
        snprintf(key, sizeof key, "channel-%d", i);
        if (dict_get(d, key) != (void *)(size_t)(i + 1)) wrong++;
    }
    is_int(wrong, 0, "  every channel maps to its own value");
    ok(dict_get(d, "channel-10000") == NULL, "  a channel never added is absent");

    dict_each(d, count_visit, v);
    is_int(v->calls, MANY, "dict_each calls back 10,000 times");
    is_int(v->bad, 0, "  with matching keys and values");
    for (int i = 0; i < MANY; i++)
        if (v->seen[i] == 1) once++;
    is_int(once, MANY, "  visiting every entry exactly once");

    for (int i = 0; i < MANY; i += 2) {
        snprintf(key, sizeof key, "channel-%d", i);
        if (dict_del(d, key) != (void *)(size_t)(i + 1)) wrong++;
    }
    is_int(wrong, 0, "half the channels close and give back their values");
    is_int((long long)dict_size(d), MANY / 2, "  size is 5,000");
    for (int i = 0; i < MANY; i++) {
        snprintf(key, sizeof key, "channel-%d", i);
        void *want = i % 2 ? (void *)(size_t)(i + 1) : NULL;
        if (dict_get(d, key) != want) wrong++;
    }
    is_int(wrong, 0, "  the closed ones are gone and the others remain");

    memset(v, 0, sizeof *v);
    dict_each(d, count_visit, v);
    is_int(v->calls, MANY / 2, "dict_each now visits 5,000 entries");
    once = 0;
    for (int i = 0; i < MANY; i++)
        if (v->seen[i] == (i % 2)) once++;
    is_int(once, MANY, "  exactly the open channels, once each");
    free(v);
    dict_free(d);
}

/* dict_each on an empty table does not call back. */
static void never_called(const char *key, void *value, void *arg) {
    (void)key;
    (void)value;
    (*(int *)arg)++;
}

static void test_each_empty(void) {
    struct dict *d = dict_new();
    int calls = 0;

    dict_each(d, never_called, &calls);
    is_int(calls, 0, "dict_each on an empty table calls nothing");
    dict_set(d, "a", NULL);
    dict_del(d, "a");
    dict_each(d, never_called, &calls);
    is_int(calls, 0, "  nor after its only entry is deleted");
    dict_free(d);
}

/* dict_values hands every value over, once, NULL-terminated, so the
 * caller can free them with the table untouched by its walk. */
static void test_values(void) {
    struct dict *d = dict_new();
    void **none = dict_values(d);
    ok(none && none[0] == NULL, "an empty table's values are just the terminator");
    free(none);
    static int items[3];
    dict_set(d, "a", &items[0]);
    dict_set(d, "b", &items[1]);
    dict_set(d, "c", &items[2]);
    void **all = dict_values(d);
    int seen[3] = { 0, 0, 0 }, n = 0;
    for (void **v = all; *v; v++, n++) seen[(int *)*v - items]++;
    ok(n == 3 && seen[0] == 1 && seen[1] == 1 && seen[2] == 1, "three values, each once (%d)", n);
    free(all);
    dict_free(d);
}

/* dict_key2 gives what snprintf "%s\x1f%s" gives, cut or not. */
static void test_key2(void) {
    const char *as[] = { "", "discord", "a-much-longer-platform-name" };
    const char *bs[] = { "", "123456789012345678", "x" };
    int same = 1;
    for (size_t cap = 1; cap < 48; cap++)
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++) {
                char x[64], y[64];
                memset(x, 'z', sizeof(x));
                memset(y, 'z', sizeof(y));
                dict_key2(x, cap, as[i], bs[k]);
                snprintf(y, cap, "%s\x1f%s", as[i], bs[k]);
                if (memcmp(x, y, sizeof(x)) != 0) same = 0;
            }
    ok(same, "dict_key2 writes the same bytes as snprintf at every buffer size");
}

int main(void) {
    test_key2();
    test_basics();
    test_growth();
    test_each_empty();
    test_values();
    return done_testing();
}
