/* bus_gateway.c - a gateway: received messages go to the ingress
 * partitions; replies come back on this gateway's egress stream and leave
 * through the adapters.
 *
 * Each gateway process has an egress stream of its own, read in the
 * "gateway" group under its id: every ingress entry names the process that
 * received it, and workers write all the replies, pieces, edits and
 * reactions of that message to its stream, so one reply is sent, grown and
 * finished by one gateway. After a reconnect a gateway first re-reads what
 * it had been given but not acknowledged. Gateways of one name keep a live
 * set (scored by heartbeat, Redis's clock); when one has missed a whole
 * lease, the first writer or heartbeat that notices hands what its stream
 * still holds unacknowledged to a live gateway (BUS_LUA_ROUTE), and what is
 * written for it afterwards follows. An entry is acknowledged once the
 * adapter reports the send done and the send is recorded; an entry
 * delivered again after a gateway died is sent only if no record says it
 * went out, and then with the reply's nonce, so Discord posts it once (see
 * docs/scaling.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bus/bus_codec.h"
#include "bus/bus_internal.h"
#include "core/message.h"
#include "core/rich.h"
#include "core/server.h"
#include "lib/dict.h"
#include "lib/log.h"
#include "lib/recent.h"
#include "lib/xalloc.h"

void bus_common_init(enum bus_role role, const struct bus_settings *s);

/* Worker-side ids of sent messages ("bus:<event>:<n>") to the platform's,
 * so a later edit or reaction finds the message; the oldest are forgotten. */
#define SID_KEEP 4096

/* Entries acknowledged lately: a re-read of our pending entries that was
 * answered before an XACK on the other connection landed must not send
 * them again. */
#define DONE_KEEP 4096

static struct {
    int reading;
    int joining;                 /* the heartbeat script is in flight */
    int joined;                  /* in the live set: workers route replies here (nothing is published before) */
    int history;                 /* re-reading our own unacknowledged entries first */
    struct recent *sids;         /* worker-side reply ids to the platform's message ids */
    struct dict *sending;        /* entry ids handed to an adapter, not yet acknowledged */
    struct dict *acking;         /* entry ids done (sent) whose XACK Redis has not confirmed */
    struct recent *done;         /* the last DONE_KEEP entry ids whose XACK Redis confirmed */
    int started;
} g;

static void gateway_read(void);

/* A message on its way to its ingress stream. One that could not be
 * written (Redis down or too slow) waits here and is written again: the
 * event key makes a second copy harmless, since workers drop duplicates. */
struct pub {
    char key[256];
    char *ev;
    char *msg;
    struct pub *next;
};

#define PUB_HELD_MAX 10000

static struct {
    struct pub *head, *tail;
    int n;
} held;

static void pub_free(struct pub *pb) {
    free(pb->ev);
    free(pb->msg);
    free(pb);
}

static void hold(struct pub *pb) {
    pb->next = NULL;
    if (held.tail) held.tail->next = pb;
    else held.head = pb;
    held.tail = pb;
    held.n++;
}

static int publish(struct pub *pb);

static void on_published(redisReply *r, const char *err, void *data) {
    struct pub *pb = data;
    if (err || r->type == REDIS_REPLY_ERROR) {
        if (held.n >= PUB_HELD_MAX) {
            log_error("bus: a received message could not be put on its ingress stream (%s) and is lost",
                      err ? err : r->str);
            bus_count("publish_failed");
            pub_free(pb);
            return;
        }
        bus_count("publish_retried");
        hold(pb);
        return;
    }
    bus_count("published");
    pub_free(pb);
}

/* The entry names this process (gid): the worker sends the replies to its stream. */
static int publish(struct pub *pb) {
    const char *argv[11] = { "XADD", pb->key, "*", "gw", bus.set.gateway, "gid", bus.id, "ev", pb->ev, "msg", pb->msg };
    return redis_command(server.redis, on_published, pb, 11, argv, NULL);
}

/* Write what waits, in order, while Redis takes it (and once this gateway
 * is in the live set, so the replies find it). */
static void flush_held(void) {
    while (held.head && g.joined && redis_client_ready(server.redis)) {
        struct pub *pb = held.head;
        held.head = pb->next;
        if (!held.head) held.tail = NULL;
        held.n--;
        if (publish(pb) < 0) {
            pb->next = held.head;
            held.head = pb;
            if (!held.tail) held.tail = pb;
            held.n++;
            return;
        }
    }
}

/* The sink: XADD the message to its partition (or hold it, in order,
 * while Redis cannot take it). -1 only when too much is held already. */
