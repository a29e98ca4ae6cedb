/* http_client.c - curl multi on the libuv loop (the curl multi-uv pattern):
 * curl tells us which sockets to watch and when its timer is due; libuv
 * tells curl when a socket is ready. Name resolution is curl's threaded
 * resolver, so nothing here blocks the loop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>
#include "io/http_client.h"
#include "lib/http_headers.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "io/timer.h"

/* Receive buffers: curl's default is 16 KiB per transfer. A stream's events
 * are a few hundred bytes, so 4 KiB still takes several per read while
 * thousands of concurrent streams save 12 KiB each; a buffered answer is
 * read whole, so it keeps 16 KiB and fewer callbacks. */
#define STREAM_BUFFER_SIZE 4096L
#define BODY_BUFFER_SIZE 16384L

/* Finished easy handles kept for the next calls: making one costs more
 * than the rest of a small request. */
#define SPARE_EASY_MAX 16

/* Parsed URLs kept by URL (a platform posts to the same few URLs again
 * and again): curl then copies the parts instead of parsing the text and
 * printing it back for every request. */
#define URL_CACHE_SIZE 64

/* A parsed URL, shared by the cache and the calls using it: curl keeps
 * a pointer to it for as long as the transfer may (re)connect. */
struct parsed_url {
    char *text;
    CURLU *uh;
    int refs;
};

struct http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct http_call *calls;       /* in flight, for cancel-all */
    int in_flight;
    CURL *spare[SPARE_EASY_MAX];   /* reset handles ready for reuse */
    int nspare;
    struct http_socket **sockets;  /* by fd: sockets curl opened through us */
    int nsockets;
    struct parsed_url *urls[URL_CACHE_SIZE];   /* by a hash of the text */
};

struct http_call {
    struct http_client *hc;
    CURL *easy;
    struct curl_slist *headers;    /* nodes and strings in one block (header_list) */
    struct parsed_url *url;        /* the parsed URL given to curl, or NULL */
    char *body_copy;
    char *buf;
    size_t len, cap, max_body;
    int too_big;
    char *hdr;                     /* header lines of the latest response */
    size_t hdr_len, hdr_cap;
    struct retry_hints hints;
    http_data_fn *on_data;
    int streaming;                 /* -1 undecided, 0 buffering, 1 passing on */
    int aborted;
    size_t streamed;
    uv_timer_t *first_byte;        /* the first-byte timer, or NULL */
    uint64_t started_ns, first_byte_ns;
    char errbuf[CURL_ERROR_SIZE];
    http_done_fn *cb;
    void *data;
    struct http_call *prev, *next;
};

struct http_socket {
    uv_poll_t poll;
    curl_socket_t fd;
    struct http_client *hc;
    int events;                    /* what the poll watches now */
    int owned;                     /* opened by on_open_socket: we close it */
    int idle;                      /* curl does not watch it (a kept connection) */
};

static void check_done(struct http_client *hc);

/* libuv says a socket is ready: hand it to curl, then collect finished transfers. */
static void on_poll(uv_poll_t *poll, int status, int events) {
    struct http_socket *s = poll->data;
    int flags = 0, running;
    if (s->idle) {
        /* A kept connection was closed by the server or sent something:
         * stop watching until curl uses it again (it will find it dead). */
        uv_poll_stop(&s->poll);
        s->events = 0;
        return;
    }
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(s->hc->multi, s->fd, flags, &running);
    check_done(s->hc);
}

static void free_socket(uv_handle_t *h) {
    free(h->data);
}

