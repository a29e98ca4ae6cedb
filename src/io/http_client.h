/* http_client.h - non-blocking HTTP requests on curl multi, driven by libuv.
 *
 * One curl multi handle per process, with keep-alive connections shared by
 * every request. A request's callback is called exactly once, from the loop,
 * never from inside http_start(); http_cancel() guarantees it is not called. */
#ifndef CHORUS_HTTP_CLIENT_H
#define CHORUS_HTTP_CLIENT_H
#include <stddef.h>
#include <uv.h>

struct http_client;
struct http_call;

/* A piece of a streamed 2xx body, as it arrives. Return 0 to go on, or
 * nonzero to stop the transfer (the done callback then sees aborted = 1). */
typedef int http_data_fn(const char *chunk, size_t len, void *data);

struct http_request {
    const char *method;            /* "GET", "POST", ... */
    const char *url;
    const char *const *headers;    /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;
    size_t body_len;
    int body_kept;                 /* set: BODY stays valid until the done callback or
                                      http_cancel, so it is sent from where it is, not copied */
    long connect_timeout_ms;       /* 0: 10 s */
    long timeout_ms;               /* whole transfer; 0: 60 s */
    size_t max_body;               /* response cap; 0: 8 MiB (streamed bytes count too) */
    http_data_fn *on_data;         /* set: a 2xx body goes here as it arrives, unbuffered;
                                      other statuses are still buffered for the done callback */
    long first_byte_timeout_ms;    /* with on_data: fail unless a body byte comes by then; 0: none */
};

struct http_response {
    long status;                   /* 0 when no HTTP answer came */
    const char *body;              /* NUL-terminated, may hold NULs */
    size_t body_len;
    const char *error;             /* NULL on a completed exchange, else a plain sentence */
    int timed_out;                 /* total or first-byte timeout */
    int first_byte_timeout;        /* no body byte within first_byte_timeout_ms */
    int aborted;                   /* on_data asked to stop */
    long retry_after_ms;           /* Retry-After, retry-after-ms, else rate-limit resets; -1 */
    const char *content_type;      /* NULL if none */
    size_t streamed;               /* body bytes handed to on_data */
    double total_ms;
    const char *headers;           /* the final response's header lines, "Name: value\r\n"... */
    double first_byte_ms;          /* start to the first body byte; 0 if none */
};

/* Copy the value of response header NAME (any case, surrounding spaces
 * trimmed) into out. Returns its length, or -1 when absent. */
int http_response_header(const struct http_response *res, const char *name, char *out, size_t outlen);

typedef void http_done_fn(const struct http_response *res, void *data);

struct http_client *http_client_new(uv_loop_t *loop);
/* Cancel everything in flight (no callbacks) and release the client. */
void http_client_free(struct http_client *hc);
/* Start a request. Returns NULL (with nothing started) on bad arguments. */
struct http_call *http_start(struct http_client *hc, const struct http_request *req,
                             http_done_fn *cb, void *data);
void http_cancel(struct http_call *call);
/* While on_data runs: the response's status and Content-Type (NULL if none). */
long http_call_status(struct http_call *call);
const char *http_call_content_type(struct http_call *call);
int http_client_in_flight(const struct http_client *hc);

#endif
