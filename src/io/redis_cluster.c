/* redis_cluster.c - route commands to the master that serves their slot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "io/redis_cluster.h"
#include "lib/log.h"
#include "lib/redis_slot.h"
#include "lib/xalloc.h"

#define CLUSTER_MAX_NODES 64
#define CLUSTER_MAX_REDIRECTS 16

struct cluster_node {
    char addr[280];              /* host:port as the cluster names it */
    struct redis_client *rc;
    struct redis_cluster *c;
    int owe;                     /* commands failed when it dropped: tell the owner when it is back */
};

/* One command, its arguments copied so it can be sent again. */
struct cluster_op {
    struct redis_cluster *c;
    redis_reply_fn *cb;
    void *data;
    int argc;
    const char **argv;
    size_t *lens;
    int keyidx;                  /* -1: keyless */
    unsigned slot;
    int pinned;                  /* slot given by the caller's key */
    int redirects, retries;
    struct cluster_node *ask;    /* send ASKING first, to this node */
    struct cluster_node *node;   /* where it was sent last */
    uv_timer_t *timer;           /* waiting to retry */
    struct cluster_op *prev, *next;
};

struct redis_cluster {
    uv_loop_t *loop;
    struct redis_options opts;
    char prefix[128];
    char userinfo[512];          /* "user:pass@" of the URL, or "" */
    struct cluster_node *nodes[CLUSTER_MAX_NODES];
    int nnodes, nseeds;
    short slots[REDIS_SLOTS];    /* index into nodes, -1 unknown */
    int have_map;
    int refreshing;
    int closing;
    uv_timer_t refresh_timer;
    struct cluster_op *waiting;  /* ops in a retry timer */
    char last_error[640];
    void (*on_ready)(void);
};

static void cluster_refresh(struct redis_cluster *c);
static int cluster_send(struct cluster_op *op);

/* A node of this address, created (and connecting) when new. */
static struct cluster_node *node_for(struct redis_cluster *c, const char *addr) {
    for (int i = 0; i < c->nnodes; i++)
        if (!strcmp(c->nodes[i]->addr, addr)) return c->nodes[i];
    if (c->nnodes == CLUSTER_MAX_NODES) return NULL;
    char url[900];
    const char *colon = strrchr(addr, ':');
    if (!colon) return NULL;
    if (addr[0] != '[' && memchr(addr, ':', (size_t)(colon - addr)))   /* a bare IPv6 address */
        snprintf(url, sizeof(url), "redis://%s[%.*s]%s", c->userinfo, (int)(colon - addr), addr, colon);
    else
        snprintf(url, sizeof(url), "redis://%s%s", c->userinfo, addr);
    struct redis_options o = c->opts;
    o.cluster = NULL;
    char err[256];
    struct redis_client *rc = redis_client_new(c->loop, url, &o, err, sizeof(err));
    if (!rc) {
        log_warn("redis cluster: node %s: %s", addr, err);
        return NULL;
    }
    struct cluster_node *n = xcalloc(1, sizeof(*n));
    snprintf(n->addr, sizeof(n->addr), "%s", addr);
    n->rc = rc;
    n->c = c;
    c->nodes[c->nnodes++] = n;
    return n;
}

static void on_node_ready(void *data);

/* Create a node and watch it come up. */
static struct cluster_node *node_add(struct redis_cluster *c, const char *addr) {
    int before = c->nnodes;
    struct cluster_node *n = node_for(c, addr);
    if (n && c->nnodes > before) redis_client_on_ready_data(n->rc, on_node_ready, n);
    return n;
}

/* A node (re)connected: learn the map if we have none; if its drop failed
 * commands, tell the owner, as one Redis would, so it can re-issue them (a
 * blocking read). Only then: the owner's hook may start a read, and one is
 * perhaps still blocked on another node. */
static void on_node_ready(void *data) {
    struct cluster_node *n = data;
    struct redis_cluster *c = n->c;
    if (!c->have_map) {
        cluster_refresh(c);
        return;
    }
    if (n->owe) {
        n->owe = 0;
        if (c->on_ready) c->on_ready();
    }
}

