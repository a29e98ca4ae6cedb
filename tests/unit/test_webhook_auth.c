/* test_webhook_auth.c - unit tests for src/webhook_auth.c.
 *
 * The story: a service calls a plugin's webhook route with a signature
 * header and a timestamp header. Real signatures pass in every spelling
 * the header may use; a flipped bit, the wrong secret, a replay from last
 * week or a clock far in the future fail, and each refusal says why in the
 * exact words the gateway logs. The expected signatures below were made
 * with `openssl dgst -sha256 -hmac`, not with the code under test. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "tap.h"
#include "lib/webhook_auth.h"

#define SECRET "whsec_5f2b8c"
#define TS "1700000000"
#define NOW 1700000000LL
#define BODY "{\"event\":\"ping\",\"id\":42}"

/* printf '%s' '1700000000.{"event":"ping","id":42}' | openssl dgst -sha256 -hmac 'whsec_5f2b8c' */
#define SIG_PING "3f4666b021e9ecd1540147659c1a76a145a6531fedf8c3b8d674e1c8c0bb66d3"
/* printf '%s' '1700000000.' | openssl dgst -sha256 -hmac 'whsec_5f2b8c' */
#define SIG_EMPTY_BODY "be107a53d70cee2201c1de1c52c5cf8514ac55d7a7f673fcd64fc2d5d7440aba"
/* printf '%s' "1712345678.hello world" | openssl dgst -sha256 -hmac "It's a secret, with spaces" */
#define SIG_SPACES "d46ae9f5c294894df7c064097a3ce5330e4cd1495c53b749bce90bbe32db7f3b"
/* printf '%s' '0.' | openssl dgst -sha256 -hmac 'k' */
#define SIG_ZERO "6b4a4b8b3c40f1e8f53a3d36682e5f99f7ad2ac1df1c93dfe336f329167641e7"
/* printf '1700000000.a\0b' | openssl dgst -sha256 -hmac 'whsec_5f2b8c' */
#define SIG_NUL "5dbf800fa686d77a5e29b001b83c36a0b2a685b038e61dc3c1bfd230708d1cc7"
/* printf '1.x' | openssl dgst -sha256 -mac HMAC -macopt hexkey:<100 bytes of 'k'> */
#define SIG_LONG_KEY "8dc72019a8a249d8f2d36e36fac06f4497511f4f50cfee8600a5d97fb8a91da5"
/* printf '1700000000.x' | openssl dgst -sha256 -hmac '' */
#define SIG_EMPTY_KEY "5f66237d185567fe84e95bb13e7854764e9942875798fd242255b6ba433d220d"

/* Run the check and return its reason ("" when it passed), so each test
 * line states the exact outcome it expects. */
static const char *check(const char *secret, const char *ts, const char *sig,
                         const char *body, size_t body_len, long long now, long window,
                         int *rc) {
    static char err[128];

    memset(err, 'X', sizeof err);       /* prove the function writes err */
    *rc = webhook_hmac_check(secret, ts, sig, body, body_len, now, window, err, sizeof err);
    return err;
}

/* Expect the ping signature check to pass. */
static void passes(const char *what, const char *secret, const char *ts, const char *sig,
                   const char *body, size_t body_len, long long now, long window) {
    int rc;
    const char *err = check(secret, ts, sig, body, body_len, now, window, &rc);

    if (!is_int(rc, 0, "%s passes", what)) printf("# reason: %s\n", err);
    is_str(err, "", "  and leaves err empty");
}

/* Expect a refusal with exactly REASON. */
static void fails(const char *what, const char *reason, const char *secret, const char *ts,
                  const char *sig, const char *body, size_t body_len, long long now, long window) {
    int rc;
    const char *err = check(secret, ts, sig, body, body_len, now, window, &rc);

    is_int(rc, -1, "%s fails", what);
    is_str(err, reason, "  because of a %s", reason);
}

/* Upper-case copy of S into OUT. */
static void upper(const char *s, char *out, size_t len) {
    size_t i;

    for (i = 0; s[i] && i + 1 < len; i++) out[i] = (char)toupper((unsigned char)s[i]);
    out[i] = '\0';
}

