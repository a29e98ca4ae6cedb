/* discord_rlshare.c - REST limits shared through a Redis stream (see
 * discord_rlshare.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/redis_client.h"
#include "io/timer.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "platforms/discord/discord_ratelimit.h"
#include "platforms/discord/discord_rlshare.h"

#define STREAM_KEEP "1000"          /* learned limits kept in the stream (MAXLEN ~) */
#define RETRY_MS 500                /* the reader's connection is down: try again */
#define INVALID_WINDOW_MS "600000"
#define INVALID_WARN_AT 2500

/* Count a refused request in this window (KEYS counter; ARGV window ms). */
static const char invalid_script[] =
    "local n = redis.call('INCR', KEYS[1])\n"
    "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
    "return n\n";

struct discord_rlshare {
    uv_loop_t *loop;
    struct redis_client *(*redis)(void);
    struct redis_client *reader;
    struct ratelimit *rl;
    char stream[300];
    char invalid[300];
    char *me;
    char last[64];                  /* the last stream id read ("$" before the first) */
    long block_ms;
    int reading;
    uv_timer_t *retry;
};

static void read_next(struct discord_rlshare *sh);
static void on_retry(uv_timer_t *t);

/* The field NAME of an entry's flat field list, or "". */
static const char *field(const redisReply *f, const char *name) {
    const char *v = redis_reply_str(f, name);
    return v ? v : "";
}

/* Limits other processes learned: hold the same buckets here. */
static void on_read(redisReply *r, const char *err, void *data) {
    struct discord_rlshare *sh = data;
    sh->reading = 0;
    if (!sh->rl) return;                       /* stopping */
    if (err || r->type == REDIS_REPLY_ERROR) {
        uv_timer_start(sh->retry, on_retry, RETRY_MS, 0);
        return;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *s = r->element[i];
        if (s->type != REDIS_REPLY_ARRAY || s->elements < 2 || s->element[1]->type != REDIS_REPLY_ARRAY) continue;
        for (size_t j = 0; j < s->element[1]->elements; j++) {
            const redisReply *e = s->element[1]->element[j];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING) continue;
            snprintf(sh->last, sizeof(sh->last), "%s", e->element[0]->str);
            const redisReply *f = e->element[1];
            if (!strcmp(field(f, "from"), sh->me)) continue;
            const char *route = field(f, "r"), *major = field(f, "m");
            double wait = strtod(field(f, "w"), NULL);
            if (!*route || !(wait > 0)) continue;
            discord_ratelimit_apply(sh->rl, route, field(f, "b"), *major ? major : "global", wait, !strcmp(field(f, "g"), "1"));
        }
    }
    read_next(sh);
}

/* Follow the limit stream: block until another process publishes. */
static void read_next(struct discord_rlshare *sh) {
    char block[24];
    if (sh->reading || !sh->rl) return;
    snprintf(block, sizeof(block), "%ld", sh->block_ms);
    const char *argv[8] = { "XREAD", "COUNT", "100", "BLOCK", block, "STREAMS", sh->stream, sh->last };
    if (redis_command(sh->reader, on_read, sh, 8, argv, NULL) == 0) sh->reading = 1;
    else uv_timer_start(sh->retry, on_retry, RETRY_MS, 0);
}

/* The reader's connection was down: read again. */
static void on_retry(uv_timer_t *t) {
    read_next(t->data);
}

static void on_published(redisReply *r, const char *err, void *data) {
    (void)data;
    if (err || r->type == REDIS_REPLY_ERROR)
        log_warn("discord: sharing a learned rate limit: %s", err ? err : r->str);
}

/* The limiter learned an empty bucket: tell the other processes. */
static void on_learned(const char *route, const char *hash, const char *major, double wait_ms, int global, void *data) {
    struct discord_rlshare *sh = data;
    char w[32];
    snprintf(w, sizeof(w), "%.0f", wait_ms);
    const char *argv[17] = { "XADD", sh->stream, "MAXLEN", "~", STREAM_KEEP, "*", "from", sh->me, "r", route,
                             "b", hash ? hash : "", "m", major ? major : "", "w", w, "g" };
    const char *all[18];
    memcpy(all, argv, sizeof(argv));
    all[17] = global ? "1" : "0";
    struct redis_client *rc = sh->redis();
    if (rc) redis_command(rc, on_published, NULL, 18, all, NULL);
}

static void on_invalid_counted(redisReply *r, const char *err, void *data) {
    (void)data;
    if (!err && r->type == REDIS_REPLY_INTEGER && r->integer == INVALID_WARN_AT)
        log_warn("discord: %d refused REST requests (401/403/429) in 10 minutes across every gateway; Discord bans the IP at 10,000",
                 INVALID_WARN_AT);
}

/* A refused request: count it in the shared window. */
static void on_invalid(void *data) {
    struct discord_rlshare *sh = data;
    const char *argv[5] = { "EVAL", invalid_script, "1", sh->invalid, INVALID_WINDOW_MS };
    struct redis_client *rc = sh->redis();
    if (rc) redis_command(rc, on_invalid_counted, NULL, 5, argv, NULL);
}

struct discord_rlshare *discord_rlshare_new(uv_loop_t *loop, struct redis_client *(*redis)(void),
                                            struct redis_client *reader, const char *base, const char *me,
                                            struct ratelimit *rl, long block_ms) {
    struct discord_rlshare *sh = xcalloc(1, sizeof(*sh));
    sh->loop = loop;
    sh->redis = redis;
    sh->reader = reader;
    sh->rl = rl;
    sh->me = xstrdup(me);
    sh->block_ms = block_ms > 0 ? block_ms : 10000;
    snprintf(sh->stream, sizeof(sh->stream), "%sratelimits", base);
    snprintf(sh->invalid, sizeof(sh->invalid), "%sinvalid", base);
    snprintf(sh->last, sizeof(sh->last), "$");
    sh->retry = timer_new(loop, sh);
    struct discord_ratelimit_share share = { on_learned, on_invalid, sh };
    discord_ratelimit_set_share(rl, &share);
    read_next(sh);
    return sh;
}

void discord_rlshare_free(struct discord_rlshare *sh) {
    if (!sh) return;
    discord_ratelimit_set_share(sh->rl, NULL);
    sh->rl = NULL;
    timer_free(&sh->retry);
    redis_client_free(sh->reader);             /* fails the blocked read; on_read sees rl NULL */
    free(sh->me);
    free(sh);
}
