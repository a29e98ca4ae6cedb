/* test_redis_uv.c - our hiredis adapter writes a context's waiting
 * commands on request (redis_uv_flush), even from inside one of that
 * context's own reply callbacks, and a write that fails there leaves the
 * context for the loop to end, not freed under hiredis.
 *
 * A tiny server on loopback answers every command with +OK; the client's
 * first reply callback cuts its own sending side, queues one more command
 * and flushes. Under AddressSanitizer, freeing the context there (what
 * redisAsyncHandleWrite does on a failed write) is a use after free. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <hiredis/async.h>
#include <uv.h>
#include "io/redis_uv.h"
#include "tap.h"

static uv_loop_t *loop;
static uv_tcp_t server, peer;
static int first_ok, second_failed, disconnected, flushed_all;

/* The server: every read is answered with one +OK per line received. */
static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
    (void)h;
    buf->base = malloc(size);
    buf->len = size;
}

static void on_written(uv_write_t *req, int status) {
    (void)status;
    free(req->data);
    free(req);
}

static void on_peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    if (n > 0) {
        int lines = 0;
        for (ssize_t i = 0; i < n; i++) lines += buf->base[i] == '\n';
        /* one command of ours is "*1\r\n$4\r\nPING\r\n": three lines */
        for (int i = 0; i < lines / 3; i++) {
            uv_write_t *req = malloc(sizeof(*req));
            char *ok = malloc(5);
            memcpy(ok, "+OK\r\n", 5);
            req->data = ok;
            uv_buf_t b = uv_buf_init(ok, 5);
            uv_write(req, s, &b, 1, on_written);
        }
    } else if (n < 0) {
        uv_close((uv_handle_t *)s, NULL);
    }
    free(buf->base);
}

static void on_connection(uv_stream_t *srv, int status) {
    if (status < 0) return;
    uv_tcp_init(loop, &peer);
    if (uv_accept(srv, (uv_stream_t *)&peer) == 0) uv_read_start((uv_stream_t *)&peer, on_alloc, on_peer_read);
}

static void on_second(redisAsyncContext *ac, void *r, void *data) {
    (void)ac, (void)data;
    second_failed = r == NULL;
}

/* Inside hiredis's reply callback: cut our sending side, queue a command
 * and flush, as a web chat reply written from a Redis callback does. */
static void on_first(redisAsyncContext *ac, void *r, void *data) {
    (void)data;
    first_ok = r != NULL && ((redisReply *)r)->type == REDIS_REPLY_STATUS;
    shutdown(ac->c.fd, SHUT_WR);
    redisAsyncCommand(ac, on_second, NULL, "PING");
    redis_uv_flush();
    flushed_all = 1;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    (void)ac, (void)status;
    disconnected = 1;
    uv_close((uv_handle_t *)&server, NULL);
    if (!uv_is_closing((uv_handle_t *)&peer)) uv_close((uv_handle_t *)&peer, NULL);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &server);
    uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    uv_listen((uv_stream_t *)&server, 4, on_connection);
    struct sockaddr_in bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);

    redisAsyncContext *ac = redisAsyncConnect("127.0.0.1", ntohs(bound.sin_port));
    ok(ac && !ac->err, "the client connects");
    ok(redis_uv_attach(loop, ac) == 0, "and is attached to the loop");
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncCommand(ac, on_first, NULL, "PING");
    uv_run(loop, UV_RUN_DEFAULT);

    ok(first_ok, "the first command is answered");
    ok(flushed_all, "a flush from inside its callback returns");
    ok(second_failed, "the command that could not be written fails to its caller");
    ok(disconnected, "and the context is ended by the loop, once");
    uv_loop_close(loop);
    return done_testing();
}
