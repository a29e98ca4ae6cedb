/* router.c - routes, deployments, retries, fallbacks and the breaker.
 *
 * A call walks a chain of models. Each attempt picks a deployment, asks
 * the budget (budget.c) to reserve the worst-case cost, starts the
 * provider, and on the answer updates the deployment's health, settles the
 * budget and records the call (accounting.c). Transient errors are retried
 * on the same model with backoff that honours Retry-After; a quota error is
 * never retried; any other failure moves on to the next model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "model/accounting.h"
#include "model/budget.h"
#include "model/classifier.h"
#include "conf/config.h"
#include "conf/config_schema.h"
#include "lib/log.h"
#include "model/model.h"
#include "model/router.h"
#include "core/runtime.h"
#include "core/server.h"
#include "lib/tokens.h"
#include "io/redis_client.h"
#include <openssl/evp.h>
#include "lib/xalloc.h"

#define MAX_CHAIN 8

enum route_kind { ROUTE_FIXED, ROUTE_FALLBACK, ROUTE_TIERED, ROUTE_CASCADE };

struct route_call {
    struct runtime *rt;
    const struct config_block *route;    /* NULL: a plain model name */
    enum route_kind kind;
    const char *chain[MAX_CHAIN];
    int nchain, ci;
    int attempt;                         /* on the current model */
    int attempts;                        /* in all */
    int retries;
    long backoff_ms, max_backoff_ms;
    long breaker_failures, breaker_cooldown_ms;
    int latency_balance;
    struct route_request req;            /* strings and JSON owned by the call */
    struct provider_call *pc;
    struct deployment *dep;
    struct budget_hold *hold;
    uv_timer_t timer;
    int timer_open;
    int cascade_stage;                   /* 0: the cheap model, 1: its check, 2: escalated */
    char *cheap_answer;
    long cheap_in, cheap_out;
    double cheap_latency, cheap_ttft;
    json_t *check_messages;              /* the cascade's self-check prompt */
    int64_t spent_micro;                 /* every call of this route so far */
    struct budget_op *reserving;
    int budget_refused;
    long cache_ttl;                      /* > 0: store good answers this long */
    int cached;                          /* answered from the cache */
    uint64_t shown_hash;                 /* FNV-1a of the streamed text the caller has had, over all tries */
    size_t shown_len;
    uint64_t try_hash;                   /* the same over this try's first shown_len bytes */
    size_t try_pos;                      /* bytes of this try's text so far */
    int try_diverged;                    /* this try left what was shown: no more deltas from it */
    char decision[160];
    char error[400];
    enum model_error last_kind;
    route_done_fn *cb;
    void *data;
};

static void attempt(struct route_call *c);
static void router_plan(struct route_call *c, const struct config_block *route);
static int router_cascade_accept(struct route_call *c, const struct provider_result *pr);
static int cache_lookup(struct route_call *c, long ttl);
static void cache_store(struct route_call *c, const char *text, const char *model);

/* ---- the call ---- */

static void timer_closed(uv_handle_t *h) {
    struct route_call *c = h->data;
    free(c);
}

/* Release everything the call owns; the struct goes when its timer closes. */
static void call_free(struct route_call *c) {
    json_decref(c->req.messages);
    json_decref(c->req.tools);
    free((char *)c->req.route);
    free((char *)c->req.persona);
    free((char *)c->req.platform);
    free((char *)c->req.channel);
    free((char *)c->req.user);
    free((char *)c->req.plugin);
    free(c->cheap_answer);
    json_decref(c->check_messages);
    runtime_release(c->rt);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}