static int gateway_sink(struct platform *p, const struct chat_message *m) {
    if (bus.stopping || held.n >= PUB_HELD_MAX) return -1;
    json_t *j = bus_message_to_json(m);
    json_object_set_new(j, "platform", json_string(p->ops->name));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text) return -1;
    struct chat_message named = *m;
    named.platform = (char *)p->ops->name;
    char ev[1024];
    bus_event_key(&named, ev, sizeof(ev));
    struct pub *pb = xcalloc(1, sizeof(*pb));
    bus_key_ingress(pb->key, sizeof(pb->key), bus_partition(p->name, m->channel, bus.set.partitions));
    pb->ev = xstrdup(ev);
    pb->msg = text;
    flush_held();
    if (held.head || !g.joined || publish(pb) < 0) hold(pb);
    return 0;
}

static void remember_sid(const char *sid, const char *message_id) {
    recent_set(g.sids, sid, xstrdup(message_id));
}

/* A message id a worker named: its own "bus:" id mapped back, or as is. */
static const char *resolve_id(const char *id) {
    const char *real = id ? recent_get(g.sids, id) : NULL;
    return real ? real : id;
}

/* An XACK is confirmed: the entry is done. One that failed (Redis went away,
 * a failover) stays in g.acking, so the re-read after the reconnect only
 * acknowledges it again instead of sending the reply twice. */
static void on_acked(redisReply *r, const char *err, void *data) {
    char *id = data;
    if (err || r->type == REDIS_REPLY_ERROR) {
        bus_count("ack_failed");
    } else if (g.acking) {
        free(dict_del(g.acking, id));
        if (!recent_get(g.done, id)) recent_set(g.done, id, g.done);
    }
    free(id);
}

static void ack(const char *id) {
    char key[256];
    bus_key_egress(key, sizeof(key), bus.set.gateway, bus.id);
    const char *argv[4] = { "XACK", key, BUS_GROUP_GATEWAY, id };
    if (g.acking && !dict_get(g.acking, id)) dict_set(g.acking, id, xstrdup(id));
    char *copy = xstrdup(id);
    if (redis_command(server.redis, on_acked, copy, 4, argv, NULL) < 0) {
        bus_count("ack_failed");
        free(copy);
    }
    if (g.sending) free(dict_del(g.sending, id));
}

/* A send taken from the egress stream: everything needed to send it once
 * the sent-record answered. */
struct send_op {
    char id[48];
    char sid[256];
    char platform[32];
    char *channel, *text, *reply_to, *persona;
    char *rich;                /* a rich reply's JSON (core/rich.h), or NULL */
};

static void send_op_free(struct send_op *op) {
    free(op->channel);
    free(op->text);
    free(op->reply_to);
    free(op->persona);
    free(op->rich);
    free(op);
}

/* The record of reply SID: "<prefix>sent:{gw:NAME}:<sid>", the egress
 * stream's hash tag, so it lives beside the stream. */
static void key_sent(char *out, size_t len, const char *sid) {
    snprintf(out, len, "%ssent:{gw:%s}:%s", redis_client_prefix(server.redis), bus.set.gateway, sid);
}

static void on_recorded(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err || r->type == REDIS_REPLY_ERROR) bus_count("sent_record_failed");
}

/* After the adapter answered: "sent <message id>" (an entry delivered
 * again is then skipped), or no record at all when the send failed. */
static void record_sent(const char *sid, const char *message_id) {
    char key[1024], ttl[32], val[300];
    key_sent(key, sizeof(key), sid);
    snprintf(ttl, sizeof(ttl), "%ld", bus.set.dedupe_ttl_s);
    if (!message_id) {
        const char *argv[2] = { "DEL", key };
        redis_command(server.redis, on_recorded, NULL, 2, argv, NULL);
        return;
    }
    snprintf(val, sizeof(val), "sent %s", message_id);
    const char *argv[5] = { "SET", key, val, "EX", ttl };
    redis_command(server.redis, on_recorded, NULL, 5, argv, NULL);
}

static void on_sent(const char *message_id, const char *err, void *data) {
    struct send_op *op = data;
    if (err) log_warn("bus: a reply could not be sent: %s", err);
    if (g.sids && message_id && op->sid[0]) remember_sid(op->sid, message_id);
    /* The record goes before the XACK on the same connection, so an entry
     * acknowledged is always one recorded. */
    if (op->sid[0] && g.sending) record_sent(op->sid, err ? NULL : message_id ? message_id : "");
    if (g.sending) ack(op->id);
    send_op_free(op);
}

