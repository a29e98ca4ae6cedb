/* lua_persona.c - core functions for persona memory and empathy:
 * observe (sentiment, mood, relationship and engagement in one Redis
 * round trip), facts, the rolling summary, and forgetting a user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lauxlib.h>
#include "conf/config.h"
#include "core/job.h"
#include "core/series.h"
#include "lib/lua_json.h"
#include "core/message.h"
#include "lib/metrics.h"
#include "persona/persona.h"
#include "persona/persona_state.h"
#include "skills/plugin.h"
#include "persona/prompt.h"
#include "io/redis_client.h"
#include "core/runtime.h"
#include "persona/sentiment.h"
#include "core/server.h"
#include "io/store.h"
#include "io/store_split.h"
#include "skills/lua/lua_persona_split.h"
#include "skills/task.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"

#define FACTS_MAX 50
#define USER_TTL_S 31536000L      /* a year without talking: forgotten */
#define GUEST_TTL_S 86400L        /* a guest's id dies with its session: a day */

/* Update mood, relationship and engagement; return what the prompt needs.
 * KEYS: mood, relationship, engagement, seen. ARGV: valence, arousal,
 * weight, now, session gap, ttl, user name, seen entry. */
static const char observe_script[] =
    "local mv = tonumber(redis.call('HGET', KEYS[1], 'valence') or '0') "
    "local ma = tonumber(redis.call('HGET', KEYS[1], 'arousal') or '0.3') "
    "local v, a, w, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]) "
    "mv = mv * (1 - w) + v * w  ma = ma * (1 - w) + a * w "
    "redis.call('HSET', KEYS[1], 'valence', tostring(mv), 'arousal', tostring(ma), 'updated', ARGV[4]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[6]) "
    "local last = tonumber(redis.call('HGET', KEYS[2], 'last_seen') or '0') "
    "local turns = redis.call('HINCRBY', KEYS[2], 'turns', 1) "
    "if turns == 1 then redis.call('HSET', KEYS[2], 'first_seen', ARGV[4]) end "
    "local uv = tonumber(redis.call('HGET', KEYS[2], 'valence_avg') or '0') * 0.7 + v * 0.3 "
    "redis.call('HSET', KEYS[2], 'last_seen', ARGV[4], 'valence', ARGV[1], 'valence_avg', tostring(uv), 'name', ARGV[7]) "
    "redis.call('EXPIRE', KEYS[2], ARGV[6]) "
    "local clast = tonumber(redis.call('HGET', KEYS[2], 'last:' .. ARGV[10]) or '0') "
    "local start = redis.call('HGET', KEYS[2], 'sess:' .. ARGV[10]) "
    "if not start or now - clast > tonumber(ARGV[5]) then start = ARGV[4] redis.call('HSET', KEYS[2], 'sess:' .. ARGV[10], start) end "
    "redis.call('HSET', KEYS[2], 'last:' .. ARGV[10], ARGV[4]) "
    /* The session's field names its user by a hash only: forgetting them leaves nothing readable. */
    "redis.call('HINCRBY', KEYS[6], ARGV[10] .. '|' .. string.sub(redis.sha1hex(ARGV[9]), 1, 12) .. '|' .. start, 1) "
    "redis.call('EXPIRE', KEYS[6], 34560000) "
    "local new_session = start == ARGV[4] "
    "if new_session then redis.call('HINCRBY', KEYS[3], 'sessions', 1) end "
    "redis.call('HINCRBY', KEYS[3], 'turns', 1) "
    "redis.call('EXPIRE', KEYS[3], 34560000) "
    "redis.call('SADD', KEYS[4], ARGV[8]) "
    "redis.call('PFADD', KEYS[5], ARGV[9]) redis.call('EXPIRE', KEYS[5], 34560000) "
    "redis.call('EXPIRE', KEYS[4], ARGV[6]) "
    "local returning = turns > 1 and now - last > tonumber(ARGV[5]) "
    /* What the prompt needs comes back in the same round trip: recent turns,
     * the summary and the facts (KEYS[7..9]; ARGV[11] turns to read). */
    "return { tostring(mv), tostring(ma), turns, tostring(last), returning and 1 or 0, tostring(uv), new_session and 1 or 0, "
    "  redis.call('LRANGE', KEYS[7], -tonumber(ARGV[11]), -1), redis.call('GET', KEYS[8]) or '', "
    "  redis.call('LRANGE', KEYS[9], 0, -1) }";

