/* bench_recall.c - long-term recall over a channel of many stored turns.
 *
 * Fills one channel's recall store in a real Redis (--redis URL) with N
 * generated turns (default 100,000) embedded by the local model, through
 * recall_store() as the chat skill does, then runs recall_find() for
 * questions about a few facts planted among them: the first one reads all
 * the vectors into chorusd's copy, the next ones only what is new. Prints
 * the Redis bytes (MEMORY USAGE of the three keys, per turn), the latency
 * of a recall (embed, two Redis round trips, the search), and the cost of
 * the search alone. Fails if a planted fact is not the best hit.
 * --smoke: 5,000 turns, fewer questions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <uv.h>
#include "io/redis_client.h"
#include "model/embed.h"
#include "model/model.h"
#include "persona/recall.h"
#include "persona/recall_store.h"

#define INFLIGHT 32
#define BATCH 16

static uv_loop_t *loop;
static struct redis_client *rc;
static struct model local_model = { .name = "local", .provider = MODEL_PROVIDER_LOCAL };
static const struct recall_where where = { "bench", "den", "aiko" };
static long nturns = 100000, stored_turns, next_turn, queries = 200, asked, failures;
static int inflight;
static double *lat;
static double fill_started;

static const char *const words[] = { "weather", "train", "soup", "film", "bicycle", "library", "garden", "football",
    "laptop", "coffee", "mountain", "river", "bread", "music", "guitar", "window", "letter", "market", "museum", "winter",
    "summer", "holiday", "office", "meeting", "phone", "dinner", "breakfast", "sister", "brother", "friend", "doctor",
    "teacher", "city", "village", "ocean", "forest", "bus", "taxi", "airport", "hotel", "cinema", "theatre", "painting",
    "camera", "jacket", "shoes", "umbrella", "tea", "cake", "apple" };
#define NWORDS (sizeof(words) / sizeof(words[0]))
/* Facts planted at fixed places, and a question for each. */
static const char *const facts[][2] = {
    { "my cat is called Miso and she sleeps on the piano", "what is my cat called?" },
    { "my passport number ends in 4471 zebra", "which number ends my passport?" },
    { "grandma Rosalind grows purple carrots", "what does grandma Rosalind grow?" },
};
#define NFACTS 3

