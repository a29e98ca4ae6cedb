/* group.c - group-chat manners on the job path, and speaking first.
 *
 * The gate runs once per message, on data the channel's context script
 * already brought (no extra round trip): the persona's and the channel's
 * manners, the operator's mode and when the persona last spoke there.
 * Bookkeeping after a job costs one or two Redis writes, and only in
 * channels whose manners need it (reply = "auto" or proactive speech).
 *
 * Speaking first: a silence timer is an entry of the scheduler's zset,
 * so it lives in Redis, survives restarts and fires in one process only;
 * nothing runs while nobody talks. When it fires, one script checks the
 * opt-out and the daily cap and takes the SET NX claim; then an event job
 * "proactive" goes through the channel's queue like any message, so the
 * chat skill speaks in character with the channel's memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pipeline/group.h"
#include "pipeline/channel.h"
#include "conf/config.h"
#include "core/job.h"
#include "core/message.h"
#include "core/platform.h"
#include "core/runtime.h"
#include "core/server.h"
#include "io/redis_client.h"
#include "io/store.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/schedule.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"
#include "persona/manners.h"
#include "persona/persona.h"
#include "skills/scheduler.h"

#define ACTIVE_WINDOW_S (7 * 86400)  /* schedules speak where it answered within a week */
#define DEFAULT_PROMPT "(Nobody has said anything here for a while. Say something short and natural " \
                       "to get the conversation going again, in character. Do not mention this note.)"

/* Opt-out, daily cap and the claim, in one step. KEYS: the manners hash,
 * the day's counter, the claim. ARGV: the cap, the claim's lifetime (ms). */
static const char speak_script[] =
    "if redis.call('HGET', KEYS[1], 'proactive') == 'off' then return 'optout' end "
    "local cap = tonumber(ARGV[1]) "
    "if cap <= 0 or tonumber(redis.call('GET', KEYS[2]) or '0') >= cap then return 'cap' end "
    "if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[2]) then return 'claimed' end "
    "redis.call('INCR', KEYS[2]) redis.call('EXPIRE', KEYS[2], 172800) "
    "return 'ok'";

static uint64_t rng_state;

/* A random number in [0, 1): xorshift, seeded from the clock. */
static double roll(void) {
    if (!rng_state) rng_state = uv_hrtime() | 1;
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void ignore(redisReply *r, const char *err, void *data) {
    (void)r;
    (void)data;
    if (err) log_debug("manners: %s", err);
}

/* The manners that hold in PLATFORM:CHANNEL for persona P (NULL: an
 * imported persona, only the channel's): the persona's, the channel
 * block's over them, the operator's mode over both. */
static void effective(const struct runtime *rt, const struct persona *p, const char *platform, const char *channel,
                      const json_t *state, struct manners *m) {
    char name[800];
    if (p) *m = *persona_manners(p);
    else manners_defaults(m);
    size_t pl = strnlen(platform, 300), cl = strnlen(channel, sizeof(name) - 302);
    memcpy(name, platform, pl);   /* "platform:channel", per message: no snprintf */
    name[pl] = ':';
    memcpy(name + pl + 1, channel, cl);
    name[pl + 1 + cl] = '\0';
    struct config_block *b = config_find(rt->cfg, "channel", name);
    if (b) manners_parse(b->value, m);
    const char *mode = json_string_value(json_object_get(state, "reply"));
    if (mode && manners_reply_of(mode) != MANNERS_UNSET) m->reply = manners_reply_of(mode);
}

static double state_time(const json_t *state, const char *field) {
    const char *v = json_string_value(json_object_get(state, field));
    return v ? strtod(v, NULL) : 0;
}

/* The manners hash field BASE ("spoke", "auto") of the job's bot account:
 * a named account keeps its own ("spoke@aiko"), as two bots in a channel
 * each follow their own conversation. */
static const char *state_field(const struct job *job, const char *base, char *out, size_t len) {
    const char *identity = job->platform ? job->platform->identity : NULL;
    if (!identity) return base;
    snprintf(out, len, "%s@%s", base, identity);
    return out;
}

void group_gate(struct job *job) {
    const struct chat_message *msg = job->msg;
    if (msg->event || msg->direct || !job->persona) return;
    struct manners m;
    effective(job->rt, job->persona, msg->platform, msg->channel, job->manners, &m);
    if (m.reply == MANNERS_UNSET) return;
    const char *nick = persona_card_str(job->persona, "nickname");
    char fs[80], fa[80];
    struct manners_seen s = {
        .text = msg->text, .direct = 0,
        .names = { job->persona->name, job->persona->display_name, *nick ? nick : NULL, NULL },
        .now = vclock_now(), .spoke_at = state_time(job->manners, state_field(job, "spoke", fs, sizeof(fs))),
        .auto_at = state_time(job->manners, state_field(job, "auto", fa, sizeof(fa))),
        .roll = roll(),
    };
    const char *why;
    job->invited = manners_decide(&m, &s, &why);
    /* 2: joined in uninvited (a follow-up or an interest), which starts the cooldown */
    if (job->invited && (!strcmp(why, "followup") || !strcmp(why, "interest"))) job->invited = 2;
    metrics_inc(METRIC_MANNERS, why, 1);
    log_debug("manners: %s:%s %s (%s)", msg->platform, msg->channel, job->invited ? "joins in" : "stays quiet", why);
}

/* The silence timer's member: which persona speaks where. */
static char *silence_member(const char *platform, const char *channel, const char *persona) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "kind", "proactive", "platform", platform, "channel", channel,
                          "persona", persona);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* Count a proactive message in the persona's day of the ledger. */
