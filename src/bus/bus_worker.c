/* bus_worker.c - a worker: leases partitions, reads them, runs each entry
 * through the channel queue once, and puts its replies on the egress
 * stream of the gateway that received it.
 *
 * Delivery is at least once with idempotency: an entry's event id is
 * claimed with SET NX GET before it runs (a second entry with the same
 * event is a platform duplicate and is dropped); each reply is written by
 * a script that first sets a key named after the event and the reply's
 * number, so a re-run after a crash writes no reply twice; the entry is
 * acknowledged only once its replies are on the egress stream. A dead
 * worker's lease expires, the partition goes to another worker, which
 * takes the pending entries with XAUTOCLAIM after the visibility timeout
 * and runs them before reading anything new, so a channel keeps its order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bus/bus_codec.h"
#include "bus/bus_internal.h"
#include "core/message.h"
#include "core/server.h"
#include "lib/dict.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

void bus_common_init(enum bus_role role, const struct bus_settings *s);

enum part_state { PART_NONE, PART_CLAIMING, PART_READING, PART_RELEASING };

struct part {
    enum part_state state;
    int inflight;        /* entries of this partition running here */
    int busy;            /* a lease or claim round trip is out */
    char cursor[48];     /* XAUTOCLAIM's cursor */
};

/* One stream entry on its way through the channel queue. */
struct entry {
    char id[48];
    int part;
    char *ev;                    /* the event key replies are named after */
    char gw[64];                 /* the name of the gateways that answer */
    char gid[96];                /* the gateway process that received it, which sends every reply */
    struct chat_message *msg;
    int nreplies;                /* replies (and reactions, edits) written so far */
    int outstanding;             /* reply writes not answered yet */
    int done, failed;
    int rerun;                   /* run before (a crash): its streamed pieces are not forwarded */
    struct entry *next;          /* in its channel's FIFO */
};

struct fifo {
    struct entry *head, *tail;
};

struct proxy {
    struct platform_ops ops;
    char name[64];                 /* the instance: "discord" or "discord:aiko" */
};

#define MAX_PROXIES 32

static struct {
    platform_sink_fn *run;
    const struct platform_host *host;
    struct part *parts;
    struct dict *inflight;       /* "part:id" -> entry */
    struct dict *fifos;          /* platform\x1fchannel -> fifo */
    int ninflight;
    int reading;
    int members;                 /* live workers at the last heartbeat */
    int stale;                   /* the read in flight covers an old partition set */
    int waking;                  /* a CLIENT UNBLOCK is out */
    uv_timer_t wake_timer;
    struct proxy proxies[MAX_PROXIES];
    int nproxies;
    unsigned long loose;         /* replies sent outside any entry */
    struct dict *deltas;         /* platform\x1fchannel\x1freply_to -> struct delta */
    uv_timer_t delta_timer;
} w;

/* Streamed pieces of one reply, gathered for delta_ms and forwarded as one
 * egress entry, at most delta_max times per reply; the final send follows
 * as always and carries the whole text. */
struct delta {
    char *platform, *channel, *reply_to;
    char *buf;
    size_t len, cap;
    int sent;
};

static void delta_key(char *out, size_t len, const char *platform, const char *channel, const char *reply_to) {
    snprintf(out, len, "%s\x1f%s\x1f%s", platform, channel, reply_to ? reply_to : "");
}

static void delta_free(struct delta *d) {
    free(d->platform);
    free(d->channel);
    free(d->reply_to);
    free(d->buf);
    free(d);
}

/* The reply to REPLY_TO is final (or its entry is over): forget its pieces. */
static void delta_drop(const char *platform, const char *channel, const char *reply_to) {
    if (!w.deltas) return;
    char key[1024];
    delta_key(key, sizeof(key), platform, channel, reply_to);
    struct delta *d = dict_del(w.deltas, key);
    if (d) delta_free(d);
}

static void worker_read(void);
static void part_changed(void);

/* ---- scripts ---------------------------------------------------------- */

static const char join_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))\n"
    "return redis.call('ZRANGE', KEYS[1], 0, -1)\n";

