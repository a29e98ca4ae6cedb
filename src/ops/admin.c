/* admin.c - the admin socket and the commands it serves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "ops/admin.h"
#include "bus/bus.h"
#include "pipeline/channel.h"
#include "lib/log.h"
#include "io/http_client.h"
#include "lib/metrics.h"
#include "model/model.h"
#include "ops/operator.h"
#include "persona/persona.h"
#include "core/platform.h"
#include "io/redis_client.h"
#include "lib/redact.h"
#include "core/runtime.h"
#include "core/server.h"
#include "skills/scheduler.h"
#include "skills/skills.h"
#include "lib/xalloc.h"

#define MAX_LINE (4 * 1024 * 1024)   /* a request line: room for an imported card */
#define MAX_QUEUED (1u << 20)   /* answers waiting for a client before we stop reading it */
#define MAX_PENDING 64          /* operator commands one client may have running */

struct admin_client;

struct admin_server {
    uv_pipe_t pipe;
    char *path;
    struct admin_client *clients;   /* open connections, closed at stop */
};

struct admin_client {
    uv_pipe_t pipe;
    int pending;                    /* operator commands still running */
    int closed;                     /* the pipe closed while some ran */
    int paused;                     /* reading stopped until its answers drain */
    struct admin_server *server;
    struct admin_client *prev, *next;
    char buf[MAX_LINE];
    size_t len;
};

const char *admin_default_path(void) {
    static char path[512];
    const char *set = getenv("CHORUS_ADMIN_SOCKET");   /* the systemd unit sets it */
    if (set && *set) return set;
    const char *dir = getenv("XDG_RUNTIME_DIR");
    if (dir && *dir) snprintf(path, sizeof(path), "%s/chorusd.sock", dir);
    else if (geteuid() == 0) snprintf(path, sizeof(path), "/run/chorusd.sock");
    else snprintf(path, sizeof(path), "/tmp/chorusd-%u.sock", (unsigned)geteuid());
    return path;
}

/* Each model deployment's health: breaker, load, latency, newest error. */
static json_t *deployments_json(void) {
    json_t *list = json_array();
    uint64_t now = uv_now(server.loop);
    for (int i = 0; i < server.rt->models->count; i++) {
        const struct model *m = &server.rt->models->items[i];
        for (int d = 0; d < m->ndeps; d++) {
            const struct deployment *dep = &m->deps[d];
            char clean[sizeof(dep->last_error) + 64];
            redact(dep->last_error, clean, sizeof(clean));
            int open = dep->cooldown_until > now;
            json_array_append_new(list, json_pack("{s:s, s:i, s:s, s:s, s:I, s:i, s:i, s:f, s:s, s:f}",
                "model", m->name, "index", dep->index, "provider", model_provider_name(m->provider),
                "breaker", open ? "open" : "closed", "cooldown_ms", (json_int_t)(open ? dep->cooldown_until - now : 0),
                "failures", dep->failures, "in_flight", dep->in_flight, "latency_ms", dep->latency_ewma_ms,
                "last_error", clean, "last_error_age_s", dep->last_error_at ? (double)(now - dep->last_error_at) / 1000.0 : 0.0));
        }
    }
    return list;
}

/* {"cmd":"status"}: what is connected and how busy we are. */
json_t *admin_status_json(void) {
    json_t *platforms = json_array();
    for (int i = 0; platform_at(i); i++) {
        struct platform *p = platform_at(i);
        json_t *o = json_pack("{s:s, s:s, s:b, s:i}", "name", p->name, "platform", p->ops->name, "ready", p->ready,
                              "connections", p->ops->connections ? p->ops->connections(p) : 0);
        if (p->identity) json_object_set_new(o, "identity", json_string(p->identity));
        if (p->persona) json_object_set_new(o, "persona", json_string(p->persona));
        json_array_append_new(platforms, o);
    }
    json_t *personas = json_array();
    for (int i = 0; i < server.rt->personas->count; i++)
        json_array_append_new(personas, json_string(server.rt->personas->items[i].name));
    json_t *models = json_array();
    for (int i = 0; i < server.rt->models->count; i++)
        json_array_append_new(models, json_string(server.rt->models->items[i].name));
    json_t *st = json_pack("{s:b, s:s, s:i, s:f, s:{s:b, s:s, s:f}, s:o, s:{s:i, s:i, s:i}, s:s, s:o, s:o, s:s}",
                     "ok", 1, "version", PACKAGE_VERSION, "pid", (int)getpid(),
                     "uptime_s", server_now() - server.started_at,
                     "redis", "connected", redis_client_ready(server.redis),
                     "error", redis_client_error(server.redis),
                     "latency_ms", redis_client_latency_ms(server.redis),
                     "platforms", platforms,
                     "jobs", "in_flight", server.jobs_in_flight, "queued", server.jobs_queued,
                     "channels", channel_active(),
                     "plugins", skill_host_plugins(server.rt->skills),
                     "personas", personas, "models", models,
                     "default_persona", server.rt->personas->fallback->name);
    json_t *bs = bus_status();
    json_object_set_new(st, "role", json_string(bs ? json_string_value(json_object_get(bs, "role")) : "all"));
    if (bs) json_object_set_new(st, "bus", bs);
    json_object_set_new(st, "metrics", json_pack("{s:f, s:f, s:i, s:f}",
        "messages_in", metrics_sum(METRIC_MESSAGES_IN), "messages_out", metrics_sum(METRIC_MESSAGES_OUT),
        "model_in_flight", http_client_in_flight(server.http),
        "cost_today", metrics_sum(METRIC_MODEL_COST) / 1e6));
    json_object_set_new(st, "deployments", deployments_json());
    return st;
}

