/* test_memfind.c - memfind must find what memmem finds, wherever it is. */
#include <stdlib.h>
#include <string.h>
#include "lib/memfind.h"
#include "tap.h"

int main(void) {
    static const char text[] = "{\"author\":{\"id\":\"7\",\"bot\":true},\"content\":\"a bot\\\":true? no\"}";
    ok(memfind(text, sizeof(text) - 1, "\"bot\":true", 10) == memmem(text, sizeof(text) - 1, "\"bot\":true", 10),
       "a marker in a payload is found where memmem finds it");
    ok(memfind(text, sizeof(text) - 1, "\"bot\":false", 11) == NULL, "an absent marker is NULL");
    ok(memfind(text, 5, "", 0) == text, "an empty needle is found at the start");
    ok(memfind("ab", 2, "abc", 3) == NULL, "a needle longer than the text is NULL");

    /* Random texts over a small alphabet (many near misses), every needle
     * length and every cut of the text: the same answer as memmem. */
    unsigned seed = 7;
    int bad = 0;
    char hay[300], needle[24];
    for (int it = 0; it < 20000; it++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 8) % sizeof(hay);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            hay[i] = "ab\"t:"[(seed >> 16) % 5];
        }
        seed = seed * 1103515245u + 12345u;
        size_t m = 1 + (seed >> 8) % (sizeof(needle) - 1);
        if (n >= m && (seed >> 20) % 2) {   /* half the time a needle taken from the text */
            size_t at = (seed >> 4) % (n - m + 1);
            memcpy(needle, hay + at, m);
        } else {
            for (size_t i = 0; i < m; i++) {
                seed = seed * 1103515245u + 12345u;
                needle[i] = "ab\"t:"[(seed >> 16) % 5];
            }
        }
        if (memfind(hay, n, needle, m) != memmem(hay, n, needle, m)) bad++;
    }
    ok(bad == 0, "20000 random searches agree with memmem (%d did not)", bad);
    return done_testing();
}
