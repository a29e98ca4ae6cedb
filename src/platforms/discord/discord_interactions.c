/* discord_interactions.c - deferred answers and ordered follow-ups of
 * slash commands (discord_interactions.h). One follow-up of an interaction
 * is in flight at a time, so replies arrive in the order they were made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/dict.h"
#include "platforms/discord/discord_interactions.h"
#include "platforms/discord/discord_ixshare.h"
#include "platforms/discord/discord_rich.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

struct part {
    char *text;
    size_t len;
    platform_sent_fn *cb;      /* only on a reply's last part */
    void *data;
    json_t *rich;              /* only on a reply's last part: embed, buttons, ephemeral */
    struct part *next;
};

struct interaction {
    struct discord_interactions *ix;
    char *id;
    char *token;
    char *app_id;
    char *channel;
    uint64_t created;
    int acked;                 /* 0 waiting, 1 deferred, -1 the deferral failed */
    int original_used;         /* the deferred response has been edited */
    int claimed;               /* shared: @original asked of Redis (1 asking, 2 answered) */
    int busy;                  /* a follow-up in flight */
    struct part *head, *tail;
    char *draft;               /* a streamed answer so far, shown in @original */
    size_t draft_len;
    int draft_busy;            /* an edit of the draft in flight */
    uint64_t draft_at;         /* when the draft was last shown */
};

struct discord_interactions {
    uv_loop_t *loop;
    struct discord_rest *rest;
    struct dict *by_id;
    double edit_ms;            /* at most one draft edit per this, per interaction */
    struct discord_ixshare *share;  /* gateways sharing the bot: the interactions are in Redis too */
};

struct discord_interactions *discord_interactions_new(uv_loop_t *loop, struct discord_rest *rest, double time_scale) {
    struct discord_interactions *ix = xcalloc(1, sizeof(*ix));
    if (!ix) return NULL;
    ix->loop = loop;
    ix->rest = rest;
    ix->edit_ms = INTERACTION_EDIT_MS * time_scale;
    ix->by_id = dict_new();
    return ix;
}

/* Free IN and what it still queues (no callbacks). */
static void interaction_free(struct interaction *in) {
    while (in->head) {
        struct part *p = in->head;
        in->head = p->next;
        free(p->text);
        json_decref(p->rich);
        free(p);
    }
    free(in->id);
    free(in->token);
    free(in->app_id);
    free(in->channel);
    free(in->draft);
    free(in);
}

struct sweep {
    struct interaction **list;
    size_t n;
    uint64_t now;
    int all;
};

/* dict_each helper: pick the interactions to forget. */
static void pick(const char *key, void *value, void *arg) {
    (void)key;
    struct sweep *s = arg;
    struct interaction *in = value;
    int expired = s->now > in->created + (uint64_t)INTERACTION_TOKEN_MS;
    if (s->all || (expired && !in->busy && !in->draft_busy && !in->head)) s->list[s->n++] = in;
}

/* Forget expired, idle interactions (or ALL of them). */
static void sweep(struct discord_interactions *ix, int all) {
    struct sweep s = { xcalloc(dict_size(ix->by_id) + 1, sizeof(struct interaction *)), 0, uv_now(ix->loop), all };
    if (!s.list) return;
    dict_each(ix->by_id, pick, &s);
    for (size_t i = 0; i < s.n; i++) {
        dict_del(ix->by_id, s.list[i]->id);
        interaction_free(s.list[i]);
    }
    free(s.list);
}

void discord_interactions_share(struct discord_interactions *ix, struct discord_ixshare *share) {
    if (ix) ix->share = share;
}

void discord_interactions_free(struct discord_interactions *ix) {
    if (!ix) return;
    sweep(ix, 1);
    dict_free(ix->by_id);
    free(ix);
}

static void pump(struct interaction *in);

/* Redis said whether this gateway edits @original: another one did first. */
static void on_claimed(int won, void *data) {
    struct interaction *in = data;
    in->claimed = 2;
    in->busy = 0;
    if (!won) in->original_used = 1;
    pump(in);
}

/* One part went out (or failed): tell its reply's sender, then send the next. */
static void part_done(struct interaction *in, const char *id, const char *err) {
    struct part *p = in->head;
    in->head = p->next;
    if (!in->head) in->tail = NULL;
    in->busy = 0;
    if (p->cb) p->cb(err ? NULL : id, err, p->data);
    free(p->text);
    json_decref(p->rich);
    free(p);
    pump(in);
}