static const char lease_script[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end\n"
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end\n"
    "return 0\n";

static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

/* KEYS[1] the live gateways, KEYS[2] (if any) the reply's key: a reply
 * already written is not written again. ARGV[1..5] as BUS_LUA_ROUTE wants,
 * ARGV[6] the gateway process that received the message ("" for none),
 * then the entry's fields. The entry goes to that gateway's stream, or its
 * heir's; to the shared stream while no gateway is live. Answers the new
 * entry's id, with the count of entries handed to an heir if this write
 * was the first to find the gateway gone; 0 for a reply already written. */
static const char reply_script[] =
    BUS_LUA_ROUTE
    "if #KEYS > 1 and not redis.call('SET', KEYS[2], '1', 'NX', 'EX', httl) then return 0 end\n"
    "local to = route(ARGV[6])\n"
    "local id = redis.call('XADD', to and spre .. to or shared, '*', unpack(ARGV, 7))\n"
    "if moved > 0 then return { id, moved } end\n"
    "return id\n";

/* ---- entries -------------------------------------------------------- */

static int part_of(const char *stream) {
    const char *s = strstr(stream, "{in}:p");
    return s ? atoi(s + 6) : -1;
}

static void entry_key(char *out, size_t len, int part, const char *id) {
    snprintf(out, len, "%d:%s", part, id);
}

static struct fifo *fifo_for(const char *platform, const char *channel, int create) {
    char key[512];
    dict_key2(key, sizeof(key), platform, channel);
    struct fifo *f = dict_get(w.fifos, key);
    if (!f && create) {
        f = xcalloc(1, sizeof(*f));
        dict_set(w.fifos, key, f);
    }
    return f;
}

static void fifo_drop_if_empty(const char *platform, const char *channel) {
    char key[512];
    dict_key2(key, sizeof(key), platform, channel);
    struct fifo *f = dict_get(w.fifos, key);
    if (f && !f->head) free(dict_del(w.fifos, key));
}

static void on_acked(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err || r->type == REDIS_REPLY_ERROR) {
        log_warn("bus: XACK failed (%s); the entry will run again, its replies are not sent twice",
                 err ? err : r->str);
        bus_count("ack_failed");
    } else {
        bus_count("acked");
    }
}

static void ack(int part, const char *id) {
    char key[256];
    bus_key_ingress(key, sizeof(key), part);
    const char *argv[4] = { "XACK", key, BUS_GROUP_WORKERS, id };
    redis_command(server.redis, on_acked, NULL, 4, argv, NULL);
}

static void release_lease(int p);

/* Forget E (acknowledged or left pending for a retry). */
static void entry_free(struct entry *e) {
    delta_drop(e->msg->platform, e->msg->channel, e->msg->id);
    char key[128];
    entry_key(key, sizeof(key), e->part, e->id);
    dict_del(w.inflight, key);
    int was_full = w.ninflight >= bus.set.max_inflight;
    w.ninflight--;
    struct part *pt = &w.parts[e->part];
    pt->inflight--;
    if (pt->state == PART_RELEASING && pt->inflight == 0) release_lease(e->part);
    free(e->ev);
    message_free(e->msg);
    free(e);
    if (was_full) worker_read();
}

/* The job is over and every reply write answered: acknowledge, or leave
 * the entry pending so it runs again after the visibility timeout. */
static void entry_maybe_finish(struct entry *e) {
    if (!e->done || e->outstanding > 0) return;
    if (e->failed) {
        log_warn("bus: a reply to %s could not be written; the entry stays pending and runs again", e->ev);
        bus_count("reply_failed");
    } else {
        ack(e->part, e->id);
    }
    entry_free(e);
}

/* The platform as a worker sees it: a name whose operations are stream writes. */
static struct platform *proxy_for(const char *name);

/* Run E: through the channel queue, in arrival order. */
static void entry_run(struct entry *e) {
    char instance[64];
    if (e->msg->identity) snprintf(instance, sizeof(instance), "%s:%s", e->msg->platform, e->msg->identity);
    else snprintf(instance, sizeof(instance), "%s", e->msg->platform);
    struct platform *p = proxy_for(instance);
    if (!p) {
        log_error("bus: more than %d platforms; an entry of %s is dropped", MAX_PROXIES, instance);
        ack(e->part, e->id);
        entry_free(e);
        return;
    }
    struct fifo *f = fifo_for(instance, e->msg->channel, 1);
    struct entry *prev = f->tail;
    if (f->tail) f->tail->next = e;
    else f->head = e;
    f->tail = e;
    if (w.run(p, e->msg) < 0) {
        /* Refused (the channel's queue is full): dropped, as in one process. */
        f->tail = prev;
        if (prev) prev->next = NULL;
        else f->head = NULL;
        fifo_drop_if_empty(e->msg->platform, e->msg->channel);
        bus_count("refused");
        ack(e->part, e->id);
        entry_free(e);
    }
}