/* A poll handle for FD, or NULL. */
static struct http_socket *socket_new(struct http_client *hc, curl_socket_t fd) {
    struct http_socket *s = xcalloc(1, sizeof(*s));
    if (!s) return NULL;
    s->fd = fd;
    s->hc = hc;
    if (uv_poll_init_socket(hc->loop, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->poll.data = s;
    return s;
}

/* curl opens a connection's socket through us, so the poll handle can live
 * as long as the socket: a kept-alive connection reused for the next request
 * then costs no poll init and close, and no epoll_ctl when the events are
 * the same (before, each request added and removed the fd from epoll). */
static curl_socket_t on_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *addr) {
    struct http_client *hc = userp;
    (void)purpose;
    curl_socket_t fd = socket(addr->family, addr->socktype, addr->protocol);
    if (fd == CURL_SOCKET_BAD) return fd;
    if (fd >= hc->nsockets) {
        int n = hc->nsockets ? hc->nsockets : 64;
        while (n <= fd) n *= 2;
        struct http_socket **t = xrealloc(hc->sockets, (size_t)n * sizeof(*t));
        if (!t) {
            close(fd);
            return CURL_SOCKET_BAD;
        }
        memset(t + hc->nsockets, 0, (size_t)(n - hc->nsockets) * sizeof(*t));
        hc->sockets = t;
        hc->nsockets = n;
    }
    struct http_socket *s = socket_new(hc, fd);
    if (!s) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    s->owned = 1;
    s->idle = 1;
    hc->sockets[fd] = s;
    return fd;
}

/* curl closes a socket it opened through on_open_socket: the poll handle
 * goes first (uv_close takes the fd out of epoll), then the fd. */
static int on_close_socket(void *userp, curl_socket_t fd) {
    struct http_client *hc = userp;
    if (fd >= 0 && fd < hc->nsockets && hc->sockets[fd]) {
        struct http_socket *s = hc->sockets[fd];
        hc->sockets[fd] = NULL;
        uv_close((uv_handle_t *)&s->poll, free_socket);
    }
    return close(fd);
}

/* curl asks us to watch, change or forget a socket. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    struct http_client *hc = userp;
    struct http_socket *s = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(hc->multi, fd, NULL);
            if (s->owned) {
                /* Kept until on_close_socket, still watched: if the events
                 * fire while idle, on_poll stops them. */
                s->idle = 1;
            } else {
                uv_close((uv_handle_t *)&s->poll, free_socket);
            }
        }
        return 0;
    }
    if (!s) {
        if (fd >= 0 && fd < hc->nsockets && hc->sockets[fd]) s = hc->sockets[fd];
        else if (!(s = socket_new(hc, fd))) return -1;
        s->idle = 0;
        curl_multi_assign(hc->multi, fd, s);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    /* uv_poll_start removes the fd from epoll and adds it back even when the
     * events are the same: two epoll_ctl calls saved when nothing changes. */
    if (events == s->events) return 0;
    if (events) uv_poll_start(&s->poll, events, on_poll);
    else uv_poll_stop(&s->poll);
    s->events = events;
    return 0;
}

/* curl's timer is due. */
static void on_timer(uv_timer_t *t) {
    struct http_client *hc = t->data;
    int running;
    curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(hc);
}

/* curl asks for its timer to be (re)armed or stopped; we never call curl
 * from here, the libuv timer does it on the next turn of the loop. */