/* The user key part: "user:<platform>:<id>" with unsafe bytes escaped. */
static void user_part(const struct job *job, char *out, size_t len) {
    char raw[700];
    snprintf(raw, sizeof(raw), "user:%s:%s", job->msg->platform, job->msg->author.id ? job->msg->author.id : "-");
    store_escape(raw, out, len);
}

/* A task waiting for one Redis reply, orphaned if it stops. */
struct persona_op {
    struct task *task;
    int kind;                 /* 0 observe, 1 plain value, 2 forget */
    struct sentiment s;
    char persona[64];
};

static void cancel_op(void *data) {
    struct persona_op *op = data;
    op->task = NULL;
}

/* Push a label for a valence/arousal pair, as sentiment_label would. */
static const char *mood_label(double valence, double arousal) {
    struct sentiment s = { .valence = valence, .arousal = arousal, .hits = 1 };
    return sentiment_label(s);
}

/* Push the observation: the sentiment, and the mood and user from R if any. */
static void push_observation(lua_State *co, struct sentiment s, redisReply *r, const char *err) {
    lua_createtable(co, 0, 3);
    lua_createtable(co, 0, 4);
    lua_pushnumber(co, s.valence);
    lua_setfield(co, -2, "valence");
    lua_pushnumber(co, s.arousal);
    lua_setfield(co, -2, "arousal");
    lua_pushstring(co, sentiment_label(s));
    lua_setfield(co, -2, "label");
    lua_pushinteger(co, s.hits);
    lua_setfield(co, -2, "hits");
    lua_setfield(co, -2, "sentiment");
    if (!err && r && r->type == REDIS_REPLY_ARRAY && r->elements >= 6) {
        double mv = strtod(r->element[0]->str, NULL), ma = strtod(r->element[1]->str, NULL);
        double last = strtod(r->element[3]->str, NULL), now = vclock_now();
        lua_createtable(co, 0, 3);
        lua_pushnumber(co, mv);
        lua_setfield(co, -2, "valence");
        lua_pushnumber(co, ma);
        lua_setfield(co, -2, "arousal");
        lua_pushstring(co, mood_label(mv, ma));
        lua_setfield(co, -2, "label");
        lua_setfield(co, -2, "mood");
        lua_createtable(co, 0, 5);
        lua_pushinteger(co, r->element[2]->integer);
        lua_setfield(co, -2, "turns");
        lua_pushboolean(co, r->element[2]->integer <= 1);
        lua_setfield(co, -2, "new");
        lua_pushboolean(co, r->element[2]->integer > 1 && r->element[4]->integer == 1);
        lua_setfield(co, -2, "returning");
        lua_pushnumber(co, last > 0 ? now - last : 0);
        lua_setfield(co, -2, "away_s");
        lua_pushnumber(co, strtod(r->element[5]->str, NULL));
        lua_setfield(co, -2, "valence_avg");
        lua_setfield(co, -2, "user");
    }
    /* Memory read in the same round trip: turns, summary, facts. */
    if (!err && r && r->type == REDIS_REPLY_ARRAY && r->elements >= 10) {
        redisReply *turns = r->element[7];
        lua_createtable(co, (int)turns->elements, 0);
        int n = 0;
        for (size_t i = 0; i < turns->elements; i++) {
            json_t *t = json_loadb(turns->element[i]->str, turns->element[i]->len, 0, NULL);
            if (json_is_object(t) && json_is_string(json_object_get(t, "role")) && json_is_string(json_object_get(t, "content"))) {
                lua_json_push(co, t);
                lua_rawseti(co, -2, ++n);
            }
            json_decref(t);
        }
        lua_setfield(co, -2, "turns");
        if (r->element[8]->len > 0) {
            lua_pushlstring(co, r->element[8]->str, r->element[8]->len);
            lua_setfield(co, -2, "summary");
        }
        redisReply *facts = r->element[9];
        lua_createtable(co, (int)facts->elements, 0);
        for (size_t i = 0; i < facts->elements; i++) {
            json_t *v = json_loadb(facts->element[i]->str, facts->element[i]->len, 0, NULL);
            json_t *fact = json_object_get(v, "fact");
            lua_pushstring(co, json_is_string(fact) ? json_string_value(fact) : facts->element[i]->str);
            json_decref(v);
            lua_rawseti(co, -2, (lua_Integer)i + 1);
        }
        lua_setfield(co, -2, "facts");
    }
}

