/* typing.c - "typing..." renewed per channel until the reply goes out
 * (typing.h). */
#include <stdlib.h>
#include "core/typing.h"
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

/* uv_close callback of a typing timer: the state goes with it. */
static void typing_closed(uv_handle_t *h) {
    struct typing *t = h->data;
    free(t->channel);
    free(t);
    free(h);
}

void typing_keeper_stop(struct typing_keeper *k, const char *channel) {
    struct typing *t = k ? dict_del(k->by_channel, channel) : NULL;
    if (!t) return;
    uv_timer_stop(t->timer);
    uv_close((uv_handle_t *)t->timer, typing_closed);
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
    t->timer = xmalloc(sizeof(uv_timer_t));
    t->started = uv_now(k->loop);
    uv_timer_init(k->loop, t->timer);
    t->timer->data = t;
    dict_set(k->by_channel, channel, t);
    uv_timer_start(t->timer, on_typing_timer, k->every_ms, k->every_ms);
    return k->send(k->ctx, channel);
}

/* dict_each helper: gather the channels, to stop them outside the walk. */
static void collect(const char *key, void *value, void *arg) {
    (void)key;
    struct typing ***cursor = arg;
    **cursor = value;
    (*cursor)++;
}

void typing_keeper_free(struct typing_keeper *k) {
    if (!k) return;
    size_t n = dict_size(k->by_channel);
    struct typing **all = xcalloc(n + 1, sizeof(*all));
    struct typing **cursor = all;
    dict_each(k->by_channel, collect, &cursor);
    for (size_t i = 0; i < n; i++) {
        uv_timer_stop(all[i]->timer);
        uv_close((uv_handle_t *)all[i]->timer, typing_closed);
    }
    free(all);
    dict_free(k->by_channel);
    free(k);
}
