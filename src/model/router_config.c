/* router_config.c - the config statements of the router: `route` and
 * `budget` (see docs/router.md). Kept apart from router.c and budget.c so
 * config checking needs nothing of the running daemon. */
#include <stdio.h>
#include <string.h>
#include "model/budget.h"
#include "conf/config.h"
#include "conf/config_schema.h"
#include "model/model.h"
#include "model/router.h"

static int validate_route(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    const char *kind = config_str(b, "kind", "fallback");
    if (strcmp(kind, "fixed") && strcmp(kind, "fallback") && strcmp(kind, "tiered") && strcmp(kind, "cascade")) {
        snprintf(err, errlen, "route \"%s\": kind \"%s\" is not one of fixed, fallback, tiered, cascade", b->name, kind);
        return -1;
    }
    if (model_defined(cfg, b->name)) {
        snprintf(err, errlen, "route \"%s\" has the name of a model; routes and models share one namespace", b->name);
        return -1;
    }
    json_t *models = json_object_get(b->value, "models");
    const char *one = config_str(b, "model", NULL);
    if (!models && !one && strcmp(kind, "tiered")) {
        snprintf(err, errlen, "route \"%s\" needs model = \"name\" or models = { ... }", b->name);
        return -1;
    }
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        if (!json_is_string(m) || !model_defined(cfg, json_string_value(m))) {
            snprintf(err, errlen, "route \"%s\" uses model \"%s\", which is not defined", b->name,
                     json_is_string(m) ? json_string_value(m) : "?");
            return -1;
        }
    }
    if (one && !model_defined(cfg, one)) {
        snprintf(err, errlen, "route \"%s\" uses model \"%s\", which is not defined", b->name, one);
        return -1;
    }
    json_t *tiers = json_object_get(b->value, "tiers");
    const char *k;
    json_t *v;
    json_object_foreach(tiers, k, v) {
        if (!json_is_string(v) || !model_defined(cfg, json_string_value(v))) {
            snprintf(err, errlen, "route \"%s\": tier \"%s\" names a model that is not defined", b->name, k);
            return -1;
        }
    }
    if (!strcmp(kind, "tiered") && !tiers) {
        snprintf(err, errlen, "route \"%s\": a tiered route needs tiers = { easy = \"small\", hard = \"large\" }", b->name);
        return -1;
    }
    const char *classifier = config_str(b, "classifier", "difficulty");
    if (strcmp(classifier, "difficulty") && strcmp(classifier, "label")) {
        snprintf(err, errlen, "route \"%s\": classifier must be difficulty or label, not \"%s\"", b->name, classifier);
        return -1;
    }
    const char *check = config_str(b, "check", "self");
    if (strcmp(check, "self") && strcmp(check, "length")) {
        snprintf(err, errlen, "route \"%s\": check must be self or length, not \"%s\"", b->name, check);
        return -1;
    }
    const char *balance = config_str(b, "balance", "least_busy");
    if (strcmp(balance, "least_busy") && strcmp(balance, "latency")) {
        snprintf(err, errlen, "route \"%s\": balance must be least_busy or latency, not \"%s\"", b->name, balance);
        return -1;
    }
    if (!strcmp(kind, "cascade") && json_array_size(models) < 2) {
        snprintf(err, errlen, "route \"%s\": a cascade needs models = { \"cheap\", \"strong\" }", b->name);
        return -1;
    }
    return 0;
}

static const struct config_key route_keys[] = {
    { "kind", CONFIG_STRING, 0, "fixed, fallback, tiered or cascade" },
    { "model", CONFIG_STRING, 0, "the model of a fixed route" },
    { "models", CONFIG_STRINGS, 0, "the chain, cheapest first" },
    { "tiers", CONFIG_TABLE, 0, "{ easy = \"small\", hard = \"large\" } for a tiered route" },
    { "classifier", CONFIG_STRING, 0, "difficulty (built in, default) or label ([easy]/[hard] at the start)" },
    { "check", CONFIG_STRING, 0, "cascade check: self (a cheap self-check) or length" },
    { "retries", CONFIG_INT, 0, "retries on one model for transient errors, default 2" },
    { "backoff_ms", CONFIG_INT, 0, "first retry delay, default 200" },
    { "max_backoff_ms", CONFIG_INT, 0, "longest retry delay, default 10000" },
    { "breaker_failures", CONFIG_INT, 0, "consecutive failures that cool a deployment down, default 3" },
    { "breaker_cooldown_ms", CONFIG_INT, 0, "how long it cools down, default 30000" },
    { "balance", CONFIG_STRING, 0, "least_busy (default) or latency" },
    { "cache_ttl_s", CONFIG_INT, 0, "exact-match response cache lifetime; 0 = off" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema route_schema = {
    .kind = "route", .named = 1, .value = CONFIG_NONE, .keys = route_keys, .validate = validate_route
};

void router_config_register(void) {
    config_schema_register(&route_schema);
}

int router_defined(const struct config *cfg, const char *name) {
    return model_defined(cfg, name) || config_find(cfg, "route", name) != NULL;
}

static int validate_budget(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    (void)cfg;
    const char *scope = config_str(b, "scope", "user");
    const char *period = config_str(b, "period", "day");
    if (strcmp(scope, "user") && strcmp(scope, "channel") && strcmp(scope, "persona") && strcmp(scope, "global")) {
        snprintf(err, errlen, "budget \"%s\": scope must be user, channel, persona or global", b->name);
        return -1;
    }
    if (strcmp(period, "day") && strcmp(period, "month")) {
        snprintf(err, errlen, "budget \"%s\": period must be day or month", b->name);
        return -1;
    }
    json_t *money = json_object_get(b->value, "money");
    if (!money && !json_object_get(b->value, "tokens") && !json_object_get(b->value, "concurrent")) {
        snprintf(err, errlen, "budget \"%s\" sets none of money, tokens or concurrent", b->name);
        return -1;
    }
    if (money && (!json_is_number(money) || json_number_value(money) < 0)) {
        snprintf(err, errlen, "budget \"%s\": money must be a number of currency units", b->name);
        return -1;
    }
    return 0;
}

static const struct config_key budget_keys[] = {
    { "scope", CONFIG_STRING, 0, "user, channel, persona or global" },
    { "period", CONFIG_STRING, 0, "day or month (UTC)" },
    { "money", CONFIG_NUMBER, 0, "currency units per period, e.g. 0.50" },
    { "tokens", CONFIG_INT, 0, "tokens per period" },
    { "concurrent", CONFIG_INT, 0, "model calls at once per scope" },
    { "persona", CONFIG_STRING, 0, "only calls for this persona" },
    { "message", CONFIG_STRING, 0, "what the user is told when it runs out" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema budget_schema = {
    .kind = "budget", .named = 1, .value = CONFIG_NONE, .keys = budget_keys, .validate = validate_budget
};

void budget_config_register(void) {
    config_schema_register(&budget_schema);
}

