/* webhook_auth.c - shared-secret and HMAC-SHA256 checks for webhook routes.
 *
 * Secrets are compared by hashing both sides with SHA-256 and comparing
 * the digests with CRYPTO_memcmp(), so the time taken depends only on the
 * lengths, never on how many leading bytes happen to be right. Signatures
 * are decoded from hex and compared the same way. The HMAC is fed the
 * timestamp, a '.', and the body in turn, so the body is never copied. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "lib/webhook_auth.h"

#define MAC_LEN 32                      /* SHA-256 output */
#define MAX_TIMESTAMP_DIGITS 18         /* always fits in a long long */

/* Fill err when the caller gave room for it, so a NULL err is safe. */
__attribute__((format(printf, 3, 4)))
static void set_error(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;

    if (err == NULL || errlen == 0) return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* SHA-256 of a string, so two strings of any lengths compare in a fixed
 * number of steps. Returns 0, or -1 if libcrypto fails. */
static int sha256_of(const char *s, size_t len, unsigned char out[MAC_LEN]) {
    unsigned int outlen = 0;

    if (!EVP_Digest(s, len, out, &outlen, EVP_sha256(), NULL) || outlen != MAC_LEN) return -1;
    return 0;
}

/* Plain secrets: equal digests and equal lengths, and never an empty
 * secret, which would mean the route was left unconfigured. */
int webhook_secret_ok(const char *expected, const char *presented) {
    unsigned char a[MAC_LEN], b[MAC_LEN];
    size_t elen, plen;
    int same;

    if (expected == NULL || presented == NULL) return 0;
    elen = strlen(expected);
    plen = strlen(presented);
    if (sha256_of(expected, elen, a) != 0 || sha256_of(presented, plen, b) != 0) return 0;
    same = CRYPTO_memcmp(a, b, MAC_LEN) == 0;
    return elen > 0 && elen == plen && same;
}

/* HMAC-SHA256 of "<timestamp>.<body>" under SECRET into MAC. Returns 0, or
 * -1 if libcrypto fails. */
static int hmac_compute(const char *secret, const char *timestamp, const char *body,
                        size_t body_len, unsigned char mac[MAC_LEN]) {
    EVP_MAC *hmac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    char digest[] = "SHA256";
    size_t maclen = 0;
    int rc = -1;

    if (secret == NULL) secret = "";
    if (timestamp == NULL) timestamp = "";
    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (hmac == NULL) goto out;
    ctx = EVP_MAC_CTX_new(hmac);
    if (ctx == NULL) goto out;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    /* The key pointer is never NULL: NULL would mean "keep the old key". */
    if (!EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params)) goto out;
    if (!EVP_MAC_update(ctx, (const unsigned char *)timestamp, strlen(timestamp))) goto out;
    if (!EVP_MAC_update(ctx, (const unsigned char *)".", 1)) goto out;
    if (body_len > 0 && !EVP_MAC_update(ctx, (const unsigned char *)body, body_len)) goto out;
    if (!EVP_MAC_final(ctx, mac, &maclen, MAC_LEN) || maclen != MAC_LEN) goto out;
    rc = 0;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    return rc;
}

/* Value of one hex digit, or -1. */
static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode "sha256=<hex>" or bare hex into 32 bytes. Returns 0, or -1 if it
 * is not exactly 64 hex digits after the optional prefix. */
static int decode_signature(const char *sig, unsigned char out[MAC_LEN]) {
    if (strncmp(sig, "sha256=", 7) == 0) sig += 7;
    if (strlen(sig) != 2 * MAC_LEN) return -1;
    for (int i = 0; i < MAC_LEN; i++) {
        int hi = hex_value(sig[2 * i]), lo = hex_value(sig[2 * i + 1]);

        if (hi < 0 || lo < 0) return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int webhook_signature_canonical(const char *sig, char out[65]) {
    unsigned char mac[MAC_LEN];
    static const char digits[] = "0123456789abcdef";
    out[0] = '\0';
    if (!sig || decode_signature(sig, mac) != 0) return -1;
    for (int i = 0; i < MAC_LEN; i++) {
        out[2 * i] = digits[mac[i] >> 4];
        out[2 * i + 1] = digits[mac[i] & 15];
    }
    out[2 * MAC_LEN] = '\0';
    return 0;
}

/* Parse a timestamp of plain decimal digits. Returns 0, or -1 if there is
 * a sign, a blank, anything else, or too many digits. */
static int parse_timestamp(const char *s, long long *out) {
    long long v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > MAX_TIMESTAMP_DIGITS) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* |TS - NOW| <= WINDOW, worked out in unsigned arithmetic so no pair of
 * values can overflow. */
static int within_window(long long ts, long long now, long window) {
    unsigned long long diff;

    if (window < 0) return 0;
    if (ts >= now) diff = (unsigned long long)ts - (unsigned long long)now;
    else diff = (unsigned long long)now - (unsigned long long)ts;
    return diff <= (unsigned long long)window;
}

/* Check the cheap things first (presence, shape, clock) and only then
 * spend an HMAC on the body. */
int webhook_hmac_check(const char *secret, const char *timestamp, const char *signature,
                       const char *body, size_t body_len, long long now, long window,
                       char *err, size_t errlen) {
    unsigned char want[MAC_LEN], got[MAC_LEN];
    long long ts;

    if (err && errlen) err[0] = '\0';
    if (signature == NULL || signature[0] == '\0') {
        set_error(err, errlen, "missing signature");
        return -1;
    }
    if (decode_signature(signature, got) != 0) {
        set_error(err, errlen, "malformed signature");
        return -1;
    }
    if (timestamp == NULL || timestamp[0] == '\0') {
        set_error(err, errlen, "missing timestamp");
        return -1;
    }
    if (parse_timestamp(timestamp, &ts) != 0) {
        set_error(err, errlen, "malformed timestamp");
        return -1;
    }
    if (!within_window(ts, now, window)) {
        set_error(err, errlen, "timestamp outside the allowed window");
        return -1;
    }
    if (secret == NULL || secret[0] == '\0') {
        set_error(err, errlen, "signature mismatch");
        return -1;
    }
    if (hmac_compute(secret, timestamp, body, body_len, want) != 0) {
        set_error(err, errlen, "could not compute the signature");
        return -1;
    }
    if (CRYPTO_memcmp(want, got, MAC_LEN) != 0) {
        set_error(err, errlen, "signature mismatch");
        return -1;
    }
    return 0;
}

/* The signing side, for tests and for documentation examples. */
void webhook_hmac_sign(const char *secret, const char *timestamp, const char *body,
                       size_t body_len, char out[65]) {
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[MAC_LEN];

    if (hmac_compute(secret, timestamp, body, body_len, mac) != 0) {
        out[0] = '\0';
        return;
    }
    for (int i = 0; i < MAC_LEN; i++) {
        out[2 * i] = digits[mac[i] >> 4];
        out[2 * i + 1] = digits[mac[i] & 0x0F];
    }
    out[2 * MAC_LEN] = '\0';
}