static void ledger_count(const char *persona) {
    time_t now = (time_t)vclock_now();
    struct tm tm;
    char day[16], key[400];
    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y%m%d", &tm);
    snprintf(key, sizeof(key), "%sengagement:%s:%s", redis_client_prefix(server.redis), day, persona);
    const char *a1[4] = { "HINCRBY", key, "proactive", "1" };
    const char *a2[3] = { "EXPIRE", key, "34560000" };
    redis_command(server.redis, ignore, NULL, 4, a1, NULL);
    redis_command(server.redis, ignore, NULL, 3, a2, NULL);
}

/* The day's counter key of the cap. */
static void cap_key(const char *platform, const char *channel, double now, char *out, size_t len) {
    time_t t = (time_t)now;
    struct tm tm;
    char suffix[40];
    gmtime_r(&t, &tm);
    strftime(suffix, sizeof(suffix), ":proactive:%Y%m%d", &tm);
    store_channel_key(server.redis, platform, channel, suffix, out, len);
}

/* A proactive job ended: count what it said, or give its place in the cap back. */
static void after_proactive(struct job *job) {
    const struct chat_message *msg = job->msg;
    char key[1200];
    if (job->replies > 0) {
        metrics_inc(METRIC_PROACTIVE, msg->platform, 1);
        ledger_count(job->persona->name);
        char now[32];
        snprintf(now, sizeof(now), "%.3f", vclock_now());
        store_channel_key(server.redis, msg->platform, msg->channel, ":manners", key, sizeof(key));
        char fs[80];
        const char *a1[4] = { "HSET", key, state_field(job, "spoke", fs, sizeof(fs)), now };
        redis_command(server.redis, ignore, NULL, 4, a1, NULL);
        log_info("manners: %s spoke first in %s:%s", job->persona->name, msg->platform, msg->channel);
        return;
    }
    cap_key(msg->platform, msg->channel, msg->received_at, key, sizeof(key));
    const char *a[2] = { "DECR", key };
    redis_command(server.redis, ignore, NULL, 2, a, NULL);
}

