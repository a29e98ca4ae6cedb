/* redact.h - masking secrets in log lines and error messages.
 *
 * Anything that may reach a log or an error reply goes through redact()
 * first. It masks the literal secrets the daemon was configured with and
 * the common shapes credentials take in text: Authorization schemes, URL
 * passwords, token query parameters and API key headers. */
#ifndef CHORUS_REDACT_H
#define CHORUS_REDACT_H

#include <stddef.h>

/* Remember a literal secret (API key, token, Redis password) so redact()
 * masks it. Ignores NULL and strings shorter than 4 bytes. Keeps its own
 * copy. Returns 0, or -1 if out of memory (the secret is then NOT masked,
 * so the caller should treat it as fatal). */
int redact_add_secret(const char *secret);

/* Forget all registered secrets (used on config reload and at exit; frees
 * memory). */
void redact_clear(void);

/* Copy `in` into out[0..outsz) (always NUL-terminated, truncating if
 * needed) with secrets masked as "***". Returns the length written. */
size_t redact(const char *in, char *out, size_t outsz);

#endif