/* The event's owner, from SET NX GET: nil (first time) or this entry's id
 * (a re-run after a crash) run it; another id means a platform duplicate. */
static void on_dedupe(redisReply *r, const char *err, void *data) {
    struct entry *e = data;
    if (err || r->type == REDIS_REPLY_ERROR) {
        log_warn("bus: deduplicating %s failed (%s); it runs again later", e->ev, err ? err : r->str);
        entry_free(e);
        return;
    }
    if (r->type == REDIS_REPLY_STRING && strcmp(r->str, e->id) != 0) {
        bus_count("duplicate");
        log_debug("bus: %s already came as entry %s; dropping entry %s", e->ev, r->str, e->id);
        ack(e->part, e->id);
        entry_free(e);
        return;
    }
    if (bus.stopping) {   /* not started: it stays pending for the others */
        entry_free(e);
        return;
    }
    if (r->type == REDIS_REPLY_STRING) {
        bus_count("rerun");
        e->rerun = 1;
    }
    entry_run(e);
}

/* An entry read or claimed: deduplicate, then run it (unless it runs here already). */
static void worker_take(const char *stream, const char *id, const redisReply *fields, void *arg) {
    if (bus.stopping) return;   /* it stays pending for the others */
    int part = arg ? (int)(intptr_t)arg - 1 : part_of(stream);
    if (part < 0 || part >= bus.set.partitions) return;
    char key[128];
    entry_key(key, sizeof(key), part, id);
    if (dict_get(w.inflight, key)) return;
    const redisReply *msg = bus_field(fields, "msg");
    json_t *j = msg && msg->type == REDIS_REPLY_STRING ? json_loadb(msg->str, msg->len, 0, NULL) : NULL;
    struct chat_message *m = bus_message_from_json(j);
    json_decref(j);
    if (!m) {
        log_warn("bus: entry %s of %s is not a message; acknowledged and dropped", id, stream);
        bus_count("malformed");
        ack(part, id);
        return;
    }
    struct entry *e = xcalloc(1, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->part = part;
    e->msg = m;
    const redisReply *ev = bus_field(fields, "ev");
    const redisReply *gw = bus_field(fields, "gw");
    const redisReply *gid = bus_field(fields, "gid");
    if (ev && ev->type == REDIS_REPLY_STRING && ev->len > 0) e->ev = xstrdup(ev->str);
    else {
        char s[96];
        snprintf(s, sizeof(s), "s:p%d:%s", part, id);
        e->ev = xstrdup(s);
    }
    snprintf(e->gw, sizeof(e->gw), "%s", gw && gw->type == REDIS_REPLY_STRING ? gw->str : bus.set.gateway);
    snprintf(e->gid, sizeof(e->gid), "%s", gid && gid->type == REDIS_REPLY_STRING ? gid->str : "");
    dict_set(w.inflight, key, e);
    w.ninflight++;
    w.parts[part].inflight++;
    char dkey[1024], ttl[32];
    bus_key_dedupe(dkey, sizeof(dkey), part, e->ev);
    snprintf(ttl, sizeof(ttl), "%ld", bus.set.dedupe_ttl_s);
    const char *argv[7] = { "SET", dkey, e->id, "NX", "GET", "EX", ttl };
    if (redis_command(server.redis, on_dedupe, e, 7, argv, NULL) < 0) entry_free(e);
}

/* ---- the core's hooks: replies out, jobs done ------------------------- */

struct emit {
    struct entry *e;
    platform_sent_fn *cb;
    void *data;
    int piece;
    char sid[256];
};

static void on_emitted(redisReply *r, const char *err, void *data) {
    struct emit *em = data;
    const char *why = err ? err : r->type == REDIS_REPLY_ERROR ? r->str : NULL;
    if (why) log_warn("bus: writing a reply to the egress stream: %s", why);
    else if (r->type == REDIS_REPLY_INTEGER) bus_count("reply_deduplicated");
    else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_INTEGER)
        log_info("bus: %lld replies of gateways that are gone were handed to a live one", r->element[1]->integer);
    else if (!em->piece) bus_count("reply");
    if (em->cb) em->cb(why ? NULL : em->sid, why, em->data);
    if (em->e) {
        if (why) em->e->failed = 1;
        em->e->outstanding--;
        entry_maybe_finish(em->e);
    }
    free(em);
}

