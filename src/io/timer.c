/* timer.c - libuv timers allocated on their own (timer.h). */
#include <stdlib.h>
#include "io/timer.h"
#include "lib/xalloc.h"

/* uv_close callback: the timer's memory is ours to free only now. */
static void timer_closed(uv_handle_t *h) {
    free(h);
}

/* A timer of its own allocation, so closing it never waits on its owner. */
uv_timer_t *timer_new(uv_loop_t *loop, void *data) {
    uv_timer_t *t = xmalloc(sizeof(*t));
    uv_timer_init(loop, t);
    t->data = data;
    return t;
}

/* Stop and close a timer made by timer_new; safe on NULL. */
void timer_free(uv_timer_t **t) {
    if (!*t) return;
    uv_timer_stop(*t);
    uv_close((uv_handle_t *)*t, timer_closed);
    *t = NULL;
}
