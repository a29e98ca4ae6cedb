/* redis_uv.c - hiredis async events on libuv, with socket errors reported. */
#include <stdlib.h>
#include "io/redis_uv.h"
#include "lib/xalloc.h"

struct redis_uv {
    uv_poll_t poll;
    redisAsyncContext *ac;   /* NULL once hiredis has cleaned up */
    int events;
    struct redis_uv *next_writer;   /* in writers while output waits */
};

/* Contexts with commands waiting to be written (redis_uv_flush). */
static struct redis_uv *writers;

/* Enter P in writers, or take it out. */
static void set_writer(struct redis_uv *p, int waiting) {
    struct redis_uv **at = &writers;
    while (*at && *at != p) at = &(*at)->next_writer;
    if (waiting && !*at) {
        p->next_writer = writers;
        writers = p;
    } else if (!waiting && *at) {
        *at = p->next_writer;
        p->next_writer = NULL;
    }
}

/* A socket event or error: let hiredis read or write. On an error, hiredis
 * must still look at the socket, or it never learns the connection failed:
 * while connecting a write attempt reports it, once connected a read does. */
static void on_poll(uv_poll_t *handle, int status, int events) {
    struct redis_uv *p = handle->data;
    if (!p->ac) return;
    if (status < 0) {
        if (p->ac->c.flags & REDIS_CONNECTED) redisAsyncHandleRead(p->ac);
        else redisAsyncHandleWrite(p->ac);
        return;
    }
    if (events & UV_READABLE) redisAsyncHandleRead(p->ac);
    /* The read may have freed the context; cleanup() cleared p->ac then. */
    if (p->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

/* Start or stop the poll to match the wanted events. */
static void update(struct redis_uv *p, int events) {
    if (events == p->events) return;
    if ((events ^ p->events) & UV_WRITABLE) set_writer(p, events & UV_WRITABLE);
    p->events = events;
    if (events) uv_poll_start(&p->poll, events, on_poll);
    else uv_poll_stop(&p->poll);
}

static void add_read(void *data) {
    struct redis_uv *p = data;
    update(p, p->events | UV_READABLE);
}

static void del_read(void *data) {
    struct redis_uv *p = data;
    update(p, p->events & ~UV_READABLE);
}

static void add_write(void *data) {
    struct redis_uv *p = data;
    update(p, p->events | UV_WRITABLE);
}

static void del_write(void *data) {
    struct redis_uv *p = data;
    update(p, p->events & ~UV_WRITABLE);
}

static void on_close(uv_handle_t *h) {
    free(h->data);
}

/* hiredis is done with the socket: stop watching it and free us later. */
static void cleanup(void *data) {
    struct redis_uv *p = data;
    p->ac = NULL;
    set_writer(p, 0);
    uv_poll_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, on_close);
}

int redis_uv_attach(uv_loop_t *loop, redisAsyncContext *ac) {
    if (ac->ev.data) return -1;
    struct redis_uv *p = xcalloc(1, sizeof(*p));
    if (!p) return -1;
    if (uv_poll_init_socket(loop, &p->poll, ac->c.fd) != 0) {
        free(p);
        return -1;
    }
    p->poll.data = p;
    p->ac = ac;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return 0;
}

void redis_uv_flush(void) {
    struct redis_uv *p = writers;
    while (p) {
        struct redis_uv *next = p->next_writer;
        redisContext *c = p->ac ? &p->ac->c : NULL;
        /* redisBufferWrite, not redisAsyncHandleWrite: this may run inside
         * one of the context's own reply callbacks, where a failed write
         * must not free the context under hiredis. A failure is left for
         * the loop, whose next poll ends the context the usual way. */
        if (c && (c->flags & REDIS_CONNECTED) && !(c->flags & REDIS_DISCONNECTING) && !c->err) {
            int done = 0;
            /* As redisAsyncHandleWrite: once written, the answers are read. */
            if (redisBufferWrite(c, &done) == REDIS_OK)
                update(p, done ? (p->events | UV_READABLE) & ~UV_WRITABLE : p->events | UV_READABLE);
        }
        p = next;
    }
}