/* Hand OP to its adapter. */
static void send_now(struct send_op *op) {
    struct platform *p = platform_find(op->platform);
    const char *body = op->text ? op->text : "";
    /* Checked by the worker; checked again, so a bad entry is sent as text, not drawn. */
    json_t *given = op->rich ? json_loads(op->rich, 0, NULL) : NULL;
    char err[256];
    json_t *rich = given ? rich_check(given, err, sizeof(err)) : NULL;
    if (op->rich && !rich)
        log_warn("bus: egress entry %s has a rich reply that does not check (%s); sent as text", op->id, given ? err : "not JSON");
    json_decref(given);
    /* The reply's nonce: the same whoever sends it, however often (a
     * platform that can refuse a repeat, like Discord, posts it once). */
    char nonce[400];
    snprintf(nonce, sizeof(nonce), "%s:%s", bus.set.gateway, op->sid[0] ? op->sid : op->id);
    int rc = p ? platform_send_keyed(p, op->channel, body, strlen(body), op->reply_to, op->persona, rich, nonce, on_sent, op)
               : -1;
    json_decref(rich);
    if (rc < 0) {
        log_warn("bus: %s refused a reply to %s", op->platform, op->channel);
        if (op->sid[0]) record_sent(op->sid, NULL);
        ack(op->id);
        send_op_free(op);
    }
}

/* KEYS[1] this gateway's stream, KEYS[2] the reply's sent record; ARGV[1]
 * the entry, ARGV[2] this gateway, ARGV[3] the record, ARGV[4] its TTL.
 * 0 when the entry is no longer pending here (this gateway seemed dead for
 * a lease, paused or cut off, and its stream went to an heir, which sends
 * it); else SET NX GET's answer. */
static const char record_script[] =
    "local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], 'gateway', ARGV[1], ARGV[1], 1, ARGV[2])\n"
    "if not ok or #p == 0 then return 0 end\n"
    "return redis.call('SET', KEYS[2], ARGV[3], 'NX', 'GET', 'EX', ARGV[4])\n";

/* The sent-record's previous value (SET NX GET): nil, the reply was never
 * tried: send it; "sent <id>": it went out before and this entry is a
 * second delivery (a gateway that died before its XACK, an entry written
 * again): skip it; "pending <gateway>": a send was started and its outcome
 * never recorded (the gateway died in the middle): send again, at least
 * once, and say so. */
static void on_sent_record(redisReply *r, const char *err, void *data) {
    struct send_op *op = data;
    if (!g.sending) {
        send_op_free(op);
        return;
    }
    if (!err && r->type == REDIS_REPLY_INTEGER) {
        bus_count("egress_handed_over");
        log_info("bus: reply %s went to another gateway while this one seemed gone; that one sends it", op->sid);
        free(dict_del(g.sending, op->id));
        send_op_free(op);
        return;
    }
    if (!err && r->type == REDIS_REPLY_STRING && !strncmp(r->str, "sent ", 5)) {
        bus_count("egress_already_sent");
        log_info("bus: reply %s was sent before; the entry delivered again is skipped", op->sid);
        if (r->str[5]) remember_sid(op->sid, r->str + 5);
        ack(op->id);
        send_op_free(op);
        return;
    }
    if (!err && r->type == REDIS_REPLY_STRING) {
        bus_count("egress_resent");
        log_warn("bus: reply %s was being sent by %s when it stopped; sending it again (it may show twice)", op->sid,
                 r->str + (strncmp(r->str, "pending ", 8) ? 0 : 8));
    } else if (err || r->type == REDIS_REPLY_ERROR) {
        bus_count("sent_record_failed");
    }
    send_now(op);
}

static const char *str_field(const redisReply *fields, const char *name) {
    const redisReply *v = bus_field(fields, name);
    return v && v->type == REDIS_REPLY_STRING && v->len > 0 ? v->str : NULL;
}

