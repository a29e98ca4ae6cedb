/* redis_tracking.c - the channel-context cache and the CLIENT TRACKING
 * machinery that keeps it true (see redis_tracking.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/redis_client.h"
#include "io/redis_tracking.h"
#include "io/store.h"
#include "lib/dict.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define MAX_ENTRIES 50000

/* One user's context in one channel, as store_job_context read it. */
struct ctx_entry {
    char *persona;           /* NULL: none set */
    int muted, banned, ignored, role;
    json_t *disabled, *overrides, *manners;
};

struct deferred {
    void (*fn)(void *);
    void *data;
    struct deferred *next;
};

static struct {
    uv_loop_t *loop;
    struct redis_client *main, *inv;   /* inv: subscribed to __redis__:invalidate */
    char *url;                         /* inv's, opened once main has answered */
    struct redis_options opts;
    char opts_prefix[128];
    long long inv_id;                  /* inv's CLIENT ID, 0 until known */
    int subscribed;
    int on;                            /* main tracks, redirected to inv_id */
    unsigned long setup;               /* bumps with each tracking attempt */
    unsigned long gen;
    struct dict *chans;                /* escaped "platform:channel" -> dict of user -> ctx_entry */
    size_t entries;
    char prefix[128];
    size_t plen;
    uv_check_t *check;                 /* heap: a reload may start again before they are closed */
    uv_idle_t *idle;                   /* keeps the loop from blocking while work is deferred */
    struct deferred *q, *q_tail;
    unsigned long hits, misses, drops;
} t;

static void tracking_enable(void);

static void entry_free(struct ctx_entry *e) {
    free(e->persona);
    json_decref(e->disabled);
    json_decref(e->overrides);
    json_decref(e->manners);
    free(e);
}

static void free_user(const char *key, void *value, void *arg) {
    (void)key;
    (void)arg;
    entry_free(value);
}

static void free_chan(const char *key, void *value, void *arg) {
    (void)key;
    (void)arg;
    dict_each(value, free_user, NULL);
    dict_free(value);
}

/* Forget everything: a reconnect, a flush, a global key changed. */
static void drop_all(void) {
    t.gen++;
    t.drops++;
    if (!t.chans || t.entries == 0) return;
    dict_each(t.chans, free_chan, NULL);
    dict_free(t.chans);
    t.chans = dict_new();
    t.entries = 0;
}

/* Forget one channel (its escaped "platform:channel"). */
static void drop_channel(const char *tag) {
    t.gen++;
    t.drops++;
    struct dict *users = t.chans ? dict_del(t.chans, tag) : NULL;
    if (!users) return;
    t.entries -= dict_size(users);
    free_chan(tag, users, NULL);
}

/* KEY (LEN bytes) changed somewhere: drop what was read from it. */
static void invalidate_key(const char *key, size_t len) {
    if (len > t.plen + 1 && !memcmp(key, t.prefix, t.plen) && key[t.plen] == '{') {
        const char *open = key + t.plen + 1;
        const char *close = memchr(open, '}', len - t.plen - 1);
        if (close) {
            size_t rest = len - (size_t)(close + 1 - key);
            /* History and recall are not part of the context. */
            if ((rest >= 9 && !memcmp(close + 1, ":history:", 9)) || (rest >= 8 && !memcmp(close + 1, ":recall:", 8))) return;
            char tag[800];
            size_t n = (size_t)(close - open);
            if (n < sizeof(tag)) {
                memcpy(tag, open, n);
                tag[n] = '\0';
                drop_channel(tag);
                return;
            }
        }
    }
    drop_all();
}

/* A message on __redis__:invalidate (or its subscription, or the end). */
static void on_invalidate(redisAsyncContext *ac, void *r, void *privdata) {
    redisReply *reply = r;
    (void)ac;
    (void)privdata;
    if (!reply) {                         /* the connection went */
        t.subscribed = 0;
        t.on = 0;
        drop_all();
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 || reply->element[0]->type != REDIS_REPLY_STRING) return;
    const char *kind = reply->element[0]->str;
    if (!strcmp(kind, "subscribe")) {
        t.subscribed = 1;
        tracking_enable();
        return;
    }
    if (strcmp(kind, "message") != 0) return;
    redisReply *keys = reply->element[2];
    if (keys->type != REDIS_REPLY_ARRAY) {   /* nil: FLUSHALL/FLUSHDB */
        drop_all();
        return;
    }
    for (size_t i = 0; i < keys->elements; i++)
        if (keys->element[i]->type == REDIS_REPLY_STRING) invalidate_key(keys->element[i]->str, keys->element[i]->len);
}