/* Write one operation for PLATFORM's CHANNEL to the egress stream, named
 * after the entry running in that channel (if any) so it is written once. */
static int worker_emit(const char *platform, const char *t, const char *channel, const char **kv, int nkv,
                       platform_sent_fn *cb, void *data) {
    if (!w.fifos) return -1;
    struct fifo *f = fifo_for(platform, channel, 0);
    struct entry *e = f ? f->head : NULL;
    /* Streamed pieces are not counted, nor keyed, nor waited for: how they
     * were gathered differs from run to run, and the final send follows. */
    int piece = !strcmp(t, "delta");
    /* Every operation of one job goes to the gateway that received its
     * message, so one reply is shown, grown and finished by one gateway. */
    const char *gw = e ? e->gw : bus.set.gateway;
    const char *gid = e ? e->gid : "";
    if (piece) e = NULL;
    struct emit *em = xcalloc(1, sizeof(*em));
    em->e = e;
    em->piece = piece;
    em->cb = cb;
    em->data = data;
    struct bus_route_args a;
    char rkey[1024];
    bus_route_args(&a, gw);
    int n = e ? e->nreplies++ : 0;
    if (e) {
        bus_key_reply(rkey, sizeof(rkey), e->gw, e->ev, n);
        snprintf(em->sid, sizeof(em->sid), "bus:%s:%d", e->ev, n);
    } else {
        snprintf(em->sid, sizeof(em->sid), "bus:x:%s:%lu", bus.id, ++w.loose);
    }
    const char *argv[40];
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = reply_script;
    argv[argc++] = e ? "2" : "1";
    argv[argc++] = a.live;
    if (e) argv[argc++] = rkey;
    argv[argc++] = a.spre;
    argv[argc++] = a.hpre;
    argv[argc++] = a.lease;
    argv[argc++] = a.ttl;
    argv[argc++] = a.shared;
    argv[argc++] = gid;
    argv[argc++] = "t";
    argv[argc++] = t;
    argv[argc++] = "platform";
    argv[argc++] = platform;
    argv[argc++] = "channel";
    argv[argc++] = channel;
    argv[argc++] = "sid";
    argv[argc++] = em->sid;
    for (int i = 0; i + 1 < nkv && argc + 2 <= 40; i += 2) {
        if (!kv[i + 1]) continue;
        argv[argc++] = kv[i];
        argv[argc++] = kv[i + 1];
    }
    if (redis_command(server.redis, on_emitted, em, argc, argv, NULL) < 0) {
        if (e) e->failed = 1;
        free(em);
        return -1;
    }
    if (e) e->outstanding++;
    return 0;
}

static int worker_outbox(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    if (out->reply_to) delta_drop(p->ops->name, out->channel, out->reply_to);
    char *rich = out->rich ? json_dumps(out->rich, JSON_COMPACT) : NULL;
    const char *kv[8] = { "text", out->text, "reply_to", out->reply_to, "persona", out->persona, "rich", rich };
    int rc = worker_emit(p->ops->name, "send", out->channel, kv, 8, cb, data);
    free(rich);
    return rc;
}

static int proxy_typing(struct platform *p, const char *channel) {
    return worker_emit(p->ops->name, "typing", channel, NULL, 0, NULL, NULL);
}

static int proxy_react(struct platform *p, const char *channel, const char *message_id, const char *emoji) {
    const char *kv[4] = { "message_id", message_id, "emoji", emoji };
    return worker_emit(p->ops->name, "react", channel, kv, 4, NULL, NULL);
}

static int proxy_edit(struct platform *p, const char *channel, const char *message_id, const char *text, size_t len) {
    char *copy = xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    const char *kv[4] = { "message_id", message_id, "text", copy };
    int rc = worker_emit(p->ops->name, "edit", channel, kv, 4, NULL, NULL);
    free(copy);
    return rc;
}

/* Forward one reply's gathered pieces (unless it reached delta_max). */
static void delta_flush(const char *key, void *value, void *arg) {
    struct delta *d = value;
    (void)key, (void)arg;
    if (d->len == 0) return;
    if (d->sent < bus.set.delta_max) {
        const char *kv[4] = { "reply_to", d->reply_to, "text", d->buf };
        if (worker_emit(d->platform, "delta", d->channel, kv, 4, NULL, NULL) == 0) {
            d->sent++;
            bus_count("delta");
        }
    }
    d->len = 0;
    d->buf[0] = '\0';
}