/* ---- topology ------------------------------------------------------ */

/* Field NAME of a RESP2 flat map (name, value, name, value...). */
static redisReply *map_get(const redisReply *m, const char *name) {
    if (!m || m->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < m->elements; i += 2)
        if (m->element[i]->type == REDIS_REPLY_STRING && !strcmp(m->element[i]->str, name)) return m->element[i + 1];
    return NULL;
}

/* Set slots LO..HI to the master at HOST:PORT in MAP. */
static int assign(struct redis_cluster *c, short *map, long long lo, long long hi, const char *host, long long port) {
    char addr[280];
    if (lo < 0 || hi >= REDIS_SLOTS || lo > hi || !host || !*host || port <= 0) return -1;
    snprintf(addr, sizeof(addr), "%s:%lld", host, port);
    struct cluster_node *n = node_add(c, addr);
    if (!n) return -1;
    int idx = 0;
    while (c->nodes[idx] != n) idx++;
    for (long long s = lo; s <= hi; s++) map[s] = (short)idx;
    return 0;
}

/* CLUSTER SHARDS: [slots, [lo, hi, ...], nodes, [{ip, port, endpoint, role, health}...]]. */
static int parse_shards(struct redis_cluster *c, const redisReply *r, short *map) {
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *slots = map_get(r->element[i], "slots"), *nodes = map_get(r->element[i], "nodes");
        if (!slots || !nodes || slots->type != REDIS_REPLY_ARRAY || nodes->type != REDIS_REPLY_ARRAY) return -1;
        redisReply *master = NULL;
        for (size_t k = 0; k < nodes->elements; k++) {
            redisReply *role = map_get(nodes->element[k], "role");
            if (role && role->str && !strcmp(role->str, "master")) master = nodes->element[k];
        }
        if (!master) continue;   /* a shard without slots or master */
        redisReply *ep = map_get(master, "endpoint"), *ip = map_get(master, "ip"), *port = map_get(master, "port");
        const char *host = ep && ep->str && *ep->str && strcmp(ep->str, "?") ? ep->str : ip ? ip->str : NULL;
        if (!port || port->type != REDIS_REPLY_INTEGER) return -1;
        for (size_t k = 0; k + 1 < slots->elements; k += 2)
            if (assign(c, map, slots->element[k]->integer, slots->element[k + 1]->integer, host, port->integer) < 0)
                return -1;
    }
    return 0;
}

/* CLUSTER SLOTS: [[lo, hi, [ip, port, id], replicas...]...]. */
static int parse_slots(struct redis_cluster *c, const redisReply *r, short *map) {
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[2]->type != REDIS_REPLY_ARRAY ||
            e->element[2]->elements < 2)
            return -1;
        if (assign(c, map, e->element[0]->integer, e->element[1]->integer, e->element[2]->element[0]->str,
                   e->element[2]->element[1]->integer) < 0)
            return -1;
    }
    return 0;
}

static void on_refresh_timer(uv_timer_t *t) {
    cluster_refresh(t->data);
}

/* Try again later: no node answered, or the answer was unusable. */
static void refresh_later(struct redis_cluster *c) {
    if (c->closing) return;
    uv_timer_start(&c->refresh_timer, on_refresh_timer, (uint64_t)c->opts.reconnect_min_ms, 0);
}

static void on_topology(redisReply *r, const char *err, void *data);

/* Ask node N for the map: SHARDS first, SLOTS when SHARDS is unknown. */
static int ask_topology(struct redis_cluster *c, struct cluster_node *n, int use_slots) {
    const char *argv[2] = { "CLUSTER", use_slots ? "SLOTS" : "SHARDS" };
    c->refreshing = 1 + use_slots;
    if (redis_command(n->rc, on_topology, c, 2, argv, NULL) < 0) {
        c->refreshing = 0;
        return -1;
    }
    return 0;
}

/* A ready node, seeds first. */
static struct cluster_node *any_ready(struct redis_cluster *c) {
    for (int i = 0; i < c->nnodes; i++)
        if (redis_client_ready(c->nodes[i]->rc)) return c->nodes[i];
    return NULL;
}

