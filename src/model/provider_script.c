/* provider_script.c - the test kit's scripted model as a provider: the
 * next queued answer (or error), delivered on the loop's next turn. */
#include <stdlib.h>
#include <string.h>
#include "model/model.h"
#include "model/provider_impl.h"
#include "model/script_model.h"
#include "lib/xalloc.h"

struct script_call {
    struct provider_call base;
    uv_timer_t timer;
    char *text;
    char *error;
    provider_delta_fn *on_delta;
    void *delta_data;
    provider_done_fn *cb;
    void *data;
};

static void script_closed(uv_handle_t *h) {
    struct script_call *c = h->data;
    free(c->text);
    free(c->error);
    free(c);
}

/* Hand out the scripted answer as a provider result. */
static void script_deliver(uv_timer_t *t) {
    struct script_call *c = t->data;
    struct provider_result res = { .retry_after_ms = -1, .finish_reason = "stop" };
    if (c->error) {
        res.kind = MODEL_ERR_SERVER;
        res.error = c->error;
    } else {
        res.text = c->text;
        res.completion_tokens = (long)(strlen(c->text) / 4 + 1);
        if (c->on_delta) c->on_delta(c->text, strlen(c->text), c->delta_data);
    }
    c->cb(&res, c->data);
    uv_close((uv_handle_t *)t, script_closed);
}

static void script_cancel(struct provider_call *call) {
    struct script_call *c = (struct script_call *)call;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, script_closed);
}

struct provider_call *script_start(uv_loop_t *loop, const struct provider_request *req,
                                   provider_done_fn *cb, void *data, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    struct script_call *c = xcalloc(1, sizeof(*c));
    c->base.cancel = script_cancel;
    script_model_take(req->model->name, req->messages, &c->text, &c->error);
    c->on_delta = req->on_delta;
    c->delta_data = req->delta_data;
    c->cb = cb;
    c->data = data;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, script_deliver, 0, 0);
    return &c->base;
}