static int on_timer_update(CURLM *multi, long timeout_ms, void *userp) {
    struct http_client *hc = userp;
    (void)multi;
    if (timeout_ms < 0) uv_timer_stop(&hc->timer);
    else uv_timer_start(&hc->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

struct http_client *http_client_new(uv_loop_t *loop) {
    struct http_client *hc = xcalloc(1, sizeof(*hc));
    hc->loop = loop;
    hc->multi = curl_multi_init();
    if (!hc->multi) {
        free(hc);
        return NULL;
    }
    uv_timer_init(loop, &hc->timer);
    hc->timer.data = hc;
    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
    curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, on_timer_update);
    curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
    curl_multi_setopt(hc->multi, CURLMOPT_MAXCONNECTS, 256L);
    return hc;
}

/* Drop one holder of U. */
static void parsed_url_release(struct parsed_url *u) {
    if (!u || --u->refs > 0) return;
    curl_url_cleanup(u->uh);
    free(u->text);
    free(u);
}

/* The parsed form of URL, held once more for the caller, or NULL when
 * curl's parser refuses it (curl then reads the text and says why). */
static struct parsed_url *parsed_url_get(struct http_client *hc, const char *url) {
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) h = (h ^ *p) * 16777619u;
    struct parsed_url **slot = &hc->urls[h % URL_CACHE_SIZE];
    if (!*slot || strcmp((*slot)->text, url) != 0) {
        struct parsed_url *u = xcalloc(1, sizeof(*u));
        if (!u) return NULL;
        u->uh = curl_url();
        u->text = xstrdup(url);
        if (!u->uh || !u->text ||
            curl_url_set(u->uh, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
            curl_url_cleanup(u->uh);
            free(u->text);
            free(u);
            return NULL;
        }
        u->refs = 1;
        parsed_url_release(*slot);
        *slot = u;
    }
    (*slot)->refs++;
    return *slot;
}

/* Unlink a call and free it; the callback is not called. */
static void call_free(struct http_call *c) {
    struct http_client *hc = c->hc;
    if (c->prev) c->prev->next = c->next;
    else hc->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    hc->in_flight--;
    curl_multi_remove_handle(hc->multi, c->easy);
    if (c->url) {
        curl_easy_setopt(c->easy, CURLOPT_CURLU, NULL);   /* a kept handle must not point at it */
        parsed_url_release(c->url);
    }
    if (hc->nspare < SPARE_EASY_MAX) {
        /* Not curl_easy_reset: the options every call shares stay set, and
         * http_start sets every one a call may change. */
        hc->spare[hc->nspare++] = c->easy;
    } else {
        curl_easy_cleanup(c->easy);
    }
    free(c->headers);
    timer_free(&c->first_byte);
    free(c->body_copy);
    free(c->buf);
    free(c->hdr);
    free(c);
}

static void free_client(uv_handle_t *h) {
    free(h->data);
}

void http_client_free(struct http_client *hc) {
    if (!hc) return;
    while (hc->calls) call_free(hc->calls);
    while (hc->nspare) curl_easy_cleanup(hc->spare[--hc->nspare]);
    for (int i = 0; i < URL_CACHE_SIZE; i++) parsed_url_release(hc->urls[i]);
    curl_multi_cleanup(hc->multi);
    free(hc->sockets);
    uv_timer_stop(&hc->timer);
    uv_close((uv_handle_t *)&hc->timer, free_client);
}

/* Keep a piece of body, growing the buffer; 0 when out of memory. It
 * starts small: most answers (a posted message, an error) are a few hundred
 * bytes, and a first block of 1 KiB or more makes malloc consolidate its
 * free lists on every call. */
static int buffer_append(struct http_call *c, const char *ptr, size_t n) {
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 512;
        while (cap < c->len + n + 1) cap *= 2;
        char *p = xrealloc(c->buf, cap);
        if (!p) return 0;
        c->buf = p;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, ptr, n);
    c->len += n;
    c->buf[c->len] = '\0';
    return 1;
}

/* Keep the header lines of the latest response (a status line starts a new
 * block, so interim 100 responses and redirects are forgotten), up to 16 KiB. */
static void keep_header(struct http_call *c, const char *ptr, size_t n) {
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) c->hdr_len = 0;
    if (c->hdr_len + n + 1 > 16384) return;
    if (c->hdr_len + n + 1 > c->hdr_cap) {
        /* Doubling from 1 KiB: one allocation for most responses, where a
         * realloc per line cost a dozen. */
        size_t cap = c->hdr_cap ? c->hdr_cap : 1024;
        while (cap < c->hdr_len + n + 1) cap *= 2;
        char *p = xrealloc(c->hdr, cap);
        if (!p) return;
        c->hdr = p;
        c->hdr_cap = cap;
    }
    memcpy(c->hdr + c->hdr_len, ptr, n);
    c->hdr_len += n;
    c->hdr[c->hdr_len] = '\0';
}

int http_response_header(const struct http_response *res, const char *name, char *out, size_t outlen) {
    size_t nlen = strlen(name);
    for (const char *line = res->headers; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t llen = eol ? (size_t)(eol - line) : strlen(line);
        if (llen > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            const char *end = line + llen;
            while (v < end && (*v == ' ' || *v == '\t')) v++;
            while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) end--;
            size_t vlen = (size_t)(end - v);
            if (outlen) {
                size_t copy = vlen < outlen - 1 ? vlen : outlen - 1;
                memcpy(out, v, copy);
                out[copy] = '\0';
            }
            return (int)vlen;
        }
        line = eol ? eol + 1 : line + llen;
    }
    return -1;
}