/* CLIENT TRACKING answered on the main connection. */
static void on_tracking(redisReply *r, const char *err, void *data) {
    unsigned long setup = (unsigned long)(uintptr_t)data;
    if (setup != t.setup) return;          /* an older attempt */
    if (err || !r || r->type == REDIS_REPLY_ERROR) {
        log_warn("redis: client-side caching is off (%s); every message reads its context from Redis",
                 err ? err : (r ? r->str : "no reply"));
        t.on = 0;
        return;
    }
    drop_all();
    t.on = redis_client_ready(t.main) && t.subscribed;
    if (t.on) log_debug("redis: client-side caching on (invalidations to client %lld)", t.inv_id);
}

static void ignore_reply(redisReply *r, const char *err, void *data) {
    (void)r;
    (void)err;
    (void)data;
}

/* Turn tracking on (again) on the main connection, redirected to inv. */
static void tracking_enable(void) {
    t.on = 0;
    drop_all();
    if (!t.main || !redis_client_ready(t.main) || !t.subscribed || !t.inv_id) return;
    static const char *const parts[] = { "{", "muted", "banned", "ignored", "disabled:", "persona:", "roles:" };
    char id[32], pfx[7][160];
    snprintf(id, sizeof(id), "%lld", t.inv_id);
    const char *argv[6 + 2 * 7];
    int argc = 0;
    argv[argc++] = "CLIENT";
    argv[argc++] = "TRACKING";
    argv[argc++] = "ON";
    argv[argc++] = "REDIRECT";
    argv[argc++] = id;
    argv[argc++] = "BCAST";
    for (int i = 0; i < 7; i++) {
        snprintf(pfx[i], sizeof(pfx[i]), "%s%s", t.prefix, parts[i]);
        argv[argc++] = "PREFIX";
        argv[argc++] = pfx[i];
    }
    /* OFF first: a live tracking session cannot change its redirect or prefixes. */
    const char *off[3] = { "CLIENT", "TRACKING", "OFF" };
    redis_command(t.main, ignore_reply, NULL, 3, off, NULL);
    t.setup++;
    redis_command(t.main, on_tracking, (void *)(uintptr_t)t.setup, argc, argv, NULL);
}

/* inv's CLIENT ID: subscribe, then the main connection can redirect to it. */
static void on_client_id(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err || !r || r->type != REDIS_REPLY_INTEGER) return;
    t.inv_id = r->integer;
    if (redis_client_subscribe(t.inv, "__redis__:invalidate", on_invalidate, NULL) < 0) t.inv_id = 0;
}

/* The invalidation connection came up or went down. */
static void on_inv_change(void *data, int up) {
    (void)data;
    t.on = 0;
    t.subscribed = 0;
    t.inv_id = 0;
    t.setup++;
    drop_all();
    if (!up) return;
    const char *argv[2] = { "CLIENT", "ID" };
    redis_command(t.inv, on_client_id, NULL, 2, argv, NULL);
}

/* The main connection answered a first command: it is usable (its AUTH
 * passed), so the invalidation connection can be opened, once. */
static void on_main_usable(redisReply *r, const char *err, void *data) {
    char why[256];
    (void)data;
    if (err || !r || r->type != REDIS_REPLY_INTEGER || t.inv || !t.chans) return;
    t.inv = redis_client_new(t.loop, t.url, &t.opts, why, sizeof(why));
    if (!t.inv) {
        log_warn("redis: client-side caching is off: %s", why);
        return;
    }
    redis_client_on_change(t.inv, on_inv_change, NULL);
}

/* The main connection came up or went down: a new connection tracks nothing. */
static void on_main_change(void *data, int up) {
    (void)data;
    t.on = 0;
    t.setup++;
    drop_all();
    if (!up) return;
    if (t.inv) {
        tracking_enable();
        return;
    }
    const char *argv[2] = { "CLIENT", "ID" };
    redis_command(t.main, on_main_usable, NULL, 2, argv, NULL);
}

/* Nothing to do: a started idle handle only stops the loop from blocking. */
static void on_idle(uv_idle_t *h) {
    (void)h;
}

/* Right after the loop's I/O: run what was deferred. */
static void on_check(uv_check_t *h) {
    struct deferred *d = t.q;
    t.q = t.q_tail = NULL;
    uv_check_stop(h);
    if (t.idle) uv_idle_stop(t.idle);
    while (d) {
        struct deferred *next = d->next;
        d->fn(d->data);
        free(d);
        d = next;
    }
}

