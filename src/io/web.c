/* web.c - libwebsockets on the libuv loop: static files, health, /ws. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <libwebsockets.h>
#include "io/web.h"
#include "lib/http_chunked.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define MAX_FILES 32
#define MAX_ROUTES 32
#define MAX_FILE_SIZE (2 << 20)

struct web_file {
    char *path;            /* URL path, e.g. "/chat.js" */
    char *data;
    size_t len;
    const char *type;
};

struct web_server {
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    uv_loop_t *loop;
    void *foreign[1];
    int port;
    struct web_file files[MAX_FILES];
    int nfiles;
};

/* Per-connection state: an HTTP response in progress, or a websocket. */
struct session {
    char *body;            /* owned response body */
    size_t len, sent;
    unsigned status;       /* of a response whose headers are still to write */
    const char *type;
    int headers_pending;
    const struct web_route *route;   /* the route serving this connection */
    void *state;           /* the route's request state (detach frees it) */
    void *ws;              /* the route's websocket connection */
    int chunked;           /* the request body comes with chunked coding */
    struct chunked dec;
    int close_after;       /* close once the answer is written */
    int answered;          /* it is, but the chunked body is still coming */
};

static struct web_server *the_web;
static const struct web_route *routes[MAX_ROUTES];
static int nroutes;

void web_route_add(const struct web_route *r) {
    for (int i = 0; i < nroutes; i++)
        if (!strcmp(routes[i]->path, r->path)) {
            routes[i] = r;
            return;
        }
    if (nroutes < MAX_ROUTES) routes[nroutes++] = r;
    else log_error("web: more than %d routes; %s is not served", MAX_ROUTES, r->path);
}

void web_route_remove(const char *path) {
    for (int i = 0; i < nroutes; i++)
        if (!strcmp(routes[i]->path, path)) {
            routes[i] = routes[--nroutes];
            return;
        }
}

/* The route for PATH: an exact path first, then the longest prefix. */
static const struct web_route *route_find(const char *path) {
    const struct web_route *best = NULL;
    size_t best_len = 0;
    for (int i = 0; i < nroutes; i++) {
        const char *rp = routes[i]->path;
        size_t n = strlen(rp);
        if (!strcmp(rp, path)) return routes[i];
        if (n && rp[n - 1] == '/' && !strncmp(rp, path, n) && n > best_len) {
            best = routes[i];
            best_len = n;
        }
    }
    return best;
}

/* The route's request state is done with: let its owner free it. */
static void session_detach(struct session *s) {
    void *state = s->state;
    s->state = NULL;
    if (state && s->route && s->route->detach) s->route->detach(state);
}

/* Content type by file extension. */
static const char *content_type(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".svg")) return "image/svg+xml";
    if (!strcmp(dot, ".png")) return "image/png";
    if (!strcmp(dot, ".ico")) return "image/x-icon";
    if (!strcmp(dot, ".json")) return "application/json";
    return "application/octet-stream";
}

static void free_files(struct web_file *files, int n) {
    for (int i = 0; i < n; i++) {
        free(files[i].path);
        free(files[i].data);
    }
}

/* Read the chat page's files into memory, so serving never touches disk. */
static int load_files(const char *root, struct web_file *files, int *nfiles) {
    DIR *d = opendir(root);
    if (!d) {
        log_error("web: cannot open the web folder %s: %s", root, strerror(errno));
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_FILES) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE_SIZE) continue;
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        char *data = xmalloc((size_t)st.st_size + 1);
        size_t got = fread(data, 1, (size_t)st.st_size, f);
        fclose(f);
        char url[300];
        snprintf(url, sizeof(url), "/%s", e->d_name);
        files[n].path = xstrdup(url);
        files[n].data = data;
        files[n].len = got;
        files[n].type = content_type(e->d_name);
        n++;
    }
    closedir(d);
    *nfiles = n;
    return 0;
}

static const struct web_file *find_file(const char *path) {
    if (!strcmp(path, "/")) path = "/index.html";
    for (int i = 0; i < the_web->nfiles; i++)
        if (!strcmp(the_web->files[i].path, path)) return &the_web->files[i];
    return NULL;
}

