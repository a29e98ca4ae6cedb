/* tls_pipe.h - TLS over any byte stream (IRC's libuv TCP, ws_client's lws
 * raw socket): OpenSSL on memory BIOs, the server certificate checked
 * against the system CAs (or CA_FILE) and the host name (or IP address).
 * The owner moves ciphertext between the socket and the pipe itself. */
#ifndef CHORUS_TLS_PIPE_H
#define CHORUS_TLS_PIPE_H
#include <stddef.h>

struct tls_pipe;

/* Returns NULL with a reason in ERR. */
struct tls_pipe *tls_pipe_new(const char *host, const char *ca_file, char *err, size_t errlen);
void tls_pipe_free(struct tls_pipe *t);
/* Start (or continue) the handshake. 1 when done, 0 while in progress, -1 on failure. */
int tls_pipe_handshake(struct tls_pipe *t, char *err, size_t errlen);
/* Ciphertext from the socket in; plaintext out into OUT (room OUTLEN).
 * Returns the plaintext bytes, or -1 on a TLS error. */
long tls_pipe_read(struct tls_pipe *t, const char *in, size_t n, char *out, size_t outlen, char *err, size_t errlen);
/* Is the handshake done? */
int tls_pipe_ready(const struct tls_pipe *t);
/* Encrypt plaintext for the socket. 0 or -1. */
int tls_pipe_write(struct tls_pipe *t, const char *plain, size_t n);
/* Ciphertext waiting for the socket: a malloc'd buffer (*len bytes), or NULL. */
char *tls_pipe_take_output(struct tls_pipe *t, size_t *len);
#endif