/* Report the outcome once and free the call. */
static void finish(struct route_call *c, const struct provider_result *pr, const char *model) {
    struct route_result res = { .kind = MODEL_OK, .attempts = c->attempts, .decision = c->decision, .model = model };
    if (pr && pr->kind == MODEL_OK) {
        const struct model *m = model_find(c->rt->models, model);
        if (c->cache_ttl > 0 && !c->cached && pr->text && (!pr->tool_calls || json_array_size(pr->tool_calls) == 0))
            cache_store(c, pr->text, model);
        res.text = pr->text;
        res.tool_calls = pr->tool_calls;
        res.prompt_tokens = pr->prompt_tokens;
        res.completion_tokens = pr->completion_tokens;
        res.cost_micro = c->cached ? 0 : c->spent_micro;
        res.currency = m ? m->currency : "USD";
        res.latency_ms = pr->latency_ms;
        res.ttft_ms = pr->ttft_ms;
    } else {
        res.kind = c->last_kind ? c->last_kind : MODEL_ERR_SERVER;
        res.error = c->error[0] ? c->error : "no model could answer";
        res.budget_exceeded = c->budget_refused;
    }
    c->cb(&res, c->data);
    call_free(c);
}

/* Is a deployment usable now? */
static int deployment_ok(const struct model *m, const struct deployment *d, uint64_t now) {
    if (d->cooldown_until > now) return 0;
    return m->max_concurrency <= 0 || d->in_flight < m->max_concurrency;
}

/* Least busy, or lowest latency, among healthy deployments. */
static struct deployment *pick_deployment(struct route_call *c, struct model *m) {
    uint64_t now = uv_now(server.loop);
    struct deployment *best = NULL;
    for (int i = 0; i < m->ndeps; i++) {
        struct deployment *d = &m->deps[i];
        if (!deployment_ok(m, d, now)) continue;
        if (!best) best = d;
        else if (c->latency_balance ? d->latency_ewma_ms < best->latency_ewma_ms : d->in_flight < best->in_flight)
            best = d;
    }
    return best;
}

/* Is this error worth trying again on the same model? */
static int retryable(enum model_error e) {
    return e == MODEL_ERR_RATE_LIMIT || e == MODEL_ERR_SERVER || e == MODEL_ERR_TIMEOUT ||
           e == MODEL_ERR_CONNECT || e == MODEL_ERR_CUT || e == MODEL_ERR_MALFORMED;
}

static void on_backoff(uv_timer_t *t) {
    attempt(t->data);
}

/* Move on to the next model of the chain, or give up. */
static void next_model(struct route_call *c) {
    c->ci++;
    c->attempt = 0;
    if (c->ci >= c->nchain) {
        finish(c, NULL, c->chain[c->nchain - 1]);
        return;
    }
    size_t n = strlen(c->decision);
    snprintf(c->decision + n, sizeof(c->decision) - n, " -> %s", c->chain[c->ci]);
    attempt(c);
}

/* Did the cascade's check say YES? */
static int cascade_check_passed(const struct provider_result *pr) {
    const char *verdict = pr->text ? pr->text : "";
    while (*verdict == ' ' || *verdict == '\n' || *verdict == '"' || *verdict == '*') verdict++;
    return !strncasecmp(verdict, "YES", 3);
}

/* Name the check's outcome before its call is recorded, so the accounting
 * stream tells the draft, an accepted check and a rejected one apart. */
static void cascade_verdict_decision(struct route_call *c, const struct provider_result *pr) {
    if (cascade_check_passed(pr))
        snprintf(c->decision, sizeof(c->decision), "cascade:accepted %s", c->chain[0]);
    else
        snprintf(c->decision, sizeof(c->decision), "cascade:%s rejected by its check -> %s", c->chain[0], c->chain[1]);
}

/* No text but blanks and no tool call: a reasoning model that spent its
 * whole budget thinking ends so (finish_reason "length"). */