/* Pass the body on (a streamed 2xx) or accumulate it, up to the cap in
 * either case; past it, or when the receiver says stop, abort. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
    struct http_call *c = userdata;
    size_t n = size * nmemb;
    if (!c->first_byte_ns && n > 0) {
        c->first_byte_ns = uv_hrtime();
        if (c->first_byte) uv_timer_stop(c->first_byte);
    }
    if (c->streaming < 0) {
        long status = 0;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
        c->streaming = c->on_data && status >= 200 && status <= 299;
    }
    if (c->len + c->streamed + n > c->max_body) {
        c->too_big = 1;
        return 0;
    }
    if (c->streaming) {
        c->streamed += n;
        if (c->on_data(ptr, n, c->data) != 0) {
            c->aborted = 1;
            return 0;
        }
        return n;
    }
    return buffer_append(c, ptr, n) ? n : 0;
}

/* Read the headers that say when to retry; a new status line (after a
 * 100 Continue) starts over. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
    struct http_call *c = userdata;
    size_t n = size * nmemb;
    keep_header(c, ptr, n);
    if (n > 5 && !strncmp(ptr, "HTTP/", 5)) retry_hints_init(&c->hints);
    else retry_hints_header(&c->hints, ptr, n, time(NULL));
    return n;
}

/* No body byte came in time: end the call as a timeout, from the loop. */
static void on_first_byte_timeout(uv_timer_t *t) {
    struct http_call *c = t->data;
    struct http_response res = {
        .error = "no answer arrived within the first-token timeout", .timed_out = 1, .first_byte_timeout = 1,
        .retry_after_ms = -1, .body = "", .total_ms = (double)(uv_hrtime() - c->started_ns) / 1e6
    };
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res.status);
    c->cb(&res, c->data);
    call_free(c);
}

/* Does the environment name a proxy (curl reads these itself)? */
static int proxy_in_environment(void) {
    static const char *const names[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                         "ALL_PROXY", "no_proxy", "NO_PROXY", NULL };
    for (int i = 0; names[i]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) return 1;
    }
    return 0;
}

/* A new easy handle with the options every call shares, set once: a
 * handle is kept for the next call without curl_easy_reset, which freed
 * and rebuilt them (and curl's receive buffer) for each request. With no
 * proxy in the environment, "no proxy" is said outright: curl otherwise
 * looks up five environment variables for every request. */
static CURL *easy_new(struct http_client *hc) {
    static int proxied = -1;
    if (proxied < 0) proxied = proxy_in_environment();
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, hc);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, hc);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!proxied) {
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
    return e;
}

/* The request's header list as one block (the nodes, then the strings),
 * with "Expect:" (no 100-continue wait) for a body of 1 KiB or more (no
 * curl asks for 100-continue below that, and each header costs curl a
 * scan per request) and our User-Agent unless the caller sends one: 1
 * allocation where curl_slist_append made two per header, and no
 * CURLOPT_USERAGENT, which curl printf's into a header for every request.
 * NULL when out of memory. */
static struct curl_slist *header_list(const char *const *headers, size_t body_len) {
    static const char expect[] = "Expect:";
    static const char agent[] = "User-Agent: chorusd/" PACKAGE_VERSION;
    size_t n = 0, bytes = 0;
    int has_agent = 0;
    for (const char *const *h = headers; h && *h; h++) {
        n++;
        bytes += strlen(*h) + 1;
        if (strncasecmp(*h, "User-Agent:", 11) == 0) has_agent = 1;
    }
    int expect_off = body_len >= 1024;
    size_t nodes = n + (size_t)expect_off + !has_agent;
    struct curl_slist *list = xmalloc(nodes * sizeof(*list) + bytes);
    if (!list) return NULL;
    char *p = (char *)(list + nodes);
    size_t i = 0;
    for (const char *const *h = headers; h && *h; h++, i++) {
        size_t len = strlen(*h) + 1;
        memcpy(p, *h, len);
        list[i].data = p;
        p += len;
    }
    if (expect_off) list[i++].data = (char *)expect;
    if (!has_agent) list[i++].data = (char *)agent;
    for (size_t k = 0; k < nodes; k++) list[k].next = k + 1 < nodes ? &list[k + 1] : NULL;
    return list;
}