/* {"cmd":"plugins","action":"list"|"reload"[,"name":N]} */
static json_t *cmd_plugins(json_t *req) {
    const char *action = json_string_value(json_object_get(req, "action"));
    const char *name = json_string_value(json_object_get(req, "name"));
    struct skill_host *h = server.rt->skills;
    if (!action || !strcmp(action, "list")) {
        json_t *list = json_array();
        for (int i = 0; i < h->nplugins; i++) {
            struct plugin *p = h->plugins[i];
            json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:i}", "name", p->name,
                "version", p->version ? p->version : "", "description", p->description ? p->description : "",
                "dir", p->dir, "memory_bytes", (json_int_t)p->mem, "memory_limit", (json_int_t)p->mem_limit,
                "running", p->ntasks));
        }
        return json_pack("{s:b, s:o}", "ok", 1, "plugins", list);
    }
    if (!strcmp(action, "reload")) {
        char err[4096];
        if (skills_reload(h, name, err, sizeof(err)) < 0) return json_pack("{s:b, s:s}", "ok", 0, "error", err);
        scheduler_sync(h);
        return json_pack("{s:b, s:s}", "ok", 1, "message", name ? "plugin reloaded" : "plugins reloaded");
    }
    return json_pack("{s:b, s:s}", "ok", 0, "error", "plugins: the action is list or reload");
}

json_t *admin_execute(json_t *req) {
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    if (!cmd) return json_pack("{s:b, s:s}", "ok", 0, "error", "a request needs \"cmd\"");
    if (!strcmp(cmd, "ping")) return json_pack("{s:b, s:s}", "ok", 1, "pong", PACKAGE_VERSION);
    if (!strcmp(cmd, "status")) return admin_status_json();
    if (!strcmp(cmd, "reload")) {
        char err[2048];
        if (server_reload(err, sizeof(err)) < 0) return json_pack("{s:b, s:s}", "ok", 0, "error", err);
        return json_pack("{s:b, s:s}", "ok", 1, "message", "config and plugins reloaded");
    }
    if (!strcmp(cmd, "plugins")) return cmd_plugins(req);
    return json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command (try: status, reload, plugins, ping)");
}

static void on_client_closed(uv_handle_t *h) {
    struct admin_client *c = h->data;
    if (c->pending > 0) {          /* answers still to come: free after them */
        c->closed = 1;
        return;
    }
    if (c->server) {
        if (c->prev) c->prev->next = c->next;
        else c->server->clients = c->next;
        if (c->next) c->next->prev = c->prev;
    }
    free(c);
}

static void process_lines(struct admin_client *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Is C's backlog (answers unread, commands running) past its bounds? */
static int client_full(struct admin_client *c) {
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > MAX_QUEUED || c->pending >= MAX_PENDING;
}

/* A client that does not read its answers is not read either, so its
 * output queue stays bounded; it resumes once the backlog drains. */
static void maybe_resume(struct admin_client *c) {
    uv_handle_t *h = (uv_handle_t *)&c->pipe;
    if (!c->paused || c->closed || uv_is_closing(h)) return;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > MAX_QUEUED / 2 || c->pending >= MAX_PENDING) return;
    c->paused = 0;
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    process_lines(c);
}

static void on_written(uv_write_t *req, int status) {
    struct admin_client *c = req->handle->data;
    free(req->data);
    free(req);
    if (status == 0) maybe_resume(c);
}

/* Write one JSON line to the client. */
static void reply(struct admin_client *c, json_t *answer) {
    char *text = json_dumps(answer, JSON_COMPACT);
    json_decref(answer);
    if (!text) return;
    size_t n = strlen(text);
    char *line = xrealloc(text, n + 2);
    line[n] = '\n';
    line[n + 1] = '\0';
    uv_write_t *req = xmalloc(sizeof(*req));
    req->data = line;
    uv_buf_t buf = uv_buf_init(line, (unsigned)(n + 1));
    if (uv_write(req, (uv_stream_t *)&c->pipe, &buf, 1, on_written) < 0) {
        free(line);
        free(req);
    }
}