static void on_delta_timer(uv_timer_t *t) {
    (void)t;
    if (w.deltas) dict_each(w.deltas, delta_flush, NULL);
}

/* platform_ops.stream_delta of a stand-in: gather the piece; the timer
 * forwards what gathered. A re-run forwards none (the first run may have). */
static void proxy_stream_delta(struct platform *p, const char *channel, const char *reply_to, const char *text,
                               size_t len) {
    if (!w.deltas || !reply_to || len == 0 || bus.stopping) return;
    struct fifo *f = fifo_for(p->ops->name, channel, 0);
    struct entry *e = f ? f->head : NULL;
    if (!e || e->rerun) return;
    char key[1024];
    delta_key(key, sizeof(key), p->ops->name, channel, reply_to);
    struct delta *d = dict_get(w.deltas, key);
    if (!d) {
        d = xcalloc(1, sizeof(*d));
        d->platform = xstrdup(p->ops->name);
        d->channel = xstrdup(channel);
        d->reply_to = xstrdup(reply_to);
        d->cap = len + 1 > 256 ? len + 1 : 256;
        d->buf = xmalloc(d->cap);
        dict_set(w.deltas, key, d);
    }
    if (d->sent >= bus.set.delta_max) return;
    if (d->len + len + 1 > d->cap) {
        while (d->len + len + 1 > d->cap) d->cap *= 2;
        d->buf = xrealloc(d->buf, d->cap);
    }
    memcpy(d->buf + d->len, text, len);
    d->len += len;
    d->buf[d->len] = '\0';
    if (!uv_is_active((uv_handle_t *)&w.delta_timer))
        uv_timer_start(&w.delta_timer, on_delta_timer, (uint64_t)bus.set.delta_ms, 0);
}

struct platform *bus_worker_platform(const char *name) {
    return proxy_for(name);
}

static struct platform *proxy_for(const char *name) {
    struct platform *p = platform_find(name);
    if (p) return p;
    if (w.nproxies == MAX_PROXIES) return NULL;
    struct proxy *px = &w.proxies[w.nproxies++];
    snprintf(px->name, sizeof(px->name), "%s", name);
    px->ops.name = px->name;
    px->ops.send = worker_outbox;
    px->ops.typing = proxy_typing;
    px->ops.react = proxy_react;
    px->ops.edit = proxy_edit;
    px->ops.stream_delta = proxy_stream_delta;
    p = platform_add(&px->ops, w.host, NULL);
    if (p) p->ready = 1;
    return p;
}

/* The pipeline finished a message: the head of its channel's FIFO. */
static void worker_done(struct platform *p, const struct chat_message *m) {
    struct fifo *f = fifo_for(p->ops->name, m->channel, 0);
    struct entry *e = f ? f->head : NULL;
    if (!e) return;
    if ((e->msg->id || m->id) && (!e->msg->id || !m->id || strcmp(e->msg->id, m->id))) return;
    f->head = e->next;
    if (!f->head) f->tail = NULL;
    e->next = NULL;
    fifo_drop_if_empty(p->ops->name, m->channel);
    e->done = 1;
    entry_maybe_finish(e);
}

/* ---- reading -------------------------------------------------------- */

static void on_read(redisReply *r, const char *err, void *data) {
    (void)data;
    w.reading = 0;
    w.stale = 0;
    if (err) return;   /* the connection dropped: its ready hook reads again */
    if (r->type == REDIS_REPLY_ERROR) {
        log_warn("bus: reading the ingress streams: %s", r->str);
        return;        /* the next heartbeat creates the groups and reads again */
    }
    bus_read_reply_each(r, worker_take, NULL);
    worker_read();
}

/* One blocking read over every partition in the reading state. */
static void worker_read(void) {
    if (w.reading || bus.stopping || server.stopping || !redis_client_ready(bus.block) ||
        w.ninflight >= bus.set.max_inflight)
        return;
    int n = 0;
    for (int i = 0; i < bus.set.partitions; i++) n += w.parts[i].state == PART_READING;
    if (n == 0) return;
    int argc = 0;
    const char **argv = xcalloc((size_t)(9 + 2 * n), sizeof(char *));
    char **keys = xcalloc((size_t)n, sizeof(char *));
    char count[16], block[24];
    snprintf(count, sizeof(count), "%d", bus.set.batch);
    snprintf(block, sizeof(block), "%ld", bus.set.block_ms);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = BUS_GROUP_WORKERS;
    argv[argc++] = bus.id;
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    argv[argc++] = "BLOCK";
    argv[argc++] = block;
    argv[argc++] = "STREAMS";
    int k = 0;
    for (int i = 0; i < bus.set.partitions; i++) {
        if (w.parts[i].state != PART_READING) continue;
        keys[k] = xmalloc(256);
        bus_key_ingress(keys[k], 256, i);
        argv[argc++] = keys[k++];
    }
    for (int i = 0; i < n; i++) argv[argc++] = ">";
    if (redis_command(bus.block, on_read, NULL, argc, argv, NULL) == 0) w.reading = 1;
    for (int i = 0; i < n; i++) free(keys[i]);
    free(keys);
    free(argv);
}

