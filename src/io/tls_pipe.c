/* tls_pipe.c - OpenSSL on memory BIOs (tls_pipe.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "lib/xalloc.h"
#include "io/tls_pipe.h"

struct tls_pipe {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in, *out;                  /* socket -> SSL, SSL -> socket */
    int done;
};

/* The last OpenSSL error (and the verify result) as a sentence. */
static void tls_error(struct tls_pipe *t, const char *what, char *err, size_t errlen) {
    long v = t->ssl ? SSL_get_verify_result(t->ssl) : X509_V_OK;
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e) ERR_error_string_n(e, buf, sizeof(buf));
    if (v != X509_V_OK) snprintf(err, errlen, "%s: certificate not trusted (%s)", what, X509_verify_cert_error_string(v));
    else snprintf(err, errlen, "%s: %s", what, *buf ? buf : "TLS error");
    ERR_clear_error();
}

/* A client context that verifies the peer against the system's CAs. */
static SSL_CTX *context_new(void) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_default_verify_paths(ctx);
    return ctx;
}

/* The context of every pipe without a CA file of its own: made once, as
 * loading the system's CA bundle costs a megabyte and a few milliseconds. */
static SSL_CTX *shared_context(void) {
    static SSL_CTX *shared;
    if (!shared) shared = context_new();
    if (shared) SSL_CTX_up_ref(shared);
    return shared;
}

/* Verify the peer always: by name, or by IP when HOST is an address. */
struct tls_pipe *tls_pipe_new(const char *host, const char *ca_file, char *err, size_t errlen) {
    struct tls_pipe *t = xcalloc(1, sizeof(*t));
    int own = ca_file && *ca_file;
    t->ctx = own ? context_new() : shared_context();
    if (!t->ctx) goto fail;
    if (own && SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1) {
        tls_error(t, "cannot read ca_file", err, errlen);
        tls_pipe_free(t);
        return NULL;
    }
    t->ssl = SSL_new(t->ctx);
    if (!t->ssl) goto fail;
    unsigned char addr[16];
    int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
    } else {
        SSL_set_tlsext_host_name(t->ssl, host);
        SSL_set1_host(t->ssl, host);
    }
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    SSL_set_bio(t->ssl, t->in, t->out);
    SSL_set_connect_state(t->ssl);
    return t;
fail:
    tls_error(t, "TLS setup", err, errlen);
    tls_pipe_free(t);
    return NULL;
}

void tls_pipe_free(struct tls_pipe *t) {
    if (!t) return;
    if (t->ssl) SSL_free(t->ssl);     /* frees the BIOs */
    if (t->ctx) SSL_CTX_free(t->ctx);
    free(t);
}

int tls_pipe_handshake(struct tls_pipe *t, char *err, size_t errlen) {
    if (t->done) return 1;
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->done = 1;
        return 1;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    tls_error(t, "TLS handshake", err, errlen);
    return -1;
}

long tls_pipe_read(struct tls_pipe *t, const char *in, size_t n, char *out, size_t outlen, char *err, size_t errlen) {
    if (n && BIO_write(t->in, in, (int)n) != (int)n) return -1;
    if (!t->done) {
        int h = tls_pipe_handshake(t, err, errlen);
        if (h <= 0) return h;
    }
    size_t got = 0;
    while (got < outlen) {
        int r = SSL_read(t->ssl, out + got, (int)(outlen - got));
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        if (e == SSL_ERROR_ZERO_RETURN) break;
        tls_error(t, "TLS read", err, errlen);
        return -1;
    }
    return (long)got;
}

int tls_pipe_ready(const struct tls_pipe *t) {
    return t && t->done;
}

int tls_pipe_write(struct tls_pipe *t, const char *plain, size_t n) {
    return SSL_write(t->ssl, plain, (int)n) == (int)n ? 0 : -1;
}

char *tls_pipe_take_output(struct tls_pipe *t, size_t *len) {
    size_t n = BIO_ctrl_pending(t->out);
    *len = 0;
    if (!n) return NULL;
    char *buf = xmalloc(n);
    int r = BIO_read(t->out, buf, (int)n);
    if (r <= 0) {
        free(buf);
        return NULL;
    }
    *len = (size_t)r;
    return buf;
}
