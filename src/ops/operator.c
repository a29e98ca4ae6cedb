/* operator.c - the command table, role checks, audit and execution. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "persona/ledger.h"
#include "persona/manners.h"
#include "lib/log.h"
#include "model/model.h"
#include "ops/admin.h"
#include "ops/operator.h"
#include "lib/redact.h"
#include "persona/card.h"
#include "persona/persona.h"
#include "persona/persona_import.h"
#include "persona/prompt.h"
#include "persona/recall_store.h"
#include "core/platform.h"
#include "io/redis_client.h"
#include "model/router.h"
#include "core/runtime.h"
#include "skills/scheduler.h"
#include "core/server.h"
#include "skills/skills.h"
#include "io/store.h"
#include "io/store_split.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"

#define MAX_ARGS 32
#define MAX_BATCH 16

struct op_req;

struct command {
    const char *name;
    const char *sub;             /* second word, or NULL */
    enum role min;
    const char *usage;
    const char *help;
    void (*run)(struct op_req *r);
};

struct op_req {
    char *platform, *user_id, *channel;
    int guest, local;
    int argc;
    char *argv[MAX_ARGS];
    enum role role;
    const struct command *cmd;
    operator_done_fn *cb;
    void *data;
    /* A batch of Redis commands whose replies come back together. */
    int pending;
    redisReply *replies[MAX_BATCH];
    int nreplies;
    char *errors;
    void (*then)(struct op_req *r);
    json_t *data_out;
};

static const char *const role_names[] = { "user", "moderator", "admin", "owner" };

const char *role_name(enum role r) {
    return role_names[r];
}

static int role_of(const char *s) {
    for (int i = 0; i < 4; i++)
        if (s && !strcasecmp(s, role_names[i])) return i;
    return -1;
}

const char *operator_prefix(void) {
    struct config_block *b = server.rt ? config_first(server.rt->cfg, "admin_prefix") : NULL;
    return b && json_is_string(b->value) ? json_string_value(b->value) : "!chorus";
}

int operator_is_command(const char *text) {
    const char *p = operator_prefix();
    size_t n = strlen(p);
    return text && !strncmp(text, p, n) && (text[n] == ' ' || text[n] == '\0');
}

/* Is platform:user one of the configured owners? */
static int configured_owner(const char *platform, const char *user) {
    struct config_block *b = config_first(server.rt->cfg, "owners");
    char id[600];
    snprintf(id, sizeof(id), "%s:%s", platform, user);
    if (!b) return 0;
    if (json_is_string(b->value)) return !strcmp(json_string_value(b->value), id);
    size_t i;
    json_t *v;
    json_array_foreach(b->value, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), id)) return 1;
    return 0;
}

/* ---- the request ---- */

static void req_free(struct op_req *r) {
    for (int i = 0; i < r->argc; i++) free(r->argv[i]);
    for (int i = 0; i < r->nreplies; i++) freeReplyObject(r->replies[i]);
    free(r->platform);
    free(r->user_id);
    free(r->channel);
    free(r->errors);
    json_decref(r->data_out);
    free(r);
}

static void audit_ignore(redisReply *rep, const char *err, void *data) {
    (void)rep;
    (void)err;
    (void)data;
}

/* Who did what where, when, and how it went: to the <prefix>audit stream. */
static void audit(struct op_req *r, int ok, const char *result) {
    char stream[300], what[1024] = "", who[600], ts[32];
    size_t used = 0;
    for (int i = 0; i < r->argc && used < sizeof(what) - 2; i++)
        used += (size_t)snprintf(what + used, sizeof(what) - used, "%s%s", i ? " " : "", r->argv[i]);
    snprintf(who, sizeof(who), "%s:%s", r->platform, r->user_id);
    snprintf(ts, sizeof(ts), "%.3f", vclock_now());
    snprintf(stream, sizeof(stream), "%saudit", redis_client_prefix(server.redis));
    const char *argv[] = { "XADD", stream, "MAXLEN", "~", "100000", "*", "ts", ts, "who", who,
                           "role", role_name(r->role), "what", what, "where", r->channel ? r->channel : "-",
                           "result", ok ? "ok" : "denied or failed", "detail", result ? result : "" };
    if (redis_command(server.redis, audit_ignore, NULL, (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL) < 0)
        log_warn("audit: Redis is down; %s by %s (%s) not recorded in the stream", what, who, ok ? "ok" : "refused");
    log_info("admin: %s by %s in %s: %s", what, who, r->channel ? r->channel : "-", ok ? "ok" : "refused");
}

/* Answer, audit and free. */
static void done(struct op_req *r, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void done(struct op_req *r, int ok, const char *fmt, ...) {
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    audit(r, ok, ok ? NULL : text);
    json_t *answer = json_pack("{s:b, s:s}", "ok", ok, "text", text);
    if (r->data_out) json_object_set(answer, "data", r->data_out);
    if (!ok) json_object_set_new(answer, "error", json_string(text));
    r->cb(answer, r->data);
    req_free(r);
}

/* ---- batches of Redis commands ---- */

struct slot {
    struct op_req *r;
    int index;
};


static void on_batch(redisReply *rep, const char *err, void *data) {
    struct slot *s = data;
    struct op_req *r = s->r;
    if (err && !r->errors) r->errors = xstrdup(err);
    /* hiredis frees replies after the callback: keep our own copy. */
    if (rep && s->index < MAX_BATCH) r->replies[s->index] = redis_reply_copy(rep);
    free(s);
    if (--r->pending == 0) {
        if (r->errors) {
            char why[300];
            snprintf(why, sizeof(why), "Redis: %s", r->errors);
            done(r, 0, "%s", why);
            return;
        }
        r->then(r);
    }
}

/* Queue one command of the batch (up to MAX_BATCH). */
static int batch(struct op_req *r, int argc, const char **argv) {
    if (r->nreplies >= MAX_BATCH) return -1;
    struct slot *s = xmalloc(sizeof(*s));
    s->r = r;
    s->index = r->nreplies++;
    r->pending++;
    if (redis_command(server.redis, on_batch, s, argc, argv, NULL) < 0) {
        free(s);
        r->pending--;
        r->nreplies--;
        return -1;
    }
    return 0;
}

/* Forgetting on a Redis Cluster, as one command of the batch
 * (io/store_split.c: its keys span slots). */
static int batch_forget_split(struct op_req *r, const char *seen, const char *user) {
    if (r->nreplies >= MAX_BATCH) return -1;
    struct slot *s = xmalloc(sizeof(*s));
    s->r = r;
    s->index = r->nreplies++;
    r->pending++;
    if (store_forget_split(server.redis, seen, user, on_batch, s) < 0) {
        free(s);
        r->pending--;
        r->nreplies--;
        return -1;
    }
    return 0;
}

/* Start the batch's wait: THEN runs when every reply is in. */
static void batch_wait(struct op_req *r, void (*then)(struct op_req *r)) {
    r->then = then;
    if (r->pending == 0) then(r);
}

static const char *prefix(void) {
    return redis_client_prefix(server.redis);
}

static long long reply_int(struct op_req *r, int i) {
    return i < r->nreplies && r->replies[i] ? r->replies[i]->integer : 0;
}

/* The channel a command means: --channel X, else where it was typed. */
static const char *target_channel(struct op_req *r, int from) {
    for (int i = from; i + 1 < r->argc; i++)
        if (!strcmp(r->argv[i], "--channel")) return r->argv[i + 1];
    return r->channel;
}

/* ---- commands ---- */

static void then_ok(struct op_req *r);
static void then_imported(struct op_req *r);
static void cmd_persona_use(struct op_req *r);
static const struct command commands[];

static void cmd_help(struct op_req *r) {
    char text[6000];
    json_t *list = json_array();
    size_t used = (size_t)snprintf(text, sizeof(text), "Commands you may use (%s):", role_name(r->role));
    for (const struct command *c = commands; c->name; c++) {
        if (r->role < c->min) continue;
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "usage", c->usage, "help", c->help, "role", role_name(c->min)));
        if (used < sizeof(text) - 200)
            used += (size_t)snprintf(text + used, sizeof(text) - used, "\n  %s %s — %s", operator_prefix(), c->usage, c->help);
    }
    r->data_out = json_pack("{s:s, s:s, s:o}", "role", role_name(r->role), "prefix", operator_prefix(), "commands", list);
    done(r, 1, "%s", text);
}

