/* accounting.c - write call records and daily totals to Redis. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "model/accounting.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "model/model.h"
#include "model/provider.h"
#include "io/redis_client.h"
#include "model/router.h"
#include "core/series.h"
#include "core/server.h"
#include "lib/vclock.h"

static void ignore(redisReply *r, const char *err, void *data) {
    (void)r;
    (void)data;
    if (err) log_debug("accounting: %s", err);
}

void accounting_record(struct runtime *rt, const struct route_request *req, const struct model *m,
                       const struct deployment *d, const struct provider_result *pr, int64_t cost,
                       const char *decision) {
    (void)rt;
    metrics_inc(METRIC_MODEL_CALLS, m->name, 1);
    metrics_observe(METRIC_MODEL_SECONDS, m->name, pr->latency_ms / 1000.0);
    if (pr->kind != MODEL_OK) metrics_inc(METRIC_MODEL_ERRORS, m->name, 1);
    metrics_inc(METRIC_MODEL_TOKENS, m->name, (double)(pr->prompt_tokens + pr->completion_tokens));
    metrics_inc(METRIC_MODEL_COST, m->name, (double)cost);
    series_cost(req->persona, cost);
    if (!redis_client_ready(server.redis)) return;
    const char *prefix = redis_client_prefix(server.redis);
    char stream[300], ts[32], dep[16], in[32], out[32], costs[32], lat[32], ttft[32];
    snprintf(stream, sizeof(stream), "%scalls", prefix);
    snprintf(ts, sizeof(ts), "%.3f", vclock_now());
    snprintf(dep, sizeof(dep), "%d", d ? d->index : 0);
    snprintf(in, sizeof(in), "%ld", pr->prompt_tokens);
    snprintf(out, sizeof(out), "%ld", pr->completion_tokens);
    snprintf(costs, sizeof(costs), "%lld", (long long)cost);
    snprintf(lat, sizeof(lat), "%.1f", pr->latency_ms);
    snprintf(ttft, sizeof(ttft), "%.1f", pr->ttft_ms);
    const char *argv[] = {
        "XADD", stream, "MAXLEN", "~", "100000", "*",
        "ts", ts, "route", req->route ? req->route : "", "model", m->name, "deployment", dep,
        "provider", model_provider_name(m->provider), "status", model_error_name(pr->kind),
        "tokens_in", in, "tokens_out", out, "cost_micro", costs, "currency", m->currency,
        "latency_ms", lat, "ttft_ms", ttft, "decision", decision ? decision : "",
        "persona", req->persona ? req->persona : "", "platform", req->platform ? req->platform : "",
        "channel", req->channel ? req->channel : "", "user", req->user ? req->user : "",
        "plugin", req->plugin ? req->plugin : "",
        NULL, NULL, NULL, NULL
    };
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 4;
    /* Present only when the server did not count the prompt or the answer. */
    if (pr->prompt_estimated) {
        argv[argc++] = "tokens_in_estimated";
        argv[argc++] = "1";
    }
    if (pr->completion_estimated) {
        argv[argc++] = "tokens_out_estimated";
        argv[argc++] = "1";
    }
    redis_command(server.redis, ignore, NULL, argc, argv, NULL);

    /* Daily totals per persona, for the ledger. */
    time_t now = (time_t)vclock_now();
    struct tm tm;
    char day[16], key[400], field[200];
    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y%m%d", &tm);
    snprintf(key, sizeof(key), "%susage:%s:%s", prefix, day, req->persona ? req->persona : "-");
    struct { const char *what; const char *n; } adds[] = {
        { "calls", "1" }, { "tokens_in", in }, { "tokens_out", out }, { "cost_micro", costs },
        { "errors", pr->kind == MODEL_OK ? "0" : "1" }
    };
    for (size_t i = 0; i < sizeof(adds) / sizeof(adds[0]); i++) {
        snprintf(field, sizeof(field), "%s:%s", adds[i].what, m->name);
        const char *hv[4] = { "HINCRBY", key, field, adds[i].n };
        redis_command(server.redis, ignore, NULL, 4, hv, NULL);
    }
    const char *ex[3] = { "EXPIRE", key, "34560000" };   /* 400 days */
    redis_command(server.redis, ignore, NULL, 3, ex, NULL);
}