void group_after(struct job *job) {
    const struct chat_message *msg = job->msg;
    if (!job->persona || !server.redis) return;
    if (msg->event && !strcmp(msg->event, "proactive")) {
        after_proactive(job);
        return;
    }
    if (msg->event || job->silent || !job->manners) return;   /* no context: an operator's command, or Redis down */
    struct manners m;
    effective(job->rt, job->persona, msg->platform, msg->channel, job->manners, &m);
    if (m.reply != MANNERS_AUTO && m.silence_ms <= 0 && !m.schedule) return;
    double now = vclock_now();
    char key[1200], ts[32], due[32];
    snprintf(ts, sizeof(ts), "%.3f", now);
    snprintf(due, sizeof(due), "%.3f", now + (double)m.silence_ms / 1000.0);
    char *member = m.silence_ms > 0 ? silence_member(msg->platform, msg->channel, job->persona->name) : NULL;
    char timers[300];
    scheduler_key(timers, sizeof(timers));
    if (job->replies > 0) {
        store_channel_key(server.redis, msg->platform, msg->channel, ":manners", key, sizeof(key));
        char fs[80], fa[80];
        const char *a1[6] = { "HSET", key, state_field(job, "spoke", fs, sizeof(fs)), ts, state_field(job, "auto", fa, sizeof(fa)), ts };
        redis_command(server.redis, ignore, NULL, job->invited == 2 ? 6 : 4, a1, NULL);
        if (member) {
            const char *a3[4] = { "ZADD", timers, due, member };
            redis_command(server.redis, ignore, NULL, 4, a3, NULL);
            scheduler_wake_by(now + (double)m.silence_ms / 1000.0);
        }
        if (m.schedule) {
            char active[400], chan[800];
            snprintf(active, sizeof(active), "%smanners:active:%s", redis_client_prefix(server.redis), job->persona->name);
            snprintf(chan, sizeof(chan), "%s\t%s", msg->platform, msg->channel);
            const char *a4[4] = { "ZADD", active, ts, chan };
            redis_command(server.redis, ignore, NULL, 4, a4, NULL);
        }
    } else if (member) {
        /* Someone spoke: the silence starts again, if it was being waited for. */
        const char *a3[5] = { "ZADD", timers, "XX", due, member };
        redis_command(server.redis, ignore, NULL, 5, a3, NULL);
    }
    free(member);
}

/* ---- speaking first ---- */

struct attempt {
    char *platform, *channel, *persona, *prompt;
};

static void attempt_free(struct attempt *a) {
    free(a->platform);
    free(a->channel);
    free(a->persona);
    free(a->prompt);
    free(a);
}

/* The script answered: speak, or say why not. */
static void on_claim(redisReply *r, const char *err, void *data) {
    struct attempt *a = data;
    scheduler_hold(-1);
    const char *verdict = err ? "error" : r && r->type == REDIS_REPLY_STATUS ? r->str
                                        : r && r->type == REDIS_REPLY_STRING ? r->str : "error";
    struct platform *pl = platform_speaking_as(a->platform, a->persona);
    if (strcmp(verdict, "ok") || !pl || server.stopping) {
        metrics_inc(METRIC_MANNERS, strcmp(verdict, "ok") ? verdict : "gone", 1);
        log_debug("manners: %s does not speak first in %s:%s (%s)", a->persona, a->platform, a->channel,
                  err ? err : verdict);
        attempt_free(a);
        return;
    }
    struct chat_message m = {
        .platform = a->platform, .channel = a->channel, .text = a->prompt, .event = "proactive",
        .author = { .id = "chorus", .name = "everyone" }, .received_at = vclock_now(),
    };
    if (channel_enqueue(pl, &m) < 0) log_info("manners: %s:%s is busy; not speaking first", a->platform, a->channel);
    attempt_free(a);
}

/* Speak first in PLATFORM:CHANNEL as PERSONA, if its manners still say so. */
static void attempt(const char *platform, const char *channel, const char *persona, double now) {
    const struct persona *p = persona_find(server.rt->personas, persona);
    struct manners m;
    effective(server.rt, p, platform, channel, NULL, &m);
    if (m.silence_ms <= 0 && !m.schedule) return;   /* turned off since */
    if (manners_quiet_now(&m, now)) {
        metrics_inc(METRIC_MANNERS, "quiet_hours", 1);
        log_debug("manners: quiet hours in %s:%s; %s does not speak first", platform, channel, persona);
        return;
    }
    char hash[1200], cap[1200], claim[1200], capn[24], ttl[24], suffix[80];
    store_channel_key(server.redis, platform, channel, ":manners", hash, sizeof(hash));
    cap_key(platform, channel, now, cap, sizeof(cap));
    /* The claim names the min_gap_ms slot of the (virtual) time: whichever
     * process sets it first speaks, the others in that slot do not. */
    long gap = m.min_gap_ms > 0 ? m.min_gap_ms : 1;
    snprintf(suffix, sizeof(suffix), ":proactive:claim:%lld", (long long)(now * 1000.0) / gap);
    store_channel_key(server.redis, platform, channel, suffix, claim, sizeof(claim));
    snprintf(capn, sizeof(capn), "%ld", m.daily_cap);
    snprintf(ttl, sizeof(ttl), "%ld", gap + 60000);
    struct attempt *a = xcalloc(1, sizeof(*a));
    a->platform = xstrdup(platform);
    a->channel = xstrdup(channel);
    a->persona = xstrdup(persona);
    a->prompt = xstrdup(m.prompt ? m.prompt : DEFAULT_PROMPT);
    const char *argv[8] = { "EVAL", speak_script, "3", hash, cap, claim, capn, ttl };
    if (redis_command(server.redis, on_claim, a, 8, argv, NULL) < 0) attempt_free(a);
    else scheduler_hold(1);
}