/* One egress entry: hand it to its adapter. */
static void gateway_take(const char *stream, const char *id, const redisReply *fields, void *arg) {
    (void)stream, (void)arg;
    if (dict_get(g.sending, id)) return;
    if (dict_get(g.acking, id) || recent_get(g.done, id)) {   /* sent already: only (re)acknowledge */
        ack(id);
        return;
    }
    const char *t = str_field(fields, "t"), *platform = str_field(fields, "platform");
    const char *channel = str_field(fields, "channel");
    struct platform *p = platform ? platform_find(platform) : NULL;
    if (!t || !p || !channel) {
        log_warn("bus: egress entry %s names no platform this gateway holds (%s); dropped", id,
                 platform ? platform : "none");
        bus_count("egress_dropped");
        ack(id);
        return;
    }
    dict_set(g.sending, id, xstrdup(id));
    const char *text = str_field(fields, "text");
    if (!strcmp(t, "send")) {
        struct send_op *op = xcalloc(1, sizeof(*op));
        const char *sid = str_field(fields, "sid"), *reply_to = str_field(fields, "reply_to");
        const char *persona = str_field(fields, "persona");
        snprintf(op->id, sizeof(op->id), "%s", id);
        snprintf(op->sid, sizeof(op->sid), "%s", sid ? sid : "");
        snprintf(op->platform, sizeof(op->platform), "%s", platform);
        op->channel = xstrdup(channel);
        op->text = text ? xstrdup(text) : NULL;
        op->reply_to = reply_to ? xstrdup(reply_to) : NULL;
        op->persona = persona ? xstrdup(persona) : NULL;
        op->rich = str_field(fields, "rich") ? xstrdup(str_field(fields, "rich")) : NULL;
        /* Record the attempt before it is made (SET NX GET), so a second
         * delivery of this entry learns whether it went out. */
        char own[256], key[1024], ttl[32], val[160];
        bus_key_egress(own, sizeof(own), bus.set.gateway, bus.id);
        key_sent(key, sizeof(key), op->sid);
        snprintf(ttl, sizeof(ttl), "%ld", bus.set.dedupe_ttl_s);
        snprintf(val, sizeof(val), "pending %s", bus.id);
        const char *argv[9] = { "EVAL", record_script, "2", own, key, op->id, bus.id, val, ttl };
        if (!op->sid[0] || redis_command(server.redis, on_sent_record, op, 9, argv, NULL) < 0) send_now(op);
        return;
    }
    if (!strcmp(t, "delta")) {
        const char *reply_to = str_field(fields, "reply_to");
        if (p->ops->stream_delta && reply_to && text) p->ops->stream_delta(p, channel, reply_to, text, strlen(text));
        ack(id);
        return;
    }
    const char *mid = resolve_id(str_field(fields, "message_id"));
    if (!strcmp(t, "typing") && p->ops->typing) p->ops->typing(p, channel);
    else if (!strcmp(t, "react") && p->ops->react && mid) p->ops->react(p, channel, mid, str_field(fields, "emoji"));
    else if (!strcmp(t, "edit") && p->ops->edit && mid && text) p->ops->edit(p, channel, mid, text, strlen(text));
    ack(id);
}

static void on_group(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9))) return;
    g.started = 1;
    gateway_read();
}

static void on_read(redisReply *r, const char *err, void *data) {
    (void)data;
    g.reading = 0;
    if (err) return;   /* the connection dropped: its ready hook reads again */
    if (r->type == REDIS_REPLY_ERROR) {
        log_warn("bus: reading the egress stream: %s", r->str);
        if (!strncmp(r->str, "NOGROUP", 7)) {
            char key[256];
            bus_key_egress(key, sizeof(key), bus.set.gateway, bus.id);
            bus_group_create(key, BUS_GROUP_GATEWAY, on_group, NULL);
        }
        return;
    }
    int got = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *s = r->element[i];
        if (s->type == REDIS_REPLY_ARRAY && s->elements >= 2 && s->element[1]->type == REDIS_REPLY_ARRAY)
            got += (int)s->element[1]->elements;
    }
    if (g.history && got == 0) g.history = 0;
    bus_read_reply_each(r, gateway_take, NULL);
    bus.reader_up = 1;
    gateway_read();
}

/* Read the egress stream: our pending entries first, then new ones (blocking). */
static void gateway_read(void) {
    if (g.reading || !g.started || bus.stopping || !redis_client_ready(bus.block)) return;
    char key[256], count[16], block[24];
    bus_key_egress(key, sizeof(key), bus.set.gateway, bus.id);
    snprintf(count, sizeof(count), "%d", bus.set.batch);
    snprintf(block, sizeof(block), "%ld", bus.set.block_ms);
    const char *argv[11] = { "XREADGROUP", "GROUP", BUS_GROUP_GATEWAY, bus.id, "COUNT", count,
                             "BLOCK", block, "STREAMS", key, g.history ? "0" : ">" };
    if (redis_command(bus.block, on_read, NULL, 11, argv, NULL) == 0) g.reading = 1;
}

/* The stream connection is (back): make sure the group exists, re-read
 * what we were given before, then follow new entries. */
