/* test_redis_format.c - redis_format_command must write the same bytes as
 * hiredis's redisFormatCommandArgv, which it replaces on the send path. */
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "io/redis_client.h"
#include "tap.h"

/* 1 if both writers give the same command for these arguments. */
static int agree(int argc, const char **argv, const size_t *lens) {
    char *a = NULL;
    long la = redisFormatCommandArgv(&a, argc, argv, lens);
    size_t lb = 0;
    char *b = redis_format_command(argc, argv, lens, &lb);
    int same = a && b && la >= 0 && (size_t)la == lb && memcmp(a, b, lb) == 0;
    redisFreeCommand(a);
    free(b);
    return same;
}

int main(void) {
    const char *get[] = { "GET", "chorus:{discord:1}:persona" };
    ok(agree(2, get, NULL), "a plain command, lengths from strlen");

    const char *bin[] = { "SET", "k", "a\0b\r\n" };
    size_t binlen[] = { 3, 1, 6 };
    ok(agree(3, bin, binlen), "binary bytes, NUL and CRLF inside an argument");

    const char *empty[] = { "EVALSHA", "", "0" };
    ok(agree(3, empty, NULL), "an empty argument");

    /* Random argument counts and sizes, up to 10 digits of length. */
    static char bufs[40][3000];
    int bad = 0;
    srand(7);
    for (int t = 0; t < 5000 && !bad; t++) {
        int argc = 1 + rand() % 39;
        const char *argv[40];
        size_t lens[40];
        for (int i = 0; i < argc; i++) {
            size_t n = rand() % 4 == 0 ? (size_t)(rand() % 3000) : (size_t)(rand() % 15);
            for (size_t k = 0; k < n; k++) bufs[i][k] = (char)(rand() % 256);
            argv[i] = bufs[i];
            lens[i] = n;
        }
        if (!agree(argc, argv, lens)) bad = t + 1;
    }
    ok(!bad, "5,000 random commands agree (first disagreement: %d)", bad);
    return done_testing();
}