/* The slot map (or an error: then CLUSTER SLOTS, or later again). */
static void on_topology(redisReply *r, const char *err, void *data) {
    struct redis_cluster *c = data;
    int use_slots = c->refreshing == 2;
    c->refreshing = 0;
    if (c->closing) return;
    if (err || r->type != REDIS_REPLY_ARRAY) {
        if (!err && !use_slots && r->type == REDIS_REPLY_ERROR) {
            struct cluster_node *n = any_ready(c);
            if (n && ask_topology(c, n, 1) == 0) return;
        }
        snprintf(c->last_error, sizeof(c->last_error), "cannot read the cluster's slot map: %.300s",
                 err ? err : r->str ? r->str : "unexpected reply");
        refresh_later(c);
        return;
    }
    short *map = xmalloc(sizeof(c->slots));
    for (int s = 0; s < REDIS_SLOTS; s++) map[s] = -1;
    int rc = use_slots ? parse_slots(c, r, map) : parse_shards(c, r, map);
    int covered = 1;
    for (int s = 0; s < REDIS_SLOTS && rc == 0; s++)
        if (map[s] < 0) covered = 0;
    if (rc < 0 && !use_slots) {   /* a CLUSTER SHARDS we cannot read: try the older form */
        struct cluster_node *n = any_ready(c);
        if (n && ask_topology(c, n, 1) == 0) {
            free(map);
            return;
        }
    }
    if (rc < 0 || !covered) {
        snprintf(c->last_error, sizeof(c->last_error), "the cluster's slot map %s",
                 rc < 0 ? "could not be read" : "does not cover every slot yet");
        free(map);
        refresh_later(c);
        return;
    }
    memcpy(c->slots, map, sizeof(c->slots));
    free(map);
    int first = !c->have_map;
    c->have_map = 1;
    c->last_error[0] = '\0';
    if (first) {
        log_info("redis cluster: slot map read, %d nodes known", c->nnodes);
        if (c->on_ready) c->on_ready();
    }
}

/* Read the slot map again (one request at a time). */
static void cluster_refresh(struct redis_cluster *c) {
    if (c->closing || c->refreshing) return;
    struct cluster_node *n = any_ready(c);
    if (!n || ask_topology(c, n, 0) < 0) refresh_later(c);
}

/* ---- commands ------------------------------------------------------ */

static void op_free(struct cluster_op *op) {
    free(op->argv);
    free(op);
}

/* Deliver a reply (or error) to the caller and forget the op. */
static void op_finish(struct cluster_op *op, redisReply *r, const char *err) {
    op->cb(r, err, op->data);
    op_free(op);
}

static void on_asking(redisReply *r, const char *err, void *data) {
    (void)r, (void)err, (void)data;
}

static void on_timer_closed(uv_handle_t *h) {
    free(h);
}

static void unlink_waiting(struct cluster_op *op) {
    if (op->prev) op->prev->next = op->next;
    else op->c->waiting = op->next;
    if (op->next) op->next->prev = op->prev;
    op->prev = op->next = NULL;
}

/* The retry delay is over: send again. */
static void on_retry(uv_timer_t *t) {
    struct cluster_op *op = t->data;
    unlink_waiting(op);
    uv_close((uv_handle_t *)t, on_timer_closed);
    op->timer = NULL;
    if (cluster_send(op) < 0) op_finish(op, NULL, op->c->last_error[0] ? op->c->last_error : "the Redis cluster node is not connected");
}

/* Send again after a short wait (TRYAGAIN, CLUSTERDOWN, a node in failover). */
static void retry_later(struct cluster_op *op) {
    struct redis_cluster *c = op->c;
    op->timer = xmalloc(sizeof(*op->timer));
    uv_timer_init(c->loop, op->timer);
    op->timer->data = op;
    op->next = c->waiting;
    if (c->waiting) c->waiting->prev = op;
    c->waiting = op;
    uv_timer_start(op->timer, on_retry, (uint64_t)(c->opts.cluster_retry_ms * op->retries), 0);
}