/* Write the status line and headers of S's response. */
static int write_headers(struct lws *wsi, struct session *s) {
    unsigned char buf[LWS_PRE + 1024], *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof(buf) - 1];
    if (lws_add_http_common_headers(wsi, s->status, s->type, (lws_filepos_t)s->len, &p, end)) return 1;
    static const char csp[] = "default-src 'self'; img-src 'self' data:; connect-src 'self'";
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
                                    (const unsigned char *)csp, (int)strlen(csp), &p, end))
        return 1;
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-cache", 8, &p, end))
        return 1;
    if (s->close_after &&
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5, &p, end))
        return 1;
    return lws_finalize_write_http_header(wsi, start, &p, end) ? 1 : 0;
}

/* Write headers now and queue BODY (taken over) for writing. */
static int respond(struct lws *wsi, struct session *s, unsigned int status, const char *type,
                   char *body, size_t len) {
    free(s->body);
    s->body = body;
    s->len = len;
    s->sent = 0;
    s->status = status;
    s->type = type;
    s->headers_pending = 0;
    if (write_headers(wsi, s)) return 1;
    lws_callback_on_writable(wsi);
    return 0;
}

void web_respond(struct lws *wsi, unsigned status, const char *type, char *body, size_t len) {
    struct session *s = lws_wsi_user(wsi);
    free(s->body);
    s->body = body;
    s->len = len;
    s->sent = 0;
    s->status = status;
    s->type = type;
    s->headers_pending = 1;
    lws_callback_on_writable(wsi);
}

static int respond_text(struct lws *wsi, struct session *s, unsigned int status, const char *text) {
    return respond(wsi, s, status, "text/plain; charset=utf-8", xstrdup(text), strlen(text));
}

void web_respond_text(struct lws *wsi, unsigned status, const char *text) {
    web_respond(wsi, status, "text/plain; charset=utf-8", xstrdup(text), strlen(text));
}

/* How a POST's body is framed. lws 4.1 reads a body by Content-Length
 * only: without one it hands over the bytes as sent, chunk framing and
 * all, and never says the body ended. So chunked coding is decoded here
 * (RFC 9112 7.1), and since lws still counts the body as unread, the
 * connection is closed after the answer. Returns 0 to read the body, or
 * the status to refuse it with. */
static unsigned body_framing(struct lws *wsi, struct session *s) {
    char te[128], version[16] = "";
    int has_length = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) <= 0) {
        s->close_after = !has_length;   /* where the next request starts is unknown */
        return has_length ? 0 : 411;
    }
    s->close_after = 1;
    /* Both lengths at once is how requests are smuggled (RFC 9112 6.3). */
    if (has_length) return 400;
    lws_hdr_copy(wsi, version, sizeof(version), WSI_TOKEN_HTTP);
    if (!strcmp(version, "HTTP/1.0")) return 400;   /* 1.0 has no chunked coding (RFC 9112 6.1) */
    if (lws_hdr_copy(wsi, te, sizeof(te), WSI_TOKEN_HTTP_TRANSFER_ENCODING) <= 0) return 400;
    char *p = te, *e = te + strlen(te);
    while (*p == ' ' || *p == '\t') p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *e = '\0';
    if (!strcasecmp(p, "chunked")) {
        s->chunked = 1;
        chunked_init(&s->dec);
        return 0;
    }
    /* Another coding (gzip, ...) before chunked is not decoded here: 501;
     * chunked not last leaves the length unknown: 400 (RFC 9112 6.1, 6.3). */
    size_t n = strlen(p);
    return n >= 7 && !strcasecmp(p + n - 7, "chunked") ? 501 : 400;
}

/* Say why a body was refused and log it, for a request not read. */
static int refuse_body(struct lws *wsi, struct session *s, unsigned status) {
    const char *why = status == 411 ? "a Content-Length header (or chunked coding) is required\n"
                      : status == 501 ? "only the chunked transfer coding is understood\n"
                                      : "the body's length cannot be told from its headers\n";
    log_warn("web: a POST whose body is not framed right was refused (%u)", status);
    return respond_text(wsi, s, status, why);
}

