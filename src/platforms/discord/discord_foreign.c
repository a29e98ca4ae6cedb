/* discord_foreign.c - replies to events another gateway may have received,
 * held while Redis says whether they answer an interaction (see
 * discord_foreign.h). */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "core/server.h"
#include "io/timer.h"
#include "lib/dict.h"
#include "lib/log.h"
#include "lib/recent.h"
#include "lib/xalloc.h"
#include "platforms/discord/discord_foreign.h"
#include "platforms/discord/discord_ixshare.h"

#define ASK_TRIES 30            /* a deferral in flight: ask again this often before posting */
#define PLAIN_KEEP_MS 60000     /* how long "no interaction" is remembered for later pieces */
#define HEARD_KEEP 16384        /* events received here remembered: replies to them need no question */

enum { ASKING, PLAIN };

/* A reply or a piece waiting for the answer. */
struct held {
    int piece;
    char *channel, *reply_to, *text, *persona, *nonce;
    size_t len;
    json_t *rich;
    platform_sent_fn *cb;
    void *cb_data;
    struct held *next;
};

/* One event asked about. */
struct entry {
    struct discord_foreign *f;
    char *id;
    int state;
    int tries;
    uint64_t at;
    uv_timer_t *retry;
    struct held *head, *tail;
};

struct discord_foreign {
    uv_loop_t *loop;
    struct discord_ixshare *share;
    struct discord_foreign_ops ops;
    void *data;
    double ask_ms;
    struct dict *by_id;
    uint64_t swept_at;
    struct recent *heard;           /* ids of the last HEARD_KEEP events received here */
};

struct discord_foreign *discord_foreign_new(uv_loop_t *loop, struct discord_ixshare *share,
                                            const struct discord_foreign_ops *ops, void *data, double ask_ms) {
    struct discord_foreign *f = xcalloc(1, sizeof(*f));
    if (!f) return NULL;
    f->loop = loop;
    f->share = share;
    f->ops = *ops;
    f->data = data;
    f->ask_ms = ask_ms;
    f->by_id = dict_new();
    f->heard = recent_new(HEARD_KEEP, NULL);
    return f;
}

/* Channel messages, reactions and edits this gateway received: their
 * replies come back here (docs/scaling.md), and none is an interaction. */
void discord_foreign_heard(struct discord_foreign *f, const char *id) {
    if (!f || !id || recent_get(f->heard, id)) return;
    recent_set(f->heard, id, f);
}

static void held_free(struct held *h) {
    free(h->channel);
    free(h->reply_to);
    free(h->text);
    free(h->persona);
    free(h->nonce);
    json_decref(h->rich);
    free(h);
}

/* Free E and what it holds; with WHY, each held reply's sender hears it failed. */
static void entry_free(struct entry *e, const char *why) {
    while (e->head) {
        struct held *h = e->head;
        e->head = h->next;
        if (why && h->cb) h->cb(NULL, why, h->cb_data);
        held_free(h);
    }
    timer_free(&e->retry);
    free(e->id);
    free(e);
}

void discord_foreign_free(struct discord_foreign *f) {
    if (!f) return;
    void **all = dict_values(f->by_id);
    for (size_t i = 0; all && all[i]; i++) entry_free(all[i], "Discord is not running");
    free(all);
    dict_free(f->by_id);
    recent_free(f->heard);
    free(f);
}

/* Send or show what waited, in order (the list is E's no more). */
static void replay(struct discord_foreign *f, struct held *h) {
    while (h) {
        struct held *next = h->next;
        if (h->piece) {
            f->ops.piece(h->channel, h->reply_to, h->text, h->len, f->data);
        } else {
            struct outgoing out = { h->channel, h->text, h->reply_to, h->persona, h->rich, h->nonce };
            f->ops.send(&out, h->cb, h->cb_data, f->data);
        }
        held_free(h);
        h = next;
    }
}

static int ask(struct entry *e);

/* Ask again: the other gateway's deferral was still in flight. */
static void on_retry(uv_timer_t *t) {
    struct entry *e = t->data;
    if (ask(e) == 0) return;
    /* Redis went away: post in the channel, as if it were no interaction. */
    struct held *h = e->head;
    e->head = e->tail = NULL;
    struct discord_foreign *f = e->f;
    dict_del(f->by_id, e->id);
    entry_free(e, NULL);
    replay(f, h);
}

