/* channel.c - order per channel, concurrency across channels.
 *
 * Each channel has a FIFO of jobs and runs one at a time, so a turn is
 * stored before the next message of that channel is read, while different
 * channels proceed independently on the same loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline/channel.h"
#include "pipeline/group.h"
#include "conf/config.h"
#include "lib/dict.h"
#include "core/feed.h"
#include "core/job.h"
#include "core/series.h"
#include "core/limits.h"
#include "lib/log.h"
#include "core/message.h"
#include "lib/metrics.h"
#include "persona/card.h"
#include "persona/persona.h"
#include "persona/persona_import.h"
#include "model/model.h"
#include "io/redis_client.h"
#include "core/runtime.h"
#include "core/server.h"
#include "skills/dispatch.h"
#include "skills/skills.h"
#include "io/store.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

struct channel {
    char *key;
    struct job *head, *tail;    /* head is running when busy */
    int queued;
    size_t bytes;               /* text bytes of the queued jobs */
    int busy;
    int kick;                   /* its running job left the queue: the next starts on the next turn */
};

static struct dict *channels;

/* Channels whose next job starts on the next loop turn, by key. */
static uv_timer_t kick_timer;
static int kick_ready;
static char **kicks;
static int nkicks, kick_cap;
static channel_intercept_fn *intercept;

void channel_set_intercept(channel_intercept_fn *fn) {
    intercept = fn;
}

void channel_speak_as(struct job *job, const struct persona *p) {
    job->persona = p;
    job->speaker = p ? p->name : NULL;
}

void channel_init(void) {
    if (!channels) channels = dict_new();
    group_install();
}

int channel_active(void) {
    return channels ? (int)dict_size(channels) : 0;
}

void channel_shutdown(void) {
    if (kick_ready) {
        uv_timer_stop(&kick_timer);
        uv_close((uv_handle_t *)&kick_timer, NULL);
        kick_ready = 0;
    }
    for (int i = 0; i < nkicks; i++) free(kicks[i]);
    free(kicks);
    kicks = NULL;
    nkicks = kick_cap = 0;
    dict_free(channels);
    channels = NULL;
    persona_import_clear();
}

static void job_start(struct job *job);
static void channel_job_finish(struct job *job);
static void channel_job_detach(struct job *job);


/* Start the next job of CH, or forget CH when it has none. */
static void channel_next(struct channel *ch) {
    if (ch->head) {
        job_start(ch->head);
        return;
    }
    dict_del(channels, ch->key);
    free(ch->key);
    free(ch);
}

/* A full channel refuses a message: counted, and warned about at most
 * every 10 s (with how many went unlogged), never in silence. */
static void overflow(struct platform *p, const struct chat_message *m, const struct channel *ch) {
    static uint64_t last_ms;
    static long unlogged;
    uint64_t now = uv_now(server.loop);
    metrics_inc(METRIC_QUEUE_OVERFLOW, p->ops->name, 1);
    if (last_ms && now - last_ms < 10000) {
        unlogged++;
        return;
    }
    log_warn("channel %s:%s is full (%d messages, %zu bytes waiting); a message is refused "
             "(%ld more since the last warning; see limits.channel_queue)",
             p->ops->name, m->channel, ch->queued, ch->bytes, unlogged);
    last_ms = now;
    unlogged = 0;
}

