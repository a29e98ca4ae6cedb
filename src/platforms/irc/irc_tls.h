/* irc_tls.h - TLS for ircs:// over a libuv stream: OpenSSL on memory BIOs,
 * the server certificate checked against the system CAs (or CA_FILE) and
 * the host name (or IP address). */
#ifndef CHORUS_IRC_TLS_H
#define CHORUS_IRC_TLS_H
#include <stddef.h>

struct irc_tls;

/* Returns NULL with a reason in ERR. */
struct irc_tls *irc_tls_new(const char *host, const char *ca_file, char *err, size_t errlen);
void irc_tls_free(struct irc_tls *t);
/* Start (or continue) the handshake. 1 when done, 0 while in progress, -1 on failure. */
int irc_tls_handshake(struct irc_tls *t, char *err, size_t errlen);
/* Ciphertext from the socket in; plaintext out into OUT (room OUTLEN).
 * Returns the plaintext bytes, or -1 on a TLS error. */
long irc_tls_read(struct irc_tls *t, const char *in, size_t n, char *out, size_t outlen, char *err, size_t errlen);
/* Encrypt plaintext for the socket. 0 or -1. */
int irc_tls_write(struct irc_tls *t, const char *plain, size_t n);
/* Ciphertext waiting for the socket: a malloc'd buffer (*len bytes), or NULL. */
char *irc_tls_take_output(struct irc_tls *t, size_t *len);
#endif
