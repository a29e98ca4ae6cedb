/* bench_fake.c - the benchmarks' model server (see bench_fake.h): libuv,
 * keep-alive HTTP/1.1, one canned SSE answer with Content-Length. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>
#include "bench_fake.h"

static const char first[] =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"}}]}\n\n";
static const char rest[] =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there,\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" friend.\"},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}\n\n"
    "data: [DONE]\n\n";

struct conn {
    uv_tcp_t tcp;
    char buf[65536];
    size_t len;
    int held;                      /* waiting for the rest of its answer */
    struct conn *next;
};

static int hold_for, open_streams;
static struct conn *held;

static void on_written(uv_write_t *w, int status) {
    (void)status;
    free(w);
}

/* Write static strings in one go (the canned pieces outlive every write). */
static void send_bufs(struct conn *c, uv_buf_t *b, unsigned n) {
    uv_write_t *w = malloc(sizeof(*w));
    uv_write(w, (uv_stream_t *)&c->tcp, b, n, on_written);
}

static void send_str(struct conn *c, const char *s, size_t n) {
    uv_buf_t b = uv_buf_init((char *)s, (unsigned)n);
    send_bufs(c, &b, 1);
}

/* Headers and the first event now; the rest now or once enough are open. */
static void answer(struct conn *c) {
    static char head[256];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %zu\r\n\r\n",
                     sizeof(first) - 1 + sizeof(rest) - 1);
    uv_buf_t b[3] = { uv_buf_init(head, (unsigned)n), uv_buf_init((char *)first, sizeof(first) - 1),
                      uv_buf_init((char *)rest, sizeof(rest) - 1) };
    send_bufs(c, b, hold_for ? 2 : 3);
    if (!hold_for) return;
    c->held = 1;
    c->next = held;
    held = c;
    if (++open_streams < hold_for) return;
    for (struct conn *h = held; h; h = h->next) {
        send_str(h, rest, sizeof(rest) - 1);
        h->held = 0;
    }
    held = NULL;
    open_streams = 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    struct conn *c = h->data;
    (void)suggested;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void on_closed(uv_handle_t *h) {
    free(h->data);
}

/* Take whole requests (headers and Content-Length body) off the buffer. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    struct conn *c = s->data;
    (void)b;
    if (n < 0) {
        if (c->held) return;        /* it stays on the held list until released; the process ends soon */
        uv_close((uv_handle_t *)s, on_closed);
        return;
    }
    c->len += (size_t)n;
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) return;
        size_t head = (size_t)(end - c->buf) + 4, body = 0;
        for (char *p = c->buf; p < end; p++)
            if (!strncasecmp(p, "\ncontent-length:", 16)) body = strtoul(p + 16, NULL, 10);
        if (c->len < head + body) return;
        answer(c);
        memmove(c->buf, c->buf + head + body, c->len - head - body);
        c->len -= head + body;
    }
}

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0) return;
    struct conn *c = calloc(1, sizeof(*c));
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    uv_tcp_nodelay(&c->tcp, 1);    /* no Nagle delay between a stream's pieces */
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

pid_t bench_fake_start(int *port, int hold) {
    int fds[2];
    if (pipe(fds) < 0) return -1;
    pid_t pid = fork();
    if (pid != 0) {
        close(fds[1]);
        if (read(fds[0], port, sizeof(*port)) != sizeof(*port)) pid = -1;
        close(fds[0]);
        return pid;
    }
    close(fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGTERM);          /* never outlive the benchmark */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    hold_for = hold;
    uv_loop_t *loop = uv_loop_new();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &server);
    uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    uv_listen((uv_stream_t *)&server, 4096, on_connection);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
    int p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (write(fds[1], &p, sizeof(p)) != sizeof(p)) _exit(1);
    close(fds[1]);
    uv_run(loop, UV_RUN_DEFAULT);
    _exit(0);
}