/* The recurring entry of a persona's proactive schedule. */
static char *schedule_member(const char *persona, const char *spec) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "kind", "proactive_schedule", "persona", persona, "spec", spec);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* Put SPEC's next time after NOW in the timers zset (NX: once across processes). */
static void schedule_add(const char *persona, const char *spec, double now) {
    struct schedule s;
    char err[200], key[300], score[32];
    if (schedule_parse(spec, &s, err, sizeof(err)) < 0) {
        log_error("persona \"%s\": proactive.schedule \"%s\": %s", persona, spec, err);
        return;
    }
    long long next = schedule_next(&s, (long long)now);
    if (next < 0) return;
    char *member = schedule_member(persona, spec);
    scheduler_key(key, sizeof(key));
    snprintf(score, sizeof(score), "%lld", next);
    const char *argv[5] = { "ZADD", key, "NX", score, member };
    redis_command(server.redis, ignore, NULL, 5, argv, NULL);
    free(member);
}

struct sched_fire {
    char *persona;
    double now;
};

/* The channels it answered in this week came back: speak first in each. */
static void on_active(redisReply *r, const char *err, void *data) {
    struct sched_fire *f = data;
    scheduler_hold(-1);
    for (size_t i = 0; !err && r && r->type == REDIS_REPLY_ARRAY && i < r->elements && server.rt; i++) {
        const char *e = r->element[i]->str, *tab = e ? strchr(e, '\t') : NULL;
        if (!tab) continue;
        char platform[200];
        snprintf(platform, sizeof(platform), "%.*s", (int)(tab - e), e);
        attempt(platform, tab + 1, f->persona, f->now);
    }
    free(f->persona);
    free(f);
}

/* A claimed entry of ours. */
static void on_entry(json_t *e, double now) {
    const char *kind = json_string_value(json_object_get(e, "kind"));
    const char *persona = json_string_value(json_object_get(e, "persona"));
    if (!kind || !persona || !server.rt) return;
    if (!strcmp(kind, "proactive")) {
        const char *platform = json_string_value(json_object_get(e, "platform"));
        const char *channel = json_string_value(json_object_get(e, "channel"));
        if (platform && channel) attempt(platform, channel, persona, now);
        return;
    }
    if (strcmp(kind, "proactive_schedule")) {
        log_warn("scheduler: an entry of unknown kind \"%s\"; dropping it", kind);
        return;
    }
    const struct persona *p = persona_find(server.rt->personas, persona);
    struct manners m;
    manners_defaults(&m);
    if (p) manners_parse(p->def, &m);
    const char *spec = json_string_value(json_object_get(e, "spec"));
    if (!m.schedule || !spec || strcmp(m.schedule, spec)) return;   /* changed since: sync added the new one */
    schedule_add(persona, spec, now);
    char active[400], min[32];
    snprintf(active, sizeof(active), "%smanners:active:%s", redis_client_prefix(server.redis), persona);
    snprintf(min, sizeof(min), "%.3f", now - ACTIVE_WINDOW_S);
    const char *trim[4] = { "ZREMRANGEBYSCORE", active, "-inf", min };   /* channels quiet for a week leave */
    redis_command(server.redis, ignore, NULL, 4, trim, NULL);
    struct sched_fire *f = xcalloc(1, sizeof(*f));
    f->persona = xstrdup(persona);
    f->now = now;
    const char *argv[7] = { "ZRANGEBYSCORE", active, "-inf", "+inf", "LIMIT", "0", "1000" };
    if (redis_command(server.redis, on_active, f, 7, argv, NULL) < 0) {
        free(f->persona);
        free(f);
        return;
    }
    scheduler_hold(1);
}

/* Start-up and reloads: every persona's proactive schedule is in Redis. */
static void on_sync(double now) {
    if (!server.rt || !server.rt->personas) return;
    for (int i = 0; i < server.rt->personas->count; i++) {
        const struct persona *p = &server.rt->personas->items[i];
        struct manners m;
        manners_defaults(&m);
        manners_parse(p->def, &m);
        if (m.schedule) schedule_add(p->name, m.schedule, now);
    }
}

void group_install(void) {
    scheduler_set_hooks(on_entry, on_sync);
}
