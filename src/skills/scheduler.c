/* scheduler.c - claim due entries of <prefix>timers and run their handlers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <lauxlib.h>
#include "skills/dispatch.h"
#include "lib/log.h"
#include "lib/lua_json.h"
#include "skills/plugin.h"
#include "io/redis_client.h"
#include "core/runtime.h"
#include "lib/schedule.h"
#include "skills/scheduler.h"
#include "core/server.h"
#include "skills/skills.h"
#include "skills/task.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"

#define CLAIM_BATCH 16
#define IDLE_RECHECK_MS 60000
#define RETRY_MS 2000

/* Claim up to ARGV[2] entries due by ARGV[1]: read and remove in one step,
 * so each entry runs in exactly one process. */
static const char claim_script[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2]) "
    "for _, m in ipairs(due) do redis.call('ZREM', KEYS[1], m) end "
    "return due";

static uv_timer_t timer;
static int timer_ready;
static int armed;             /* the timer is running */
static double armed_at;       /* the vclock time it fires at */
static scheduler_entry_fn *entry_hook;
static scheduler_sync_fn *sync_hook;
static int busy;              /* a claim or peek is in flight */
static int again;             /* look once more when it returns */

static void look(void);

static void on_timer(uv_timer_t *t) {
    (void)t;
    armed = 0;
    look();
}

/* Arm the timer to look in MS milliseconds. */
static void arm(long ms) {
    if (!timer_ready) {
        uv_timer_init(server.loop, &timer);
        timer_ready = 1;
    }
    if (ms < 0) ms = 0;
    armed = 1;
    armed_at = vclock_now() + (double)ms / 1000.0;
    uv_timer_start(&timer, on_timer, (uint64_t)ms, 0);
}

void scheduler_set_hooks(scheduler_entry_fn *entry, scheduler_sync_fn *sync) {
    entry_hook = entry;
    sync_hook = sync;
}

void scheduler_wake_by(double due) {
    if (server.stopping) return;
    if (!armed || due < armed_at) arm((long)((due - vclock_now()) * 1000) + 5);
}

static int held;

void scheduler_hold(int delta) {
    held += delta;
}

int scheduler_held(void) {
    return held;
}

void scheduler_key(char *out, size_t len) {
    snprintf(out, len, "%stimers", redis_client_prefix(server.redis));
}

static void timers_key(char *out, size_t len) {
    snprintf(out, len, "%stimers", redis_client_prefix(server.redis));
}

/* Does the current host have any recurring schedule? */
static int has_schedules(void) {
    for (struct handler *hd = dispatch_next(server.rt->skills, NULL); hd; hd = dispatch_next(server.rt->skills, hd))
        if (hd->kind == HANDLER_SCHEDULE) return 1;
    return 0;
}

/* Member text of a recurring schedule: it names its spec, so a changed
 * spec becomes a new entry and the old one is dropped when it fires. */
static char *schedule_member(const struct handler *hd) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "kind", "schedule", "plugin", hd->plugin->name,
                          "name", hd->name ? hd->name : "", "spec",
                          json_string_value(json_object_get(hd->spec, "schedule")));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* Replies nobody waits for (ZADD of the next occurrence). */
static void ignore_reply(redisReply *r, const char *err, void *data) {
    (void)r;
    (void)data;
    if (err) log_warn("scheduler: %s", err);
}

/* One claimed entry's handler, run as a task with no message. */
struct fire {
    struct runtime *rt;
    int fn_ref;
    const char *kind;
    json_t *payload;
};

static int push_fire(lua_State *co, void *arg) {
    struct fire *f = arg;
    lua_rawgeti(co, LUA_REGISTRYINDEX, f->fn_ref);
    lua_pushstring(co, f->kind);
    lua_json_push(co, f->payload);
    lua_pushstring(co, "");
    return 4;
}

static void on_fire_end(struct task *t, enum task_end how, void *data) {
    struct fire *f = data;
    (void)t;
    (void)how;
    json_decref(f->payload);
    runtime_release(f->rt);
    free(f);
}

/* Re-add a recurring schedule at its next time after NOW. */
static void reschedule(const struct handler *hd, double now) {
    struct schedule s;
    char err[200], key[300], score[64];
    const char *spec = json_string_value(json_object_get(hd->spec, "schedule"));
    if (!spec || schedule_parse(spec, &s, err, sizeof(err)) < 0) return;
    long long next = schedule_next(&s, (long long)now);
    if (next < 0) return;
    char *member = schedule_member(hd);
    timers_key(key, sizeof(key));
    snprintf(score, sizeof(score), "%lld", next);
    const char *argv[5] = { "ZADD", key, "NX", score, member };
    redis_command(server.redis, ignore_reply, NULL, 5, argv, NULL);
    free(member);
}

