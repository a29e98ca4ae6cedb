/* provider_script.c - the test kit's scripted model as a provider: the
 * next queued answer (or error, or tool call), delivered on the loop's next
 * turn. A streamed answer comes as one delta per word, as real models send
 * small pieces. A scripted failure is final: the router does not retry it
 * (it would eat the answers queued after it). */
#include <stdlib.h>
#include <string.h>
#include "model/model.h"
#include "model/provider_impl.h"
#include "model/script_model.h"
#include "lib/xalloc.h"

struct script_call {
    struct provider_call base;
    uv_timer_t timer;
    struct script_answer answer;
    int stream;
    provider_delta_fn *on_delta;
    void *delta_data;
    provider_done_fn *cb;
    void *data;
};

static void script_closed(uv_handle_t *h) {
    struct script_call *c = h->data;
    script_answer_free(&c->answer);
    free(c);
}

/* Hand TEXT to the delta callback a word (and its trailing spaces) at a time. */
static void stream_words(struct script_call *c, const char *text) {
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, " \n");
        n += strspn(p + n, " \n");
        c->on_delta(p, n, c->delta_data);
        p += n;
    }
}

/* Hand out the scripted answer as a provider result. */
static void script_deliver(uv_timer_t *t) {
    struct script_call *c = t->data;
    struct script_answer *a = &c->answer;
    struct provider_result res = { .retry_after_ms = -1, .finish_reason = "stop" };
    if (a->error) {
        res.kind = (enum model_error)a->kind;
        res.error = a->error;
        res.final = 1;
    } else {
        res.text = a->text;
        res.tool_calls = a->tool_calls;
        if (a->tool_calls) res.finish_reason = "tool_calls";
        res.completion_tokens = (long)(strlen(a->text) / 4 + 1);
        if (c->on_delta && c->stream) stream_words(c, a->text);   /* only a "streaming" model streams */
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
    script_model_take(req->model->name, req->messages, req->tools, &c->answer);
    c->stream = req->stream;
    c->on_delta = req->on_delta;
    c->delta_data = req->delta_data;
    c->cb = cb;
    c->data = data;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, script_deliver, 0, 0);
    return &c->base;
}
