/* discord_ixshare.c - interactions recorded in Redis for the other gateways
 * of the bot (see discord_ixshare.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/server.h"
#include "io/redis_client.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "platforms/discord/discord_interactions.h"
#include "platforms/discord/discord_ixshare.h"

/* KEYS the record; ARGV ttl ms, app id, token, channel, unix ms, "1" for a button. */
static const char put_script[] =
    "redis.call('HSET', KEYS[1], 'app', ARGV[2], 'token', ARGV[3], 'channel', ARGV[4], 'at', ARGV[5], 'ack', '0')\n"
    "if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'orig', '-') end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
    "return 1\n";

/* KEYS the record; ARGV "1" or "-1". Never brings back an expired record. */
static const char ack_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'ack', ARGV[1]) end\n"
    "return 1\n";

/* KEYS the record; ARGV the claimer. A record gone (expired) is nobody's to
 * guard: the claimer goes ahead rather than leave the answer unsent. */
static const char claim_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end\n"
    "return redis.call('HSETNX', KEYS[1], 'orig', ARGV[1])\n";

struct discord_ixshare {
    struct redis_client *(*redis)(void);
    char *base;
    char *me;
    int pending;        /* commands whose answers are still to come */
    int dead;           /* freed by the owner; the struct waits for PENDING */
};

/* One question in flight. */
struct ask {
    struct discord_ixshare *sh;
    discord_ixshare_get_fn *get;
    discord_ixshare_claim_fn *claim;
    void *data;
};

struct discord_ixshare *discord_ixshare_new(struct redis_client *(*redis)(void), const char *base, const char *me) {
    struct discord_ixshare *sh = xcalloc(1, sizeof(*sh));
    if (!sh) return NULL;
    sh->redis = redis;
    sh->base = xstrdup(base);
    sh->me = xstrdup(me);
    return sh;
}

/* Free SH itself. */
static void destroy(struct discord_ixshare *sh) {
    free(sh->base);
    free(sh->me);
    free(sh);
}

void discord_ixshare_free(struct discord_ixshare *sh) {
    if (!sh) return;
    sh->dead = 1;
    if (sh->pending == 0) destroy(sh);
}

/* An answer came: 1 when the owner is gone (SH may be freed by now). */
static int settle(struct discord_ixshare *sh) {
    sh->pending--;
    if (!sh->dead) return 0;
    if (sh->pending == 0) destroy(sh);
    return 1;
}

/* The record's key for interaction ID. */
static void record_key(const struct discord_ixshare *sh, const char *id, char *out, size_t len) {
    snprintf(out, len, "%six:%s", sh->base, id);
}

/* Send ARGV; 0, or -1 when Redis is not connected (FN not called). */
static int send_command(struct discord_ixshare *sh, int argc, const char **argv, redis_reply_fn *fn, void *data) {
    struct redis_client *rc = sh->redis ? sh->redis() : NULL;
    if (!rc || redis_command(rc, fn, data, argc, argv, NULL) < 0) return -1;
    sh->pending++;
    return 0;
}

/* A write's answer: nothing to do but count it (a failure only costs another gateway the token). */
static void on_written(redisReply *r, const char *err, void *data) {
    struct discord_ixshare *sh = data;
    if (settle(sh)) return;
    if (err || (r && r->type == REDIS_REPLY_ERROR))
        log_warn("discord: recording an interaction for the other gateways failed: %s", err ? err : r->str);
}

int discord_ixshare_put(struct discord_ixshare *sh, const char *id, const char *app_id, const char *token,
                        const char *channel, int component) {
    char key[400], ttl[32], at[32];
    record_key(sh, id, key, sizeof(key));
    snprintf(ttl, sizeof(ttl), "%.0f", INTERACTION_TOKEN_MS);
    snprintf(at, sizeof(at), "%lld", (long long)(server_now() * 1000.0));
    const char *argv[10] = { "EVAL", put_script, "1", key, ttl, app_id, token, channel, at, component ? "1" : "0" };
    return send_command(sh, 10, argv, on_written, sh);
}

void discord_ixshare_acked(struct discord_ixshare *sh, const char *id, int ok) {
    char key[400];
    record_key(sh, id, key, sizeof(key));
    const char *argv[5] = { "EVAL", ack_script, "1", key, ok > 0 ? "1" : "-1" };
    send_command(sh, 5, argv, on_written, sh);
}

/* HGETALL answered: the record, or none. */
static void on_got(redisReply *r, const char *err, void *data) {
    struct ask *a = data;
    if (settle(a->sh)) {
        free(a);
        return;
    }
    if (err || !r || r->type == REDIS_REPLY_ERROR) {
        a->get(NULL, err ? err : r ? r->str : "no answer", a->data);
        free(a);
        return;
    }
    struct discord_ixshare_record rec = {
        redis_reply_str(r, "app"), redis_reply_str(r, "token"), redis_reply_str(r, "channel"), 0, 0, redis_reply_str(r, "orig") != NULL,
    };
    const char *at = redis_reply_str(r, "at"), *ack = redis_reply_str(r, "ack");
    rec.at_ms = at ? strtoll(at, NULL, 10) : 0;
    rec.acked = ack ? atoi(ack) : 0;
    a->get(rec.app_id && rec.token && rec.channel ? &rec : NULL, NULL, a->data);
    free(a);
}

int discord_ixshare_get(struct discord_ixshare *sh, const char *id, discord_ixshare_get_fn *fn, void *data) {
    char key[400];
    record_key(sh, id, key, sizeof(key));
    struct ask *a = xcalloc(1, sizeof(*a));
    if (!a) return -1;
    *a = (struct ask){ sh, fn, NULL, data };
    const char *argv[2] = { "HGETALL", key };
    if (send_command(sh, 2, argv, on_got, a) < 0) {
        free(a);
        return -1;
    }
    return 0;
}

/* The claim answered. Redis failing says nothing: go ahead (at worst @original is edited twice). */
static void on_claimed(redisReply *r, const char *err, void *data) {
    struct ask *a = data;
    if (settle(a->sh)) {
        free(a);
        return;
    }
    int won = err || !r || r->type != REDIS_REPLY_INTEGER || r->integer == 1;
    a->claim(won, a->data);
    free(a);
}

int discord_ixshare_claim(struct discord_ixshare *sh, const char *id, discord_ixshare_claim_fn *fn, void *data) {
    char key[400];
    record_key(sh, id, key, sizeof(key));
    struct ask *a = xcalloc(1, sizeof(*a));
    if (!a) return -1;
    *a = (struct ask){ sh, NULL, fn, data };
    const char *argv[5] = { "EVAL", claim_script, "1", key, sh->me };
    if (send_command(sh, 5, argv, on_claimed, a) < 0) {
        free(a);
        return -1;
    }
    return 0;
}