static void on_observed(redisReply *r, const char *err, void *data) {
    struct persona_op *op = data;
    if (!err && r && r->type == REDIS_REPLY_ARRAY && r->elements >= 6 && op->persona[0]) {
        metrics_inc(METRIC_PERSONA_TURNS, op->persona, 1);
        int fresh = r->elements >= 7 && r->element[6]->integer == 1;
        if (fresh) metrics_inc(METRIC_PERSONA_SESSIONS, op->persona, 1);
        series_turn(op->persona, fresh);
    }
    struct task *t = op->task;
    struct sentiment s = op->s;
    free(op);
    if (!t) return;
    push_observation(task_stack(t), s, r, err);
    task_resume(t, 1);
}

/* core.observe(): read the message's feeling and update what the persona
 * knows of the channel and the user. Works without Redis (sentiment only). */
static int core_observe(lua_State *L) {
    struct task *t = task_check(L);
    struct job *job = task_job(t);
    if (!job) return luaL_error(L, "observe needs a message");
    if (!plugin_of(L)->allow_state) return luaL_error(L, "plugin %s may not keep state", plugin_of(L)->name);
    const struct chat_message *m = job->msg;
    struct persona_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    op->s = sentiment_of(m->text ? m->text : "", m->text ? strlen(m->text) : 0);
    snprintf(op->persona, sizeof(op->persona), "%s", job->persona->name);
    char mood[1200], rel[1400], eng[400], seen[1400], user[800], suffix[200], entry[6400], hist[1200], summ[1200];
    char day[16], v[32], a[32], w[16], now[32], gap[16], ttl[24];
    const char *persona = job->persona->name;
    snprintf(suffix, sizeof(suffix), ":mood:%s", persona);
    store_channel_key(server.redis, m->platform, m->channel, suffix, mood, sizeof(mood));
    snprintf(suffix, sizeof(suffix), ":history:%s", persona);
    store_channel_key(server.redis, m->platform, m->channel, suffix, hist, sizeof(hist));
    snprintf(suffix, sizeof(suffix), ":summary:%s", persona);
    store_channel_key(server.redis, m->platform, m->channel, suffix, summ, sizeof(summ));
    user_part(job, user, sizeof(user));
    const char *prefix = redis_client_prefix(server.redis);
    snprintf(rel, sizeof(rel), "%s%s:rel:%s", prefix, user, persona);
    snprintf(seen, sizeof(seen), "%s%s:seen", prefix, user);
    time_t tnow = (time_t)vclock_now();
    struct tm tm;
    gmtime_r(&tnow, &tm);
    strftime(day, sizeof(day), "%Y%m%d", &tm);
    snprintf(eng, sizeof(eng), "%sengagement:%s:%s", prefix, day, persona);
    snprintf(entry, sizeof(entry), "%s|%s|%s%s:rel:%s|%s%s:facts:%s", hist, summ, prefix, user, persona, prefix, user, persona);
    snprintf(v, sizeof(v), "%.4f", op->s.valence);
    snprintf(a, sizeof(a), "%.4f", op->s.arousal);
    snprintf(w, sizeof(w), "%.2f", op->s.hits ? 0.35 : 0.05);
    snprintf(now, sizeof(now), "%.3f", vclock_now());
    struct config_block *gb = config_first(job->rt->cfg, "session_gap_s");
    snprintf(gap, sizeof(gap), "%ld", gb ? (long)json_integer_value(gb->value) : (long)PERSONA_SESSION_GAP_S);
    snprintf(ttl, sizeof(ttl), "%ld", m->author.guest ? GUEST_TTL_S : USER_TTL_S);
    char active[400], who[700];
    snprintf(active, sizeof(active), "%sactive:%s:%s", prefix, day, persona);
    snprintf(who, sizeof(who), "%s:%s", m->platform, m->author.id ? m->author.id : "-");
    char sessions[400], chan[700], facts[1400], nturns[24];
    snprintf(sessions, sizeof(sessions), "%ssessions:%s:%s", prefix, day, persona);
    snprintf(chan, sizeof(chan), "%s:%s", m->platform, m->channel);
    snprintf(facts, sizeof(facts), "%s%s:facts:%s", prefix, user, persona);
    long keep = job->rt->limits.history_turns;
    if (keep < 2 * job->persona->history_turns) keep = 2 * job->persona->history_turns;
    snprintf(nturns, sizeof(nturns), "%ld", keep);
    const char *argv[] = { "EVAL", observe_script, "9", mood, rel, eng, seen, active, sessions, hist, summ, facts,
                           v, a, w, now, gap, ttl, m->author.name ? m->author.name : "", entry, who, chan, nturns };
    int sent;
    if (redis_client_cluster(server.redis))   /* the keys span slots: lua_persona_split.c */
        sent = persona_observe_split(server.redis, argv + 3, argv + 12, on_observed, op);
    else
        sent = redis_command(server.redis, on_observed, op, (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL);
    if (sent < 0) {
        push_observation(L, op->s, NULL, "Redis is not available");   /* the feeling, without memory */
        free(op);
        return 1;
    }
    return task_wait(L, t, op, cancel_op);
}

/* ---- facts, summary, forget: plain Redis values for the task ---- */

static void on_value(redisReply *r, const char *err, void *data) {
    struct persona_op *op = data;
    struct task *t = op->task;
    free(op);
    if (!t) return;
    lua_State *co = task_stack(t);
    if (err || !r || r->type == REDIS_REPLY_ERROR) {
        lua_pushnil(co);
        lua_pushstring(co, err ? err : r ? r->str : "no reply");
        task_resume(t, 2);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY) {
        lua_createtable(co, (int)r->elements, 0);
        for (size_t i = 0; i < r->elements; i++) {
            json_t *v = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);
            json_t *fact = json_object_get(v, "fact");
            lua_pushstring(co, json_is_string(fact) ? json_string_value(fact) : r->element[i]->str);
            json_decref(v);
            lua_rawseti(co, -2, (lua_Integer)i + 1);
        }
    } else if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        lua_pushlstring(co, r->str, r->len);
    } else if (r->type == REDIS_REPLY_INTEGER) {
        lua_pushinteger(co, r->integer);
    } else {
        lua_pushnil(co);
    }
    task_resume(t, 1);
}