static void on_block_ready(void) {
    char key[256];
    g.reading = 0;
    g.history = 1;
    bus_key_egress(key, sizeof(key), bus.set.gateway, bus.id);
    bus_group_create(key, BUS_GROUP_GATEWAY, on_group, NULL);
}

/* Every heartbeat (KEYS[1] the live set; ARGV[1..5] as BUS_LUA_ROUTE
 * wants, ARGV[6] this gateway, ARGV[7] "1" when it is leaving): say this
 * gateway is live (or, leaving, that it is gone), hand the stream of every
 * gateway silent for a lease to its heir, and what waits in the shared
 * stream to a live gateway. Returns how many entries moved. */
static const char join_script[] =
    BUS_LUA_ROUTE
    "redis.call('ZADD', KEYS[1], ARGV[7] == '1' and 0 or now, ARGV[6])\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - lease)) do route(id) end\n"
    "local to = first_live()\n"
    "if to then move(shared, spre .. to) end\n"
    "return moved\n";

static void on_joined(redisReply *r, const char *err, void *data) {
    int leaving = (int)(intptr_t)data;
    if (!leaving) g.joining = 0;
    if (err || r->type == REDIS_REPLY_ERROR) {
        log_warn("bus: the gateways' heartbeat failed: %s", err ? err : r->str);
        return;
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        log_info("bus: %lld replies of gateways that are gone were handed to a live one", r->integer);
        bus_count("handed_over");
    }
    if (leaving || g.joined) return;
    g.joined = 1;
    flush_held();
}

/* Join (or, LEAVING, leave) the live gateways and hand dead ones' streams over. */
static void gateway_join(int leaving) {
    struct bus_route_args a;
    if (!leaving && g.joining) return;
    bus_route_args(&a, bus.set.gateway);
    const char *argv[11] = { "EVAL", join_script, "1", a.live, a.spre, a.hpre, a.lease, a.ttl, a.shared, bus.id,
                             leaving ? "1" : "0" };
    if (redis_command(server.redis, on_joined, (void *)(intptr_t)leaving, 11, argv, NULL) == 0 && !leaving) g.joining = 1;
}

/* Every heartbeat: trim the egress stream up to what was acknowledged,
 * say this gateway is live, hand dead ones' streams over. */
static void gateway_tick(void) {
    char key[256];
    if (!redis_client_ready(server.redis)) return;
    /* The group could not be made when the stream connection came up (the
     * main connection was not up yet, e.g. a cluster's slot map, or each
     * connection finding the master through Sentinel on its own): now. */
    if (!g.started && redis_client_ready(bus.block)) on_block_ready();
    flush_held();
    bus_key_egress(key, sizeof(key), bus.set.gateway, bus.id);
    bus_trim(key);
    gateway_join(0);
    gateway_read();
}

int bus_gateway_start(const struct bus_settings *s, char *err, size_t errlen) {
    bus_common_init(BUS_ROLE_GATEWAY, s);
    memset(&g, 0, sizeof(g));
    g.sids = recent_new(SID_KEEP, free);
    g.sending = dict_new();
    g.acking = dict_new();
    g.done = recent_new(DONE_KEEP, NULL);
    if (bus_block_open(on_block_ready, err, errlen) < 0) return -1;
    platform_set_sink(gateway_sink);
    bus_tick_start(gateway_tick);
    log_info("bus: gateway \"%s\": %d ingress partitions", s->gateway, s->partitions);
    return 0;
}

static void free_value(const char *key, void *value, void *arg) {
    (void)key, (void)arg;
    free(value);
}

/* Stopping: write what waits, if Redis takes it now, and leave the live
 * gateways, handing what this one's stream still holds to another. */
void bus_gateway_stop(void) {
    flush_held();
    if (g.sids && redis_client_ready(server.redis)) gateway_join(1);
}

void bus_gateway_free(void) {
    if (!g.sids) return;
    if (held.n) log_error("bus: stopped with %d received messages not written to Redis; they are lost", held.n);
    while (held.head) {
        struct pub *pb = held.head;
        held.head = pb->next;
        pub_free(pb);
    }
    held.tail = NULL;
    held.n = 0;
    recent_free(g.sids);
    g.sids = NULL;
    dict_each(g.sending, free_value, NULL);
    dict_free(g.sending);
    g.sending = NULL;
    dict_each(g.acking, free_value, NULL);
    dict_free(g.acking);
    g.acking = NULL;
    recent_free(g.done);
    g.done = NULL;
}