static void test_sign(void) {
    char out[65];
    static const char nul_body[] = { 'a', '\0', 'b' };
    char long_key[101];

    webhook_hmac_sign(SECRET, TS, BODY, strlen(BODY), out);
    is_str(out, SIG_PING, "sign: the ping body matches openssl");
    webhook_hmac_sign(SECRET, TS, "", 0, out);
    is_str(out, SIG_EMPTY_BODY, "sign: an empty body still signs '<ts>.'");
    webhook_hmac_sign(SECRET, TS, NULL, 0, out);
    is_str(out, SIG_EMPTY_BODY, "sign: a NULL body of length 0 is the empty body");
    webhook_hmac_sign("It's a secret, with spaces", "1712345678", "hello world", 11, out);
    is_str(out, SIG_SPACES, "sign: a secret with spaces and quotes");
    webhook_hmac_sign("k", "0", "", 0, out);
    is_str(out, SIG_ZERO, "sign: timestamp 0");
    webhook_hmac_sign(SECRET, TS, nul_body, sizeof nul_body, out);
    is_str(out, SIG_NUL, "sign: a body with a NUL byte is signed by length");
    memset(long_key, 'k', 100);
    long_key[100] = '\0';
    webhook_hmac_sign(long_key, "1", "x", 1, out);
    is_str(out, SIG_LONG_KEY, "sign: a key longer than the SHA-256 block");
    webhook_hmac_sign("", TS, "x", 1, out);
    is_str(out, SIG_EMPTY_KEY, "sign: an empty key signs as HMAC defines it");
    webhook_hmac_sign(SECRET, TS, BODY, strlen(BODY) - 1, out);
    ok(strcmp(out, SIG_PING) != 0 && strlen(out) == 64, "sign: only body_len bytes of the body count");
}

static void test_check_passes(void) {
    char up[80];
    size_t n = strlen(BODY);

    passes("sha256= prefix", SECRET, TS, "sha256=" SIG_PING, BODY, n, NOW, 300);
    passes("bare hex", SECRET, TS, SIG_PING, BODY, n, NOW, 300);
    upper(SIG_PING, up, sizeof up);
    passes("upper-case bare hex", SECRET, TS, up, BODY, n, NOW, 300);
    {
        char prefixed[96];
        snprintf(prefixed, sizeof prefixed, "sha256=%s", up);
        passes("sha256= with upper-case hex", SECRET, TS, prefixed, BODY, n, NOW, 300);
    }
    passes("an empty body", SECRET, TS, SIG_EMPTY_BODY, "", 0, NOW, 300);
    passes("a NULL body of length 0", SECRET, TS, SIG_EMPTY_BODY, NULL, 0, NOW, 300);
    passes("a body with a NUL byte", SECRET, TS, SIG_NUL, "a\0b", 3, NOW, 300);
    passes("exactly WINDOW seconds old", SECRET, TS, SIG_PING, BODY, n, NOW + 300, 300);
    passes("exactly WINDOW seconds ahead", SECRET, TS, SIG_PING, BODY, n, NOW - 300, 300);
    passes("a zero window at the same second", SECRET, TS, SIG_PING, BODY, n, NOW, 0);
    passes("timestamp 0 with a huge window", "k", "0", SIG_ZERO, "", 0, NOW, 2000000000L);
}