static void ignore_reply(redisReply *r, const char *err, void *data) {
    (void)r;
    (void)err;
    (void)data;
}

/* Send ARGV for the running task and wait; nil, err at once without Redis. */
static int call_redis(lua_State *L, struct task *t, int argc, const char **argv) {
    struct persona_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    if (redis_command(server.redis, on_value, op, argc, argv, NULL) < 0) {
        free(op);
        lua_pushnil(L);
        lua_pushstring(L, "Redis is not available");
        return 2;
    }
    return task_wait(L, t, op, cancel_op);
}

static struct job *need_message(lua_State *L, struct task *t) {
    struct job *job = task_job(t);
    if (!job) luaL_error(L, "this needs a message");
    if (!plugin_of(L)->allow_state) luaL_error(L, "plugin %s may not keep state", plugin_of(L)->name);
    return job;
}

/* core.facts() -> the facts the persona knows about the message's author */
static int core_facts(lua_State *L) {
    struct task *t = task_check(L);
    struct job *job = need_message(L, t);
    char user[800], key[1200];
    user_part(job, user, sizeof(user));
    snprintf(key, sizeof(key), "%s%s:facts:%s", redis_client_prefix(server.redis), user, job->persona->name);
    const char *argv[4] = { "LRANGE", key, "0", "-1" };
    return call_redis(L, t, 4, argv);
}