struct http_call *http_start(struct http_client *hc, const struct http_request *req,
                             http_done_fn *cb, void *data) {
    if (!req->url || !req->method) return NULL;
    struct http_call *c = xcalloc(1, sizeof(*c));
    c->hc = hc;
    c->cb = cb;
    c->data = data;
    retry_hints_init(&c->hints);
    c->on_data = req->on_data;
    c->streaming = -1;
    c->started_ns = uv_hrtime();
    c->max_body = req->max_body ? req->max_body : (8u << 20);
    c->easy = hc->nspare ? hc->spare[--hc->nspare] : easy_new(hc);
    if (!c->easy) {
        free(c);
        return NULL;
    }
    c->headers = header_list(req->headers, req->body ? req->body_len : 0);
    if (!c->headers) {
        curl_easy_cleanup(c->easy);
        free(c);
        return NULL;
    }
    /* Every option a call may change is set here, every time: a reused
     * handle keeps the last call's values otherwise. */
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    /* The text stays set too (curl reports it as the effective URL); the
     * parsed form is what curl connects by. */
    c->url = parsed_url_get(hc, req->url);
    if (c->url) curl_easy_setopt(e, CURLOPT_CURLU, c->url->uh);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 60000L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, req->on_data ? STREAM_BUFFER_SIZE : BODY_BUFFER_SIZE);
    if (req->body) {
        const char *body = req->body;
        if (!req->body_kept) {
            c->body_copy = xmalloc(req->body_len ? req->body_len : 1);
            memcpy(c->body_copy, req->body, req->body_len);
            body = c->body_copy;
        }
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    } else {
        /* Forget a previous call's body first: setting it makes a POST. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(req->method, "GET") != 0 ? req->method : NULL);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    c->next = hc->calls;
    if (hc->calls) hc->calls->prev = c;
    hc->calls = c;
    hc->in_flight++;
    if (req->on_data && req->first_byte_timeout_ms > 0) {
        c->first_byte = timer_new(hc->loop, c);
        uv_timer_start(c->first_byte, on_first_byte_timeout, (uint64_t)req->first_byte_timeout_ms, 0);
    }
    if (curl_multi_add_handle(hc->multi, e) != CURLM_OK) {
        c->cb = NULL;
        call_free(c);
        return NULL;
    }
    return c;
}

void http_cancel(struct http_call *call) {
    if (call) call_free(call);
}

long http_call_status(struct http_call *call) {
    long status = 0;
    if (call) curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

const char *http_call_content_type(struct http_call *call) {
    char *ct = NULL;
    if (call) curl_easy_getinfo(call->easy, CURLINFO_CONTENT_TYPE, &ct);
    return ct;
}

int http_client_in_flight(const struct http_client *hc) {
    return hc ? hc->in_flight : 0;
}

/* Deliver every finished transfer to its callback. */
static void check_done(struct http_client *hc) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(hc->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        struct http_call *c;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        CURLcode rc = msg->data.result;
        struct http_response res = { .retry_after_ms = retry_hints_ms(&c->hints), .aborted = c->aborted,
                                     .streamed = c->streamed, .content_type = http_call_content_type(c) };
        if (c->first_byte_ns) res.first_byte_ms = (double)(c->first_byte_ns - c->started_ns) / 1e6;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res.status);
        double t = 0;
        curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME, &t);
        res.total_ms = t * 1000;
        res.body = c->buf ? c->buf : "";
        res.body_len = c->len;
        res.headers = c->hdr ? c->hdr : "";
        char err[CURL_ERROR_SIZE + 64];
        if (c->aborted) {
            res.error = "the receiver stopped the transfer";
        } else if (c->too_big) {
            res.error = "the response was larger than the limit";
        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            res.timed_out = 1;
            res.error = "the request timed out";
        } else if (rc != CURLE_OK) {
            snprintf(err, sizeof(err), "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
            res.error = err;
        }
        http_done_fn *cb = c->cb;
        void *data = c->data;
        /* Free after the callback: res points into the call's buffer. */
        cb(&res, data);
        call_free(c);
    }
}