static void test_check_fails(void) {
    char body[64], sig[80];
    size_t n = strlen(BODY);

    /* a single flipped bit anywhere in the body */
    memcpy(body, BODY, n);
    body[5] = (char)(body[5] ^ 0x01);
    fails("a one-bit change in the body", "signature mismatch", SECRET, TS, SIG_PING, body, n, NOW, 300);
    memcpy(body, BODY, n);
    body[n - 1] = (char)(body[n - 1] ^ 0x80);
    fails("a flipped high bit in the last byte", "signature mismatch", SECRET, TS, SIG_PING, body, n, NOW, 300);
    fails("a truncated body", "signature mismatch", SECRET, TS, SIG_PING, BODY, n - 1, NOW, 300);

    /* a single flipped bit in the signature */
    snprintf(sig, sizeof sig, "%s", SIG_PING);
    sig[63] = sig[63] == '3' ? '2' : '3';
    fails("a changed last hex digit", "signature mismatch", SECRET, TS, sig, BODY, n, NOW, 300);

    fails("the wrong secret", "signature mismatch", "whsec_5f2b8d", TS, SIG_PING, BODY, n, NOW, 300);
    fails("a secret with a trailing space", "signature mismatch", SECRET " ", TS, SIG_PING, BODY, n, NOW, 300);
    fails("an empty secret", "signature mismatch", "", TS, SIG_EMPTY_KEY, "x", 1, NOW, 300);
    fails("a NULL secret", "signature mismatch", NULL, TS, SIG_EMPTY_KEY, "x", 1, NOW, 300);
    fails("another timestamp with the same signature", "signature mismatch",
          SECRET, "1700000001", SIG_PING, BODY, n, NOW, 300);
    fails("a timestamp with a leading zero", "signature mismatch",
          SECRET, "01700000000", SIG_PING, BODY, n, NOW, 300);

    /* stale and future timestamps */
    fails("a timestamp one second too old", "timestamp outside the allowed window",
          SECRET, TS, SIG_PING, BODY, n, NOW + 301, 300);
    fails("a timestamp a week old", "timestamp outside the allowed window",
          SECRET, TS, SIG_PING, BODY, n, NOW + 7 * 86400, 300);
    fails("a timestamp one second too far ahead", "timestamp outside the allowed window",
          SECRET, TS, SIG_PING, BODY, n, NOW - 301, 300);
    fails("a timestamp a year ahead", "timestamp outside the allowed window",
          SECRET, "1731536000", SIG_PING, BODY, n, NOW, 300);
    fails("a negative window", "timestamp outside the allowed window",
          SECRET, TS, SIG_PING, BODY, n, NOW, -1);
    fails("an extreme clock value", "timestamp outside the allowed window",
          SECRET, TS, SIG_PING, BODY, n, -9223372036854775807LL - 1, 300);

    /* missing and malformed inputs */
    fails("a NULL signature", "missing signature", SECRET, TS, NULL, BODY, n, NOW, 300);
    fails("an empty signature", "missing signature", SECRET, TS, "", BODY, n, NOW, 300);
    fails("a bare prefix", "malformed signature", SECRET, TS, "sha256=", BODY, n, NOW, 300);
    fails("63 hex digits", "malformed signature", SECRET, TS, "sha256=3f4666b021e9ecd1540147659c1a76a145a6531fedf8c3b8d674e1c8c0bb66d",
          BODY, n, NOW, 300);
    fails("65 hex digits", "malformed signature", SECRET, TS, SIG_PING "0", BODY, n, NOW, 300);
    fails("a non-hex digit", "malformed signature", SECRET, TS, "sha256=3f4666b021e9ecd1540147659c1a76a145a6531fedf8c3b8d674e1c8c0bb66dg",
          BODY, n, NOW, 300);
    fails("another algorithm's prefix", "malformed signature", SECRET, TS, "sha1=" SIG_PING, BODY, n, NOW, 300);
    fails("a prefix in capitals", "malformed signature", SECRET, TS, "SHA256=" SIG_PING, BODY, n, NOW, 300);
    fails("a trailing newline", "malformed signature", SECRET, TS, SIG_PING "\n", BODY, n, NOW, 300);
    fails("a leading space", "malformed signature", SECRET, TS, " " SIG_PING, BODY, n, NOW, 300);
    fails("a signature repeated twice", "malformed signature", SECRET, TS, SIG_PING "," SIG_PING, BODY, n, NOW, 300);
    fails("a NULL timestamp", "missing timestamp", SECRET, NULL, SIG_PING, BODY, n, NOW, 300);
    fails("an empty timestamp", "missing timestamp", SECRET, "", SIG_PING, BODY, n, NOW, 300);
    fails("a timestamp with letters", "malformed timestamp", SECRET, "17000000OO", SIG_PING, BODY, n, NOW, 300);
    fails("a negative timestamp", "malformed timestamp", SECRET, "-1700000000", SIG_PING, BODY, n, NOW, 300);
    fails("a timestamp with a plus sign", "malformed timestamp", SECRET, "+1700000000", SIG_PING, BODY, n, NOW, 300);
    fails("a timestamp with a blank", "malformed timestamp", SECRET, " 1700000000", SIG_PING, BODY, n, NOW, 300);
    fails("a 19-digit timestamp", "malformed timestamp",
          SECRET, "1700000000000000000", SIG_PING, BODY, n, NOW, 300);
    fails("a fractional timestamp", "malformed timestamp", SECRET, "1700000000.5", SIG_PING, BODY, n, NOW, 300);

    /* the first problem is the one reported */
    fails("no signature and no timestamp", "missing signature", SECRET, NULL, NULL, BODY, n, NOW, 300);
    fails("a bad signature and an old timestamp", "malformed signature", SECRET, "1", "zz", BODY, n, NOW, 300);

    /* err may be NULL */
    is_int(webhook_hmac_check(SECRET, TS, SIG_PING, BODY, n, NOW, 300, NULL, 0), 0,
           "a NULL err buffer is allowed on success");
    is_int(webhook_hmac_check(SECRET, TS, "nope", BODY, n, NOW, 300, NULL, 0), -1,
           "  and on failure");
}