/* core.remember(fact): the persona learns a fact about the author */
static int core_remember(lua_State *L) {
    struct task *t = task_check(L);
    struct job *job = need_message(L, t);
    const char *fact = luaL_checkstring(L, 1);
    char user[800], key[1200], num[16];
    user_part(job, user, sizeof(user));
    snprintf(key, sizeof(key), "%s%s:facts:%s", redis_client_prefix(server.redis), user, job->persona->name);
    json_t *v = json_pack("{s:s, s:f}", "fact", fact, "ts", vclock_now());
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!text) return luaL_error(L, "out of memory");
    snprintf(num, sizeof(num), "%d", -FACTS_MAX);
    /* RPUSH, then wait on the LTRIM behind it (one round trip). Nothing may
     * run after the wait: a yield from C never returns to this function. */
    const char *push[3] = { "RPUSH", key, text };
    const char *trim[4] = { "LTRIM", key, num, "-1" };
    if (redis_command(server.redis, ignore_reply, NULL, 3, push, NULL) < 0) {
        free(text);
        lua_pushnil(L);
        lua_pushstring(L, "Redis is not available");
        return 2;
    }
    free(text);
    return call_redis(L, t, 4, trim);
}

/* core.summary([text]) -> the channel's rolling summary, or sets it */
static int core_summary(lua_State *L) {
    struct task *t = task_check(L);
    struct job *job = need_message(L, t);
    char suffix[200], key[1200], ttl[24];
    snprintf(suffix, sizeof(suffix), ":summary:%s", job->persona->name);
    store_channel_key(server.redis, job->msg->platform, job->msg->channel, suffix, key, sizeof(key));
    if (lua_isnoneornil(L, 1)) {
        const char *argv[2] = { "GET", key };
        return call_redis(L, t, 2, argv);
    }
    snprintf(ttl, sizeof(ttl), "%ld", job->rt->limits.ttl_s);
    const char *argv[5] = { "SET", key, luaL_checkstring(L, 1), "EX", ttl };
    return call_redis(L, t, 5, argv);
}

/* core.history_trim(keep): keep only the newest KEEP turns of the channel */
static int core_history_trim(lua_State *L) {
    struct task *t = task_check(L);
    struct job *job = need_message(L, t);
    char suffix[200], key[1200], from[24];
    snprintf(suffix, sizeof(suffix), ":history:%s", job->persona->name);
    store_channel_key(server.redis, job->msg->platform, job->msg->channel, suffix, key, sizeof(key));
    snprintf(from, sizeof(from), "%lld", -(long long)luaL_checkinteger(L, 1));
    const char *argv[4] = { "LTRIM", key, from, "-1" };
    return call_redis(L, t, 4, argv);
}

