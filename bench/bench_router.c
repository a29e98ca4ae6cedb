/* bench_router - what the router adds to a model call, and what a call in
 * flight weighs.
 *
 * Overhead: N streamed calls, one after another, through router_chat()
 * (route, budget check, provider, SSE parsing, deltas, accounting) to a
 * zero-latency fake in a child process; the same calls from bare_curl (a
 * curl multi loop, libcurl only) in the same run are the floor. Results:
 * CPU us per call and latency p50/p99 for both, and the difference.
 *
 * Concurrency: C streamed calls at once; the fake sends each its first
 * event and holds the rest until all C are open, so RSS is measured with
 * every call in flight. RLIMIT_NOFILE is raised; the fake is reached by IP.
 *
 *   bench/bench_router [--smoke]            (run from the build folder) */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench_fake.h"
#include "bench_host.h"
#include "app/modules.h"
#include "conf/config.h"
#include "io/http_client.h"
#include "lib/json_pool.h"
#include "lib/log.h"
#include "io/redis_client.h"
#include "model/router.h"
#include "core/runtime.h"
#include "core/server.h"

static long done_calls, failed_calls, first_deltas;
static double *latencies;
static uint64_t call_started;

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Count each call's first piece: then it is surely in flight. */
static void on_delta(const char *text, size_t len, void *data) {
    int *seen = data;
    (void)text;
    (void)len;
    if (!*seen) first_deltas++;
    *seen = 1;
}

static void on_done(const struct route_result *res, void *data) {
    free(data);
    if (res->kind != MODEL_OK) failed_calls++;
    if (latencies) latencies[done_calls] = (double)(uv_hrtime() - call_started) / 1e3;
    done_calls++;
}

/* Start one call of the route "fake". */
static int start_call(json_t *messages) {
    struct route_request req = { .route = "fake", .messages = messages, .persona = "bench", .on_delta = on_delta,
                                 .delta_data = calloc(1, sizeof(int)) };
    char err[300];
    call_started = uv_hrtime();
    if (!router_chat(server.rt, &req, on_done, req.delta_data, err, sizeof(err))) {
        fprintf(stderr, "bench_router: %s\n", err);
        free(req.delta_data);
        return -1;
    }
    return 0;
}

/* Turn the loop until COUNT reaches TARGET. */
static void run_until(const long *count, long target) {
    while (*count < target) uv_run(server.loop, UV_RUN_ONCE);
}

/* The config: one OpenAI-style model at the fake, nothing else. */
static int load_runtime(int port, char *err, size_t errlen) {
    char dir[] = "/tmp/bench-router-XXXXXX", path[300];
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof(path), "%s/chorus.lua", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "plugins_dir \"%s\"\nplugin \"chat\" { enabled = false }\nlog_level \"error\"\n"
               "model \"fake\" { provider = \"openai\", base_url = \"http://127.0.0.1:%d/v1\", model = \"m\", timeout_ms = 60000,"
               " connect_timeout_ms = 30000, first_token_timeout_ms = 60000, capabilities = { \"streaming\" } }\n", dir, port);
    fclose(f);
    struct config *cfg;
    modules_register();
    if (config_load(path, &cfg, err, errlen) < 0) return -1;
    if (server.rt) runtime_release(server.rt);
    server.rt = runtime_new(cfg, err, errlen);
    return server.rt ? 0 : -1;
}

/* Run bare_curl (next to this program) against the same fake; parse its line. */
static int run_bare(const char *self, int port, long n, double *cpu, double *p50, double *p99) {
    char cmd[1200], line[300], *copy = strdup(self);
    snprintf(cmd, sizeof(cmd), "%s/bare_curl http://127.0.0.1:%d/v1/chat/completions %ld", dirname(copy), port, n);
    free(copy);
    FILE *p = popen(cmd, "r");
    int got = p && fgets(line, sizeof(line), p) && sscanf(line, "bare cpu_us=%lf p50_us=%lf p99_us=%lf", cpu, p50, p99) == 3;
    if (p) pclose(p);
    return got ? 0 : -1;
}

