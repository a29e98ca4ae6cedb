/* web.c - libwebsockets on the libuv loop: static files, health, /ws. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libwebsockets.h>
#include "lib/log.h"
#include "io/http_client.h"
#include "lib/metrics.h"
#include "core/platform.h"
#include "core/platform.h"
#include "io/redis_client.h"
#include "core/server.h"
#include "io/web.h"
#include "platforms/webchat/webchat.h"
#include "skills/webhook.h"
#include "lib/webhook_auth.h"
#include "ops/admin.h"
#include "conf/config.h"
#include "persona/ledger.h"
#include "core/runtime.h"
#include <strings.h>

#define MAX_FILES 32
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
    struct webhook_req *hook;
    struct admin_wait *admin;   /* an admin API answer still being made */
    struct ws_conn *ws;
};

/* An admin API request waiting for Redis; WSI is NULL once the client left. */
struct admin_wait {
    struct lws *wsi;
};

static struct web_server *the_web;

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
        char *data = malloc((size_t)st.st_size + 1);
        size_t got = fread(data, 1, (size_t)st.st_size, f);
        fclose(f);
        char url[300];
        snprintf(url, sizeof(url), "/%s", e->d_name);
        files[n].path = strdup(url);
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

void web_respond_later(struct lws *wsi, unsigned status, const char *type, char *body, size_t len) {
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
    return respond(wsi, s, status, "text/plain; charset=utf-8", strdup(text), strlen(text));
}

/* GET /readyz: ready when Redis answers, every platform is connected and
 * we are not draining. */
static int serve_ready(struct lws *wsi, struct session *s) {
    char body[512];
    if (server.stopping) return respond_text(wsi, s, 503, "not ready: shutting down\n");
    if (!redis_client_ready(server.redis)) {
        snprintf(body, sizeof(body), "not ready: %s\n", redis_client_error(server.redis));
        return respond_text(wsi, s, 503, body);
    }
    for (int i = 0; platform_at(i); i++) {
        struct platform *p = platform_at(i);
        if (p->ready) continue;
        snprintf(body, sizeof(body), "not ready: %s is not connected\n", p->ops->name);
        return respond_text(wsi, s, 503, body);
    }
    return respond_text(wsi, s, 200, "ready\n");
}

/* The ledger for the admin page arrived. */
static void on_admin_ledger(json_t *report, const char *err, void *data) {
    struct admin_wait *w = data;
    struct lws *wsi = w->wsi;
    free(w);
    if (!wsi) return;
    ((struct session *)lws_wsi_user(wsi))->admin = NULL;
    char *text = report ? json_dumps(report, JSON_COMPACT) : NULL;
    if (!text) {
        char msg[300];
        snprintf(msg, sizeof(msg), "{\"error\":\"%s\"}", err ? "the ledger is unavailable" : "?");
        text = strdup(msg);
    }
    web_respond_later(wsi, report ? 200 : 503, "application/json", text, strlen(text));
}

/* /admin/api/status and /admin/api/ledger: JSON for the admin page, only
 * with the configured admin_token as a Bearer token. */
static int serve_admin_api(struct lws *wsi, struct session *s, const char *path) {
    struct config_block *b = config_first(server.rt->cfg, "admin_token");
    const char *token = b && json_is_string(b->value) ? json_string_value(b->value) : NULL;
    char auth[400] = "";
    if (!token || !*token) return respond_text(wsi, s, 404, "the admin page is off (set admin_token)\n");
    if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 || strncasecmp(auth, "Bearer ", 7) ||
        !webhook_secret_ok(token, auth + 7))
        return respond_text(wsi, s, 401, "unauthorized\n");
    if (!strcmp(path, "/admin/api/status")) {
        json_t *req = json_pack("{s:s}", "cmd", "status");
        json_t *st = admin_execute(req);
        json_decref(req);
        char *text = json_dumps(st, JSON_COMPACT);
        json_decref(st);
        return respond(wsi, s, 200, "application/json", text, strlen(text));
    }
    if (!strcmp(path, "/admin/api/ledger")) {
        char err[200];
        struct admin_wait *w = calloc(1, sizeof(*w));
        w->wsi = wsi;
        if (ledger_report(NULL, NULL, NULL, on_admin_ledger, w, err, sizeof(err)) < 0) {
            free(w);
            return respond_text(wsi, s, 503, err);
        }
        s->admin = w;
        return 0;   /* answered when the report is in */
    }
    return respond_text(wsi, s, 404, "not found\n");
}

