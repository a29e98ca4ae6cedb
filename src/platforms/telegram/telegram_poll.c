/* telegram_poll.c - getUpdates long polling with the offset in Redis
 * (telegram_poll.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platforms/telegram/telegram_poll.h"
#include "io/redis_client.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "io/timer.h"

#define LOAD_TRIES 40              /* Redis may still be connecting at start */
#define LOAD_RETRY_MS 50
#define BACKOFF_MAX_MS 30000.0
/* Repeats (an unconfirmed batch, a webhook retry) sit just below the
 * offset; an update id further below is Telegram's numbering begun again
 * at random after a week without updates (the Update object's docs). */
#define REPEAT_WINDOW 100000LL

/* Redis callbacks hold this, not the poller: it outlives a freed poller
 * until the last reply is in. */
struct poll_ref {
    struct telegram_poll *p;      /* NULL once freed */
    int refs;
};

struct telegram_poll {
    uv_loop_t *loop;
    struct telegram_api *api;
    const struct platform_host *host;
    long timeout_s;
    json_t *allowed;
    double scale;
    char *key;
    telegram_update_fn *fn;
    void (*dead)(void *data);
    void *data;
    long long offset;             /* next update_id wanted; 0: none taken yet */
    struct telegram_call *call;
    uint64_t asked_at;            /* when the call under way was made */
    int short_polls;              /* told once that the server does not long-poll or honour offset */
    uv_timer_t *timer;
    int load_tries;
    int failures;
    int writes;                   /* offset writes not yet answered */
    int stopped;
    int loaded;
    void (*load_done)(void *);
    void *load_data;
    struct poll_ref *ref;         /* what Redis callbacks hold */
};

struct telegram_poll *telegram_poll_new(uv_loop_t *loop, struct telegram_api *api, const struct platform_host *host,
                                        const struct telegram_poll_options *o, telegram_update_fn *fn, void *data) {
    struct telegram_poll *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->api = api;
    p->host = host;
    p->timeout_s = o->timeout_s > 0 ? o->timeout_s : 50;
    p->allowed = o->allowed_updates ? json_deep_copy(o->allowed_updates) : NULL;
    p->scale = o->time_scale > 0 ? o->time_scale : 1.0;
    p->key = xstrdup(o->offset_key);
    p->fn = fn;
    p->dead = o->dead;
    p->data = data;
    p->timer = timer_new(loop, p);
    p->ref = xcalloc(1, sizeof(*p->ref));
    p->ref->p = p;
    return p;
}

void telegram_poll_stop(struct telegram_poll *p) {
    if (!p) return;
    p->stopped = 1;
    if (p->call) telegram_api_cancel(p->call);
    p->call = NULL;
    uv_timer_stop(p->timer);
}

/* Take a reference for a Redis callback. */
static struct poll_ref *ref_take(struct telegram_poll *p) {
    p->ref->refs++;
    return p->ref;
}

/* A Redis reply came: the poller, or NULL when it is gone. */
static struct telegram_poll *ref_drop(struct poll_ref *r) {
    struct telegram_poll *p = r->p;
    if (--r->refs == 0 && !p) free(r);
    return p;
}

void telegram_poll_free(struct telegram_poll *p) {
    if (!p) return;
    telegram_poll_stop(p);
    timer_free(&p->timer);
    p->ref->p = NULL;
    if (p->ref->refs == 0) free(p->ref);
    json_decref(p->allowed);
    free(p->key);
    free(p);
}

long long telegram_poll_offset(const struct telegram_poll *p) {
    return p ? p->offset : 0;
}

/* The full Redis key of the offset (cut to LEN - 1 bytes, as snprintf
 * would; made per update, so without it). */
static void full_key(struct telegram_poll *p, struct redis_client *rc, char *out, size_t len) {
    const char *prefix = redis_client_prefix(rc);
    size_t a = strlen(prefix), b = strlen(p->key);
    if (a > len - 1) a = len - 1;
    if (b > len - 1 - a) b = len - 1 - a;
    memcpy(out, prefix, a);
    memcpy(out + a, p->key, b);
    out[a + b] = '\0';
}

static void poll_now(struct telegram_poll *p);

