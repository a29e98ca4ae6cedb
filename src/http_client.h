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

struct http_request {
    const char *method;            /* "GET", "POST", ... */
    const char *url;
    const char *const *headers;    /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;
    size_t body_len;
    long connect_timeout_ms;       /* 0: 10 s */
    long timeout_ms;               /* whole transfer; 0: 60 s */
    size_t max_body;               /* response cap; 0: 8 MiB */
};

struct http_response {
    long status;                   /* 0 when no HTTP answer came */
    const char *body;              /* NUL-terminated, may hold NULs */
    size_t body_len;
    const char *error;             /* NULL on a completed exchange, else a plain sentence */
    int timed_out;
    long retry_after_ms;           /* from Retry-After, or -1 */
    double total_ms;
    const char *headers;           /* the final response's header lines, "Name: value\r\n"... */
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
int http_client_in_flight(const struct http_client *hc);

#endif
