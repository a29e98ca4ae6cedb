/* edit_stream.c - streamed replies as one message edited while it grows
 * (edit_stream.h). Each stream has at most one call in flight, so its post
 * and edits reach the platform in order; a timer spaces the edits. */
#include <stdlib.h>
#include <string.h>
#include "core/edit_stream.h"
#include "io/timer.h"
#include "lib/dict.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct edit_stream {
    struct edit_streams *hub;
    char *key;
    char *channel;
    char *reply_to;
    char *thread;              /* where the first post goes (the adapter's), or NULL */
    char *text;                /* what the message should say */
    size_t len, cap;
    char *message_id;          /* once the POST answered */
    int busy;                  /* a POST or PATCH in flight */
    int dirty;                 /* TEXT changed since the last request */
    int failed;                /* the message could not be made: the final is a plain send */
    int final;                 /* the final text is in; finish once it is shown */
    uint64_t last_edit;
    uv_timer_t *timer;
    platform_sent_fn *cb;
    void *data;
};

struct edit_streams {
    uv_loop_t *loop;
    const struct edit_stream_ops *ops;
    void *ctx;
    uint64_t edit_ms, idle_ms;
    struct dict *by_key;       /* channel \x1f reply_to -> struct edit_stream */
};

struct edit_streams *edit_streams_new(uv_loop_t *loop, const struct edit_stream_ops *ops, void *ctx, uint64_t edit_ms,
                                      uint64_t idle_ms) {
    struct edit_streams *s = xcalloc(1, sizeof(*s));
    if (!s) return NULL;
    s->loop = loop;
    s->ops = ops;
    s->ctx = ctx;
    s->edit_ms = edit_ms;
    s->idle_ms = idle_ms ? idle_ms : 1;
    s->by_key = dict_new();
    return s;
}

/* Unlink and free ST (its calls must be over or cancelled). */
static void stream_free(struct edit_stream *st) {
    dict_del(st->hub->by_key, st->key);
    timer_free(&st->timer);
    free(st->key);
    free(st->channel);
    free(st->reply_to);
    free(st->thread);
    free(st->text);
    free(st->message_id);
    free(st);
}

void edit_streams_free(struct edit_streams *s) {
    if (!s) return;
    void **all = dict_values(s->by_key);
    for (void **v = all; *v; v++) stream_free(*v);
    free(all);
    dict_free(s->by_key);
    free(s);
}

static void pump(struct edit_stream *st);

/* The throttle (or the idle time) is over. */
static void on_timer(uv_timer_t *t) {
    struct edit_stream *st = t->data;
    if (!st->busy && !st->dirty && !st->final) {
        log_debug("%s: a streamed reply in %s was never finalized; forgetting it", st->hub->ops->platform, st->channel);
        stream_free(st);
        return;
    }
    pump(st);
}

/* The stream is done: report the message id (or ERR) and forget it. */
static void finish(struct edit_stream *st, const char *id, const char *err) {
    platform_sent_fn *cb = st->cb;
    void *data = st->data;
    char *copy = id ? xstrdup(id) : NULL;
    stream_free(st);
    if (cb) cb(copy, err, data);
    free(copy);
}

/* The first POST answered: edits can follow. */
static void on_posted(const char *message_id, const char *err, void *data) {
    struct edit_stream *st = data;
    st->busy = 0;
    if (err || !message_id) st->failed = 1;
    else st->message_id = xstrdup(message_id);
    pump(st);
}

/* An edit answered; a failed final edit falls back to a plain send. */
void edit_stream_edited(struct edit_stream *st, const char *err) {
    st->busy = 0;
    if (err && st->final && !st->dirty) {
        free(st->message_id);
        st->message_id = NULL;
        st->failed = 1;
    }
    pump(st);
}

/* Forget ST and post its text from byte FROM as an ordinary reply
 * (answering the user's message when ANSWER); its sender hears of that
 * post, or ERR when it cannot be sent. */
static void post_plain(struct edit_stream *st, size_t from, int answer, const char *err) {
    struct edit_streams *s = st->hub;
    platform_sent_fn *cb = st->cb;
    void *data = st->data;
    char *text = xstrndup(st->text + from, st->len - from);
    char *channel = xstrdup(st->channel);
    char *reply_to = answer ? xstrdup(st->reply_to) : NULL;
    char *thread = st->thread ? xstrdup(st->thread) : NULL;
    stream_free(st);
    if (s->ops->post(s->ctx, channel, reply_to, thread, text, cb, data) < 0 && cb) cb(NULL, err, data);
    free(text);
    free(channel);
    free(reply_to);
    free(thread);
}

