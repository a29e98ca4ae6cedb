/* lua_persona_split.c - chorus.empathy.observe in a Redis Cluster.
 *
 * On one Redis the observation is one script (lua_persona.c). Its keys are
 * the channel's (mood, history, summary: one tag), the user's (relation,
 * seen, facts) and the day's counters, which a cluster refuses in one
 * script. There the same updates run as scripts of one key or one tag: the
 * channel's and the user's at once, then the day's counters, which need the
 * session the user's script found. The reply is put together into the array
 * the one script would have returned. The day's counters are not waited
 * for: they are statistics, and the turn does not depend on them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "skills/lua/lua_persona_split.h"
#include "io/redis_gather.h"
#include "lib/xalloc.h"

/* KEYS: mood, history, summary (one channel tag). ARGV: v a w now ttl nturns. */
static const char mood_script[] =
    "local mv = tonumber(redis.call('HGET', KEYS[1], 'valence') or '0') "
    "local ma = tonumber(redis.call('HGET', KEYS[1], 'arousal') or '0.3') "
    "local v, a, w = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) "
    "mv = mv * (1 - w) + v * w  ma = ma * (1 - w) + a * w "
    "redis.call('HSET', KEYS[1], 'valence', tostring(mv), 'arousal', tostring(ma), 'updated', ARGV[4]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[5]) "
    "return { tostring(mv), tostring(ma), redis.call('LRANGE', KEYS[2], -tonumber(ARGV[6]), -1), "
    "  redis.call('GET', KEYS[3]) or '' }";

/* KEYS: the user's relation hash. ARGV: v now ttl name chan gap. */
static const char rel_script[] =
    "local now = tonumber(ARGV[2]) "
    "local last = tonumber(redis.call('HGET', KEYS[1], 'last_seen') or '0') "
    "local turns = redis.call('HINCRBY', KEYS[1], 'turns', 1) "
    "if turns == 1 then redis.call('HSET', KEYS[1], 'first_seen', ARGV[2]) end "
    "local uv = tonumber(redis.call('HGET', KEYS[1], 'valence_avg') or '0') * 0.7 + tonumber(ARGV[1]) * 0.3 "
    "redis.call('HSET', KEYS[1], 'last_seen', ARGV[2], 'valence', ARGV[1], 'valence_avg', tostring(uv), 'name', ARGV[4]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[3]) "
    "local clast = tonumber(redis.call('HGET', KEYS[1], 'last:' .. ARGV[5]) or '0') "
    "local start = redis.call('HGET', KEYS[1], 'sess:' .. ARGV[5]) "
    "if not start or now - clast > tonumber(ARGV[6]) then start = ARGV[2] redis.call('HSET', KEYS[1], 'sess:' .. ARGV[5], start) end "
    "redis.call('HSET', KEYS[1], 'last:' .. ARGV[5], ARGV[2]) "
    "local returning = turns > 1 and now - last > tonumber(ARGV[6]) "
    "return { turns, tostring(last), returning and 1 or 0, tostring(uv), start, start == ARGV[2] and 1 or 0 }";

static const char seen_script[] =
    "redis.call('SADD', KEYS[1], ARGV[1]) return redis.call('EXPIRE', KEYS[1], ARGV[2])";

/* The session's field names its user by a hash only (as in lua_persona.c). */
static const char sessions_script[] =
    "redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|' .. string.sub(redis.sha1hex(ARGV[2]), 1, 12) .. '|' .. ARGV[3], 1) "
    "return redis.call('EXPIRE', KEYS[1], 34560000)";

static const char engagement_script[] =
    "if ARGV[1] == '1' then redis.call('HINCRBY', KEYS[1], 'sessions', 1) end "
    "redis.call('HINCRBY', KEYS[1], 'turns', 1) "
    "return redis.call('EXPIRE', KEYS[1], 34560000)";

static const char active_script[] =
    "redis.call('PFADD', KEYS[1], ARGV[1]) return redis.call('EXPIRE', KEYS[1], 34560000)";

enum { P_MOOD, P_REL, P_SEEN, P_FACTS, P_N };

struct observe_split {
    struct redis_client *rc;
    redis_reply_fn *cb;
    void *data;
    char eng[400], active[400], sessions[400], chan[700], who[700];
};

static void on_counted(redisReply *r, const char *err, void *data) {
    (void)r, (void)err, (void)data;
}