static void wake(void);

static void on_wake_timer(uv_timer_t *t) {
    (void)t;
    wake();
}

/* The read was not blocked yet (it is still on its way to Redis): try
 * again in a moment, until it returns. */
static void on_unblocked(redisReply *r, const char *err, void *data) {
    (void)data;
    w.waking = 0;
    if (!w.reading || !w.stale || bus.stopping) return;
    if (err || r->type != REDIS_REPLY_INTEGER || r->integer == 0) uv_timer_start(&w.wake_timer, on_wake_timer, 5, 0);
}

static void wake(void) {
    if (w.waking || !w.reading || !w.stale || bus.stopping) return;
    w.waking = 1;
    bus_unblock(on_unblocked);
}

/* The set of partitions read changed: re-issue the blocking read. */
static void part_changed(void) {
    if (!w.reading) {
        worker_read();
        return;
    }
    w.stale = 1;
    wake();
}

/* ---- leases, claims, membership -------------------------------------- */

static void on_released(redisReply *r, const char *err, void *data) {
    (void)r, (void)err, (void)data;
}

static void release_lease(int p) {
    char key[256];
    bus_key_lease(key, sizeof(key), p);
    const char *argv[5] = { "EVAL", release_script, "1", key, bus.id };
    redis_command(server.redis, on_released, NULL, 5, argv, NULL);
    if (w.parts[p].state != PART_NONE) {
        w.parts[p].state = PART_NONE;
        bus.held--;
        log_debug("bus: released partition %d", p);
    }
}

static void claim(int p);

/* Who else still holds entries of a partition being taken over. */
static void on_pending_summary(redisReply *r, const char *err, void *data) {
    int p = (int)(intptr_t)data;
    w.parts[p].busy = 0;
    if (err || bus.stopping || r->type != REDIS_REPLY_ARRAY || r->elements < 4 || w.parts[p].state != PART_CLAIMING)
        return;
    long long others = 0;
    const redisReply *cons = r->element[3];
    for (size_t i = 0; cons->type == REDIS_REPLY_ARRAY && i < cons->elements; i++) {
        const redisReply *c = cons->element[i];
        if (c->type != REDIS_REPLY_ARRAY || c->elements < 2 || !strcmp(c->element[0]->str, bus.id)) continue;
        others += c->element[1]->type == REDIS_REPLY_STRING ? atoll(c->element[1]->str) : c->element[1]->integer;
    }
    if (others > 0) return;   /* still theirs: claimed once idle long enough */
    w.parts[p].state = PART_READING;
    log_debug("bus: reading partition %d", p);
    part_changed();
}

/* XAUTOCLAIM's answer: run what was taken, follow the cursor. */
static void on_claimed(redisReply *r, const char *err, void *data) {
    int p = (int)(intptr_t)data;
    w.parts[p].busy = 0;
    if (err || bus.stopping || w.parts[p].state == PART_NONE) return;
    if (r->type == REDIS_REPLY_ERROR) {
        if (strncmp(r->str, "NOGROUP", 7) == 0) {
            char key[256];
            bus_key_ingress(key, sizeof(key), p);
            bus_group_create(key, BUS_GROUP_WORKERS, NULL, NULL);
        } else {
            log_warn("bus: XAUTOCLAIM on partition %d: %s", p, r->str);
        }
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) return;
    size_t before = r->element[1]->type == REDIS_REPLY_ARRAY ? r->element[1]->elements : 0;
    if (before) metrics_inc(METRIC_BUS_EVENTS, "claimed", (double)before);
    bus_entries_each(r->element[1], "a claimed entry", worker_take, (void *)(intptr_t)(p + 1));
    const char *cursor = r->element[0]->type == REDIS_REPLY_STRING ? r->element[0]->str : "0-0";
    snprintf(w.parts[p].cursor, sizeof(w.parts[p].cursor), "%s", cursor);
    if (strcmp(cursor, "0-0") != 0) {
        claim(p);
        return;
    }
    if (w.parts[p].state != PART_CLAIMING) return;
    char key[256];
    bus_key_ingress(key, sizeof(key), p);
    const char *argv[3] = { "XPENDING", key, BUS_GROUP_WORKERS };
    if (redis_command(server.redis, on_pending_summary, (void *)(intptr_t)p, 3, argv, NULL) == 0) w.parts[p].busy = 1;
}