/* The final text is shown: post whatever of it is past the first message
 * (in the thread, answering nothing), or finish. */
static void finish_final(struct edit_stream *st) {
    size_t head = st->hub->ops->fits(st->text, st->len);
    if (head >= st->len) finish(st, st->message_id, NULL);
    else post_plain(st, head, 0, "the rest of the reply could not be sent");
}

/* The final text goes out as an ordinary reply (no streamed message to edit). */
static void plain_final(struct edit_stream *st) {
    post_plain(st, 0, 1, "an empty reply cannot be sent");
}

/* Does TEXT hold something a platform would show (not only spaces)? */
static int showable(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r') return 1;
    return 0;
}

/* Take the next step: post, edit (throttled), finish, or wait. */
static void pump(struct edit_stream *st) {
    struct edit_streams *s = st->hub;
    if (st->busy) return;
    uv_timer_stop(st->timer);
    if (!st->message_id) {
        if (st->failed) {
            if (st->final) plain_final(st);
            return;
        }
        if (!showable(st->text, st->len)) {
            if (st->final) {
                plain_final(st);
                return;
            }
            st->dirty = 0;      /* nothing to show yet: wait for more, or forget it when idle */
            uv_timer_start(st->timer, on_timer, s->idle_ms, 0);
            return;
        }
        char *first = xstrndup(st->text, s->ops->fits(st->text, st->len));
        st->busy = 1;
        st->dirty = 0;
        st->last_edit = uv_now(s->loop);
        if (s->ops->post(s->ctx, st->channel, st->reply_to, st->thread, first, on_posted, st) < 0) {
            st->busy = 0;
            st->failed = 1;
        }
        free(first);
        return;
    }
    if (st->dirty) {
        uint64_t now = uv_now(s->loop);
        if (now < st->last_edit + s->edit_ms) {
            uv_timer_start(st->timer, on_timer, st->last_edit + s->edit_ms - now, 0);
            return;
        }
        st->busy = 1;
        st->dirty = 0;
        st->last_edit = now;
        size_t n = s->ops->fits(st->text, st->len);
        if (s->ops->edit(s->ctx, st->channel, st->message_id, st->text, n, st) < 0) st->busy = 0;
        return;
    }
    if (st->final) {
        finish_final(st);
        return;
    }
    uv_timer_start(st->timer, on_timer, s->idle_ms, 0);
}

/* Replace or extend ST's text. Returns 0 or -1 (out of memory). */
static int set_text(struct edit_stream *st, const char *text, size_t len, int append) {
    size_t need = (append ? st->len : 0) + len + 1;
    if (need > st->cap) {
        size_t cap = st->cap ? st->cap : 256;
        while (cap < need) cap *= 2;
        char *p = xrealloc(st->text, cap);
        if (!p) return -1;
        st->text = p;
        st->cap = cap;
    }
    if (!append) st->len = 0;
    memcpy(st->text + st->len, text, len);
    st->len += len;
    st->text[st->len] = '\0';
    return 0;
}

void edit_stream_delta(struct edit_streams *s, const char *channel, const char *reply_to, const char *thread,
                       const char *text, size_t len) {
    if (!s || !reply_to || len == 0) return;
    char key[512];
    dict_key2(key, sizeof(key), channel, reply_to);   /* the reply: its channel and the message it answers */
    struct edit_stream *st = dict_get(s->by_key, key);
    if (st && st->final) return;            /* it is being finished; later pieces would undo that */
    if (!st) {
        st = xcalloc(1, sizeof(*st));
        if (!st) return;
        st->hub = s;
        st->key = xstrdup(key);
        st->channel = xstrdup(channel);
        st->reply_to = xstrdup(reply_to);
        st->thread = thread && *thread ? xstrdup(thread) : NULL;
        st->timer = timer_new(s->loop, st);
        dict_set(s->by_key, key, st);
    }
    if (set_text(st, text, len, 1) < 0) return;
    st->dirty = 1;
    pump(st);
}

int edit_stream_final(struct edit_streams *s, const char *channel, const char *reply_to, const char *text,
                      platform_sent_fn *cb, void *data) {
    if (!s || !reply_to) return 0;
    char key[512];
    dict_key2(key, sizeof(key), channel, reply_to);
    struct edit_stream *st = dict_get(s->by_key, key);
    if (!st || st->final) return 0;
    size_t len = strlen(text);
    if (len != st->len || memcmp(text, st->text, len) != 0) {
        if (set_text(st, text, len, 0) < 0) return 0;
        st->dirty = 1;
    }
    st->final = 1;
    st->cb = cb;
    st->data = data;
    pump(st);
    return 1;
}
