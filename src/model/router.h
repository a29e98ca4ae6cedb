/* router.h - the hybrid model router: which model answers, and what it costs.
 *
 * Skills ask for an answer by route (or plain model) name. A route says how
 * the answer is found: one fixed model, a fallback chain, tiers chosen by
 * a classifier, or a cascade that asks a cheap model first and escalates
 * when a check fails. For every attempt the router picks a healthy
 * deployment (least busy or lowest latency), reserves the worst-case cost
 * against the budgets in Redis before spending anything, retries with
 * backoff where retrying can help, falls back where it cannot, settles the
 * real cost and records the call for accounting. */
#ifndef CHORUS_ROUTER_H
#define CHORUS_ROUTER_H
#include <stdint.h>
#include <jansson.h>
#include "model/provider.h"

struct runtime;

struct route_request {
    const char *route;            /* a route or model name */
    json_t *messages;             /* borrowed */
    json_t *tools;                /* borrowed, may be NULL */
    long max_tokens;
    /* Who is served, for budgets and accounting (may be NULL). */
    const char *persona, *platform, *channel, *user, *plugin;
    provider_delta_fn *on_delta;  /* streamed text, or NULL */
    void *delta_data;
};

struct route_result {
    enum model_error kind;
    const char *error;            /* plain sentence */
    int budget_exceeded;          /* refused before any money was spent */
    const char *text;
    json_t *tool_calls;
    const char *model;            /* the model that answered (or last tried) */
    const char *decision;         /* how the route chose, e.g. "cascade:accepted small" */
    long prompt_tokens, completion_tokens;
    int64_t cost_micro;
    const char *currency;
    double latency_ms, ttft_ms;
    int attempts;
};

typedef void route_done_fn(const struct route_result *res, void *data);
struct route_call;

void router_config_register(void);
/* Is NAME a route or a model of this config? */
int router_defined(const struct config *cfg, const char *name);
/* Ask for an answer. The callback runs exactly once, later, unless
 * cancelled. NULL with err when the route is unknown. */
struct route_call *router_chat(struct runtime *rt, const struct route_request *req,
                               route_done_fn *cb, void *data, char *err, size_t errlen);
void router_cancel(struct route_call *call);
#endif