/* Route one HTTP request. */
static int serve_http(struct lws *wsi, struct session *s, const char *path) {
    if (!strncmp(path, "/hooks/", 7)) {
        int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
        /* lws 4.1 never completes a chunked request body: ask for a length. */
        if (post && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
            return respond_text(wsi, s, 411, "a Content-Length header is required\n");
        webhook_detach(s->hook);
        s->hook = webhook_begin(wsi, path, post ? "POST" : "GET");
        if (!post) webhook_run(s->hook);
        return 0;   /* a POST answers once its body is in */
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return respond_text(wsi, s, 405, "method not allowed\n");
    if (!strcmp(path, "/healthz")) return respond_text(wsi, s, 200, "ok\n");
    if (!strcmp(path, "/readyz")) return serve_ready(wsi, s);
    if (!strcmp(path, "/metrics")) {
        size_t len;
        metrics_set(METRIC_QUEUE_DEPTH, "channels", server.jobs_queued);
        metrics_set(METRIC_JOBS_IN_FLIGHT, "channels", server.jobs_in_flight);
        metrics_set(METRIC_MODEL_IN_FLIGHT, "curl", http_client_in_flight(server.http));
        metrics_set(METRIC_REDIS_UP, "main", redis_client_ready(server.redis));
        metrics_set(METRIC_REDIS_LATENCY, "main", redis_client_latency_ms(server.redis) / 1000.0);
        for (int i = 0; platform_at(i); i++) {
            struct platform *p = platform_at(i);
            metrics_set(METRIC_PLATFORM_READY, p->ops->name, p->ready);
            metrics_set(METRIC_PLATFORM_CONNECTIONS, p->ops->name, p->ops->connections ? p->ops->connections(p) : 0);
        }
        char *text = metrics_render(&len);
        return respond(wsi, s, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    }
    if (!strcmp(path, "/ws")) return respond_text(wsi, s, 426, "use a websocket here\n");
    if (!strncmp(path, "/admin/api/", 11)) return serve_admin_api(wsi, s, path);
    if (!strcmp(path, "/admin")) path = "/admin.html";
    const struct web_file *f = find_file(path);
    if (!f) return respond_text(wsi, s, 404, "not found\n");
    char *copy = malloc(f->len ? f->len : 1);
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
    unsigned char *buf = malloc(LWS_PRE + chunk + 1);
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
    webhook_detach(s->hook);
    s->hook = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
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
        if (s->hook && webhook_body(s->hook, in, len) < 0) {
            webhook_detach(s->hook);
            s->hook = NULL;
            respond_text(wsi, s, 413, "the body is too large\n");
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (s->hook) webhook_run(s->hook);
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s) {
            free(s->body);
            s->body = NULL;
            webhook_detach(s->hook);
            s->hook = NULL;
            if (s->admin) s->admin->wsi = NULL;
            s->admin = NULL;
        }
        break;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0) return 1;
        return strcmp(path, "/ws") != 0 && strcmp(path, "/ws/") != 0;
    case LWS_CALLBACK_ESTABLISHED:
        s->ws = webchat_open(wsi);
        return s->ws ? 0 : -1;
    case LWS_CALLBACK_RECEIVE:
        if (s->ws)
            webchat_receive(s->ws, in, len, lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0,
                            lws_frame_is_binary(wsi));
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return s->ws ? webchat_writable(s->ws) : 0;
    case LWS_CALLBACK_CLOSED:
        if (s->ws) webchat_closed(s->ws);
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
    struct web_server *w = calloc(1, sizeof(*w));
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