static int empty_answer(const struct provider_result *pr) {
    if (pr->tool_calls && json_array_size(pr->tool_calls) > 0) return 0;
    for (const char *p = pr->text ? pr->text : ""; *p; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') return 0;
    return 1;
}

/* The deployment answered: health, budget, accounting, then what next. */
static void on_result(const struct provider_result *pr, void *data) {
    struct route_call *c = data;
    struct model *m = (struct model *)model_find(c->rt->models, c->chain[c->ci]);
    struct deployment *d = c->dep;
    c->pc = NULL;
    d->in_flight--;
    d->latency_ewma_ms = d->latency_ewma_ms ? d->latency_ewma_ms * 0.8 + pr->latency_ms * 0.2 : pr->latency_ms;
    int64_t cost = pr->kind == MODEL_OK ? model_cost(m, pr->prompt_tokens, pr->completion_tokens) : 0;
    budget_settle(c->hold, cost, pr->kind == MODEL_OK ? pr->prompt_tokens + pr->completion_tokens : 0);
    c->hold = NULL;
    c->spent_micro += cost;
    if (c->kind == ROUTE_CASCADE && c->cascade_stage == 1 && pr->kind == MODEL_OK)
        cascade_verdict_decision(c, pr);
    accounting_record(c->rt, &c->req, m, d, pr, cost, c->decision);
    if (pr->kind == MODEL_OK && c->cascade_stage != 1 && empty_answer(pr)) {
        /* Charged above (the tokens were spent), but nothing to send: the
         * next model of the route, or the apology, not an empty reply. */
        log_warn("router: model %s gave an empty answer (finish_reason %s); trying the next model",
                 m->name, pr->finish_reason ? pr->finish_reason : "none");
        c->last_kind = MODEL_ERR_MALFORMED;
        snprintf(c->error, sizeof(c->error), "model %s gave an empty answer (finish_reason %s)", m->name,
                 pr->finish_reason ? pr->finish_reason : "none");
        next_model(c);
        return;
    }
    if (pr->kind == MODEL_OK) {
        d->failures = 0;
        if (c->kind == ROUTE_CASCADE && c->ci == 0 && !router_cascade_accept(c, pr)) return;
        finish(c, pr, m->name);
        return;
    }
    if (c->kind == ROUTE_CASCADE && c->cascade_stage == 1) {   /* the check failed: escalate */
        c->cascade_stage = 2;
        snprintf(c->decision, sizeof(c->decision), "cascade:%s check failed -> %s", c->chain[0], c->chain[1]);
        c->ci = 1;
        c->attempt = 0;
        attempt(c);
        return;
    }
    c->last_kind = pr->kind;
    snprintf(c->error, sizeof(c->error), "model %s: %s", m->name, pr->error ? pr->error : model_error_name(pr->kind));
    snprintf(d->last_error, sizeof(d->last_error), "%s", pr->error ? pr->error : model_error_name(pr->kind));
    d->last_error_at = uv_now(server.loop);
    if (pr->kind != MODEL_ERR_BAD_REQUEST && pr->kind != MODEL_ERR_CONTEXT && pr->kind != MODEL_ERR_FILTER &&
        ++d->failures >= c->breaker_failures) {
        d->cooldown_until = uv_now(server.loop) + (uint64_t)c->breaker_cooldown_ms;
        log_warn("router: model %s deployment %d failed %d times in a row; cooling it down for %ld ms",
                 m->name, d->index, d->failures, c->breaker_cooldown_ms);
        d->failures = 0;
    }
    if (retryable(pr->kind) && !pr->final && c->attempt < c->retries) {
        long delay = c->backoff_ms << c->attempt;
        if (pr->retry_after_ms >= 0) delay = pr->retry_after_ms;
        if (delay > c->max_backoff_ms) delay = c->max_backoff_ms;
        delay = delay / 2 + rand() % (delay / 2 + 1);
        c->attempt++;
        uv_timer_start(&c->timer, on_backoff, (uint64_t)delay, 0);
        return;
    }
    next_model(c);
}

/* H extended by N bytes of P (FNV-1a). */
static uint64_t hash_add(uint64_t h, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

/* Stream a piece of the answer to the caller once. A try after one that
 * broke off repeats what was already shown: that part is passed over and
 * the stream goes on from there. A try that says something else is not
 * streamed at all; its answer still comes whole at the end. What was shown
 * is kept as its length and a hash, not a copy: 10,000 streamed calls in
 * flight must stay under 20 KB each (bench/bench_router). */
static void route_delta(const char *text, size_t len, void *data) {
    struct route_call *c = data;
    if (c->try_diverged) return;
    size_t pos = c->try_pos;
    c->try_pos += len;
    if (pos < c->shown_len) {
        size_t same = c->shown_len - pos < len ? c->shown_len - pos : len;
        c->try_hash = hash_add(c->try_hash, text, same);
        text += same;
        len -= same;
        if (pos + same < c->shown_len) return;          /* still inside what was shown */
        if (c->try_hash != c->shown_hash) {
            c->try_diverged = 1;
            return;
        }
        if (len == 0) return;
    }
    c->shown_hash = hash_add(c->shown_hash, text, len);
    c->shown_len += len;
    c->req.on_delta(text, len, c->req.delta_data);
}

/* The budget said yes (or no): start the provider or stop. */
static void on_reserved(struct budget_hold *hold, const char *refusal, void *data) {
    struct route_call *c = data;
    c->reserving = NULL;
    struct model *m = (struct model *)model_find(c->rt->models, c->chain[c->ci]);
    if (refusal) {
        c->budget_refused = 1;
        c->last_kind = MODEL_ERR_QUOTA;
        snprintf(c->error, sizeof(c->error), "%s", refusal);
        finish(c, NULL, m->name);
        return;
    }
    c->hold = hold;
    struct deployment *d = c->dep;
    int checking = c->cascade_stage == 1;
    struct provider_request pr = {
        .model = m, .dep = d, .messages = checking ? c->check_messages : c->req.messages,
        .tools = checking || !(m->caps & MODEL_CAP_TOOLS) ? NULL : c->req.tools,
        .max_tokens = checking ? 8 : c->req.max_tokens,
        /* Only models declared with the "streaming" capability are asked to
         * stream (some OpenAI-compatible servers refuse stream_options); a
         * cascade streams only its final answer, never a draft it may discard. */
        .stream = c->req.on_delta != NULL && (m->caps & MODEL_CAP_STREAMING) && c->kind != ROUTE_CASCADE,
        .on_delta = c->kind != ROUTE_CASCADE && c->req.on_delta ? route_delta : NULL, .delta_data = c
    };
    c->try_pos = 0;
    c->try_hash = 0;
    c->try_diverged = 0;
    char err[300];
    d->in_flight++;
    c->attempts++;
    c->pc = provider_start(server.loop, server.http, &pr, on_result, c, err, sizeof(err));
    if (!c->pc) {
        d->in_flight--;
        budget_settle(c->hold, 0, 0);
        c->hold = NULL;
        c->last_kind = MODEL_ERR_CONNECT;
        snprintf(c->error, sizeof(c->error), "%s", err);
        next_model(c);
    }
}

/* One attempt on the current model. */
static void attempt(struct route_call *c) {
    struct model *m = (struct model *)model_find(c->rt->models, c->chain[c->ci]);
    if (!m) {
        snprintf(c->error, sizeof(c->error), "model \"%s\" is not defined", c->chain[c->ci]);
        next_model(c);
        return;
    }
    int builtin = m->provider == MODEL_PROVIDER_LOCAL || m->provider == MODEL_PROVIDER_SCRIPT;
    struct deployment *d = builtin ? NULL : pick_deployment(c, m);
    static struct deployment builtin_dep;
    if (builtin) d = &builtin_dep;
    /* With nothing left to fall back to, probe the deployment whose
     * cooldown ends first rather than refuse outright (a half-open breaker). */
    if (!d && c->ci == c->nchain - 1 && m->ndeps > 0) {
        d = &m->deps[0];
        for (int i = 1; i < m->ndeps; i++)
            if (m->deps[i].cooldown_until < d->cooldown_until) d = &m->deps[i];
    }
    if (!d) {
        c->last_kind = MODEL_ERR_SERVER;
        snprintf(c->error, sizeof(c->error), "model %s has no healthy deployment (all cooling down or busy)", m->name);
        next_model(c);
        return;
    }
    c->dep = d;
    long max_out = c->req.max_tokens ? c->req.max_tokens : m->max_tokens ? m->max_tokens : 1024;
    long tokens = tokens_estimate_messages(c->req.messages) + max_out;
    int64_t worst = model_cost(m, tokens_estimate_messages(c->req.messages), max_out);
    c->reserving = budget_reserve(c->rt, &c->req, worst, tokens, on_reserved, c);
}

/* ---- the exact-match response cache ---- */

/* <prefix>cache:<route>:<sha256 of the messages and tools>. */
static void cache_key(struct route_call *c, char *out, size_t len) {
    char *msgs = json_dumps(c->req.messages, JSON_COMPACT | JSON_SORT_KEYS);
    char *tools = c->req.tools ? json_dumps(c->req.tools, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    unsigned char md[32];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    if (msgs) EVP_DigestUpdate(ctx, msgs, strlen(msgs));
    if (tools) EVP_DigestUpdate(ctx, tools, strlen(tools));
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    free(msgs);
    free(tools);
    size_t used = (size_t)snprintf(out, len, "%scache:%s:", redis_client_prefix(server.redis), c->req.route);
    for (unsigned i = 0; i < n && used + 3 < len; i++) used += (size_t)snprintf(out + used, len - used, "%02x", md[i]);
}

static void on_cache(redisReply *r, const char *err, void *data) {
    struct route_call *c = data;
    if (!err && r && r->type == REDIS_REPLY_STRING) {
        json_t *v = json_loadb(r->str, r->len, 0, NULL);
        const char *text = json_string_value(json_object_get(v, "text"));
        const char *model = json_string_value(json_object_get(v, "model"));
        if (text && model) {
            snprintf(c->decision, sizeof(c->decision), "cache:hit %s", model);
            if (c->req.on_delta) c->req.on_delta(text, strlen(text), c->req.delta_data);
            struct provider_result pr = { .kind = MODEL_OK, .text = text, .retry_after_ms = -1 };
            char name[64];
            snprintf(name, sizeof(name), "%s", model);
            c->cached = 1;
            finish(c, &pr, name);
            json_decref(v);   /* after finish: the text lives in it */
            return;
        }
        json_decref(v);
    }
    attempt(c);   /* a miss (or no Redis): ask the models */
}

/* Look the request up; 0 when the lookup started (it answers or attempts). */
static int cache_lookup(struct route_call *c, long ttl) {
    char key[400];
    cache_key(c, key, sizeof(key));
    c->cache_ttl = ttl;
    const char *argv[2] = { "GET", key };
    return redis_command(server.redis, on_cache, c, 2, argv, NULL);
}

static void cache_ignore(redisReply *r, const char *err, void *data) {
    (void)r;
    (void)err;
    (void)data;
}

/* Keep a good answer for the route's cache lifetime. */
static void cache_store(struct route_call *c, const char *text, const char *model) {
    char key[400], ttl[24];
    cache_key(c, key, sizeof(key));
    snprintf(ttl, sizeof(ttl), "%ld", c->cache_ttl);
    json_t *v = json_pack("{s:s, s:s}", "text", text, "model", model);
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    const char *argv[5] = { "SET", key, s, "EX", ttl };
    redis_command(server.redis, cache_ignore, NULL, 5, argv, NULL);
    free(s);
}

struct route_call *router_chat(struct runtime *rt, const struct route_request *req,
                               route_done_fn *cb, void *data, char *err, size_t errlen) {
    const struct config_block *route = config_find(rt->cfg, "route", req->route);
    if (!route && !model_find(rt->models, req->route)) {
        snprintf(err, errlen, "no route or model named \"%s\"", req->route);
        return NULL;
    }
    struct route_call *c = xcalloc(1, sizeof(*c));
    c->rt = runtime_acquire(rt);
    c->route = route;
    c->cb = cb;
    c->data = data;
    c->req = *req;
    c->req.route = xstrdup(req->route);
    c->req.messages = json_incref(req->messages);
    c->req.tools = req->tools ? json_incref(req->tools) : NULL;
    c->req.persona = req->persona ? xstrdup(req->persona) : NULL;
    c->req.platform = req->platform ? xstrdup(req->platform) : NULL;
    c->req.channel = req->channel ? xstrdup(req->channel) : NULL;
    c->req.user = req->user ? xstrdup(req->user) : NULL;
    c->req.plugin = req->plugin ? xstrdup(req->plugin) : NULL;
    c->retries = (int)config_int(route, "retries", 2);
    c->backoff_ms = config_int(route, "backoff_ms", 200);
    c->max_backoff_ms = config_int(route, "max_backoff_ms", 10000);
    c->breaker_failures = config_int(route, "breaker_failures", 3);
    c->breaker_cooldown_ms = config_int(route, "breaker_cooldown_ms", 30000);
    c->latency_balance = !strcmp(config_str(route, "balance", "least_busy"), "latency");
    if (c->backoff_ms < 1) c->backoff_ms = 1;
    uv_timer_init(server.loop, &c->timer);
    c->timer.data = c;
    router_plan(c, route);
    long ttl = config_int(route, "cache_ttl_s", 0);
    if (ttl > 0 && cache_lookup(c, ttl) == 0) return c;   /* answered from the cache, or after it */
    uv_timer_start(&c->timer, on_backoff, 0, 0);   /* the callback must come later */
    return c;
}

void router_cancel(struct route_call *c) {
    if (!c) return;
    if (c->pc) {
        provider_cancel(c->pc);
        c->dep->in_flight--;
    }
    budget_cancel(c->reserving);
    budget_settle(c->hold, 0, 0);
    c->hold = NULL;
    call_free(c);
}

/* The last user message of the request, for classifiers and checks. */
static const char *last_user_text(json_t *messages) {
    for (size_t i = json_array_size(messages); i > 0; i--) {
        json_t *m = json_array_get(messages, i - 1);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "user") && json_is_string(json_object_get(m, "content")))
            return json_string_value(json_object_get(m, "content"));
    }
    return "";
}

/* Build the chain of models the call will walk, and say why. */
static void router_plan(struct route_call *c, const struct config_block *route) {
    if (!route) {
        c->kind = ROUTE_FIXED;
        c->chain[c->nchain++] = c->req.route;
        snprintf(c->decision, sizeof(c->decision), "model:%s", c->req.route);
        return;
    }
    const char *kind = config_str(route, "kind", "fallback");
    json_t *models = json_object_get(route->value, "models");
    size_t i;
    json_t *m;
    if (!strcmp(kind, "tiered")) {
        c->kind = ROUTE_TIERED;
        const char *text = last_user_text(c->req.messages);
        double conf = 1;
        const char *label;
        /* classifier = "label": an upstream system put [easy] or [hard] at the
         * start of the message; an untagged message goes to the built-in one. */
        const char *tag = text + strspn(text, " \t\r\n");
        int by_label = !strcmp(config_str(route, "classifier", "difficulty"), "label");
        if (by_label && !strncmp(tag, "[hard]", 6))
            label = "hard";
        else if (by_label && !strncmp(tag, "[easy]", 6))
            label = "easy";
        else
            label = classifier_difficulty_label(text, strlen(text), &conf);
        json_t *tiers = json_object_get(route->value, "tiers");
        const char *chosen = json_string_value(json_object_get(tiers, label));
        if (chosen) c->chain[c->nchain++] = chosen;
        const char *k;
        json_t *v;
        json_object_foreach(tiers, k, v)
            if (c->nchain < MAX_CHAIN && (!chosen || strcmp(json_string_value(v), chosen)))
                c->chain[c->nchain++] = json_string_value(v);
        snprintf(c->decision, sizeof(c->decision), "tiered:%s p=%.2f -> %s", label, conf, c->chain[0]);
        return;
    }
    c->kind = !strcmp(kind, "cascade") ? ROUTE_CASCADE : !strcmp(kind, "fixed") ? ROUTE_FIXED : ROUTE_FALLBACK;
    if (json_is_array(models)) {
        json_array_foreach(models, i, m) if (c->nchain < MAX_CHAIN) c->chain[c->nchain++] = json_string_value(m);
    } else if (json_is_string(models)) {
        c->chain[c->nchain++] = json_string_value(models);
    } else {
        c->chain[c->nchain++] = config_str(route, "model", "local");
    }
    if (c->kind == ROUTE_FIXED) c->nchain = 1;
    snprintf(c->decision, sizeof(c->decision), "%s:%s", kind, c->chain[0]);
}

/* The cheap model of a cascade answered. Accept it (return 1), or start its
 * check or the escalation (return 0). */
static int router_cascade_accept(struct route_call *c, const struct provider_result *pr) {
    const char *check = config_str(c->route, "check", "self");
    if (c->cascade_stage == 0) {
        const char *text = pr->text ? pr->text : "";
        if (!strcmp(check, "length")) {
            if (strlen(text) >= 2) {
                snprintf(c->decision, sizeof(c->decision), "cascade:accepted %s (length check)", c->chain[0]);
                return 1;
            }
            snprintf(c->decision, sizeof(c->decision), "cascade:%s too short -> %s", c->chain[0], c->chain[1]);
            c->cascade_stage = 2;
            c->ci = 1;
            c->attempt = 0;
            attempt(c);
            return 0;
        }
        /* The self-check: one more cheap call judges the draft. */
        free(c->cheap_answer);
        c->cheap_answer = xstrdup(text);
        c->cheap_in = pr->prompt_tokens;
        c->cheap_out = pr->completion_tokens;
        c->cheap_latency = pr->latency_ms;
        c->cheap_ttft = pr->ttft_ms;
        char prompt[8192];
        snprintf(prompt, sizeof(prompt), "Question:\n%.3000s\n\nAnswer:\n%.3000s\n\nIs the answer correct, complete and helpful? Reply YES or NO.",
                 last_user_text(c->req.messages), text);
        json_decref(c->check_messages);
        c->check_messages = json_pack("[{s:s, s:s}, {s:s, s:s}]",
            "role", "system", "content", "You check answers strictly. Reply with exactly one word: YES or NO.",
            "role", "user", "content", prompt);
        c->cascade_stage = 1;
        c->attempt = 0;
        attempt(c);
        return 0;
    }
    /* Stage 1: the check answered (on_result named the decision). */
    if (cascade_check_passed(pr)) {
        struct provider_result draft = {
            .kind = MODEL_OK, .text = c->cheap_answer, .prompt_tokens = c->cheap_in, .completion_tokens = c->cheap_out,
            .latency_ms = c->cheap_latency, .ttft_ms = c->cheap_ttft, .retry_after_ms = -1
        };
        if (c->req.on_delta && c->cheap_answer) c->req.on_delta(c->cheap_answer, strlen(c->cheap_answer), c->req.delta_data);
        finish(c, &draft, c->chain[0]);
        return 0;
    }
    c->cascade_stage = 2;
    c->ci = 1;
    c->attempt = 0;
    attempt(c);
    return 0;
}