/* Wait MS (scaled unless RAW), then poll again. */
static void on_retry(uv_timer_t *t) {
    poll_now(t->data);
}

static void poll_later(struct telegram_poll *p, double ms) {
    uint64_t d = (uint64_t)(ms * p->scale);
    uv_timer_start(p->timer, on_retry, d ? d : 1, 0);
}

/* An offset write was answered: when the last one is, poll again. */
static void on_stored(redisReply *reply, const char *err, void *data) {
    struct telegram_poll *p = ref_drop(data);
    if (!p) return;
    if (err || (reply && reply->type == REDIS_REPLY_ERROR))
        log_warn("telegram: storing the update offset in Redis failed: %s", err ? err : reply->str);
    if (--p->writes == 0 && !p->stopped && p->loaded && !p->call) poll_now(p);
}

void telegram_poll_store(struct telegram_poll *p, long long next_offset) {
    struct redis_client *rc = p->host->redis ? p->host->redis() : NULL;
    if (!rc) return;
    char key[512], val[JSON_INT_TEXT];
    full_key(p, rc, key, sizeof(key));
    json_int_text(val, next_offset);
    const char *argv[] = { "SET", key, val };
    struct poll_ref *r = ref_take(p);
    if (redis_command(rc, on_stored, r, 3, argv, NULL) < 0) {
        r->refs--;
        return;
    }
    p->writes++;
}

int telegram_poll_repeat(const struct telegram_poll *p, long long update_id) {
    return update_id < p->offset && p->offset - update_id <= REPEAT_WINDOW;
}

int telegram_poll_seen(struct telegram_poll *p, long long update_id) {
    if (telegram_poll_repeat(p, update_id)) return 1;
    if (update_id < p->offset)
        log_info("telegram: update ids start again at %lld (Telegram numbers them afresh after a quiet week)", update_id);
    p->offset = update_id + 1;
    return 0;
}

/* getUpdates answered. */
static void on_updates(const struct telegram_result *r, void *data) {
    struct telegram_poll *p = data;
    p->call = NULL;
    if (p->stopped) return;
    if (!r->ok) {
        double wait = 1000.0 * (double)(1u << (p->failures < 5 ? p->failures : 5));
        if (wait > BACKOFF_MAX_MS) wait = BACKOFF_MAX_MS;
        p->failures++;
        if (r->error_code == 401 || r->error_code == 404) {
            log_error("telegram: getUpdates: Telegram refused the bot token (%s); polling stops", r->description);
            p->stopped = 1;
            if (p->dead) p->dead(p->data);
            return;
        }
        if (r->error_code == 429) wait = 1000.0 * (double)(r->retry_after > 0 ? r->retry_after : 1);
        log_warn("telegram: getUpdates failed (%s); trying again in %.0f ms", r->description ? r->description : "?",
                 wait * p->scale);
        poll_later(p, wait);
        return;
    }
    p->failures = 0;
    if (!json_is_array(r->result)) {
        log_warn("telegram: getUpdates answered something that is not a list; skipped");
        poll_later(p, 1000.0);
        return;
    }
    if (json_array_size(r->result) == 0 &&
        (double)(uv_now(p->loop) - p->asked_at) < (double)p->timeout_s * 500.0 * p->scale) {
        /* Nothing, long before the timeout: a server without long polling.
         * Asking again at once would spin; ask once a second. */
        if (!p->short_polls++)
            log_warn("telegram: getUpdates answered at once with nothing (the server does not hold long polls); "
                     "asking once a second");
        poll_later(p, 1000.0);
        return;
    }
    long long before = p->offset;
    size_t i;
    json_t *u;
    json_array_foreach(r->result, i, u) {
        json_t *id = json_object_get(u, "update_id");
        if (!json_is_integer(id)) {
            log_warn("telegram: an update without an update_id was skipped");
            continue;
        }
        long long uid = (long long)json_integer_value(id);
        if (telegram_poll_seen(p, uid)) {
            log_debug("telegram: update %lld came again; skipped", uid);
            continue;
        }
        if (p->fn(u, p->data) < 0) {
            p->offset = uid;          /* not taken: asked for again after a restart */
            p->stopped = 1;
            log_info("telegram: stopping; update %lld and later ones are left for the next start", uid);
            return;
        }
        if (p->stopped) return;
        telegram_poll_store(p, p->offset);
    }
    if (p->offset == before && json_array_size(r->result) > 0) {
        /* Nothing new (all repeats or unusable): ask past them anyway. */
        json_t *last = json_object_get(json_array_get(r->result, json_array_size(r->result) - 1), "update_id");
        if (json_is_integer(last) && (long long)json_integer_value(last) >= p->offset) {
            p->offset = (long long)json_integer_value(last) + 1;
        } else if (p->writes == 0) {
            /* Only updates below the offset we asked past: a server that
             * does not honour offset. Asking again at once would spin. */
            if (!p->short_polls++)
                log_warn("telegram: getUpdates handed out only updates already taken (the server ignores offset); "
                         "asking once a second");
            poll_later(p, 1000.0);
            return;
        }
    }
    if (p->writes == 0) poll_now(p);
}