/* The user's and the channel's parts are in: count the day, answer. */
static void on_observe_parts(redisReply *const *part, const char *err, void *data) {
    struct observe_split *sp = data;
    if (err) {
        sp->cb(NULL, err, sp->data);
    } else {
        redisReply *mood = part[P_MOOD], *rel = part[P_REL];
        const char *sess[6] = { "EVAL", sessions_script, "1", sp->sessions, sp->chan, sp->who };
        const char *sessv[7] = { sess[0], sess[1], sess[2], sess[3], sess[4], sess[5], rel->element[4]->str };
        redis_command(sp->rc, on_counted, NULL, 7, sessv, NULL);
        const char *eng[5] = { "EVAL", engagement_script, "1", sp->eng, rel->element[5]->integer ? "1" : "0" };
        redis_command(sp->rc, on_counted, NULL, 5, eng, NULL);
        const char *act[5] = { "EVAL", active_script, "1", sp->active, sp->who };
        redis_command(sp->rc, on_counted, NULL, 5, act, NULL);
        redisReply *top = xcalloc(1, sizeof(*top));
        top->type = REDIS_REPLY_ARRAY;
        top->elements = 10;
        top->element = xcalloc(10, sizeof(redisReply *));
        top->element[0] = redis_reply_copy(mood->element[0]);
        top->element[1] = redis_reply_copy(mood->element[1]);
        top->element[2] = redis_reply_copy(rel->element[0]);
        top->element[3] = redis_reply_copy(rel->element[1]);
        top->element[4] = redis_reply_copy(rel->element[2]);
        top->element[5] = redis_reply_copy(rel->element[3]);
        top->element[6] = redis_reply_copy(rel->element[5]);
        top->element[7] = redis_reply_copy(mood->element[2]);
        top->element[8] = redis_reply_copy(mood->element[3]);
        top->element[9] = redis_reply_copy(part[P_FACTS]);
        sp->cb(top, NULL, sp->data);
        freeReplyObject(top);
    }
    free(sp);
}

/* Whether R has the shape part WHICH must have. */
static int shape_ok(int which, const redisReply *r) {
    switch (which) {
    case P_MOOD: return r->type == REDIS_REPLY_ARRAY && r->elements == 4;
    case P_REL: return r->type == REDIS_REPLY_ARRAY && r->elements == 6 && r->element[4]->str;
    case P_FACTS: return r->type == REDIS_REPLY_ARRAY;
    default: return r->type != REDIS_REPLY_ERROR;
    }
}

int persona_observe_split(struct redis_client *rc, const char *const keys[9], const char *const args[11],
                          redis_reply_fn *cb, void *data) {
    struct observe_split *sp = xcalloc(1, sizeof(*sp));
    sp->rc = rc;
    sp->cb = cb;
    sp->data = data;
    /* keys: mood rel eng seen active sessions hist summ facts;
     * args: v a w now gap ttl name entry who chan nturns */
    snprintf(sp->eng, sizeof(sp->eng), "%s", keys[2]);
    snprintf(sp->active, sizeof(sp->active), "%s", keys[4]);
    snprintf(sp->sessions, sizeof(sp->sessions), "%s", keys[5]);
    snprintf(sp->who, sizeof(sp->who), "%s", args[8]);
    snprintf(sp->chan, sizeof(sp->chan), "%s", args[9]);
    const char *mood[11] = { "EVAL", mood_script, "3", keys[0], keys[6], keys[7], args[0], args[1], args[2], args[3], args[5] };
    const char *moodv[12];
    memcpy(moodv, mood, sizeof(mood));
    moodv[11] = args[10];
    struct redis_gather *g = redis_gather_new(rc, P_N, shape_ok, NULL, on_observe_parts, sp);
    if (redis_gather_send(g, P_MOOD, 12, moodv) < 0) {
        redis_gather_cancel(g);
        free(sp);
        return -1;
    }
    const char *rel[10] = { "EVAL", rel_script, "1", keys[1], args[0], args[3], args[5], args[6], args[9], args[4] };
    const char *seen[6] = { "EVAL", seen_script, "1", keys[3], args[7], args[5] };
    const char *facts[4] = { "LRANGE", keys[8], "0", "-1" };
    redis_gather_send(g, P_REL, 10, rel);
    redis_gather_send(g, P_SEEN, 6, seen);
    redis_gather_send(g, P_FACTS, 4, facts);
    redis_gather_end(g);
    return 0;
}