int main(int argc, char **argv) {
    int smoke = argc > 1 && !strcmp(argv[1], "--smoke");
    json_pool_install();          /* as chorusd's main does */
    long n = smoke ? 300 : 20000, conc = smoke ? 200 : 10000;
    char err[600];
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)conc + 200 > rl.rlim_cur) conc = (long)rl.rlim_cur - 200;
    signal(SIGPIPE, SIG_IGN);
    alarm(smoke ? 120 : 1800); /* a call that never ends fails the run, not hangs it */
    log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
    int port;
    pid_t fake = bench_fake_start(&port, 0);
    if (fake < 0) return 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    server.loop = &loop;
    server.data_dir = getenv("CHORUS_DATA_DIR") ? getenv("CHORUS_DATA_DIR") : CHORUS_SRCDIR;
    server.http = http_client_new(&loop);
    /* No Redis: accounting is skipped, no budget is configured. */
    struct redis_options ro;
    redis_options_from_json(&ro, NULL);
    server.redis = redis_client_new(&loop, "redis://127.0.0.1:1/0", &ro, err, sizeof(err));
    if (load_runtime(port, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_router: %s\n", err);
        return 1;
    }
    json_t *messages = json_pack("[{s:s, s:s}]", "role", "user", "content", "hello");

    /* Overhead: sequential calls, after a warm-up. */
    for (int i = 0; i < 50; i++) {
        long target = done_calls + 1;
        start_call(messages);
        run_until(&done_calls, target);
    }
    done_calls = failed_calls = 0;
    latencies = calloc((size_t)n, sizeof(double));
    double t0 = bench_cpu_seconds();
    for (long i = 0; i < n; i++) {
        start_call(messages);
        run_until(&done_calls, i + 1);
    }
    double cpu = (bench_cpu_seconds() - t0) * 1e6 / (double)n;
    qsort(latencies, (size_t)n, sizeof(double), cmp);
    double p50 = latencies[n / 2], p99 = latencies[n * 99 / 100];
    long failed_seq = failed_calls;
    free(latencies);
    latencies = NULL;
    double bcpu = 0, b50 = 0, b99 = 0;
    int bare_ok = run_bare(argv[0], port, n, &bcpu, &b50, &b99) == 0;
    kill(fake, SIGTERM);
    waitpid(fake, NULL, 0);

    printf("router overhead: %ld streamed calls one at a time to a zero-latency fake (OpenAI SSE)\n", n);
    printf("  chorusd router_chat:  %7.1f us CPU per call, latency p50 %7.1f us, p99 %7.1f us\n", cpu, p50, p99);
    if (bare_ok) {
        printf("  bare curl multi:      %7.1f us CPU per call, latency p50 %7.1f us, p99 %7.1f us\n", bcpu, b50, b99);
        printf("  added by the router:  %7.1f us CPU per call, latency p50 %+7.1f us, p99 %+7.1f us (goal: < 200 us CPU, < 1 ms p99)\n",
               cpu - bcpu, p50 - b50, p99 - b99);
    } else {
        printf("  bare curl multi: did not run (bench/bare_curl missing or failed)\n");
    }
    printf("  LiteLLM, published (not measured here): median 2-12 ms, p99 13-43 ms added per call\n");

    /* Concurrency: all calls in flight at once. */
    fake = bench_fake_start(&port, (int)conc);
    if (fake < 0 || load_runtime(port, err, sizeof(err)) < 0) return 1;
    done_calls = failed_calls = first_deltas = 0;
    long rss0 = bench_rss_kib();
    for (long i = 0; i < conc; i++) start_call(messages);
    run_until(&first_deltas, conc);
    long rss_peak = bench_rss_kib();
    run_until(&done_calls, conc);
    kill(fake, SIGTERM);
    waitpid(fake, NULL, 0);
    printf("concurrency: %ld streamed calls in flight at once (RLIMIT_NOFILE %ld)\n", conc, (long)rl.rlim_cur);
    printf("  memory per call in flight: %.1f KiB (goal: under 20 KB); RSS %ld KiB idle, %ld KiB at the peak\n",
           (double)(rss_peak - rss0) / (double)conc, rss0, rss_peak);
    printf("  answered: %ld of %ld, failed: %ld (sequential phase failures: %ld)\n", done_calls - failed_calls, conc,
           failed_calls, failed_seq);
    json_decref(messages);
    http_client_free(server.http);
    redis_client_free(server.redis);
    runtime_release(server.rt);
    uv_run(&loop, UV_RUN_NOWAIT);              /* let closed handles go */
    uv_loop_close(&loop);
    int ok = failed_calls == 0 && failed_seq == 0 && bare_ok;
    if (!ok) fprintf(stderr, "bench_router: some calls failed\n");
    return ok ? 0 : 1;
}