/* A follow-up answered. */
static void on_followup(long status, json_t *body, const char *err, void *data) {
    (void)status;
    part_done(data, json_string_value(json_object_get(body, "id")), err);
}

/* A fallback post in the channel answered. */
static void on_posted(const char *message_id, const char *err, void *data) {
    part_done(data, message_id, err);
}

/* The deferred response is not used (an ephemeral answer went instead). */
static void on_original_deleted(long status, json_t *body, const char *err, void *data) {
    (void)status, (void)body;
    if (err) log_debug("discord: removing the deferred response of interaction %s failed: %s", (char *)data, err);
    free(data);
}

/* Send the next part: a follow-up while the token lasts, else a channel
 * post. An ephemeral part cannot edit the deferred (public) response: it
 * goes as a new ephemeral follow-up and the "thinking..." one is removed. */
static void pump(struct interaction *in) {
    struct discord_interactions *ix = in->ix;
    if (in->busy || in->acked == 0 || !in->head) return;
    struct part *p = in->head;
    int expired = uv_now(ix->loop) > in->created + (uint64_t)INTERACTION_TOKEN_MS - 5000;
    in->busy = 1;
    int rc;
    if (in->acked < 0 || expired) {
        json_t *extra = discord_rich_fields(p->rich, 0);
        rc = discord_rest_send_rich(ix->rest, in->channel, p->text, NULL, extra, on_posted, in);
        json_decref(extra);
    } else {
        if (!in->original_used && ix->share && in->claimed == 0) {
            /* Another gateway may be answering it too: one of us edits @original. */
            in->claimed = 1;
            if (discord_ixshare_claim(ix->share, in->id, on_claimed, in) == 0) return;
            in->claimed = 2;
        }
        int ephemeral = json_is_true(json_object_get(p->rich, "ephemeral"));
        int original = !in->original_used && !ephemeral;
        if (!in->original_used && ephemeral) {
            size_t plen = strlen(in->app_id) + strlen(in->token) + 40;
            char *path = xmalloc(plen);
            snprintf(path, plen, "/webhooks/%s/%s/messages/@original", in->app_id, in->token);
            discord_rest_call(ix->rest, "DELETE", path, NULL, on_original_deleted, xstrdup(in->id));
            free(path);
        }
        in->original_used = 1;
        json_t *extra = discord_rich_fields(p->rich, 1);
        rc = discord_rest_followup_rich(ix->rest, in->app_id, in->token, original, p->text, p->len, extra, on_followup, in);
        json_decref(extra);
    }
    if (rc < 0) part_done(in, NULL, "the reply could not be queued");
}

/* The deferral answered: follow-ups may go. A retried deferral (the first
 * try's answer was lost, a 502 from Cloudflare or a timeout, after Discord
 * took it) is told 40060, "Interaction has already been acknowledged": it
 * is deferred then, and its answer still belongs in the follow-ups. */
static void on_deferred(long status, json_t *body, const char *err, void *data) {
    struct interaction *in = data;
    if (err && status == 400 && json_integer_value(json_object_get(body, "code")) == 40060) {
        log_info("discord: interaction %s was deferred already (a retry after a lost answer)", in->id);
        err = NULL;
    }
    in->acked = err ? -1 : 1;
    if (in->ix->share) discord_ixshare_acked(in->ix->share, in->id, in->acked);
    if (err) log_warn("discord: deferring interaction %s failed (%s); its replies go to the channel", in->id, err);
    pump(in);
}

int discord_interaction_defer(struct discord_interactions *ix, const char *app_id, const char *id, const char *token,
                              const char *channel, int component) {
    sweep(ix, 0);
    if (dict_get(ix->by_id, id)) return -1;         /* seen already */
    struct interaction *in = xcalloc(1, sizeof(*in));
    if (!in) return -1;
    in->ix = ix;
    in->id = xstrdup(id);
    in->token = xstrdup(token);
    in->app_id = xstrdup(app_id);
    in->channel = xstrdup(channel);
    in->created = uv_now(ix->loop);
    in->original_used = component;    /* a button's message stays as it is */
    dict_set(ix->by_id, id, in);
    if (ix->share && discord_ixshare_put(ix->share, id, app_id, token, channel, component) < 0)
        log_warn("discord: interaction %s is not recorded for the other gateways (Redis is down)", id);
    int type = component ? INTERACTION_CALLBACK_DEFERRED_UPDATE : INTERACTION_CALLBACK_DEFERRED;
    if (discord_rest_interaction_callback(ix->rest, id, token, type, on_deferred, in) < 0)
        in->acked = -1;
    return 0;
}

