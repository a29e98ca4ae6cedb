/* test_json_pool.c - unit tests for src/lib/json_pool.c: jansson works the
 * same through the pool, freed values' blocks serve the next ones, and a
 * block jansson hands out may still be released with free(). */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "lib/json_pool.h"
#include "tap.h"

/* A message-sized object: nested objects, an array, strings of all sizes. */
static json_t *build(int i) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_sprintf("%d", 1000000 + i));
    json_object_set_new(o, "content", json_string("a short message that is a bit longer than a word"));
    json_t *author = json_object();
    json_object_set_new(author, "username", json_string("ann"));
    json_object_set_new(author, "bot", json_false());
    json_object_set_new(o, "author", author);
    json_t *a = json_array();
    for (int k = 0; k < 5; k++) json_array_append_new(a, json_integer(k));
    json_object_set_new(o, "mentions", a);
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    json_object_set_new(o, "big", json_string(big));
    return o;
}

int main(void) {
    json_pool_install();
    char *first = NULL;
    for (int i = 0; i < 2000; i++) {
        json_t *o = build(i);
        char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        if (i == 0) first = strdup(s);
        else if (i == 1999) {
            json_error_t err;
            json_t *back = json_loads(s, 0, &err);
            ok(back != NULL, "a dump made through the pool loads back");
            is_int((long long)json_integer_value(json_array_get(json_object_get(back, "mentions"), 4)), 4, "values survive reuse");
            is_str(json_string_value(json_object_get(json_object_get(back, "author"), "username")), "ann", "nested strings survive reuse");
            is_int((long long)strlen(json_string_value(json_object_get(back, "big"))), 599, "a block too large to pool is whole");
            json_decref(back);
        }
        free(s);                  /* jansson's output released with plain free() */
        json_decref(o);
    }
    ok(first && strncmp(first, "{\"author\":{\"bot\":false,\"username\":\"ann\"},\"big\":\"xxx", 45) == 0 && strstr(first, "\"id\":\"1000000\"") != NULL, "the first dump is right");
    free(first);
    return done_testing();
}