/* Ask for the next updates (long polling). */
static void poll_now(struct telegram_poll *p) {
    if (p->stopped || p->call) return;
    json_t *params = json_pack("{s:I, s:i}", "timeout", (json_int_t)p->timeout_s, "limit", 100);
    if (p->offset > 0) json_object_set_new(params, "offset", json_integer(p->offset));
    if (p->allowed) json_object_set(params, "allowed_updates", p->allowed);
    double wait_ms = (double)p->timeout_s * 1000.0 * p->scale + 10000.0;
    p->asked_at = uv_now(p->loop);
    p->call = telegram_api_call(p->api, "getUpdates", params, (long)wait_ms, on_updates, p);
    if (!p->call) {
        log_warn("telegram: getUpdates could not be started; trying again");
        poll_later(p, 1000.0);
    }
}

static void load_offset(struct telegram_poll *p);

/* Try reading the offset again (Redis was not connected yet). */
static void on_load_retry(uv_timer_t *t) {
    load_offset(t->data);
}

/* The stored offset is known (or cannot be): go on. */
static void loaded(struct telegram_poll *p) {
    p->loaded = 1;
    if (p->offset > 0) log_info("telegram: resuming at update %lld", p->offset);
    if (p->load_done) {
        p->load_done(p->load_data);
        return;
    }
    poll_now(p);
}

/* GET answered: the offset to go on from. */
static void on_loaded(redisReply *reply, const char *err, void *data) {
    struct telegram_poll *p = ref_drop(data);
    if (!p) return;
    p->writes--;
    if (!err && reply && reply->type == REDIS_REPLY_STRING) {
        long long v = strtoll(reply->str, NULL, 10);
        if (v > p->offset) p->offset = v;
    } else if (err || (reply && reply->type == REDIS_REPLY_ERROR)) {
        log_warn("telegram: reading the update offset from Redis failed (%s); Telegram's own record is used",
                 err ? err : reply->str);
    }
    if (!p->stopped) loaded(p);
}

/* Read the stored offset; Redis may take a moment to connect at start. */
static void load_offset(struct telegram_poll *p) {
    struct redis_client *rc = p->host->redis ? p->host->redis() : NULL;
    if (p->stopped) return;
    if (rc && redis_client_ready(rc)) {
        char key[512];
        full_key(p, rc, key, sizeof(key));
        const char *argv[] = { "GET", key };
        struct poll_ref *r = ref_take(p);
        if (redis_command(rc, on_loaded, r, 2, argv, NULL) == 0) {
            p->writes++;
            return;
        }
        r->refs--;
    }
    if (++p->load_tries < LOAD_TRIES) {
        uv_timer_start(p->timer, on_load_retry, LOAD_RETRY_MS, 0);
        return;
    }
    log_warn("telegram: Redis is not reachable; starting without a stored update offset");
    loaded(p);
}

void telegram_poll_start(struct telegram_poll *p) {
    p->stopped = 0;
    load_offset(p);
}

void telegram_poll_load(struct telegram_poll *p, void (*done)(void *data), void *data) {
    p->load_done = done;
    p->load_data = data;
    load_offset(p);
}