static void cmd_status(struct op_req *r) {
    char text[4000];
    size_t used = (size_t)snprintf(text, sizeof(text), "chorusd %s: redis %s; %d replies in flight, %d queued",
                                   PACKAGE_VERSION, redis_client_ready(server.redis) ? "up" : "DOWN",
                                   server.jobs_in_flight, server.jobs_queued);
    for (int i = 0; platform_at(i); i++) {
        struct platform *p = platform_at(i);
        used += (size_t)snprintf(text + used, sizeof(text) - used, "\nplatform %s: %s, %d connections", p->ops->name,
                                 p->ready ? "ready" : "NOT READY", p->ops->connections ? p->ops->connections(p) : 0);
    }
    uint64_t now = uv_now(server.loop);
    for (int i = 0; i < server.rt->models->count && used < sizeof(text) - 200; i++) {
        const struct model *m = &server.rt->models->items[i];
        for (int d = 0; d < m->ndeps && used < sizeof(text) - 200; d++) {
            const struct deployment *dep = &m->deps[d];
            char clean[sizeof(dep->last_error) + 64];
            redact(dep->last_error, clean, sizeof(clean));
            used += (size_t)snprintf(text + used, sizeof(text) - used, "\nmodel %s/%d: breaker %s, %d in flight, %.0f ms%s%s",
                                     m->name, d, dep->cooldown_until > now ? "OPEN (cooling down)" : "closed",
                                     dep->in_flight, dep->latency_ewma_ms, clean[0] ? ", last error: " : "", clean);
        }
    }
    r->data_out = admin_status_json();
    done(r, 1, "%s", text);
}

static void then_persona_list(struct op_req *r) {
    char text[4000];
    json_t *list = json_array();
    size_t used = (size_t)snprintf(text, sizeof(text), "Personas:");
    for (int i = 0; i < server.rt->personas->count; i++) {
        const struct persona *p = &server.rt->personas->items[i];
        int fallback = p == server.rt->personas->fallback;
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:b, s:s}", "name", p->name, "display_name", p->display_name,
                                              "model", p->model, "default", fallback, "source", "config"));
        if (used < sizeof(text))
            used += (size_t)snprintf(text + used, sizeof(text) - used, "\n  %s (%s), model %s%s", p->name, p->display_name,
                                     p->model, fallback ? ", default" : "");
    }
    redisReply *m = r->nreplies ? r->replies[0] : NULL;
    for (size_t i = 0; m && m->type == REDIS_REPLY_ARRAY && i < m->elements; i++) {
        json_array_append_new(list, json_pack("{s:s, s:b, s:s}", "name", m->element[i]->str, "default", 0, "source", "card"));
        if (used < sizeof(text))
            used += (size_t)snprintf(text + used, sizeof(text) - used, "\n  %s (imported card)", m->element[i]->str);
    }
    r->data_out = json_pack("{s:o}", "personas", list);
    done(r, 1, "%s", text);
}

static void cmd_persona_list(struct op_req *r) {
    char key[300];
    snprintf(key, sizeof(key), "%spersonas:imported", prefix());
    const char *argv[2] = { "SMEMBERS", key };
    if (batch(r, 2, argv) < 0) {
        then_persona_list(r);   /* without Redis: the configured ones */
        return;
    }
    batch_wait(r, then_persona_list);
}

/* persona import [--name NAME] CARD-JSON: store a card as a persona (chorusctl reads PNG and CHARX files). */
static void cmd_persona_import(struct op_req *r) {
    const char *name = NULL, *text = NULL;
    for (int i = 2; i < r->argc; i++) {
        if (!strcmp(r->argv[i], "--name") && i + 1 < r->argc) name = r->argv[++i];
        else text = r->argv[i];
    }
    if (!text) {
        done(r, 0, "Usage: persona import [--name NAME] CARD-JSON (or chorusctl persona import FILE)");
        return;
    }
    char err[400], slug[64], rev[17];
    json_t *card = card_parse((const unsigned char *)text, strlen(text), err, sizeof(err));
    if (!card) {
        done(r, 0, "That card is refused: %s", err);
        return;
    }
    if (!name) {
        card_slug(json_string_value(json_object_get(json_object_get(card, "data"), "name")), slug, sizeof(slug));
        name = slug;
    }
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-')) {
            json_decref(card);
            done(r, 0, "--name: \"%s\" may hold only letters, digits, '_' and '-'", name);
            return;
        }
    if (!*name || strlen(name) > 64 || persona_find(server.rt->personas, name)) {
        json_decref(card);
        done(r, 0, "--name: \"%s\" is %s; choose another with --name", name, *name ? "a persona of the config (or too long)" : "empty");
        return;
    }
    card_revision(card, rev);
    char *json = json_dumps(card, JSON_COMPACT);
    char ckey[300], pkey[300], set[300];
    snprintf(ckey, sizeof(ckey), "%scard:%s", prefix(), name);
    snprintf(pkey, sizeof(pkey), "%spersona:%s", prefix(), name);
    snprintf(set, sizeof(set), "%spersonas:imported", prefix());
    const char *a1[3] = { "SET", ckey, json };
    const char *a2[4] = { "HSET", pkey, "card", rev };
    const char *a3[3] = { "SADD", set, name };
    int bad = batch(r, 3, a1) < 0 || batch(r, 4, a2) < 0 || batch(r, 3, a3) < 0;
    free(json);
    if (bad) {
        json_decref(card);
        done(r, 0, "Redis is not available");
        return;
    }
    const char *model = model_defined(server.rt->cfg, "default") ? "default" : "local";
    persona_import_release(persona_import_put(name, rev, card, model));
    r->data_out = json_pack("{s:s, s:s, s:s}", "name", name, "revision", rev, "display_name",
                            json_string_value(json_object_get(json_object_get(card, "data"), "name")));
    json_decref(card);
    batch_wait(r, then_imported);
}

static void then_imported(struct op_req *r) {
    const char *name = json_string_value(json_object_get(r->data_out, "name"));
    done(r, 1, "Imported \"%s\" as persona %s. Use it with: persona use %s --channel platform:channel",
         json_string_value(json_object_get(r->data_out, "display_name")), name, name);
}

static void then_export(struct op_req *r) {
    redisReply *c = r->replies[0];
    char err[300];
    json_t *card = c && c->type == REDIS_REPLY_STRING ? card_parse((const unsigned char *)c->str, c->len, err, sizeof(err)) : NULL;
    if (!card) {
        done(r, 0, "No persona named \"%s\". Try: persona list", r->argv[2]);
        return;
    }
    r->data_out = card;
    done(r, 1, "The V3 card of %s (chorusctl persona export %s > card.json)", r->argv[2], r->argv[2]);
}