int redis_tracking_start(uv_loop_t *loop, struct redis_client *main, const char *url,
                         const struct redis_options *opts) {
    /* A cluster tracks per node and moves slots: not done here; every
     * message reads its context (store_split.c). */
    if (redis_client_cluster(main)) return -1;
    memset(&t, 0, sizeof(t));
    t.loop = loop;
    t.main = main;
    snprintf(t.prefix, sizeof(t.prefix), "%s", redis_client_prefix(main));
    t.plen = strlen(t.prefix);
    t.chans = dict_new();
    t.check = xmalloc(sizeof(*t.check));
    t.idle = xmalloc(sizeof(*t.idle));
    uv_check_init(loop, t.check);
    uv_idle_init(loop, t.idle);
    t.url = xstrdup(url);
    t.opts = *opts;
    t.opts.cluster = NULL;
    if (opts->prefix) {
        snprintf(t.opts_prefix, sizeof(t.opts_prefix), "%s", opts->prefix);
        t.opts.prefix = t.opts_prefix;
    }
    redis_client_on_change(main, on_main_change, NULL);
    if (redis_client_ready(main)) on_main_change(NULL, 1);
    return 0;
}

static void on_check_closed(uv_handle_t *h) {
    free(h);
}

void redis_tracking_stop(void) {
    if (!t.chans) return;
    if (t.main) redis_client_on_change(t.main, NULL, NULL);
    if (t.inv) redis_client_free(t.inv);
    t.inv = NULL;
    t.on = 0;
    if (t.check) {
        on_check(t.check);
        uv_close((uv_handle_t *)t.check, on_check_closed);
        uv_close((uv_handle_t *)t.idle, on_check_closed);
    }
    t.check = NULL;
    t.idle = NULL;
    drop_all();
    dict_free(t.chans);
    t.chans = NULL;
    t.main = NULL;
    free(t.url);
    t.url = NULL;
}

int redis_tracking_active(const struct redis_client *rc) {
    return t.on && rc == t.main && redis_client_ready(t.main) && redis_client_ready(t.inv);
}

unsigned long redis_tracking_gen(void) {
    return t.gen;
}

const struct store_context *redis_tracking_get(const char *channel, const char *user) {
    static struct store_context ctx;
    struct dict *users = t.chans ? dict_get(t.chans, channel) : NULL;
    struct ctx_entry *e = users ? dict_get(users, user) : NULL;
    if (!e) return NULL;
    memset(&ctx, 0, sizeof(ctx));
    ctx.persona = e->persona;
    ctx.muted = e->muted;
    ctx.banned = e->banned;
    ctx.ignored = e->ignored;
    ctx.role = e->role;
    ctx.disabled = e->disabled;
    ctx.overrides = e->overrides;
    ctx.manners = e->manners;
    return &ctx;
}

void redis_tracking_put(unsigned long gen, const char *channel, const char *user, const struct store_context *ctx) {
    if (!t.on || gen != t.gen || !t.chans) return;
    if (t.entries >= MAX_ENTRIES) drop_all();
    struct dict *users = dict_get(t.chans, channel);
    if (!users) {
        users = dict_new();
        dict_set(t.chans, channel, users);
    }
    struct ctx_entry *e = xcalloc(1, sizeof(*e));
    e->persona = ctx->persona ? xstrdup(ctx->persona) : NULL;
    e->muted = ctx->muted;
    e->banned = ctx->banned;
    e->ignored = ctx->ignored;
    e->role = ctx->role;
    e->disabled = json_deep_copy(ctx->disabled);
    e->overrides = json_deep_copy(ctx->overrides);
    e->manners = json_deep_copy(ctx->manners);
    struct ctx_entry *old = dict_get(users, user);
    if (old) entry_free(old);
    else t.entries++;
    dict_set(users, user, e);
}

void redis_tracking_defer(void (*fn)(void *data), void *data) {
    struct deferred *d = xmalloc(sizeof(*d));
    d->fn = fn;
    d->data = data;
    d->next = NULL;
    if (t.q_tail) t.q_tail->next = d;
    else t.q = d;
    t.q_tail = d;
    if (t.check) {
        uv_check_start(t.check, on_check);
        uv_idle_start(t.idle, on_idle);
    }
}

void redis_tracking_counts(unsigned long *hits, unsigned long *misses, unsigned long *drops) {
    *hits = t.hits;
    *misses = t.misses;
    *drops = t.drops;
}

void redis_tracking_count(int hit) {
    if (hit) t.hits++;
    else t.misses++;
}