/* Queue one part of a reply. Returns 0 or -1. */
static int queue_part(struct interaction *in, const char *text, size_t len, const json_t *rich, platform_sent_fn *cb,
                      void *data) {
    struct part *p = xcalloc(1, sizeof(*p));
    if (!p) return -1;
    p->text = xstrndup(text, len);
    p->len = len;
    p->cb = cb;
    p->data = data;
    p->rich = rich ? json_deep_copy(rich) : NULL;
    if (in->tail) in->tail->next = p;
    else in->head = p;
    in->tail = p;
    return 0;
}

/* A draft edit answered; a failure only costs the live view. */
static void on_draft_edited(long status, json_t *body, const char *err, void *data) {
    struct interaction *in = data;
    (void)status;
    (void)body;
    in->draft_busy = 0;
    if (err) log_debug("discord: showing the streamed answer of interaction %s failed: %s", in->id, err);
}

int discord_interaction_delta(struct discord_interactions *ix, const char *reply_to, const char *text, size_t len) {
    struct interaction *in = ix && reply_to ? dict_get(ix->by_id, reply_to) : NULL;
    if (!in) return 0;
    /* Shared with other gateways, pieces could edit @original after another
     * gateway's final answer did: the answer arrives whole instead. */
    if (ix->share) return 1;
    /* Only the first answer streams, into @original, while the token lasts. */
    uint64_t now = uv_now(ix->loop);
    if (in->original_used || in->acked < 0 || now > in->created + (uint64_t)INTERACTION_TOKEN_MS - 5000) return 1;
    char *p = xrealloc(in->draft, in->draft_len + len + 1);
    if (!p) return 1;
    in->draft = p;
    memcpy(in->draft + in->draft_len, text, len);
    in->draft_len += len;
    in->draft[in->draft_len] = '\0';
    if (in->acked == 0 || in->draft_busy || in->busy || (in->draft_at && now - in->draft_at < (uint64_t)ix->edit_ms))
        return 1;
    /* discord_rest_followup cuts the text to Discord's 2000 code points. */
    if (discord_rest_followup(ix->rest, in->app_id, in->token, 1, in->draft, in->draft_len, on_draft_edited, in) == 0) {
        in->draft_busy = 1;
        in->draft_at = now;
    }
    return 1;
}

int discord_interaction_adopt(struct discord_interactions *ix, const char *id, const struct discord_ixshare_record *rec,
                              int64_t now_ms) {
    if (!ix || !id || !rec || dict_get(ix->by_id, id)) return -1;
    int64_t age = now_ms - rec->at_ms;
    if (age < 0) age = 0;
    struct interaction *in = xcalloc(1, sizeof(*in));
    if (!in) return -1;
    in->ix = ix;
    in->id = xstrdup(id);
    in->token = xstrdup(rec->token);
    in->app_id = xstrdup(rec->app_id);
    in->channel = xstrdup(rec->channel);
    uint64_t now = uv_now(ix->loop);
    in->created = (uint64_t)age < now ? now - (uint64_t)age : 0;
    in->acked = rec->acked < 0 ? -1 : 1;
    in->original_used = rec->original_taken;
    dict_set(ix->by_id, id, in);
    return 0;
}

int discord_interaction_known(struct discord_interactions *ix, const char *id) {
    return ix && id && dict_get(ix->by_id, id) != NULL;
}

int discord_interaction_send(struct discord_interactions *ix, const char *reply_to, const char *text,
                             const json_t *rich, platform_sent_fn *cb, void *data) {
    struct interaction *in = ix && reply_to ? dict_get(ix->by_id, reply_to) : NULL;
    if (!in) return 0;
    size_t len = strlen(text), off = 0;
    if (len == 0 && !rich) {
        if (cb) cb(NULL, "an empty reply cannot be sent to Discord", data);
        return 1;
    }
    do {
        size_t n = utf8_prefix(text + off, len - off, DISCORD_MAX_CONTENT_CP);
        int last = off + n >= len;
        if (queue_part(in, text + off, n, last ? rich : NULL, last ? cb : NULL, last ? data : NULL) < 0) {
            if (cb) cb(NULL, "out of memory", data);
            break;
        }
        off += n;
    } while (off < len);
    pump(in);
    return 1;
}