/* Find the handler a claimed entry names and run it. */
static void fire(const char *member, double now) {
    json_t *m = json_loads(member, 0, NULL);
    const char *kind = json_string_value(json_object_get(m, "kind"));
    const char *plugin = json_string_value(json_object_get(m, "plugin"));
    const char *name = json_string_value(json_object_get(m, "name"));
    if (kind && strcmp(kind, "schedule") && strcmp(kind, "timer")) {
        if (entry_hook) entry_hook(m, now);
        else log_warn("scheduler: no one handles entries of kind \"%s\"; dropping it", kind);
        json_decref(m);
        return;
    }
    struct skill_host *h = server.rt->skills;
    enum handler_kind want = kind && !strcmp(kind, "schedule") ? HANDLER_SCHEDULE : HANDLER_TIMER;
    struct handler *hd;
    for (hd = dispatch_next(h, NULL); hd; hd = dispatch_next(h, hd))
        if (hd->kind == want && plugin && name && hd->name && !strcmp(hd->plugin->name, plugin) &&
            !strcmp(hd->name, name))
            break;
    if (!hd) {
        log_warn("scheduler: plugin %s has no %s \"%s\" any more; dropping the entry", plugin ? plugin : "?",
                 want == HANDLER_SCHEDULE ? "schedule" : "timer", name ? name : "?");
        json_decref(m);
        return;
    }
    if (want == HANDLER_SCHEDULE) {
        char *mine = schedule_member(hd);
        int current = !strcmp(mine, member);
        free(mine);
        if (!current) {   /* the spec changed since this entry was made */
            json_decref(m);
            return;
        }
        reschedule(hd, now);
    }
    struct fire *f = xcalloc(1, sizeof(*f));
    f->rt = runtime_acquire(server.rt);
    f->fn_ref = hd->fn_ref;
    f->kind = want == HANDLER_SCHEDULE ? "schedule" : "timer";
    f->payload = json_pack("{s:s, s:s, s:f, s:O*}", "name", name, "plugin", plugin, "now", now,
                           "payload", json_object_get(m, "payload"));
    json_decref(m);
    task_start(hd->plugin, hd->plugin->invoke_ref, NULL, push_fire, f, on_fire_end, f);
}

/* The earliest entry's score came back: arm the timer for it. */
static void on_peek(redisReply *r, const char *err, void *data) {
    (void)data;
    busy = 0;
    if (again) {
        again = 0;
        look();
        return;
    }
    if (err || !r || r->type != REDIS_REPLY_ARRAY) {
        if (has_schedules()) arm(RETRY_MS);
        return;
    }
    if (r->elements < 2) {
        if (has_schedules()) arm(IDLE_RECHECK_MS);
        return;
    }
    double due = strtod(r->element[1]->str, NULL);
    long ms = (long)((due - vclock_now()) * 1000) + 5;
    if (ms > IDLE_RECHECK_MS) ms = IDLE_RECHECK_MS;
    arm(ms);
}

/* Claimed entries came back: run them, then see what is next. */
static void on_claim(redisReply *r, const char *err, void *data) {
    char key[300];
    double now = vclock_now();
    (void)data;
    if (!err && r && r->type == REDIS_REPLY_ARRAY && server.rt && !server.stopping)
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING) fire(r->element[i]->str, now);
    if (err) {
        busy = 0;
        if (has_schedules()) arm(RETRY_MS);
        return;
    }
    timers_key(key, sizeof(key));
    const char *argv[6] = { "ZRANGE", key, "0", "0", "WITHSCORES", NULL };
    if (redis_command(server.redis, on_peek, NULL, 5, argv, NULL) < 0) {
        busy = 0;
        arm(RETRY_MS);
    }
}

/* Claim what is due, then peek at the next entry. */
static void look(void) {
    char key[300], now[64], batch[16];
    if (server.stopping || !server.redis) return;
    if (busy) {
        again = 1;
        return;
    }
    timers_key(key, sizeof(key));
    snprintf(now, sizeof(now), "%.3f", vclock_now());
    snprintf(batch, sizeof(batch), "%d", CLAIM_BATCH);
    const char *argv[7] = { "EVAL", claim_script, "1", key, now, batch, NULL };
    if (redis_command(server.redis, on_claim, NULL, 6, argv, NULL) < 0) {
        if (has_schedules()) arm(RETRY_MS);
        return;
    }
    busy = 1;
}

void scheduler_kick(void) {
    arm(0);
}

void scheduler_sync(struct skill_host *h) {
    char key[300], score[64];
    double now = vclock_now();
    timers_key(key, sizeof(key));
    for (struct handler *hd = dispatch_next(h, NULL); hd; hd = dispatch_next(h, hd)) {
        if (hd->kind != HANDLER_SCHEDULE) continue;
        struct schedule s;
        char err[200];
        const char *spec = json_string_value(json_object_get(hd->spec, "schedule"));
        if (!spec || schedule_parse(spec, &s, err, sizeof(err)) < 0) {
            log_error("plugin %s: schedule \"%s\": %s", hd->plugin->name, hd->name ? hd->name : "?", err);
            continue;
        }
        long long next = schedule_next(&s, (long long)now);
        if (next < 0) continue;
        char *member = schedule_member(hd);
        snprintf(score, sizeof(score), "%lld", next);
        const char *argv[5] = { "ZADD", key, "NX", score, member };
        redis_command(server.redis, ignore_reply, NULL, 5, argv, NULL);
        free(member);
    }
    if (sync_hook) sync_hook(now);
    arm(0);
}