/* core.forget() -> turns removed: the author's data, everywhere */
static int core_forget(lua_State *L) {
    struct task *t = task_check(L);
    struct job *job = need_message(L, t);
    char user[800], seen[1200];
    user_part(job, user, sizeof(user));
    snprintf(seen, sizeof(seen), "%s%s:seen", redis_client_prefix(server.redis), user);
    const char *argv[6] = { "EVAL", store_forget_script(), "1", seen, job->msg->author.id ? job->msg->author.id : "-",
                            redis_client_prefix(server.redis) };
    if (redis_client_cluster(server.redis)) {   /* the keys span slots: io/store_split.c */
        struct persona_op *op = xcalloc(1, sizeof(*op));
        op->task = t;
        if (store_forget_split(server.redis, seen, argv[4], on_value, op) < 0) {
            free(op);
            lua_pushnil(L);
            lua_pushstring(L, "Redis is not available");
            return 2;
        }
        return task_wait(L, t, op, cancel_op);
    }
    return call_redis(L, t, 6, argv);
}

/* chorus.sentiment(text) -> {valence, arousal, label, hits}: no I/O */
static int core_sentiment(lua_State *L) {
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    struct sentiment s = sentiment_of(text, len);
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, s.valence);
    lua_setfield(L, -2, "valence");
    lua_pushnumber(L, s.arousal);
    lua_setfield(L, -2, "arousal");
    lua_pushstring(L, sentiment_label(s));
    lua_setfield(L, -2, "label");
    lua_pushinteger(L, s.hits);
    lua_setfield(L, -2, "hits");
    return 1;
}

/* core.prompt_build(ctx) -> messages: prompt.h's assembly for this message */
static int core_prompt_build(lua_State *L) {
    struct task *t = task_check(L);
    struct job *job = task_job(t);
    if (!job) return luaL_error(L, "prompt.build needs a message");
    json_t *ctx = lua_istable(L, 1) ? lua_json_from(L, 1) : json_object();
    json_t *messages = prompt_build(job->persona, job->msg->author.name, job->msg->text ? job->msg->text : "", ctx);
    lua_json_push(L, messages);
    json_decref(messages);
    json_decref(ctx);
    return 1;
}

/* After SET NX: the greeting if this was the channel's first meeting. */
static void on_greet(redisReply *r, const char *err, void *data) {
    struct persona_op *op = data;
    struct task *t = op->task;
    free(op);
    if (!t) return;
    lua_State *co = task_stack(t);
    struct job *job = task_job(t);
    if (!err && r && r->type == REDIS_REPLY_STATUS && job) {
        char *text = prompt_macros(persona_card_str(job->persona, "first_mes"), job->persona->display_name,
                                   job->msg->author.name && *job->msg->author.name ? job->msg->author.name : "User", "");
        lua_pushstring(co, text);
        free(text);
    } else {
        lua_pushnil(co);
    }
    task_resume(t, 1);
}

/* core.greet() -> the card's first_mes, once per channel and persona; nil after (or without one). */
static int core_greet(lua_State *L) {
    struct task *t = task_check(L);
    struct job *job = need_message(L, t);
    if (!*persona_card_str(job->persona, "first_mes")) {
        lua_pushnil(L);
        return 1;
    }
    char suffix[200], key[1200], ttl[24];
    snprintf(suffix, sizeof(suffix), ":greeted:%s", job->persona->name);
    store_channel_key(server.redis, job->msg->platform, job->msg->channel, suffix, key, sizeof(key));
    snprintf(ttl, sizeof(ttl), "%ld", job->rt->limits.ttl_s > 0 ? job->rt->limits.ttl_s : 31536000L);
    const char *argv[6] = { "SET", key, "1", "NX", "EX", ttl };
    struct persona_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    if (redis_command(server.redis, on_greet, op, 6, argv, NULL) < 0) {
        free(op);
        lua_pushnil(L);   /* without Redis we cannot know: no greeting rather than one per message */
        return 1;
    }
    return task_wait(L, t, op, cancel_op);
}

void persona_state_register(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "observe", core_observe },
        { "facts", core_facts },
        { "remember", core_remember },
        { "summary", core_summary },
        { "history_trim", core_history_trim },
        { "forget", core_forget },
        { "sentiment", core_sentiment },
        { "prompt_build", core_prompt_build },
        { "greet", core_greet },
        { NULL, NULL }
    };
    luaL_setfuncs(L, fns, 0);
}