int channel_enqueue(struct platform *p, const struct chat_message *m) {
    char key[1024];
    dict_key2(key, sizeof(key), p->ops->name, m->channel);
    struct channel *ch = dict_get(channels, key);
    if (!ch) {
        ch = xcalloc(1, sizeof(*ch));
        ch->key = xstrdup(key);
        dict_set(channels, key, ch);
    }
    struct limits lim;
    limits_current(&lim);
    size_t len = m->text ? strlen(m->text) : 0;
    if (ch->queued >= lim.channel_queue || (ch->queued > 0 && ch->bytes + len > (size_t)lim.channel_queue_bytes)) {
        overflow(p, m, ch);
        if (!ch->head) channel_next(ch);
        return -1;
    }
    if (limits_job_take(m) < 0) {
        if (!ch->head) channel_next(ch);
        return -1;
    }
    struct job *job = xcalloc(1, sizeof(*job));
    job->msg = message_copy(m);
    job->platform = p;
    job->ch = ch;
    job->finish = channel_job_finish;
    job->detach = channel_job_detach;
    if (ch->tail) ch->tail->next = job;
    else ch->head = job;
    ch->tail = job;
    ch->queued++;
    ch->bytes += len;
    server.jobs_queued++;
    if (!ch->busy) job_start(job);
    return 0;
}

/* A live-edited persona: a copy with the edited fields. */
static struct persona *persona_with(const struct persona *base, json_t *overrides) {
    struct persona *p = xmalloc(sizeof(*p));
    *p = *base;
    const char *v;
    p->prompt = xstrdup((v = json_string_value(json_object_get(overrides, "prompt"))) ? v : base->prompt);
    p->display_name = xstrdup((v = json_string_value(json_object_get(overrides, "display_name"))) ? v : base->display_name);
    p->apology = xstrdup((v = json_string_value(json_object_get(overrides, "apology"))) ? v : base->apology);
    p->model = xstrdup((v = json_string_value(json_object_get(overrides, "model"))) ? v : base->model);
    p->origin = NULL;
    return p;
}

static void free_own_persona(struct persona *p) {
    if (!p) return;
    persona_import_release(p->origin);
    free(p->prompt);
    free(p->display_name);
    free(p->apology);
    free(p->model);
    free(p);
}

/* The persona is chosen: its group-chat manners decide whether the
 * fallback may answer a message nobody addressed to it; then the skills run. */
static void job_dispatch(struct job *job) {
    group_gate(job);
    dispatch_job(job->rt->skills, job);
}

/* Speak as IMPORTED (a reference the job now holds), with the channel's live edits. */
static void job_run_imported(struct job *job, struct persona *imported, json_t *overrides) {
    job->own_persona = persona_with(imported, overrides);
    job->own_persona->origin = imported;
    channel_speak_as(job, job->own_persona);
    job_dispatch(job);
}

static void job_run(struct job *job, const char *name, json_t *overrides);

/* Waiting for an imported persona's card from Redis. */
struct card_fetch {
    struct job *job;
    json_t *overrides;
    char name[128];
    char rev[17];
};

static void on_card(redisReply *r, const char *err, void *data) {
    struct card_fetch *f = data;
    char why[400] = "";
    json_t *card = NULL;
    if (err) snprintf(why, sizeof(why), "%s", err);
    else if (!r || r->type != REDIS_REPLY_STRING) snprintf(why, sizeof(why), "its card is gone from Redis");
    else card = card_parse((const unsigned char *)r->str, r->len, why, sizeof(why));
    if (card) {
        const char *model = model_defined(f->job->rt->cfg, "default") ? "default" : "local";
        job_run_imported(f->job, persona_import_put(f->name, f->rev, card, model), f->overrides);
        json_decref(card);
    } else {
        log_warn("persona \"%s\" (imported): %s; using the default", f->name, why);
        job_run(f->job, NULL, NULL);
    }
    json_decref(f->overrides);
    free(f);
}