static void test_secret_ok(void) {
    is_int(webhook_secret_ok("s3cret-token", "s3cret-token"), 1, "secret: equal strings match");
    is_int(webhook_secret_ok("s3cret-token", "s3cret-tokeN"), 0, "secret: the last byte differs");
    is_int(webhook_secret_ok("s3cret-token", "S3cret-token"), 0, "secret: the first byte differs");
    is_int(webhook_secret_ok("s3cret-token", "s3cret-toke"), 0, "secret: presented is a prefix");
    is_int(webhook_secret_ok("s3cret-token", "s3cret-token2"), 0, "secret: presented is longer");
    is_int(webhook_secret_ok("s3cret-token", "x"), 0, "secret: much shorter");
    is_int(webhook_secret_ok("s3cret-token", ""), 0, "secret: empty presented");
    is_int(webhook_secret_ok("", ""), 0, "secret: an empty expected secret never matches");
    is_int(webhook_secret_ok("", "anything"), 0, "secret: not even against something");
    is_int(webhook_secret_ok(NULL, "x"), 0, "secret: NULL expected");
    is_int(webhook_secret_ok("x", NULL), 0, "secret: NULL presented");
    is_int(webhook_secret_ok("a", "a"), 1, "secret: one-byte secrets match");
    is_int(webhook_secret_ok("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"), 1, "secret: UTF-8 bytes match");
}

/* One MAC, one replay key, however it is spelt. */
static void test_canonical(void) {
    const char *lower = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const char *upper = "sha256=0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
    const char *mixed = "0123456789aBcDeF0123456789abcdef0123456789ABCDEF0123456789abcdef";
    char a[65], b[65], c[65];
    is_int(webhook_signature_canonical(lower, a), 0, "canonical: bare lower-case hex");
    is_int(webhook_signature_canonical(upper, b), 0, "canonical: prefixed upper case");
    is_int(webhook_signature_canonical(mixed, c), 0, "canonical: mixed case");
    is_int(strcmp(a, lower), 0, "canonical: lower-case hex stays as it is");
    is_int(strcmp(a, b), 0, "canonical: prefix and case do not change the key");
    is_int(strcmp(a, c), 0, "canonical: mixed case gives the same key");
    is_int(webhook_signature_canonical("sha256=zz", a), -1, "canonical: malformed is refused");
    is_int(a[0], 0, "canonical: and leaves an empty key");
}

int main(void) {
    test_canonical();
    test_sign();
    test_check_passes();
    test_check_fails();
    test_secret_ok();
    return done_testing();
}
