/* fuzz_redis_url.c - the Redis URL parser (lib/redis_url.c): no crash,
 * sane fields when it accepts, and a password never echoed in an error. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/redis_url.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    char *url = fuzz_str(&in, 0, NULL);
    char err[256] = "";
    struct redis_url u;
    if (redis_url_parse(url, &u, err, sizeof(err)) == 0) {
        if (!u.host == !u.unix_path) abort();              /* exactly one of them */
        if (u.host && (u.port <= 0 || u.port > 65535 || u.db < 0 || u.db > 1000000 || !*u.host)) abort();
        if (u.unix_path && u.unix_path[0] != '/') abort();
        redis_url_free(&u);
    } else {
        if (!*err) abort();                                 /* a refusal says why */
        if (u.host || u.unix_path || u.user || u.password) abort();   /* nothing leaks */
        /* The userinfo of redis://USERINFO@host never shows in the error
         * (unless the same text is also in the part after the '@'). */
        const char *at = strrchr(url, '@');
        if (!strncmp(url, "redis://", 8) && at && at - url > 8 + 5) {
            size_t n = (size_t)(at - url - 8);
            char *userinfo = strndup(url + 8, n);
            /* A password-like userinfo: letters, digits and one ':'. */
            int plain = 1;
            for (size_t i = 0; i < n; i++) plain &= isalnum((unsigned char)userinfo[i]) || userinfo[i] == ':';
            if (plain && strstr(err, userinfo) && !strstr(at, userinfo) && !strstr("the Redis URL has a bad port", userinfo)) {
                fprintf(stderr, "the error shows the credentials: %s\n", err);
                abort();
            }
            free(userinfo);
        }
    }
    free(url);
    return 0;
}