/* Choose the persona (NAME from Redis, or the platform's default) and run the skills. */
static void job_run(struct job *job, const char *name, json_t *overrides) {
    const struct persona *p = name ? persona_find(job->rt->personas, name) : NULL;
    const char *rev = json_string_value(json_object_get(overrides, "card"));
    if (name && !p && rev) {
        /* An imported persona: cached at this revision, or its card read from Redis once. */
        struct persona *imported = persona_import_get(name, rev);
        if (imported) {
            job_run_imported(job, imported, overrides);
            return;
        }
        struct card_fetch *f = xcalloc(1, sizeof(*f));
        f->job = job;
        f->overrides = json_incref(overrides);
        snprintf(f->name, sizeof(f->name), "%s", name);
        snprintf(f->rev, sizeof(f->rev), "%s", rev);
        char key[300];
        snprintf(key, sizeof(key), "%scard:%s", redis_client_prefix(server.redis), name);
        const char *argv[2] = { "GET", key };
        if (redis_command(server.redis, on_card, f, 2, argv, NULL) == 0) return;
        json_decref(f->overrides);
        free(f);
    }
    if (name && !p) log_warn("channel %s:%s names persona \"%s\", which is not defined; using the default",
                             job->msg->platform, job->msg->channel, name);
    channel_speak_as(job, p ? p : persona_default_for(job->rt->personas, job->msg->platform));
    if (overrides && json_object_size(overrides) > 0) {
        job->own_persona = persona_with(job->persona, overrides);
        channel_speak_as(job, job->own_persona);
    }
    job_dispatch(job);
}

/* Is the job's author one of the configured owners (owners = {...})? */
static int job_by_owner(const struct job *job) {
    struct config_block *b = config_first(job->rt->cfg, "owners");
    char id[600];
    if (!b || !job->msg->author.id || job->msg->author.guest) return 0;
    snprintf(id, sizeof(id), "%s:%s", job->msg->platform, job->msg->author.id);
    if (json_is_string(b->value)) return !strcmp(json_string_value(b->value), id);
    size_t i;
    json_t *v;
    json_array_foreach(b->value, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), id)) return 1;
    return 0;
}

/* The author's role as the operator code checks it: a configured owner,
 * else the best role granted in Redis (globally or here); guests none. */
static void job_set_role(struct job *job, int granted) {
    if (job_by_owner(job)) job->role = 3;
    else if (job->msg->author.guest) job->role = 0;
    else job->role = granted;
}

static void on_context(const struct store_context *ctx, const char *err, void *data) {
    struct job *job = data;
    job_set_role(job, err ? 0 : ctx->role);
    if (err) {
        log_debug("channel context unavailable (%s); answering with the defaults", err);
        job_run(job, NULL, NULL);
        return;
    }
    if (ctx->flood && !job->msg->event) {
        /* Over a flood limit: one polite word, then silence until the bucket refills. */
        struct config_block *fb = config_first(job->rt->cfg, "flood");
        metrics_inc(METRIC_FLOOD_DROPPED, ctx->flood == 1 ? "warned" : "dropped", 1);
        job->silent = 1;
        channel_speak_as(job, persona_default_for(job->rt->personas, job->msg->platform));
        if (ctx->flood == 1) {
            const char *text = config_str(fb, "message", "You're sending messages faster than I can keep up. Give me a moment.");
            log_info("flood: %s:%s is over its limit in %s; dropping until it refills", job->msg->platform,
                     job->msg->author.id ? job->msg->author.id : "-", job->msg->channel);
            job_reply(job, text, strlen(text), NULL, NULL);
        }
        job_finish(job);
        return;
    }
    if (ctx->banned || ctx->ignored || ctx->muted) {
        job->silent = 1;
        channel_speak_as(job, persona_default_for(job->rt->personas, job->msg->platform));
        job_finish(job);
        return;
    }
    job->disabled = json_incref(ctx->disabled);
    job->manners = json_incref(ctx->manners);
    job_run(job, ctx->persona, ctx->overrides);
}