/* Take P's entries idle longer than the visibility timeout (a dead
 * worker's, or ours whose reply failed). */
static void claim(int p) {
    char key[256], idle[24], count[16];
    bus_key_ingress(key, sizeof(key), p);
    snprintf(idle, sizeof(idle), "%ld", bus.set.visibility_ms);
    snprintf(count, sizeof(count), "%d", bus.set.batch);
    if (!w.parts[p].cursor[0]) snprintf(w.parts[p].cursor, sizeof(w.parts[p].cursor), "0-0");
    const char *argv[8] = { "XAUTOCLAIM", key, BUS_GROUP_WORKERS, bus.id, idle, w.parts[p].cursor, "COUNT", count };
    if (redis_command(server.redis, on_claimed, (void *)(intptr_t)p, 8, argv, NULL) == 0) w.parts[p].busy = 1;
}

struct lease_op {
    int part;
    int acquiring;
};

static void on_lease(redisReply *r, const char *err, void *data) {
    struct lease_op *op = data;
    int p = op->part;
    struct part *pt = &w.parts[p];
    pt->busy = 0;
    if (bus.stopping) {
        /* A lease won while leaving is given back, not left to expire. */
        if (op->acquiring && !err && r->type == REDIS_REPLY_INTEGER && r->integer == 1) release_lease(p);
        free(op);
        return;
    }
    int ok = !err && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (op->acquiring) {
        if (ok && pt->state == PART_NONE && !bus.stopping) {
            pt->state = PART_CLAIMING;
            pt->cursor[0] = '\0';
            bus.held++;
            log_debug("bus: acquired partition %d", p);
            char key[256];
            bus_key_ingress(key, sizeof(key), p);
            bus_group_create(key, BUS_GROUP_WORKERS, NULL, NULL);
            claim(p);
        }
    } else if (!ok && !err && pt->state != PART_NONE) {
        log_warn("bus: lost the lease of partition %d; another worker takes it over", p);
        pt->state = PART_NONE;
        bus.held--;
        part_changed();
    } else if (pt->state == PART_CLAIMING || pt->state == PART_READING) {
        claim(p);
        char key[256];
        bus_key_ingress(key, sizeof(key), p);
        bus_trim(key);
    }
    free(op);
}

static void lease(int p, int acquiring) {
    char key[256], ms[24];
    bus_key_lease(key, sizeof(key), p);
    snprintf(ms, sizeof(ms), "%ld", bus.set.lease_ms);
    struct lease_op *op = xcalloc(1, sizeof(*op));
    op->part = p;
    op->acquiring = acquiring;
    const char *argv[6] = { "EVAL", lease_script, "1", key, bus.id, ms };
    if (redis_command(server.redis, on_lease, op, 6, argv, NULL) == 0) w.parts[p].busy = 1;
    else free(op);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The live workers: partition p belongs to the (p mod n)-th of them in
 * name order. Take what is ours and free, renew what we hold, give back
 * (once its entries are done) what now belongs to someone else. */
static void on_members(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err || r->type != REDIS_REPLY_ARRAY || bus.stopping) return;
    size_t n = r->elements;
    const char **names = xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) names[i] = r->element[i]->str ? r->element[i]->str : "";
    qsort(names, n, sizeof(char *), cmp_str);
    int me = -1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], bus.id)) me = (int)i;
    free(names);
    if ((int)n != w.members) log_info("bus: %zu worker%s live; partitions rebalance", n, n == 1 ? "" : "s");
    w.members = (int)n;
    bus.reader_up = me >= 0;
    for (int p = 0; p < bus.set.partitions; p++) {
        struct part *pt = &w.parts[p];
        int wanted = me >= 0 && p % (int)n == me;
        if (pt->busy) continue;
        if (pt->state == PART_NONE) {
            if (wanted) lease(p, 1);
            continue;
        }
        if (!wanted && pt->state != PART_RELEASING) {
            log_info("bus: partition %d now belongs to another worker; handing it over", p);
            pt->state = PART_RELEASING;
            part_changed();
        }
        if (pt->state == PART_RELEASING && pt->inflight == 0) {
            release_lease(p);
            continue;
        }
        lease(p, 0);
    }
    worker_read();
}