static double now_ms(void) {
    return (double)uv_hrtime() / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The text of turn I: a fact at its place, else a few everyday words. */
static void turn_text(long i, char *out, size_t len) {
    for (int f = 0; f < NFACTS; f++)
        if (i == (f + 1) * nturns / (NFACTS + 2)) {
            snprintf(out, len, "%s", facts[f][0]);
            return;
        }
    unsigned long h = (unsigned long)i * 2654435761u;
    snprintf(out, len, "%s the %s and the %s near the %s, said for the %ld time", i % 2 ? "we talked about" : "I think",
             words[h % NWORDS], words[(h >> 8) % NWORDS], words[(h >> 16) % NWORDS], i);
}

static void ask(void);
static void fill(void);

static void on_stored(long n, const char *err, void *data) {
    (void)data;
    inflight--;
    if (err) {
        fprintf(stderr, "bench recall: store failed: %s\n", err);
        exit(1);
    }
    if (n > stored_turns) stored_turns = n;
    fill();
}

/* Keep INFLIGHT stores of BATCH turns going until all are in. */
static void fill(void) {
    while (inflight < INFLIGHT && next_turn < nturns) {
        json_t *turns = json_array();
        for (int k = 0; k < BATCH && next_turn < nturns; k++, next_turn++) {
            char text[300];
            turn_text(next_turn, text, sizeof(text));
            json_array_append_new(turns, json_pack("{s:s, s:s, s:s, s:s, s:f}", "role", next_turn % 2 ? "assistant" : "user",
                                                   "content", text, "user", "guest:ab12:u1", "name", "Ann", "ts", 1764437000.12));
        }
        struct recall_opts o = { .max_turns = nturns + 1000, .ttl_s = 0 };
        if (!recall_store(loop, rc, NULL, &local_model, &where, turns, NULL, 0, -1, &o, on_stored, NULL)) {
            fprintf(stderr, "bench recall: store could not start\n");
            exit(1);
        }
        json_decref(turns);
        inflight++;
    }
    if (inflight == 0 && next_turn >= nturns) {
        printf("bench recall: %ld turns stored in %.1f s (local model, dim %d)\n", nturns, (now_ms() - fill_started) / 1000, EMBED_LOCAL_DIM);
        ask();
    }
}

static double asked_at;

static void report(void);

static void on_found(json_t *hits, const char *err, const int8_t *query, int dim, void *data) {
    (void)query;
    (void)dim;
    long f = (long)(size_t)data;
    lat[asked] = now_ms() - asked_at;
    if (err || json_array_size(hits) == 0 ||
        strcmp(json_string_value(json_object_get(json_array_get(hits, 0), "content")), facts[f][0])) {
        fprintf(stderr, "bench recall: question %ld (\"%s\") did not find its fact%s%s\n", asked, facts[f][1], err ? ": " : "", err ? err : "");
        failures++;
    }
    asked++;
    if (asked < queries) ask();
    else report();
}

/* One question at a time, so each latency is one recall's. */
static void ask(void) {
    long f = asked % NFACTS;
    struct recall_opts o = { .k = 4, .min_score = 0.25f, .exclude = 24 };
    asked_at = now_ms();
    if (!recall_find(loop, rc, NULL, &local_model, &where, facts[f][1], &o, on_found, (void *)(size_t)f)) {
        fprintf(stderr, "bench recall: recall could not start\n");
        exit(1);
    }
}

static long long usage[3];
static int usage_pending;

static void on_usage(redisReply *r, const char *err, void *data) {
    long i = (long)(size_t)data;
    usage[i] = !err && r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (--usage_pending == 0) {
        long long total = usage[0] + usage[1] + usage[2];
        printf("redis: %lld bytes for %ld turns, %.0f bytes per turn (vectors %lld = %.0f per turn, turns %lld, meta %lld)\n",
               total, stored_turns, (double)total / (double)stored_turns, usage[0], (double)usage[0] / (double)stored_turns,
               usage[1], usage[2]);
        redis_client_free(rc);
        rc = NULL;
    }
}

static void report(void) {
    double first = lat[0];
    qsort(lat + 1, (size_t)(queries - 1), sizeof(double), cmp_double);
    double sum = 0;
    for (long i = 1; i < queries; i++) sum += lat[i];
    long warm = queries - 1;
    printf("recall latency: first %.2f ms (reads every vector); then mean %.2f ms, p50 %.2f ms, p99 %.2f ms over %ld questions\n",
           first, sum / (double)warm, lat[1 + warm / 2], lat[1 + (long)((double)warm * 0.99)], warm);
    /* The search alone, on a copy of the same records. */
    long n = nturns;
    int8_t *recs = malloc((size_t)n * EMBED_LOCAL_DIM);
    float v[EMBED_LOCAL_DIM];
    for (long i = 0; i < n; i++) {
        char text[300];
        turn_text(i, text, sizeof(text));
        embed_local(text, strlen(text), v, EMBED_LOCAL_DIM);
        recall_quantize(v, EMBED_LOCAL_DIM, recs + (size_t)i * EMBED_LOCAL_DIM);
    }
    int8_t q[EMBED_LOCAL_DIM];
    embed_local(facts[0][1], strlen(facts[0][1]), v, EMBED_LOCAL_DIM);
    recall_quantize(v, EMBED_LOCAL_DIM, q);
    struct recall_hit hits[4];
    int rounds = 20;
    double t0 = now_ms();
    for (int r = 0; r < rounds; r++) recall_top_k(recs, n, EMBED_LOCAL_DIM, q, 4, 0.25f, hits);
    printf("search alone: %.2f ms per question over %ld records (%.1f ns per record)\n", (now_ms() - t0) / rounds, n,
           (now_ms() - t0) / rounds * 1e6 / (double)n);
    free(recs);
    const char *parts[3] = { "vec", "turns", "meta" };
    for (long i = 0; i < 3; i++) {
        char key[1200];
        recall_key(rc, &where, parts[i], key, sizeof(key));
        const char *cmd[5] = { "MEMORY", "USAGE", key, "SAMPLES", "0" };   /* 0: every element */
        usage_pending++;
        redis_command(rc, on_usage, (void *)(size_t)i, 5, cmd, NULL);
    }
}

static void on_deleted(redisReply *r, const char *err, void *data) {
    (void)r;
    (void)data;
    if (err) {
        fprintf(stderr, "bench recall: %s\n", err);
        exit(1);
    }
    fill_started = now_ms();
    fill();
}

static int started;

/* Connected: start from an empty store. */
static void on_ready(void) {
    if (started++) return;
    char keys[3][1200];
    const char *parts[3] = { "vec", "turns", "meta" };
    for (int i = 0; i < 3; i++) recall_key(rc, &where, parts[i], keys[i], sizeof(keys[i]));
    const char *argv[4] = { "DEL", keys[0], keys[1], keys[2] };
    redis_command(rc, on_deleted, NULL, 4, argv, NULL);
}

int main(int argc, char **argv) {
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) {
            nturns = 5000;
            queries = 30;
        } else if (!strcmp(argv[i], "--redis") && i + 1 < argc) {
            url = argv[++i];
        } else if (!strcmp(argv[i], "--turns") && i + 1 < argc) {
            nturns = atol(argv[++i]);
        }
    }
    if (!url || nturns < 100) {
        fprintf(stderr, "usage: bench_recall --redis URL [--turns N] [--smoke]\n");
        return 2;
    }
    lat = calloc((size_t)queries, sizeof(double));
    loop = uv_default_loop();
    char err[300];
    struct redis_options ro = { .prefix = "bench:", .timeout_ms = 30000, .connect_timeout_ms = 2000, .reconnect_min_ms = 100, .reconnect_max_ms = 1000 };
    rc = redis_client_new(loop, url, &ro, err, sizeof(err));
    if (!rc) {
        fprintf(stderr, "bench recall: %s\n", err);
        return 1;
    }
    redis_client_on_ready(rc, on_ready);
    uv_run(loop, UV_RUN_DEFAULT);
    recall_cache_clear();
    free(lat);
    if (failures) {
        fprintf(stderr, "bench recall: %ld of %ld questions missed their fact\n", failures, queries);
        return 1;
    }
    return 0;
}
