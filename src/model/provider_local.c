/* provider_local.c - the built-in offline responder as a provider: the
 * answer comes from the loop's next turn, as every provider's does. */
#include <stdlib.h>
#include <string.h>
#include "model/local_model.h"
#include "model/provider_impl.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

struct local_call {
    struct provider_call base;
    uv_timer_t timer;
    char *text;
    int stream;
    provider_delta_fn *on_delta;
    void *delta_data;
    uint64_t started;
    provider_done_fn *cb;
    void *data;
};

static void local_closed(uv_handle_t *h) {
    struct local_call *c = h->data;
    free(c->text);
    free(c);
}

/* Deliver the answer: streamed word by word when asked, then the result. */
static void local_deliver(uv_timer_t *t) {
    struct local_call *c = t->data;
    if (c->stream && c->on_delta) {
        const char *p = c->text;
        while (*p) {
            const char *sp = strchr(p + 1, ' ');
            size_t n = sp ? (size_t)(sp - p) : strlen(p);
            c->on_delta(p, n, c->delta_data);
            p += n;
        }
    }
    double ms = (double)(uv_now(t->loop) - c->started);
    struct provider_result res = {
        .kind = MODEL_OK, .text = c->text, .finish_reason = "stop", .retry_after_ms = -1,
        .prompt_tokens = 0, .completion_tokens = (long)(strlen(c->text) / 4 + 1), .latency_ms = ms, .ttft_ms = ms
    };
    c->cb(&res, c->data);
    uv_close((uv_handle_t *)t, local_closed);
}

static void local_cancel(struct provider_call *call) {
    struct local_call *c = (struct local_call *)call;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, local_closed);
}

struct provider_call *local_start(uv_loop_t *loop, const struct provider_request *req,
                                  provider_done_fn *cb, void *data, char *err, size_t errlen) {
    struct local_call *c = xcalloc(1, sizeof(*c));
    c->base.cancel = local_cancel;
    c->text = local_model_reply(req->messages);
    if (!c->text) {
        snprintf(err, errlen, "the local model ran out of memory");
        free(c);
        return NULL;
    }
    c->stream = req->stream;
    c->on_delta = req->on_delta;
    c->delta_data = req->delta_data;
    c->cb = cb;
    c->data = data;
    c->started = uv_now(loop);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, local_deliver, 0, 0);
    return &c->base;
}