/* An operator command finished: answer, unless the client left. */
static void on_operated(json_t *answer, void *data) {
    struct admin_client *c = data;
    c->pending--;
    if (c->closed) {
        json_decref(answer);
        if (c->pending == 0) {
            c->closed = 0;
            on_client_closed((uv_handle_t *)&c->pipe);
        }
        return;
    }
    reply(c, answer);
    maybe_resume(c);
}

/* {"cmd":"run","argv":[...]}: an operator command, as the owner. */
static void run_operator(struct admin_client *c, json_t *argv_json) {
    char *argv[32];
    int argc = 0;
    size_t i;
    json_t *v;
    json_array_foreach(argv_json, i, v) if (json_is_string(v) && argc < 32) argv[argc++] = (char *)json_string_value(v);
    struct actor a = { .platform = "chorusctl", .user_id = getenv("USER") ? getenv("USER") : "local", .local = 1 };
    c->pending++;
    operator_run(&a, argc, argv, on_operated, c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    struct admin_client *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

/* Lines arrive; run each complete one. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    struct admin_client *c = s->data;
    (void)buf;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s)) uv_close((uv_handle_t *)s, on_client_closed);
        return;
    }
    c->len += (size_t)n;
    process_lines(c);
}

/* Run the complete lines in C's buffer until its backlog is full. */
static void process_lines(struct admin_client *c) {
    uv_stream_t *s = (uv_stream_t *)&c->pipe;
    char *nl;
    while (!c->paused && (nl = memchr(c->buf, '\n', c->len))) {
        *nl = '\0';
        json_error_t jerr;
        json_t *req = json_loads(c->buf, 0, &jerr);
        if (!req) reply(c, json_pack("{s:b, s:s}", "ok", 0, "error", "the request is not JSON"));
        else if (!strcmp(json_string_value(json_object_get(req, "cmd")) ? json_string_value(json_object_get(req, "cmd")) : "", "run")) {
            run_operator(c, json_object_get(req, "argv"));
            json_decref(req);
        } else {
            reply(c, admin_execute(req));
            json_decref(req);
        }
        size_t used = (size_t)(nl - c->buf) + 1;
        memmove(c->buf, nl + 1, c->len - used);
        c->len -= used;
        if (client_full(c) && !uv_is_closing((uv_handle_t *)s)) {
            c->paused = 1;
            uv_read_stop(s);
        }
    }
    if (c->len == sizeof(c->buf) && !memchr(c->buf, '\n', c->len)) {
        reply(c, json_pack("{s:b, s:s}", "ok", 0, "error", "the request line is too long"));
        if (!uv_is_closing((uv_handle_t *)s)) uv_close((uv_handle_t *)s, on_client_closed);
    }
}

static void on_connection(uv_stream_t *server_stream, int status) {
    if (status < 0) return;
    struct admin_server *a = server_stream->data;
    struct admin_client *c = xcalloc(1, sizeof(*c));
    uv_pipe_init(server_stream->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->server = a;
    c->next = a->clients;
    if (a->clients) a->clients->prev = c;
    a->clients = c;
    if (uv_accept(server_stream, (uv_stream_t *)&c->pipe) < 0) {
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* Is something already answering on PATH? Then it is not ours to remove. */
static int socket_alive(const char *path) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    int alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return alive;
}

static void on_server_closed(uv_handle_t *h);

struct admin_server *admin_start(uv_loop_t *loop, const char *path, char *err, size_t errlen) {
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "the admin socket path is too long: %s", path);
        return NULL;
    }
    if (socket_alive(path)) {
        snprintf(err, errlen, "another process already answers on the admin socket %s", path);
        return NULL;
    }
    unlink(path);
    struct admin_server *a = xcalloc(1, sizeof(*a));
    a->path = xstrdup(path);
    uv_pipe_init(loop, &a->pipe, 0);
    a->pipe.data = a;
    mode_t old = umask(0177);
    int rc = uv_pipe_bind(&a->pipe, path);
    umask(old);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&a->pipe, 16, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on the admin socket %s: %s", path, uv_strerror(rc));
        uv_close((uv_handle_t *)&a->pipe, on_server_closed);
        return NULL;
    }
    return a;
}

static void on_server_closed(uv_handle_t *h) {
    struct admin_server *a = h->data;
    free(a->path);
    free(a);
}

void admin_stop(struct admin_server *a) {
    if (!a) return;
    unlink(a->path);
    for (struct admin_client *c = a->clients; c; c = c->next)
        if (!uv_is_closing((uv_handle_t *)&c->pipe)) uv_close((uv_handle_t *)&c->pipe, on_client_closed);
    uv_close((uv_handle_t *)&a->pipe, on_server_closed);
}
