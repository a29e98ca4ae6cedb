/* typing.c - "typing..." renewed per channel until the reply goes out
 * (typing.h). */
#include <stdlib.h>
#include "core/typing.h"
#include "io/timer.h"
#include "lib/dict.h"
#include "lib/xalloc.h"

struct typing {
    struct typing_keeper *keeper;
    char *channel;
    uv_timer_t *timer;
    uint64_t started;
};

struct typing_keeper {
    uv_loop_t *loop;
    uint64_t every_ms, max_ms;
    typing_send_fn *send;
    void *ctx;
    struct dict *by_channel;       /* channel -> struct typing */
};

struct typing_keeper *typing_keeper_new(uv_loop_t *loop, uint64_t every_ms, uint64_t max_ms, typing_send_fn *send,
                                        void *ctx) {
    struct typing_keeper *k = xcalloc(1, sizeof(*k));
    if (!k) return NULL;
    k->loop = loop;
    k->every_ms = every_ms ? every_ms : 1;
    k->max_ms = max_ms;
    k->send = send;
    k->ctx = ctx;
    k->by_channel = dict_new();
    return k;
}

/* Stop T's renewals and free it (its timer closes on the loop). */
static void typing_free(struct typing *t) {
    timer_free(&t->timer);
    free(t->channel);
    free(t);
}

void typing_keeper_stop(struct typing_keeper *k, const char *channel) {
    struct typing *t = k ? dict_del(k->by_channel, channel) : NULL;
    if (t) typing_free(t);
}

/* Renew "typing", unless the reply has been awaited for too long. */
static void on_typing_timer(uv_timer_t *timer) {
    struct typing *t = timer->data;
    struct typing_keeper *k = t->keeper;
    if (uv_now(k->loop) - t->started > k->max_ms) {
        typing_keeper_stop(k, t->channel);
        return;
    }
    k->send(k->ctx, t->channel);
}

int typing_keeper_start(struct typing_keeper *k, const char *channel) {
    if (!k || dict_get(k->by_channel, channel)) return 0;
    struct typing *t = xcalloc(1, sizeof(*t));
    if (!t) return -1;
    t->keeper = k;
    t->channel = xstrdup(channel);
    t->timer = timer_new(k->loop, t);
    t->started = uv_now(k->loop);
    dict_set(k->by_channel, channel, t);
    uv_timer_start(t->timer, on_typing_timer, k->every_ms, k->every_ms);
    return k->send(k->ctx, channel);
}

void typing_keeper_free(struct typing_keeper *k) {
    if (!k) return;
    void **all = dict_values(k->by_channel);
    for (void **v = all; *v; v++) typing_free(*v);
    free(all);
    dict_free(k->by_channel);
    free(k);
}