/* "MOVED 3999 127.0.0.1:6381": the slot and the address. */
static int parse_redirect(const char *s, unsigned *slot, char *addr, size_t len) {
    const char *sp = strchr(s, ' ');
    if (!sp) return -1;
    char *end;
    long v = strtol(sp + 1, &end, 10);
    if (end == sp + 1 || *end != ' ' || v < 0 || v >= REDIS_SLOTS) return -1;
    *slot = (unsigned)v;
    snprintf(addr, len, "%s", end + 1);
    return addr[0] ? 0 : -1;
}

static void on_op_reply(redisReply *r, const char *err, void *data) {
    struct cluster_op *op = data;
    struct redis_cluster *c = op->c;
    if (err) {
        /* A master gone away may have been replaced: learn the map again. */
        if (!c->closing) cluster_refresh(c);
        if (op->node) op->node->owe = 1;
        op_finish(op, NULL, err);
        return;
    }
    if (r->type != REDIS_REPLY_ERROR || c->closing) {
        op_finish(op, r, NULL);
        return;
    }
    unsigned slot;
    char addr[280];
    int moved = !strncmp(r->str, "MOVED ", 6), ask = !strncmp(r->str, "ASK ", 4);
    if ((moved || ask) && op->redirects < CLUSTER_MAX_REDIRECTS && parse_redirect(r->str, &slot, addr, sizeof(addr)) == 0) {
        struct cluster_node *n = node_add(c, addr);
        if (n) {
            op->redirects++;
            if (moved) {
                int idx = 0;
                while (c->nodes[idx] != n) idx++;
                int changed = c->slots[slot] != idx;
                c->slots[slot] = (short)idx;
                if (changed) log_info("redis cluster: slot %u moved to %s", slot, addr);
                cluster_refresh(c);
            } else {
                op->ask = n;
            }
            if (cluster_send(op) == 0) return;
            op->retries++;
            if (op->retries <= c->opts.cluster_retries) {
                retry_later(op);
                return;
            }
        }
    } else if ((!strncmp(r->str, "TRYAGAIN", 8) || !strncmp(r->str, "CLUSTERDOWN", 11)) &&
               op->retries < c->opts.cluster_retries) {
        op->retries++;
        if (!strncmp(r->str, "CLUSTERDOWN", 11)) cluster_refresh(c);
        retry_later(op);
        return;
    }
    op_finish(op, r, NULL);
}

/* Send OP to the node its slot (or an ASK) names. 0, or -1 when that node
 * is not connected. */
static int cluster_send(struct cluster_op *op) {
    struct redis_cluster *c = op->c;
    struct cluster_node *n = op->ask;
    op->ask = NULL;
    if (n) {
        const char *asking[1] = { "ASKING" };
        if (redis_command(n->rc, on_asking, NULL, 1, asking, NULL) < 0) return -1;
    } else if (op->keyidx >= 0 || op->pinned) {
        short i = c->slots[op->slot];
        n = i >= 0 ? c->nodes[i] : NULL;
    }
    if (!n) n = any_ready(c);
    if (!n) return -1;
    op->node = n;
    return redis_command(n->rc, on_op_reply, op, op->argc, op->argv, op->lens);
}

int redis_cluster_command(struct redis_cluster *c, const char *key, redis_reply_fn *cb, void *data,
                          int argc, const char **argv, const size_t *lens) {
    if (!redis_cluster_ready(c) || argc < 1) return -1;
    /* One allocation: the pointers, the lengths, then the bytes. */
    size_t bytes = 0;
    for (int i = 0; i < argc; i++) bytes += (lens ? lens[i] : strlen(argv[i])) + 1;
    char *block = xmalloc((size_t)argc * (sizeof(char *) + sizeof(size_t)) + bytes);
    struct cluster_op *op = xcalloc(1, sizeof(*op));
    op->argv = (const char **)(void *)block;
    op->lens = (size_t *)(void *)(block + (size_t)argc * sizeof(char *));
    char *p = block + (size_t)argc * (sizeof(char *) + sizeof(size_t));
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        memcpy(p, argv[i], n);
        p[n] = '\0';
        op->argv[i] = p;
        op->lens[i] = n;
        p += n + 1;
    }
    op->c = c;
    op->cb = cb;
    op->data = data;
    op->argc = argc;
    if (key) {
        op->pinned = 1;
        op->keyidx = -1;
        op->slot = redis_key_slot(key, strlen(key));
    } else {
        op->keyidx = redis_command_key_index(argc, argv, lens);
        if (op->keyidx >= argc) op->keyidx = -1;
        if (op->keyidx >= 0) op->slot = redis_key_slot(op->argv[op->keyidx], op->lens[op->keyidx]);
    }
    if (cluster_send(op) < 0) {
        op_free(op);
        return -1;
    }
    return 0;
}