/* persona export NAME: its V3 card (in the answer's data). */
static void cmd_persona_export(struct op_req *r) {
    if (r->argc < 3) {
        done(r, 0, "Usage: persona export NAME");
        return;
    }
    const struct persona *p = persona_find(server.rt->personas, r->argv[2]);
    if (p) {
        r->data_out = persona_to_card(p);
        done(r, 1, "The V3 card of %s (chorusctl persona export %s > card.json)", p->name, p->name);
        return;
    }
    char key[300];
    snprintf(key, sizeof(key), "%scard:%s", prefix(), r->argv[2]);
    const char *argv[2] = { "GET", key };
    if (batch(r, 2, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    batch_wait(r, then_export);
}

/* The preview's text: the words after NAME and the --channel option. */
static void preview_text(struct op_req *r, char *text, size_t len) {
    size_t used = 0;
    int start = 3;
    text[0] = '\0';
    for (int i = 3; i < r->argc; i++)
        if (!strcmp(r->argv[i], "--channel")) start = i + 2;
    for (int i = start; i < r->argc && used < len; i++)
        used += (size_t)snprintf(text + used, len - used, "%s%s", i > start ? " " : "", r->argv[i]);
}

/* The preview: what would be sent, with the persona known (from the config
 * or an import) and the turns recall found (RECALLED, or NULL). */
static void preview_render(struct op_req *r, const struct persona *p, json_t *recalled, const char *recall_err) {
    redisReply *hist = r->replies[r->nreplies - 2], *summary = r->replies[r->nreplies - 1];
    json_t *turns = json_array();
    for (size_t i = 0; hist && hist->type == REDIS_REPLY_ARRAY && i < hist->elements; i++) {
        json_t *t = json_loadb(hist->element[i]->str, hist->element[i]->len, 0, NULL);
        if (json_is_object(t)) json_array_append(turns, t);
        json_decref(t);
    }
    json_t *ctx = json_pack("{s:o}", "turns", turns);
    if (summary && summary->type == REDIS_REPLY_STRING) json_object_set_new(ctx, "summary", json_string(summary->str));
    if (recalled) json_object_set(ctx, "recalled", recalled);
    char text[4000];
    preview_text(r, text, sizeof(text));
    json_t *explain = json_object();
    json_t *messages = prompt_build_explain(p, "User", text, ctx, explain);
    json_object_set_new(explain, "messages", messages);
    json_object_set_new(explain, "persona", json_string(p->name));
    if (p->embedding_model) json_object_set_new(explain, "embedding_model", json_string(p->embedding_model));
    if (recall_err) json_object_set_new(explain, "recall_error", json_string(recall_err));
    json_decref(ctx);
    r->data_out = explain;
    done(r, 1, "%zu messages, about %lld tokens of %lld; %zu lorebook entries, %zu recalled turns (chorusctl persona preview shows them)",
         json_array_size(messages), (long long)json_integer_value(json_object_get(explain, "tokens")),
         (long long)json_integer_value(json_object_get(explain, "budget")), json_array_size(json_object_get(explain, "lore")),
         json_array_size(json_object_get(explain, "recall")));
}

/* Recall answered (or failed): render with what it found. */
static void preview_recalled(json_t *hits, const char *err, const int8_t *query, int dim, void *data) {
    struct op_req *r = data;
    (void)query;
    (void)dim;
    const struct persona *p = persona_find(server.rt->personas, r->argv[2]);
    if (!p) {
        done(r, 0, "No persona named \"%s\". Try: persona list", r->argv[2]);
        return;
    }
    preview_render(r, p, hits, err);
}

/* A persona with recall searches first, as a reply would (the turns in the window excluded). */
static int preview_recall(struct op_req *r, const struct persona *p) {
    const struct model *m = p->embedding_model ? model_find(server.rt->models, p->embedding_model) : NULL;
    const char *channel = target_channel(r, 3);
    if (!m || !channel || !strchr(channel, ':')) return -1;
    redisReply *hist = r->replies[r->nreplies - 2];
    char platform[64], text[4000];
    snprintf(platform, sizeof(platform), "%.*s", (int)(strchr(channel, ':') - channel), channel);
    preview_text(r, text, sizeof(text));
    struct recall_where w = { platform, strchr(channel, ':') + 1, p->name };
    struct recall_opts o = { .k = p->recall_k, .min_score = (float)p->recall_min_score,
                             .exclude = hist && hist->type == REDIS_REPLY_ARRAY ? (long)hist->elements : 0 };
    return *text && recall_find(server.loop, server.redis, server.http, m, &w, text, &o, preview_recalled, r) ? 0 : -1;
}

static void then_preview(struct op_req *r) {
    const struct persona *p = persona_find(server.rt->personas, r->argv[2]);
    if (p) {
        if (preview_recall(r, p) == 0) return;
        preview_render(r, p, NULL, NULL);
        return;
    }
    redisReply *c = r->replies[0];
    char err[300];
    json_t *card = c && c->type == REDIS_REPLY_STRING ? card_parse((const unsigned char *)c->str, c->len, err, sizeof(err)) : NULL;
    if (!card) {
        done(r, 0, "No persona named \"%s\". Try: persona list", r->argv[2]);
        return;
    }
    struct persona *imp = persona_from_card(r->argv[2], card, model_defined(server.rt->cfg, "default") ? "default" : "local");
    json_decref(card);
    preview_render(r, imp, NULL, NULL);
    persona_free(imp);
}

/* persona preview NAME [--channel platform:channel] TEXT: the messages that would be sent, without a model call. */
static void cmd_persona_preview(struct op_req *r) {
    const char *channel = target_channel(r, 3);
    if (r->argc < 4 || !channel || !strchr(channel, ':')) {
        done(r, 0, "Usage: persona preview NAME --channel platform:channel TEXT");
        return;
    }
    const struct persona *p = persona_find(server.rt->personas, r->argv[2]);
    char platform[64], hist[1200], summ[1200], suffix[200], card[300], from[24];
    snprintf(platform, sizeof(platform), "%.*s", (int)(strchr(channel, ':') - channel), channel);
    snprintf(suffix, sizeof(suffix), ":history:%s", r->argv[2]);
    store_channel_key(server.redis, platform, strchr(channel, ':') + 1, suffix, hist, sizeof(hist));
    snprintf(suffix, sizeof(suffix), ":summary:%s", r->argv[2]);
    store_channel_key(server.redis, platform, strchr(channel, ':') + 1, suffix, summ, sizeof(summ));
    snprintf(card, sizeof(card), "%scard:%s", prefix(), r->argv[2]);
    snprintf(from, sizeof(from), "%ld", -(p ? 2 * p->history_turns : 48));
    const char *a0[2] = { "GET", card };
    const char *a1[4] = { "LRANGE", hist, from, "-1" };
    const char *a2[2] = { "GET", summ };
    if ((!p && batch(r, 2, a0) < 0) || batch(r, 4, a1) < 0 || batch(r, 2, a2) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    batch_wait(r, then_preview);
}

static void then_persona_show(struct op_req *r) {
    const struct persona *p = persona_find(server.rt->personas, r->argv[2]);
    char text[6000];
    size_t used = (size_t)snprintf(text, sizeof(text), "%s (%s)\nmodel: %s\nprompt: %s", p->name, p->display_name, p->model, p->prompt);
    json_t *live = json_object();
    redisReply *h = r->replies[0];
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        json_object_set_new(live, h->element[i]->str, json_string(h->element[i + 1]->str));
        if (used < sizeof(text))
            used += (size_t)snprintf(text + used, sizeof(text) - used, "\nlive edit: %s = %s", h->element[i]->str, h->element[i + 1]->str);
    }
    r->data_out = json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", p->name, "display_name", p->display_name, "model", p->model,
                            "prompt", p->prompt, "live", live);
    done(r, 1, "%s", text);
}

static void cmd_persona_show(struct op_req *r) {
    if (r->argc < 3 || !persona_find(server.rt->personas, r->argv[2])) {
        done(r, 0, "No persona named \"%s\". Try: persona list", r->argc >= 3 ? r->argv[2] : "");
        return;
    }
    char key[300];
    snprintf(key, sizeof(key), "%spersona:%s", prefix(), r->argv[2]);
    const char *argv[2] = { "HGETALL", key };
    if (batch(r, 2, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    batch_wait(r, then_persona_show);
}

static void then_persona_use(struct op_req *r) {
    if (reply_int(r, 0) == 0) {
        done(r, 0, "No persona named \"%s\". Try: persona list", r->argv[2]);
        return;
    }
    for (int i = 0; i < r->nreplies; i++) {
        freeReplyObject(r->replies[i]);
        r->replies[i] = NULL;
    }
    r->nreplies = 0;
    r->argv[r->argc++] = xstrdup("--imported");
    cmd_persona_use(r);
}

static void cmd_persona_use(struct op_req *r) {
    const char *channel = target_channel(r, 3);
    int imported = r->argc > 3 && !strcmp(r->argv[r->argc - 1], "--imported");
    if (r->argc >= 3 && !imported && !persona_find(server.rt->personas, r->argv[2]) && r->argc < MAX_ARGS) {
        /* Not in the config: an imported card? */
        char key[300];
        snprintf(key, sizeof(key), "%scard:%s", prefix(), r->argv[2]);
        const char *argv[2] = { "EXISTS", key };
        if (batch(r, 2, argv) < 0) {
            done(r, 0, "Redis is not available");
            return;
        }
        batch_wait(r, then_persona_use);
        return;
    }
    if (r->argc < 3) {
        done(r, 0, "No persona named \"\". Try: persona list");
        return;
    }
    if (!channel || !strchr(channel, ':')) {
        done(r, 0, "Which channel? Give --channel platform:channel");
        return;
    }
    char platform[64], key[1200];
    snprintf(platform, sizeof(platform), "%.*s", (int)(strchr(channel, ':') - channel), channel);
    store_channel_key(server.redis, platform, strchr(channel, ':') + 1, ":persona", key, sizeof(key));
    const char *argv[3] = { "SET", key, r->argv[2] };
    if (batch(r, 3, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    r->data_out = json_pack("{s:s, s:s}", "channel", channel, "persona", r->argv[2]);
    batch_wait(r, then_ok);
}

static void cmd_persona_edit(struct op_req *r) {
    static const char *const editable[] = { "prompt", "display_name", "apology", "model", NULL };
    if (r->argc < 5 || !persona_find(server.rt->personas, r->argv[2])) {
        done(r, 0, "Usage: persona edit NAME FIELD VALUE... (fields: prompt, display_name, apology, model)");
        return;
    }
    int ok = 0;
    for (int i = 0; editable[i]; i++) ok |= !strcmp(editable[i], r->argv[3]);
    if (!ok) {
        done(r, 0, "\"%s\" cannot be edited live (fields: prompt, display_name, apology, model)", r->argv[3]);
        return;
    }
    if (!strcmp(r->argv[3], "model") && !router_defined(server.rt->cfg, r->argv[4])) {
        done(r, 0, "No model or route named \"%s\"", r->argv[4]);
        return;
    }
    char value[4000] = "", key[300];
    size_t used = 0;
    for (int i = 4; i < r->argc; i++) used += (size_t)snprintf(value + used, sizeof(value) - used, "%s%s", i > 4 ? " " : "", r->argv[i]);
    snprintf(key, sizeof(key), "%spersona:%s", prefix(), r->argv[2]);
    const char *argv[4] = { "HSET", key, r->argv[3], value };
    if (batch(r, 4, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    r->data_out = json_pack("{s:s, s:s, s:s}", "persona", r->argv[2], "field", r->argv[3], "value", value);
    batch_wait(r, then_ok);
}

/* The loaded plugins, as rows. */
static json_t *plugins_json(const struct skill_host *h) {
    json_t *list = json_array();
    for (int i = 0; i < h->nplugins; i++) {
        const struct plugin *p = h->plugins[i];
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:i}", "name", p->name,
            "version", p->version ? p->version : "", "description", p->description ? p->description : "",
            "dir", p->dir, "memory_bytes", (json_int_t)p->mem, "memory_limit", (json_int_t)p->mem_limit,
            "running", p->ntasks));
    }
    return list;
}

/* Is NAME in the set reply REP? */
static int in_set(const redisReply *rep, const char *name) {
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        if (rep->element[i]->str && !strcmp(rep->element[i]->str, name)) return 1;
    return 0;
}

/* The list, with each plugin's state in the channel when one is known
 * (replies: the channel's disabled set, then the global one). */
static void then_plugins_list(struct op_req *r) {
    struct skill_host *h = server.rt->skills;
    const char *channel = target_channel(r, 2);
    json_t *list = plugins_json(h);
    char text[4000];
    size_t used = (size_t)snprintf(text, sizeof(text), "Plugins%s%s:", r->nreplies ? " in " : "", r->nreplies ? channel : "");
    for (int i = 0; i < h->nplugins && used < sizeof(text); i++) {
        const char *name = h->plugins[i]->name;
        int here = r->nreplies ? in_set(r->replies[0], name) : 0;
        int all = r->nreplies > 1 ? in_set(r->replies[1], name) : 0;
        if (r->nreplies) {
            json_t *row = json_array_get(list, (size_t)i);
            json_object_set_new(row, "disabled_here", json_boolean(here));
            json_object_set_new(row, "disabled_everywhere", json_boolean(all));
            json_object_set_new(row, "enabled", json_boolean(!here && !all));
        }
        used += (size_t)snprintf(text + used, sizeof(text) - used, "\n  %s %s — %s%s", name,
                                 h->plugins[i]->version ? h->plugins[i]->version : "",
                                 h->plugins[i]->description ? h->plugins[i]->description : "",
                                 all ? " (off everywhere)" : here ? " (off here)" : "");
    }
    r->data_out = r->nreplies ? json_pack("{s:o, s:s}", "plugins", list, "channel", channel) : json_pack("{s:o}", "plugins", list);
    done(r, 1, "%s", text);
}

/* plugins list [--channel platform:channel] */
static void cmd_plugins_list(struct op_req *r) {
    const char *channel = target_channel(r, 2);
    if (!channel) {
        then_plugins_list(r);
        return;
    }
    char key[1200], all[300], esc[700];
    store_escape(channel, esc, sizeof(esc));
    snprintf(key, sizeof(key), "%sdisabled:%s", prefix(), esc);
    snprintf(all, sizeof(all), "%sdisabled:*", prefix());
    const char *a1[2] = { "SMEMBERS", key }, *a2[2] = { "SMEMBERS", all };
    if (batch(r, 2, a1) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    batch(r, 2, a2);   /* the first is already on its way: wait for it either way */
    batch_wait(r, then_plugins_list);
}

/* skill enable|disable NAME [--channel platform:channel | --everywhere] */
static void cmd_skill_toggle(struct op_req *r) {
    int enable = !strcmp(r->argv[1], "enable");
    if (r->argc < 3 || !skills_find(server.rt->skills, r->argv[2])) {
        done(r, 0, "No plugin named \"%s\". Try: plugins list", r->argc >= 3 ? r->argv[2] : "");
        return;
    }
    int everywhere = 0;
    for (int i = 3; i < r->argc; i++) everywhere |= !strcmp(r->argv[i], "--everywhere");
    const char *channel = everywhere ? "*" : target_channel(r, 3);
    if (!channel) {
        done(r, 0, "Which channel? Give --channel platform:channel or --everywhere");
        return;
    }
    char key[1200], esc[700];
    store_escape(channel, esc, sizeof(esc));
    snprintf(key, sizeof(key), "%sdisabled:%s", prefix(), esc);
    const char *argv[3] = { enable ? "SREM" : "SADD", key, r->argv[2] };
    if (batch(r, 3, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    r->data_out = json_pack("{s:s, s:s, s:b}", "plugin", r->argv[2], "channel", channel, "enabled", enable);
    batch_wait(r, then_ok);
}

/* plugins reload [NAME]: the loaded ones again, and new plugin folders. */
static void cmd_plugins_reload(struct op_req *r) {
    char err[4096];
    const char *name = r->argc >= 3 ? r->argv[2] : NULL;
    struct skill_host *h = server.rt->skills;
    int before = h->nplugins;
    json_t *had = json_array();
    for (int i = 0; i < h->nplugins; i++) json_array_append_new(had, json_string(h->plugins[i]->name));
    int rc = skills_reload(h, name, err, sizeof(err));
    json_t *added = json_array();
    for (int i = before; i < h->nplugins; i++) json_array_append_new(added, json_string(h->plugins[i]->name));
    if (rc < 0) {
        json_decref(had);
        json_decref(added);
        done(r, 0, "%s", err);
        return;
    }
    scheduler_sync(h);
    json_t *reloaded = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(had, i, v) if (!name || !strcmp(name, json_string_value(v))) json_array_append(reloaded, v);
    json_decref(had);
    r->data_out = json_pack("{s:o, s:o}", "reloaded", reloaded, "added", added);
    if (json_array_size(added) > 0) {
        char names[1000] = "";
        size_t used = 0;
        json_array_foreach(added, i, v)
            if (used < sizeof(names)) used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", json_string_value(v));
        done(r, 1, "Reloaded %s; new: %s.", name ? name : "every plugin", names);
        return;
    }
    done(r, 1, "Reloaded %s.", name ? name : "every plugin");
}

/* op USER ROLE [--channel X] / deop USER [--channel X]: grant and take roles. */
static void cmd_op(struct op_req *r) {
    int deop = !strcmp(r->argv[0], "deop");
    if (r->argc < (deop ? 2 : 3) || !strchr(r->argv[1], ':')) {
        done(r, 0, "Usage: %s platform:user%s [--channel platform:channel]", r->argv[0], deop ? "" : " moderator|admin|owner");
        return;
    }
    int role = deop ? 0 : role_of(r->argv[2]);
    if (!deop && role <= 0) {
        done(r, 0, "The role must be moderator, admin or owner");
        return;
    }
    if (!deop && role >= (int)r->role && r->role != ROLE_OWNER) {
        done(r, 0, "You (%s) can only grant roles below your own", role_name(r->role));
        return;
    }
    const char *scope = "*";
    for (int i = 2; i + 1 < r->argc; i++)
        if (!strcmp(r->argv[i], "--channel")) scope = r->argv[i + 1];
    char key[1200], esc[700];
    store_escape(r->argv[1], esc, sizeof(esc));
    snprintf(key, sizeof(key), "%sroles:%s", prefix(), esc);
    const char *grant[4] = { "HSET", key, scope, role_name((enum role)role) };
    const char *revoke[3] = { "HDEL", key, scope };
    if (batch(r, deop ? 3 : 4, deop ? revoke : grant) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    r->data_out = json_pack("{s:s, s:s, s:s}", "user", r->argv[1], "role", deop ? "user" : role_name((enum role)role),
                            "channel", scope);
    batch_wait(r, then_ok);
}

/* ban/unban/ignore/unignore platform:user */
static void cmd_userset(struct op_req *r) {
    const char *verb = r->argv[0];
    int add = !strcmp(verb, "ban") || !strcmp(verb, "ignore");
    const char *set = !strcmp(verb, "ban") || !strcmp(verb, "unban") ? "banned" : "ignored";
    if (r->argc < 2 || !strchr(r->argv[1], ':')) {
        done(r, 0, "Usage: %s platform:user", verb);
        return;
    }
    char key[300];
    snprintf(key, sizeof(key), "%s%s", prefix(), set);
    const char *argv[3] = { add ? "SADD" : "SREM", key, r->argv[1] };
    if (batch(r, 3, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    r->data_out = json_pack("{s:s, s:b}", "user", r->argv[1], set, add);
    batch_wait(r, then_ok);
}

static void cmd_mute(struct op_req *r) {
    int mute = !strcmp(r->argv[0], "mute");
    const char *channel = r->argc >= 2 && strchr(r->argv[1], ':') ? r->argv[1] : r->channel;
    if (!channel) {
        done(r, 0, "Usage: %s platform:channel", r->argv[0]);
        return;
    }
    char key[300];
    snprintf(key, sizeof(key), "%smuted", prefix());
    const char *argv[3] = { mute ? "SADD" : "SREM", key, channel };
    if (batch(r, 3, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    r->data_out = json_pack("{s:s, s:b}", "channel", channel, "muted", mute);
    batch_wait(r, then_ok);
}

/* The channel a manners command means (--channel, else where it was
 * typed) and its manners hash in KEY; NULL when there is none. */
static const char *manners_key(struct op_req *r, char *key, size_t len) {
    const char *channel = target_channel(r, 2);
    const char *colon = channel ? strchr(channel, ':') : NULL;
    if (!colon) return NULL;
    char platform[64];
    snprintf(platform, sizeof(platform), "%.*s", (int)(colon - channel), channel);
    store_channel_key(server.redis, platform, colon + 1, ":manners", key, len);
    return channel;
}

static void then_manners(struct op_req *r) {
    const char *channel = json_string_value(json_object_get(r->data_out, "channel"));
    const char *reply = json_string_value(json_object_get(r->data_out, "reply"));
    const char *proactive = json_string_value(json_object_get(r->data_out, "proactive"));
    if (reply && !strcmp(reply, "default"))
        done(r, 1, "Done. In %s I follow the configured manners again.", channel);
    else if (reply)
        done(r, 1, "Done. In %s I now answer %s.", channel,
             !strcmp(reply, "always") ? "every message" : !strcmp(reply, "auto")
                 ? "when I am addressed or the conversation is plainly for me" : "only when I am addressed");
    else
        done(r, 1, "Done. In %s I %s.", channel, !strcmp(proactive, "off") ? "will not speak first any more"
                                                                          : "may speak first again, as configured");
}

/* reply addressed|auto|always|default [--channel C]: a channel's group-chat mode. */
static void cmd_reply(struct op_req *r) {
    const char *mode = r->argc >= 2 ? r->argv[1] : "";
    char key[1200];
    if (strcmp(mode, "default") && manners_reply_of(mode) == MANNERS_UNSET) {
        done(r, 0, "Usage: reply addressed|auto|always|default [--channel platform:channel]");
        return;
    }
    const char *channel = manners_key(r, key, sizeof(key));
    if (!channel) {
        done(r, 0, "Which channel? Give --channel platform:channel");
        return;
    }
    const char *set[4] = { "HSET", key, "reply", mode };
    const char *del[3] = { "HDEL", key, "reply" };
    if (strcmp(mode, "default") ? batch(r, 4, set) : batch(r, 3, del)) {
        done(r, 0, "Redis is not available");
        return;
    }
    r->data_out = json_pack("{s:s, s:s}", "channel", channel, "reply", mode);
    batch_wait(r, then_manners);
}

/* proactive off|on [--channel C]: anyone may ask the persona not to speak
 * first in a channel; only a moderator may allow it again. */
static void cmd_proactive(struct op_req *r) {
    const char *what = r->argc >= 2 ? r->argv[1] : "";
    char key[1200];
    if (strcmp(what, "off") && strcmp(what, "on")) {
        done(r, 0, "Usage: proactive off|on [--channel platform:channel]");
        return;
    }
    if (!strcmp(what, "on") && r->role < ROLE_MODERATOR) {
        done(r, 0, "Sorry, \"proactive on\" needs the moderator role; you are %s.", role_name(r->role));
        return;
    }
    const char *channel = manners_key(r, key, sizeof(key));
    if (!channel) {
        done(r, 0, "Which channel? Give --channel platform:channel");
        return;
    }
    const char *set[4] = { "HSET", key, "proactive", "off" };
    const char *del[3] = { "HDEL", key, "proactive" };
    if (!strcmp(what, "off") ? batch(r, 4, set) : batch(r, 3, del)) {
        done(r, 0, "Redis is not available");
        return;
    }
    r->data_out = json_pack("{s:s, s:s}", "channel", channel, "proactive", what);
    batch_wait(r, then_manners);
}

static void then_quota_show(struct op_req *r) {
    char text[4000];
    size_t used = (size_t)snprintf(text, sizeof(text), "Budgets (money in currency units):");
    json_t *list = json_array();
    int i = 0;
    for (struct config_block *b = config_first(server.rt->cfg, "budget"); b; b = config_next(b, "budget")) {
        json_t *money = json_object_get(b->value, "money");
        if (used < sizeof(text))
            used += (size_t)snprintf(text + used, sizeof(text) - used, "\n  %s: %s per %s, money %.6g, tokens %ld, concurrent %ld",
                                     b->name, config_str(b, "scope", "user"), config_str(b, "period", "day"),
                                     money ? json_number_value(money) : 0.0, config_int(b, "tokens", 0), config_int(b, "concurrent", 0));
        json_t *live = json_object();
        redisReply *h = i < r->nreplies ? r->replies[i] : NULL;
        for (size_t k = 0; h && h->type == REDIS_REPLY_ARRAY && k + 1 < h->elements; k += 2) {
            /* Live money limits are kept in micro-units: shown in currency units like the config's. */
            int is_money = !strcmp(h->element[k]->str, "money");
            long long v = strtoll(h->element[k + 1]->str, NULL, 10);
            json_object_set_new(live, h->element[k]->str, is_money ? json_real((double)v / 1e6) : json_integer(v));
            if (used < sizeof(text) && is_money)
                used += (size_t)snprintf(text + used, sizeof(text) - used, "; live money %.6g", (double)v / 1e6);
            else if (used < sizeof(text))
                used += (size_t)snprintf(text + used, sizeof(text) - used, "; live %s %lld", h->element[k]->str, v);
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:f, s:I, s:I, s:o}", "name", b->name,
            "scope", config_str(b, "scope", "user"), "period", config_str(b, "period", "day"),
            "money", money ? json_number_value(money) : 0.0, "tokens", (json_int_t)config_int(b, "tokens", 0),
            "concurrent", (json_int_t)config_int(b, "concurrent", 0), "live", live));
        i++;
    }
    r->data_out = json_pack("{s:o}", "budgets", list);
    done(r, 1, "%s", text);
}

static void cmd_quota_show(struct op_req *r) {
    for (struct config_block *b = config_first(server.rt->cfg, "budget"); b; b = config_next(b, "budget")) {
        char key[300];
        snprintf(key, sizeof(key), "%sbudget-limit:%s", prefix(), b->name);
        const char *argv[2] = { "HGETALL", key };
        if (batch(r, 2, argv) < 0) break;
    }
    batch_wait(r, then_quota_show);
}

/* quota set BUDGET money|tokens|concurrent VALUE: a live limit, in Redis. */
static void cmd_quota_set(struct op_req *r) {
    if (r->argc < 5 || !config_find(server.rt->cfg, "budget", r->argv[2]) ||
        (strcmp(r->argv[3], "money") && strcmp(r->argv[3], "tokens") && strcmp(r->argv[3], "concurrent"))) {
        done(r, 0, "Usage: quota set BUDGET money|tokens|concurrent VALUE (money in currency units)");
        return;
    }
    char *end;
    double v = strtod(r->argv[4], &end);
    if (*end || v < 0) {
        done(r, 0, "\"%s\" is not a number", r->argv[4]);
        return;
    }
    char key[300], num[32];
    snprintf(key, sizeof(key), "%sbudget-limit:%s", prefix(), r->argv[2]);
    snprintf(num, sizeof(num), "%lld", !strcmp(r->argv[3], "money") ? (long long)(v * 1e6 + 0.5) : (long long)v);
    const char *argv[4] = { "HSET", key, r->argv[3], num };
    if (batch(r, 4, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    r->data_out = json_pack("{s:s, s:s, s:f}", "budget", r->argv[2], "field", r->argv[3], "value", v);
    batch_wait(r, then_ok);
}

/* say platform:channel TEXT */
static void cmd_say(struct op_req *r) {
    if (r->argc < 3 || !strchr(r->argv[1], ':')) {
        done(r, 0, "Usage: say platform:channel TEXT");
        return;
    }
    char platform[64], text[4000] = "";
    size_t used = 0;
    snprintf(platform, sizeof(platform), "%.*s", (int)(strchr(r->argv[1], ':') - r->argv[1]), r->argv[1]);
    struct platform *p = platform_find(platform);
    if (!p) {
        done(r, 0, "No platform named \"%s\"", platform);
        return;
    }
    for (int i = 2; i < r->argc; i++) used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s", i > 2 ? " " : "", r->argv[i]);
    if (platform_send_text(p, strchr(r->argv[1], ':') + 1, text, strlen(text), NULL,
                           server.rt->personas->fallback->name, NULL, NULL) < 0) {
        done(r, 0, "The platform could not send it");
        return;
    }
    r->data_out = json_pack("{s:s, s:s}", "channel", r->argv[1], "text", text);
    done(r, 1, "Said it in %s.", r->argv[1]);
}

static void then_broadcast(struct op_req *r) {
    char text[4000] = "";
    size_t used = 0;
    int sent = 0;
    for (int i = 1; i < r->argc; i++) used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s", i > 1 ? " " : "", r->argv[i]);
    redisReply *m = r->replies[0];
    for (size_t i = 0; m && m->type == REDIS_REPLY_ARRAY && i < m->elements; i++) {
        const char *ch = m->element[i]->str;
        const char *colon = ch ? strchr(ch, ':') : NULL;
        if (!colon) continue;
        char platform[64];
        snprintf(platform, sizeof(platform), "%.*s", (int)(colon - ch), ch);
        struct platform *p = platform_find(platform);
        if (p && platform_send_text(p, colon + 1, text, strlen(text), NULL, server.rt->personas->fallback->name, NULL, NULL) == 0)
            sent++;
    }
    r->data_out = json_pack("{s:i, s:s}", "channels", sent, "text", text);
    done(r, 1, "Broadcast to %d channels.", sent);
}

static void cmd_broadcast(struct op_req *r) {
    if (r->argc < 2) {
        done(r, 0, "Usage: broadcast TEXT");
        return;
    }
    char key[300];
    snprintf(key, sizeof(key), "%schannels", prefix());
    const char *argv[2] = { "SMEMBERS", key };
    if (batch(r, 2, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    batch_wait(r, then_broadcast);
}

static void then_forget(struct op_req *r) {
    r->data_out = json_pack("{s:s, s:I}", "user", r->argv[1], "turns_removed", (json_int_t)reply_int(r, 0));
    done(r, 1, "Forgot %s: %lld turns removed, facts and relationship deleted.", r->argv[1], reply_int(r, 0));
}

/* forget platform:user: what the personas know of them, everywhere. */
static void cmd_forget(struct op_req *r) {
    if (r->argc < 2 || !strchr(r->argv[1], ':')) {
        done(r, 0, "Usage: forget platform:user");
        return;
    }
    char raw[700], esc[800], seen[1200];
    snprintf(raw, sizeof(raw), "user:%s", r->argv[1]);
    store_escape(raw, esc, sizeof(esc));
    snprintf(seen, sizeof(seen), "%s%s:seen", prefix(), esc);
    const char *user = strchr(r->argv[1], ':') + 1;
    const char *argv[6] = { "EVAL", store_forget_script(), "1", seen, user, prefix() };
    if (redis_client_cluster(server.redis) ? batch_forget_split(r, seen, user) < 0 : batch(r, 6, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    batch_wait(r, then_forget);
}

static void on_ledger(json_t *report, const char *err, void *data) {
    struct op_req *r = data;
    if (!report) {
        done(r, 0, "%s", err);
        return;
    }
    r->data_out = json_incref(report);
    json_t *text = json_object_get(report, "text");
    done(r, 1, "%s", json_string_value(text) ? json_string_value(text) : "");
}

/* Is S a real calendar day written YYYY-MM-DD (2026-02-30 is not)? */
static int is_day(const char *s) {
    struct tm tm = { 0 };
    char *end = strptime(s, "%Y-%m-%d", &tm);
    if (!end || *end || strlen(s) != 10) return 0;
    time_t t = timegm(&tm);
    struct tm back;
    char again[16];
    gmtime_r(&t, &back);
    strftime(again, sizeof(again), "%Y-%m-%d", &back);
    return !strcmp(again, s);
}

/* ledger [--persona P] [--from DAY] [--to DAY], or positionally
 * ledger [PERSONA] [FROM] [TO]; no persona (or "all") means every persona;
 * days are YYYY-MM-DD, by default the last 7 days. */
static void cmd_ledger(struct op_req *r) {
    const char *persona = NULL, *from = NULL, *to = NULL;
    const char **slots[3] = { &persona, &from, &to };
    int next = 0;
    for (int i = 1; i < r->argc; i++) {
        const char *a = r->argv[i];
        const char **flag = !strcmp(a, "--persona") ? &persona : !strcmp(a, "--from") ? &from : !strcmp(a, "--to") ? &to : NULL;
        if (flag && i + 1 < r->argc) *flag = r->argv[++i];
        else if (flag || !strncmp(a, "--", 2)) {
            done(r, 0, "ledger: %s %s. Usage: ledger [--persona P] [--from YYYY-MM-DD] [--to YYYY-MM-DD]", a,
                 flag ? "needs a value" : "is not an option of the ledger");
            return;
        } else {
            if (next == 0 && a[0] >= '0' && a[0] <= '9') next = 1;   /* no persona given: a day */
            if (next >= 3) {
                done(r, 0, "ledger: too many arguments. Usage: ledger [--persona P] [--from YYYY-MM-DD] [--to YYYY-MM-DD]");
                return;
            }
            *slots[next++] = a;
        }
    }
    if (persona && (!*persona || !strcmp(persona, "all") || !strcmp(persona, "*"))) persona = NULL;
    if (persona && !persona_find(server.rt->personas, persona)) {
        done(r, 0, "No persona named \"%s\". Try: persona list", persona);
        return;
    }
    if ((from && !is_day(from)) || (to && !is_day(to))) {
        done(r, 0, "\"%s\" is not a date: write days as YYYY-MM-DD (e.g. 2026-11-30)", from && !is_day(from) ? from : to);
        return;
    }
    char err[200];
    if (ledger_report(persona, from, to, on_ledger, r, err, sizeof(err)) < 0) done(r, 0, "%s", err);
}

/* The newest audit entries, as rows and as text. */
static void then_audit(struct op_req *r) {
    json_t *rows = json_array();
    char text[8000];
    size_t used = (size_t)snprintf(text, sizeof(text), "Recent admin actions (newest first):");
    redisReply *m = r->replies[0];
    for (size_t i = 0; m && m->type == REDIS_REPLY_ARRAY && i < m->elements; i++) {
        redisReply *e = m->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
        json_t *row = json_object();
        redisReply *kv = e->element[1];
        for (size_t k = 0; kv->type == REDIS_REPLY_ARRAY && k + 1 < kv->elements; k += 2)
            json_object_set_new(row, kv->element[k]->str, json_string(kv->element[k + 1]->str));
        json_array_append_new(rows, row);
        if (used < sizeof(text) - 300) {
            time_t t = (time_t)strtod(json_string_value(json_object_get(row, "ts")) ? json_string_value(json_object_get(row, "ts")) : "0", NULL);
            char when[32];
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
            used += (size_t)snprintf(text + used, sizeof(text) - used, "\n  %s  %s (%s) in %s: %s -> %s", when,
                json_string_value(json_object_get(row, "who")), json_string_value(json_object_get(row, "role")),
                json_string_value(json_object_get(row, "where")), json_string_value(json_object_get(row, "what")),
                json_string_value(json_object_get(row, "result")));
        }
    }
    r->data_out = rows;
    done(r, 1, "%s", text);
}

/* audit [N]: the newest admin actions (reading them is audited too). */
static void cmd_audit(struct op_req *r) {
    char stream[300], count[16];
    snprintf(stream, sizeof(stream), "%saudit", prefix());
    snprintf(count, sizeof(count), "%d", r->argc >= 2 ? atoi(r->argv[1]) > 0 ? atoi(r->argv[1]) : 20 : 20);
    const char *argv[6] = { "XREVRANGE", stream, "+", "-", "COUNT", count };
    if (batch(r, 6, argv) < 0) {
        done(r, 0, "Redis is not available");
        return;
    }
    batch_wait(r, then_audit);
}

static void then_ok(struct op_req *r) {
    done(r, 1, "Done.");
}

static const struct command commands[] = {
    { "help", NULL, ROLE_USER, "help", "the commands you may use", cmd_help },
    { "status", NULL, ROLE_MODERATOR, "status", "platforms, Redis, replies in flight, model health", cmd_status },
    { "persona", "list", ROLE_MODERATOR, "persona list", "the personas", cmd_persona_list },
    { "persona", "show", ROLE_MODERATOR, "persona show NAME", "one persona, with live edits", cmd_persona_show },
    { "persona", "use", ROLE_ADMIN, "persona use NAME [--channel platform:channel]", "who speaks in a channel", cmd_persona_use },
    { "persona", "import", ROLE_ADMIN, "persona import [--name NAME] CARD-JSON", "a character card as a new persona", cmd_persona_import },
    { "persona", "export", ROLE_ADMIN, "persona export NAME", "a persona as a V3 character card", cmd_persona_export },
    { "persona", "preview", ROLE_MODERATOR, "persona preview NAME --channel platform:channel TEXT", "the prompt that would be sent, without a model call", cmd_persona_preview },
    { "persona", "edit", ROLE_ADMIN, "persona edit NAME prompt|display_name|apology|model VALUE", "change a persona live", cmd_persona_edit },
    { "plugins", "list", ROLE_MODERATOR, "plugins list", "the plugins (with --channel C: whether each is on there)", cmd_plugins_list },
    { "plugins", "enable", ROLE_ADMIN, "plugins enable NAME [--channel C | --everywhere]", "turn a plugin back on", cmd_skill_toggle },
    { "plugins", "disable", ROLE_ADMIN, "plugins disable NAME [--channel C | --everywhere]", "turn a plugin off", cmd_skill_toggle },
    { "plugins", "reload", ROLE_ADMIN, "plugins reload [NAME]", "reload plugins from disk, and load new plugin folders", cmd_plugins_reload },
    { "op", NULL, ROLE_ADMIN, "op platform:user ROLE [--channel C]", "grant moderator, admin or owner", cmd_op },
    { "deop", NULL, ROLE_ADMIN, "deop platform:user [--channel C]", "take a role back", cmd_op },
    { "ban", NULL, ROLE_MODERATOR, "ban platform:user", "never answer this user", cmd_userset },
    { "unban", NULL, ROLE_MODERATOR, "unban platform:user", "lift a ban", cmd_userset },
    { "ignore", NULL, ROLE_MODERATOR, "ignore platform:user", "quietly ignore this user", cmd_userset },
    { "unignore", NULL, ROLE_MODERATOR, "unignore platform:user", "stop ignoring", cmd_userset },
    { "mute", NULL, ROLE_MODERATOR, "mute [platform:channel]", "stay silent in a channel", cmd_mute },
    { "unmute", NULL, ROLE_MODERATOR, "unmute [platform:channel]", "speak again", cmd_mute },
    { "reply", NULL, ROLE_MODERATOR, "reply addressed|auto|always|default [--channel platform:channel]", "when the persona answers in a channel", cmd_reply },
    { "proactive", NULL, ROLE_USER, "proactive off|on [--channel platform:channel]", "stop (anyone) or allow (moderator) speaking first in a channel", cmd_proactive },
    { "quota", "show", ROLE_MODERATOR, "quota show", "the budgets and live limits", cmd_quota_show },
    { "quota", "set", ROLE_ADMIN, "quota set BUDGET money|tokens|concurrent VALUE", "change a budget's limit live", cmd_quota_set },
    { "say", NULL, ROLE_ADMIN, "say platform:channel TEXT", "speak as the default persona", cmd_say },
    { "broadcast", NULL, ROLE_OWNER, "broadcast TEXT", "say it in every active channel", cmd_broadcast },
    { "forget", NULL, ROLE_ADMIN, "forget platform:user", "delete what the personas know of a user", cmd_forget },
    { "ledger", NULL, ROLE_ADMIN, "ledger [--persona P] [--from YYYY-MM-DD] [--to YYYY-MM-DD]", "usage, cost, value and revenue share (default: every persona, the last 7 days)", cmd_ledger },
    { "audit", NULL, ROLE_ADMIN, "audit [N]", "the newest admin actions", cmd_audit },
    { NULL, NULL, ROLE_USER, NULL, NULL, NULL }
};

/* Older spellings, still accepted: they name the same commands. */
static const char *const aliases[][4] = {
    { "skill", "list", "plugins", "list" },
    { "skill", "enable", "plugins", "enable" },
    { "skill", "disable", "plugins", "disable" },
    { "plugin", "reload", "plugins", "reload" },
    { "plugin", "list", "plugins", "list" },
    { "skills", "list", "plugins", "list" },
};

/* Rewrite an old spelling in ARGV to the command's name. */
static void resolve_alias(int argc, char **argv) {
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (argc >= 2 && !strcmp(argv[0], aliases[i][0]) && !strcmp(argv[1], aliases[i][1])) {
            free(argv[0]);
            free(argv[1]);
            argv[0] = xstrdup(aliases[i][2]);
            argv[1] = xstrdup(aliases[i][3]);
            return;
        }
}

/* Find the command for ARGV, or NULL. */
static const struct command *find_command(int argc, char **argv) {
    for (const struct command *c = commands; c->name; c++)
        if (!strcmp(c->name, argv[0]) && (!c->sub || (argc >= 2 && !strcmp(c->sub, argv[1])))) return c;
    return NULL;
}

/* The actor's role is known: check it and run the command. */
static void execute(struct op_req *r) {
    const struct command *c = find_command(r->argc, r->argv);
    if (!c) {
        done(r, 0, "Unknown command \"%s\". Try: %s help", r->argv[0], operator_prefix());
        return;
    }
    r->cmd = c;
    if (r->role < c->min) {
        done(r, 0, "Sorry, \"%s\" needs the %s role; you are %s.", c->usage, role_name(c->min), role_name(r->role));
        return;
    }
    c->run(r);
}

static void then_role(struct op_req *r) {
    int best = ROLE_USER;
    redisReply *h = r->replies[0];
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i < h->elements; i++) {
        int role = h->element[i]->str ? role_of(h->element[i]->str) : -1;
        if (role > best) best = role;
    }
    r->role = (enum role)best;
    for (int i = 0; i < r->nreplies; i++) {
        freeReplyObject(r->replies[i]);
        r->replies[i] = NULL;
    }
    r->nreplies = 0;
    execute(r);
}

void operator_run(const struct actor *a, int argc, char **argv, operator_done_fn *cb, void *data) {
    struct op_req *r = xcalloc(1, sizeof(*r));
    r->platform = xstrdup(a->platform ? a->platform : "-");
    r->user_id = xstrdup(a->user_id ? a->user_id : "-");
    r->channel = a->channel ? xstrdup(a->channel) : NULL;
    r->guest = a->guest;
    r->local = a->local;
    r->cb = cb;
    r->data = data;
    for (int i = 0; i < argc && i < MAX_ARGS; i++) r->argv[r->argc++] = xstrdup(argv[i]);
    if (r->argc == 0) r->argv[r->argc++] = xstrdup("help");
    if (r->argc == 1 && !strcmp(r->argv[0], "plugins")) r->argv[r->argc++] = xstrdup("list");
    resolve_alias(r->argc, r->argv);
    if (a->local || configured_owner(r->platform, r->user_id)) {
        r->role = ROLE_OWNER;
        execute(r);
        return;
    }
    if (a->guest) {
        r->role = ROLE_USER;
        execute(r);
        return;
    }
    /* Roles live in Redis: the global one and the channel's. */
    char key[1200], id[700], esc[800];
    snprintf(id, sizeof(id), "%s:%s", r->platform, r->user_id);
    store_escape(id, esc, sizeof(esc));
    snprintf(key, sizeof(key), "%sroles:%s", prefix(), esc);
    const char *argv2[4] = { "HMGET", key, "*", r->channel ? r->channel : "*" };
    if (batch(r, 4, argv2) < 0) {
        r->role = ROLE_USER;   /* roles cannot be read: the least privilege */
        execute(r);
        return;
    }
    batch_wait(r, then_role);
}

void operator_run_text(const struct actor *a, const char *text, operator_done_fn *cb, void *data) {
    char *copy = xstrdup(text + strlen(operator_prefix()));
    char *argv[MAX_ARGS];
    int argc = 0;
    /* persona import [--name NAME] {...}: the card's JSON is one argument, spaces and all. */
    char *json = strchr(copy, '{');
    const char *lead = copy + strspn(copy, " \t\n");
    if (json && !strncmp(lead, "persona", 7) && strstr(lead, "import") && strstr(lead, "import") < json) *json = '\0';
    else json = NULL;
    for (char *tok = strtok(copy, " \t\n"); tok && argc < MAX_ARGS; tok = strtok(NULL, " \t\n")) argv[argc++] = tok;
    if (json && argc >= 2 && argc < MAX_ARGS && !strcmp(argv[0], "persona") && !strcmp(argv[1], "import")) {
        *json = '{';
        argv[argc++] = json;
    }
    operator_run(a, argc, argv, cb, data);
    free(copy);
}