/* Route one HTTP request: a route's, or a static file. */
static int serve_http(struct lws *wsi, struct session *s, const char *path) {
    int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    const struct web_route *r = route_find(path);
    if (r && (r->request || r->ws_open)) {
        if (post && !r->allow_post) return respond_text(wsi, s, 405, "method not allowed\n");
        if (!post && lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
            return respond_text(wsi, s, 405, "method not allowed\n");
        if (!r->request) return respond_text(wsi, s, 426, "use a websocket here\n");
        session_detach(s);
        s->chunked = 0;
        s->close_after = 0;
        s->answered = 0;
        if (post) {
            unsigned status = body_framing(wsi, s);
            if (status) return refuse_body(wsi, s, status);
        }
        s->route = r;
        return r->request(wsi, path, post, &s->state, r->data) < 0 ? 1 : 0;
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return respond_text(wsi, s, 405, "method not allowed\n");
    if (!strcmp(path, "/admin")) path = "/admin.html";
    const struct web_file *f = find_file(path);
    if (!f) return respond_text(wsi, s, 404, "not found\n");
    char *copy = xmalloc(f->len ? f->len : 1);
    memcpy(copy, f->data, f->len);
    return respond(wsi, s, 200, f->type, copy, f->len);
}

/* Send the headers of a late response, or the next piece of a body. */
static int write_body(struct lws *wsi, struct session *s) {
    if (!s->body) return 0;
    if (s->headers_pending) {
        s->headers_pending = 0;
        if (write_headers(wsi, s)) return -1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    size_t chunk = s->len - s->sent;
    if (chunk > 16384) chunk = 16384;
    unsigned char *buf = xmalloc(LWS_PRE + chunk + 1);
    memcpy(buf + LWS_PRE, s->body + s->sent, chunk);
    int final = s->sent + chunk == s->len;
    int n = lws_write(wsi, buf + LWS_PRE, chunk, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
    free(buf);
    if (n < (int)chunk) return -1;
    s->sent += chunk;
    if (!final) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    free(s->body);
    s->body = NULL;
    session_detach(s);
    if (s->close_after) {
        if (s->chunked != 1) return -1;
        s->answered = 1;
        return 0;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

struct chunk_sink {
    struct lws *wsi;
    struct session *s;
};

/* A run of decoded body bytes for the route. Once it refused the body
 * (413) the rest is read and dropped. */
static int chunk_out(void *arg, const char *data, size_t len) {
    struct chunk_sink *k = arg;
    struct session *s = k->s;
    if (!s->state || !s->route->body || s->route->body(s->state, data, len) >= 0) return 0;
    session_detach(s);
    respond_text(k->wsi, s, 413, "the body is too large\n");
    return 0;
}

/* A piece of a chunked body: decode it for the route, and hand the body
 * over when it ends; broken framing gets 400. An answer given before the
 * body ended (413) waits for the end before the socket closes, so the
 * client reads it rather than a reset. Returns -1 to close now. */
static int chunked_body(struct lws *wsi, struct session *s, const char *in, size_t len) {
    struct chunk_sink k = { wsi, s };
    int st = chunked_feed(&s->dec, in, len, NULL, chunk_out, &k);
    if (st == CHUNKED_MORE) return 0;
    s->chunked = 2;   /* read to its end, or unreadable: what follows is not ours */
    if (st == CHUNKED_DONE) {
        if (s->state && s->route->body_done) s->route->body_done(s->state);
    } else {
        log_warn("web: a chunked request body whose framing is broken was refused");
        if (s->state) {
            session_detach(s);
            respond_text(wsi, s, 400, "the chunked body is malformed\n");
        }
    }
    return s->answered ? -1 : 0;
}

/* One callback for HTTP and the websocket: see web.h for why. */
static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct session *s = user;
    char path[256];
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        snprintf(path, sizeof(path), "%s", (const char *)in);
        return serve_http(wsi, s, path) ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return write_body(wsi, s);
    case LWS_CALLBACK_HTTP_BODY:
        if (s->chunked) return s->chunked == 1 ? chunked_body(wsi, s, in, len) : 0;
        if (s->state && s->route->body && s->route->body(s->state, in, len) < 0) {
            session_detach(s);
            respond_text(wsi, s, 413, "the body is too large\n");
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (s->chunked == 1) {
            /* lws's own cap on a body without a length (100 MB) was met */
            s->chunked = 2;
            if (s->answered) return -1;
            session_detach(s);
            respond_text(wsi, s, 413, "the body is too large\n");
            return 0;
        }
        if (!s->chunked && s->state && s->route->body_done) s->route->body_done(s->state);
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s) {
            free(s->body);
            s->body = NULL;
            session_detach(s);
        }
        break;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0) return 1;
        size_t n = strlen(path);
        if (n > 1 && path[n - 1] == '/') path[n - 1] = '\0';   /* "/ws/" is "/ws" */
        const struct web_route *r = route_find(path);
        if (!r || !r->ws_open) {
            lws_return_http_status(wsi, 404, NULL);   /* a client dialing the wrong path hears why */
            return 1;
        }
        int status = r->ws_accept ? r->ws_accept(wsi, r->data) : 0;
        if (status) lws_return_http_status(wsi, (unsigned)status, NULL);
        return status != 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0) return -1;
        size_t n = strlen(path);
        if (n > 1 && path[n - 1] == '/') path[n - 1] = '\0';
        s->route = route_find(path);
        s->ws = s->route && s->route->ws_open ? s->route->ws_open(wsi, s->route->data) : NULL;
        return s->ws ? 0 : -1;
    }
    case LWS_CALLBACK_RECEIVE:
        if (s->ws && s->route->ws_receive)
            s->route->ws_receive(s->ws, in, len, lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0,
                                 lws_frame_is_binary(wsi));
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return s->ws && s->route->ws_writable ? s->route->ws_writable(s->ws) : 0;
    case LWS_CALLBACK_CLOSED:
        if (s->ws && s->route->ws_closed) s->route->ws_closed(s->ws);
        s->ws = NULL;
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    { "http", on_event, sizeof(struct session), 65536, 0, NULL, 0 },
    { "chorus", on_event, sizeof(struct session), 65536, 0, NULL, 0 },
    { "chorus.v1", on_event, sizeof(struct session), 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Route lws's own log lines through ours (errors and warnings only). */
static void lws_log_line(int level, const char *line) {
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", line);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    if (level & LLL_ERR) log_warn("lws: %s", buf);
    else log_debug("lws: %s", buf);
}

struct web_server *web_start(uv_loop_t *loop, const char *host, int port, const char *root,
                             char *err, size_t errlen) {
    struct web_server *w = xcalloc(1, sizeof(*w));
    struct lws_context_creation_info info;
    the_web = w;
    w->loop = loop;
    if (load_files(root, w->files, &w->nfiles) < 0)
        log_warn("web: serving no chat page (folder %s missing)", root);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_line);
    memset(&info, 0, sizeof(info));
    w->foreign[0] = loop;
    /* SSL global init: platform adapters (discord.c) open wss:// clients here. */
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = w->foreign;
    info.pcontext = &w->ctx;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        snprintf(err, errlen, "cannot start libwebsockets (is libwebsockets-evlib-uv installed?)");
        free_files(w->files, w->nfiles);
        free(w);
        the_web = NULL;
        return NULL;
    }
    if (port < 0) return w;   /* listen "off": the context serves clients (Discord) only */
    memset(&info, 0, sizeof(info));
    info.port = port;
    info.iface = host;
    info.protocols = protocols;
    info.vhost_name = "chorus";
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = w->foreign;
    w->vhost = lws_create_vhost(w->ctx, &info);
    if (!w->vhost) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use, or not an address of this host)", host, port);
        return w;   /* the caller still tears the context down with web_stop/web_free */
    }
    w->port = lws_get_vhost_listen_port(w->vhost);
    return w;
}

struct lws_context *web_context(const struct web_server *w) {
    return w ? w->ctx : NULL;
}

int web_port(const struct web_server *w) {
    return w && w->vhost ? w->port : -1;
}

int web_reload_files(struct web_server *w, const char *root) {
    struct web_file files[MAX_FILES];
    int n = 0;
    if (load_files(root, files, &n) < 0) return -1;
    free_files(w->files, w->nfiles);
    memcpy(w->files, files, sizeof(files[0]) * (size_t)n);
    w->nfiles = n;
    return 0;
}

void web_stop(struct web_server *w) {
    if (w && w->ctx) lws_context_destroy(w->ctx);
}

void web_free(struct web_server *w) {
    if (!w) return;
    if (w->ctx) lws_context_destroy(w->ctx);
    free_files(w->files, w->nfiles);
    free(w);
    the_web = NULL;
}