/* Every heartbeat: say we are alive and learn who else is. */
static void worker_tick(void) {
    if (bus.stopping || server.stopping || !redis_client_ready(server.redis)) return;
    char key[256], ms[24];
    bus_key_workers(key, sizeof(key));
    snprintf(ms, sizeof(ms), "%ld", bus.set.lease_ms);
    const char *argv[6] = { "EVAL", join_script, "1", key, bus.id, ms };
    redis_command(server.redis, on_members, NULL, 6, argv, NULL);
}

static void on_block_ready(void) {
    w.reading = 0;
    worker_read();
}

int bus_worker_start(const struct bus_settings *s, const struct platform_host *host, platform_sink_fn *run,
                     char *err, size_t errlen) {
    bus_common_init(BUS_ROLE_WORKER, s);
    memset(&w, 0, sizeof(w));
    w.run = run;
    w.host = host;
    w.parts = xcalloc((size_t)s->partitions, sizeof(*w.parts));
    w.inflight = dict_new();
    w.fifos = dict_new();
    w.deltas = dict_new();
    uv_timer_init(server.loop, &w.wake_timer);
    uv_timer_init(server.loop, &w.delta_timer);
    if (bus_block_open(on_block_ready, err, errlen) < 0) return -1;
    platform_set_outbox(worker_outbox);
    platform_set_done(worker_done);
    bus_tick_start(worker_tick);
    log_info("bus: worker %s: %d partitions, lease %ld ms, visibility timeout %ld ms", bus.id, s->partitions,
             s->lease_ms, s->visibility_ms);
    return 0;
}

static void free_fifo(const char *key, void *value, void *arg) {
    (void)key, (void)arg;
    free(value);
}

static void free_delta(const char *key, void *value, void *arg) {
    (void)key, (void)arg;
    delta_free(value);
}

static void free_entry(const char *key, void *value, void *arg) {
    struct entry *e = value;
    (void)key, (void)arg;
    free(e->ev);
    message_free(e->msg);
    free(e);
}

/* Leave: give back every lease and the membership, so the others take
 * over at the next heartbeat instead of after the lease time. */
void bus_worker_stop(void) {
    if (!w.parts) return;
    for (int p = 0; p < bus.set.partitions; p++)
        if (w.parts[p].state != PART_NONE) release_lease(p);
    char key[256];
    bus_key_workers(key, sizeof(key));
    const char *argv[3] = { "ZREM", key, bus.id };
    redis_command(server.redis, on_released, NULL, 3, argv, NULL);
    platform_set_outbox(NULL);
    platform_set_done(NULL);
    uv_timer_stop(&w.wake_timer);
    uv_close((uv_handle_t *)&w.wake_timer, NULL);
    uv_timer_stop(&w.delta_timer);
    uv_close((uv_handle_t *)&w.delta_timer, NULL);
}

void bus_worker_free(void) {
    if (!w.parts) return;
    dict_each(w.inflight, free_entry, NULL);
    dict_free(w.inflight);
    dict_each(w.fifos, free_fifo, NULL);
    dict_free(w.fifos);
    dict_each(w.deltas, free_delta, NULL);
    dict_free(w.deltas);
    free(w.parts);
    memset(&w, 0, sizeof(w));
}

int bus_worker_holds(int p) {
    return w.parts && p >= 0 && p < bus.set.partitions && w.parts[p].state != PART_NONE;
}

int bus_worker_running(void) {
    return w.ninflight;
}

void bus_worker_status(json_t *st) {
    json_t *held = json_array();
    for (int p = 0; w.parts && p < bus.set.partitions; p++) {
        static const char *names[] = { "none", "claiming", "reading", "releasing" };
        if (w.parts[p].state != PART_NONE)
            json_array_append_new(held, json_pack("{s:i, s:s, s:i}", "partition", p, "state", names[w.parts[p].state],
                                                  "running", w.parts[p].inflight));
    }
    json_object_set_new(st, "held", held);
    json_object_set_new(st, "entries_running", json_integer(w.ninflight));
}