/* ---- lifetime ------------------------------------------------------ */

struct redis_cluster *redis_cluster_new(uv_loop_t *loop, const char *base_url, const char *const *seeds, int nseeds,
                                        const struct redis_options *opts, char *err, size_t errlen) {
    struct redis_cluster *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->opts = *opts;
    snprintf(c->prefix, sizeof(c->prefix), "%s", opts->prefix ? opts->prefix : "chorus:");
    c->opts.prefix = c->prefix;
    c->opts.cluster = NULL;
    for (int s = 0; s < REDIS_SLOTS; s++) c->slots[s] = -1;
    /* user:pass@ of the URL, applied to every node. */
    const char *rest = strstr(base_url, "://");
    rest = rest ? rest + 3 : base_url;
    const char *at = strrchr(rest, '@');
    if (at && (size_t)(at - rest) + 2 < sizeof(c->userinfo)) snprintf(c->userinfo, sizeof(c->userinfo), "%.*s@", (int)(at - rest), rest);
    uv_timer_init(loop, &c->refresh_timer);
    c->refresh_timer.data = c;
    snprintf(c->last_error, sizeof(c->last_error), "the Redis cluster's slot map is not known yet");
    for (int i = 0; i < nseeds; i++) {
        if (!strrchr(seeds[i], ':')) {
            snprintf(err, errlen, "cluster node \"%s\" is not host:port", seeds[i]);
            redis_cluster_free(c);
            return NULL;
        }
        node_add(c, seeds[i]);
    }
    c->nseeds = nseeds;
    if (c->nnodes == 0) {
        snprintf(err, errlen, "the cluster list names no node");
        redis_cluster_free(c);
        return NULL;
    }
    return c;
}

static void on_cluster_timer_closed(uv_handle_t *h) {
    free(h->data);
}

void redis_cluster_free(struct redis_cluster *c) {
    if (!c) return;
    c->closing = 1;
    while (c->waiting) {
        struct cluster_op *op = c->waiting;
        unlink_waiting(op);
        uv_close((uv_handle_t *)op->timer, on_timer_closed);
        op_finish(op, NULL, "chorusd is shutting down");
    }
    for (int i = 0; i < c->nnodes; i++) {
        redis_client_free(c->nodes[i]->rc);
        free(c->nodes[i]);
    }
    uv_timer_stop(&c->refresh_timer);
    uv_close((uv_handle_t *)&c->refresh_timer, on_cluster_timer_closed);
}

int redis_cluster_ready(const struct redis_cluster *c) {
    return c && c->have_map && !c->closing;
}

const char *redis_cluster_error(const struct redis_cluster *c) {
    if (!c->have_map) return c->last_error;
    for (int i = 0; i < c->nnodes; i++) {
        int serves = 0;
        for (int s = 0; s < REDIS_SLOTS && !serves; s += 1) serves = c->slots[s] == i;
        if (serves && !redis_client_ready(c->nodes[i]->rc)) return redis_client_error(c->nodes[i]->rc);
    }
    return "";
}

double redis_cluster_latency_ms(const struct redis_cluster *c) {
    double worst = 0;
    for (int i = 0; i < c->nnodes; i++) {
        double l = redis_client_latency_ms(c->nodes[i]->rc);
        if (l > worst) worst = l;
    }
    return worst;
}

void redis_cluster_on_ready(struct redis_cluster *c, void (*fn)(void)) {
    c->on_ready = fn;
}