static void job_start(struct job *job) {
    struct channel *ch = job->ch;
    ch->busy = 1;
    server.jobs_queued--;
    server.jobs_in_flight++;
    job->rt = runtime_acquire(server.rt);
    job->started = uv_now(server.loop);
    if (!job->msg->event) {
        metrics_inc(METRIC_MESSAGES_IN, job->platform->ops->name, 1);
        feed_message(job->msg->platform, job->msg->channel, job->msg->author.name ? job->msg->author.name : job->msg->author.id,
                     job->msg->text);
    }
    if (!job->msg->event && intercept && intercept(job)) return;
    const struct persona *def = persona_default_for(job->rt->personas, job->msg->platform);
    struct config_block *fb = config_first(job->rt->cfg, "flood");
    struct store_flood flood = {
        .now = server_now(),
        .user_burst = config_int(fb, "user_burst", 0), .user_per_s = config_int(fb, "user_per_s", 60),
        .channel_burst = config_int(fb, "channel_burst", 0), .channel_per_s = config_int(fb, "channel_per_s", 60),
    };
    if (store_job_context(server.redis, job->msg->platform, job->msg->channel, job->msg->author.id, def->name,
                          &flood, on_context, job) < 0) {
        job_set_role(job, 0);
        job_run(job, NULL, NULL);   /* Redis is down: answer without memory */
    }
}

/* Take the running JOB off CH's queue (it stays the running job's own). */
static void channel_unqueue(struct channel *ch, struct job *job) {
    ch->head = job->next;
    if (!ch->head) ch->tail = NULL;
    ch->queued--;
    ch->bytes -= job->msg->text ? strlen(job->msg->text) : 0;
    job->next = NULL;
    job->ch = NULL;
}

/* The next loop turn: start the next job of each channel kicked. The
 * channel stayed busy until now, so nothing started out of order. */
static void on_kick(uv_timer_t *t) {
    char **list = kicks;
    int n = nkicks;
    (void)t;
    kicks = NULL;
    nkicks = kick_cap = 0;
    for (int i = 0; i < n; i++) {
        struct channel *ch = channels ? dict_get(channels, list[i]) : NULL;
        if (ch && ch->kick) {
            ch->kick = 0;
            ch->busy = 0;
            channel_next(ch);
        }
        free(list[i]);
    }
    free(list);
}

/* A handler waits for a later message of this channel (msg:ask): its job
 * leaves the queue, so that message (and everyone else's) can run. The
 * next job starts on the next loop turn, once the handler has yielded. */
static void channel_job_detach(struct job *job) {
    struct channel *ch = job->ch;
    if (!ch) return;
    channel_unqueue(ch, job);
    ch->kick = 1;
    if (nkicks == kick_cap) {
        kick_cap = kick_cap ? kick_cap * 2 : 8;
        kicks = xrealloc(kicks, (size_t)kick_cap * sizeof(*kicks));
    }
    kicks[nkicks++] = xstrdup(ch->key);
    if (!kick_ready) {
        uv_timer_init(server.loop, &kick_timer);
        kick_ready = 1;
    }
    uv_timer_start(&kick_timer, on_kick, 0, 0);
}

/* The job is done: apologise if nobody answered a message addressed to
 * the persona (no reply, no reaction, no handler returning true, not
 * dropped by middleware), free it and start the channel's next job (a
 * detached job left its queue already). */
static void channel_job_finish(struct job *job) {
    struct channel *ch = job->ch;
    if (job->replies == 0 && !job->handled && !job->msg->event && !job->silent && job->msg->direct)
        job_reply(job, job->persona->apology, strlen(job->persona->apology), NULL, NULL);
    group_after(job);
    metrics_observe(METRIC_REPLY_SECONDS, job->platform->ops->name,
                    (double)(uv_now(server.loop) - job->started) / 1000.0);
    if (!job->msg->event) series_message((double)(uv_now(server.loop) - job->started));
    platform_job_done(job->platform, job->msg);
    if (ch) {
        channel_unqueue(ch, job);
        ch->busy = 0;
    }
    limits_job_release(job->msg);
    runtime_release(job->rt);
    free_own_persona(job->own_persona);
    json_decref(job->disabled);
    json_decref(job->manners);
    message_free(job->msg);
    free(job);
    server.jobs_in_flight--;
    if (ch) channel_next(ch);
    server_job_finished();
}
