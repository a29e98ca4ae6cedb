/* timer.h - libuv timers allocated on their own, so an owner can be freed
 * while the timer's close is still pending on the loop. */
#ifndef CHORUS_TIMER_H
#define CHORUS_TIMER_H

#include <uv.h>

/* A started-nowhere timer on LOOP whose data is DATA. */
uv_timer_t *timer_new(uv_loop_t *loop, void *data);

/* Stop and close *T (its memory goes in the close callback); *T becomes NULL. */
void timer_free(uv_timer_t **t);

#endif