/* Redis answered for E: adopt the interaction, or let the replies go as they are. */
static void on_got(const struct discord_ixshare_record *rec, const char *err, void *data) {
    struct entry *e = data;
    struct discord_foreign *f = e->f;
    if (rec && rec->acked == 0 && ++e->tries < ASK_TRIES) {
        if (!e->retry) e->retry = timer_new(f->loop, e);
        if (e->retry) {
            uv_timer_start(e->retry, on_retry, (uint64_t)f->ask_ms, 0);
            return;
        }
    }
    if (err) log_warn("discord: cannot tell whether %s is another gateway's slash command (%s); replying in the channel", e->id, err);
    struct held *h = e->head;
    e->head = e->tail = NULL;
    int has_send = 0;
    for (struct held *x = h; x; x = x->next) has_send |= !x->piece;
    if (rec) {
        struct discord_ixshare_record r = *rec;
        if (r.acked == 0) r.acked = -1;        /* never deferred in time: the channel it is */
        f->ops.adopt(e->id, &r, (long long)(server_now() * 1000.0), f->data);
        log_info("discord: answering interaction %s, which another gateway deferred", e->id);
    }
    if (rec || has_send) {
        dict_del(f->by_id, e->id);
        entry_free(e, NULL);
    } else {
        e->state = PLAIN;
        e->at = uv_now(f->loop);
    }
    replay(f, h);
}

/* Ask Redis about E. 0, or -1 when Redis is down. */
static int ask(struct entry *e) {
    return discord_ixshare_get(e->f->share, e->id, on_got, e);
}

/* Forget old "no interaction" answers, at most once a minute. */
static void sweep(struct discord_foreign *f) {
    uint64_t now = uv_now(f->loop);
    if (now - f->swept_at < PLAIN_KEEP_MS) return;
    f->swept_at = now;
    void **all = dict_values(f->by_id);
    for (size_t i = 0; all && all[i]; i++) {
        struct entry *e = all[i];
        if (e->state == PLAIN && now - e->at > PLAIN_KEEP_MS) {
            dict_del(f->by_id, e->id);
            entry_free(e, NULL);
        }
    }
    free(all);
}

/* Queue H behind what waits for ID, asking Redis first if nobody has.
 * 1 when held, 0 when the caller goes ahead (H then freed here). */
static int hold(struct discord_foreign *f, const char *id, struct held *h) {
    struct entry *e = dict_get(f->by_id, id);
    if (e && e->state == PLAIN) {
        if (h->piece) e->at = uv_now(f->loop);
        else {                         /* the final send ends the reply */
            dict_del(f->by_id, id);
            entry_free(e, NULL);
        }
        held_free(h);
        return 0;
    }
    if (!e) {
        sweep(f);
        e = xcalloc(1, sizeof(*e));
        if (!e) {
            held_free(h);
            return 0;
        }
        e->f = f;
        e->id = xstrdup(id);
        e->state = ASKING;
        if (ask(e) < 0) {
            entry_free(e, NULL);
            held_free(h);
            return 0;
        }
        dict_set(f->by_id, id, e);
    }
    if (e->tail) e->tail->next = h;
    else e->head = h;
    e->tail = h;
    return 1;
}

int discord_foreign_send(struct discord_foreign *f, const struct outgoing *out, platform_sent_fn *cb, void *cb_data) {
    if (!f || !out->reply_to || recent_get(f->heard, out->reply_to)) return 0;
    struct held *h = xcalloc(1, sizeof(*h));
    if (!h) return 0;
    h->channel = xstrdup(out->channel);
    h->reply_to = xstrdup(out->reply_to);
    h->text = xstrdup(out->text);
    h->persona = out->persona ? xstrdup(out->persona) : NULL;
    h->nonce = out->nonce ? xstrdup(out->nonce) : NULL;
    h->rich = out->rich ? json_deep_copy(out->rich) : NULL;
    h->cb = cb;
    h->cb_data = cb_data;
    return hold(f, out->reply_to, h);
}

int discord_foreign_piece(struct discord_foreign *f, const char *channel, const char *reply_to, const char *text,
                          size_t len) {
    if (!f || !reply_to || recent_get(f->heard, reply_to)) return 0;
    struct held *h = xcalloc(1, sizeof(*h));
    if (!h) return 0;
    h->piece = 1;
    h->channel = xstrdup(channel);
    h->reply_to = xstrdup(reply_to);
    h->text = xstrndup(text, len);
    h->len = len;
    return hold(f, reply_to, h);
}
