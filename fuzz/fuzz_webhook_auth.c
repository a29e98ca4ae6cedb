/* fuzz_webhook_auth.c - webhook signatures and shared secrets
 * (lib/webhook_auth.c), as a caller of a plugin's webhook route sends
 * them. Checks: only the right HMAC passes, in any accepted spelling;
 * every refusal says why; plain secrets match only when equal. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/webhook_auth.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    long long now = (long long)fuzz_uint(&in, 8);
    long window = (long)(fuzz_uint(&in, 4) % 1000) - 5;
    unsigned mode = fuzz_byte(&in);
    char *secret = fuzz_str(&in, 0, NULL);
    char *timestamp = fuzz_str(&in, 0, NULL);
    char *signature = fuzz_str(&in, 0, NULL);
    size_t body_len;
    const char *body = (const char *)fuzz_rest(&in, &body_len);
    char err[128];

    /* What an attacker sends, as is. */
    int rc = webhook_hmac_check(secret, timestamp, signature, body, body_len, now, window, err, sizeof(err));
    if (rc == 0) {
        char want[65];
        webhook_hmac_sign(secret, timestamp, body, body_len, want);
        const char *hex = !strncmp(signature, "sha256=", 7) ? signature + 7 : signature;
        if (strlen(hex) != 64 || strncasecmp(hex, want, 64) != 0) {
            fprintf(stderr, "a wrong signature passed\n");
            abort();
        }
    } else if (rc != -1 || !*err) {
        abort();
    }

    /* The right signature, signed now: it passes in every spelling, and
     * fails once one digit changes. */
    if (*secret && (mode & 1)) {
        char ts[32], sig[80];
        long long t = now & 0xFFFFFFFFFFFFFLL;           /* 0 .. 2^52: a plain timestamp */
        snprintf(ts, sizeof(ts), "%lld", t);
        if (strlen(ts) <= 18) {
            char want[65];
            webhook_hmac_sign(secret, ts, body, body_len, want);
            snprintf(sig, sizeof(sig), "%s%s", (mode & 2) ? "sha256=" : "", want);
            if (mode & 4)
                for (char *p = sig + ((mode & 2) ? 7 : 0); *p; p++) *p = (char)toupper((unsigned char)*p);
            if (webhook_hmac_check(secret, ts, sig, body, body_len, t, 0, err, sizeof(err)) != 0) {
                fprintf(stderr, "a right signature failed: %s\n", err);
                abort();
            }
            size_t k = ((mode & 2) ? 7 : 0) + (mode >> 3) % 64;
            sig[k] = sig[k] == '0' ? '1' : '0';
            if (webhook_hmac_check(secret, ts, sig, body, body_len, t, 0, err, sizeof(err)) == 0) {
                fprintf(stderr, "a changed signature passed\n");
                abort();
            }
        }
    }

    int same = webhook_secret_ok(secret, signature);
    if (same != (*secret && !strcmp(secret, signature))) abort();
    if (webhook_secret_ok(secret, NULL) || webhook_secret_ok(NULL, signature) || webhook_secret_ok("", "")) abort();
    free(secret);
    free(timestamp);
    free(signature);
    return 0;
}
