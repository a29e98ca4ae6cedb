/* webhook_auth.h - checking that a request to a plugin's webhook route
 * really comes from the service the route was set up for: either a shared
 * secret sent as is, or an HMAC-SHA256 signature over a timestamp and the
 * body. Both compare in constant time. Needs libcrypto (OpenSSL 3). */
#ifndef CHORUS_WEBHOOK_AUTH_H
#define CHORUS_WEBHOOK_AUTH_H
#include <stddef.h>

/* 1 if PRESENTED equals EXPECTED, else 0. The time taken does not depend
 * on where the strings first differ; lengths may differ. An empty or NULL
 * EXPECTED never matches, so an unset secret cannot be satisfied by an
 * empty header. */
int webhook_secret_ok(const char *expected, const char *presented);

/* Verify SIGNATURE, the HMAC-SHA256 with key SECRET of "<timestamp>.<body>".
 * SIGNATURE is "sha256=<64 hex>" or bare hex, in either case. TIMESTAMP is
 * unix seconds as a plain decimal string and must be within WINDOW seconds
 * of NOW, either way. Returns 0 when valid, or -1 with one of these reasons
 * in err: "missing signature", "malformed signature", "missing timestamp",
 * "malformed timestamp", "timestamp outside the allowed window",
 * "signature mismatch" (also given for an empty or NULL SECRET), or
 * "could not compute the signature" (libcrypto failed). BODY may be NULL
 * when BODY_LEN is 0. */
int webhook_hmac_check(const char *secret, const char *timestamp, const char *signature,
                       const char *body, size_t body_len, long long now, long window,
                       char *err, size_t errlen);

/* The MAC of SIGNATURE (any accepted spelling: prefix or not, any case) as
 * 64 lower-case hex digits in OUT, so one MAC has one replay key. Returns
 * 0, or -1 (OUT empty) when it is malformed. */
int webhook_signature_canonical(const char *sig, char out[65]);

/* Compute the lower-case hex signature of "<timestamp>.<body>" under
 * SECRET into OUT (64 hex characters and a NUL). On a libcrypto failure
 * OUT is set to the empty string. */
void webhook_hmac_sign(const char *secret, const char *timestamp, const char *body,
                       size_t body_len, char out[65]);
#endif
