/* health.c - liveness, readiness and metrics over HTTP.
 *
 * Ready means Redis answers, every platform is connected and the process
 * is not draining: what a load balancer or an orchestrator should wait for. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "core/health.h"
#include "core/platform.h"
#include "core/server.h"
#include "io/http_client.h"
#include "io/redis_client.h"
#include "io/web.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

static int (*role_ready)(char *why, size_t len);
static void (*role_gauges)(void);

void health_set_role(int (*ready)(char *why, size_t len), void (*gauges)(void)) {
    role_ready = ready;
    role_gauges = gauges;
}

static struct {
    char platform[32];
    int *ids;
    int n, total;
} shards[HEALTH_SHARD_PLATFORMS];

void health_set_shards(const char *platform, const int *ids, int n, int total) {
    int slot = -1;
    for (int i = 0; i < HEALTH_SHARD_PLATFORMS; i++) {
        if (!strcmp(shards[i].platform, platform)) slot = i;
        else if (slot < 0 && !shards[i].platform[0] && n > 0) slot = i;
    }
    if (slot < 0) return;
    free(shards[slot].ids);
    memset(&shards[slot], 0, sizeof(shards[slot]));
    if (n <= 0) return;
    snprintf(shards[slot].platform, sizeof(shards[slot].platform), "%s", platform);
    shards[slot].ids = xmalloc((size_t)n * sizeof(int));
    memcpy(shards[slot].ids, ids, (size_t)n * sizeof(int));
    shards[slot].n = n;
    shards[slot].total = total;
}

void health_shards_each(void (*fn)(const char *platform, const int *ids, int n, int total, void *arg), void *arg) {
    for (int i = 0; i < HEALTH_SHARD_PLATFORMS; i++)
        if (shards[i].platform[0]) fn(shards[i].platform, shards[i].ids, shards[i].n, shards[i].total, arg);
}

/* GET /healthz: the loop answers. */
static int serve_health(struct lws *wsi, const char *path, int post, void **state, void *data) {
    (void)path, (void)post, (void)state, (void)data;
    web_respond_text(wsi, 200, "ok\n");
    return 0;
}

/* GET /readyz: 200 "ready", or 503 with the first reason it is not. */
static int serve_ready(struct lws *wsi, const char *path, int post, void **state, void *data) {
    char body[512];
    (void)path, (void)post, (void)state, (void)data;
    if (server.stopping) {
        web_respond_text(wsi, 503, "not ready: shutting down\n");
        return 0;
    }
    if (!redis_client_ready(server.redis)) {
        snprintf(body, sizeof(body), "not ready: %s\n", redis_client_error(server.redis));
        web_respond_text(wsi, 503, body);
        return 0;
    }
    for (int i = 0; platform_at(i); i++) {
        struct platform *p = platform_at(i);
        if (p->ready) continue;
        snprintf(body, sizeof(body), "not ready: %s is not connected\n", p->ops->name);
        web_respond_text(wsi, 503, body);
        return 0;
    }
    char why[400];
    if (role_ready && role_ready(why, sizeof(why)) < 0) {
        snprintf(body, sizeof(body), "not ready: %s\n", why);
        web_respond_text(wsi, 503, body);
        return 0;
    }
    web_respond_text(wsi, 200, "ready\n");
    return 0;
}

/* GET /metrics: the gauges are read at scrape time, then rendered. */
static int serve_metrics(struct lws *wsi, const char *path, int post, void **state, void *data) {
    size_t len;
    (void)path, (void)post, (void)state, (void)data;
    metrics_set(METRIC_QUEUE_DEPTH, "channels", server.jobs_queued);
    metrics_set(METRIC_JOBS_IN_FLIGHT, "channels", server.jobs_in_flight);
    metrics_set(METRIC_MODEL_IN_FLIGHT, "curl", http_client_in_flight(server.http));
    metrics_set(METRIC_REDIS_UP, "main", redis_client_ready(server.redis));
    metrics_set(METRIC_REDIS_LATENCY, "main", redis_client_latency_ms(server.redis) / 1000.0);
    for (int i = 0; platform_at(i); i++) {
        struct platform *p = platform_at(i);
        metrics_set(METRIC_PLATFORM_READY, p->ops->name, p->ready);
        metrics_set(METRIC_PLATFORM_CONNECTIONS, p->ops->name, p->ops->connections ? p->ops->connections(p) : 0);
    }
    if (role_gauges) role_gauges();
    char *text = metrics_render(&len);
    web_respond(wsi, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    return 0;
}

static const struct web_route health_route = { .path = "/healthz", .request = serve_health };
static const struct web_route ready_route = { .path = "/readyz", .request = serve_ready };
static const struct web_route metrics_route = { .path = "/metrics", .request = serve_metrics };

void health_routes_add(void) {
    web_route_add(&health_route);
    web_route_add(&ready_route);
    web_route_add(&metrics_route);
}