void scheduler_stop(void) {
    if (!timer_ready) return;
    uv_timer_stop(&timer);
    uv_close((uv_handle_t *)&timer, NULL);
    timer_ready = 0;
    armed = 0;
}

int scheduler_check_spec(const char *spec, char *err, size_t errlen) {
    struct schedule s;
    return schedule_parse(spec, &s, err, errlen);
}

/* Replies to a timer's ZADD, for the waiting skill. */
struct timer_op {
    struct task *task;
    char id[40];
};

static void on_timer_added(redisReply *r, const char *err, void *data) {
    struct timer_op *op = data;
    struct task *t = op->task;
    lua_State *co = t ? task_stack(t) : NULL;
    if (t && (err || !r || r->type == REDIS_REPLY_ERROR)) {
        lua_pushnil(co);
        lua_pushstring(co, err ? err : r ? r->str : "Redis refused the timer");
        free(op);
        task_resume(t, 2);
        return;
    }
    if (t) lua_pushstring(co, op->id);
    free(op);
    scheduler_kick();
    if (t) task_resume(t, 1);
}

static void cancel_timer_op(void *data) {
    struct timer_op *op = data;
    op->task = NULL;
}

int scheduler_lua_timer_at(lua_State *L) {
    struct task *t = task_check(L);
    struct plugin *p = plugin_of(L);
    double when = luaL_checknumber(L, 1);
    const char *name = luaL_checkstring(L, 2);
    if (!p->allow_state) return luaL_error(L, "plugin %s may not keep state (timers live in Redis; add state = true to its manifest)", p->name);
    json_t *payload = lua_isnoneornil(L, 3) ? json_null() : lua_json_from(L, 3);
    if (!payload) return luaL_error(L, "the timer's payload cannot be stored as JSON");
    struct timer_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    unsigned char rnd[8];
    if (uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL) != 0) memset(rnd, 0, sizeof(rnd));
    for (int i = 0; i < 8; i++) snprintf(op->id + i * 2, 3, "%02x", rnd[i]);
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:o}", "kind", "timer", "plugin", p->name, "name", name,
                          "id", op->id, "payload", payload);
    char *member = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(m);
    char key[300], score[64];
    timers_key(key, sizeof(key));
    snprintf(score, sizeof(score), "%.3f", when);
    const char *argv[4] = { "ZADD", key, score, member };
    int rc = redis_command(server.redis, on_timer_added, op, 4, argv, NULL);
    free(member);
    if (rc < 0) {
        free(op);
        lua_pushnil(L);
        lua_pushstring(L, "Redis is not available");
        return 2;
    }
    return task_wait(L, t, op, cancel_timer_op);
}

/* Find a plugin's timer by its id and remove it, in one step: ARGV is the
 * MATCH pattern, the id and the plugin's name (only its own timers). */
static const char cancel_script[] =
    "local cursor = '0' "
    "repeat "
    "  local r = redis.call('ZSCAN', KEYS[1], cursor, 'MATCH', ARGV[1], 'COUNT', 500) "
    "  cursor = r[1] "
    "  for i = 1, #r[2], 2 do "
    "    local ok, t = pcall(cjson.decode, r[2][i]) "
    "    if ok and type(t) == 'table' and t.id == ARGV[2] and t.plugin == ARGV[3] and t.kind == 'timer' then "
    "      return redis.call('ZREM', KEYS[1], r[2][i]) "
    "    end "
    "  end "
    "until cursor == '0' "
    "return 0";

static void on_timer_cancelled(redisReply *r, const char *err, void *data) {
    struct timer_op *op = data;
    struct task *t = op->task;
    free(op);
    if (!t) return;
    lua_State *co = task_stack(t);
    if (err || !r || r->type != REDIS_REPLY_INTEGER) {
        lua_pushnil(co);
        lua_pushstring(co, err || !r ? "redis unavailable" : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        task_resume(t, 2);
        return;
    }
    lua_pushboolean(co, r->integer > 0);
    task_resume(t, 1);
}

int scheduler_lua_timer_cancel(lua_State *L) {
    struct task *t = task_check(L);
    struct plugin *p = plugin_of(L);
    size_t len;
    const char *id = luaL_checklstring(L, 1, &len);
    if (!p->allow_state) return luaL_error(L, "plugin %s may not keep state (timers live in Redis; add state = true to its manifest)", p->name);
    if (len != 16 || strspn(id, "0123456789abcdef") != 16) {
        lua_pushboolean(L, 0);   /* not an id timer_in/timer_at gave: nothing to cancel */
        return 1;
    }
    struct timer_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    char key[300], pattern[64];
    timers_key(key, sizeof(key));
    snprintf(pattern, sizeof(pattern), "*\"id\":\"%s\"*", id);
    const char *argv[7] = { "EVAL", cancel_script, "1", key, pattern, id, p->name };
    if (redis_command(server.redis, on_timer_cancelled, op, 7, argv, NULL) < 0) {
        free(op);
        lua_pushnil(L);
        lua_pushstring(L, "redis unavailable");
        return 2;
    }
    return task_wait(L, t, op, cancel_timer_op);
}
