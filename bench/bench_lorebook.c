/* bench_lorebook.c - what matching a 1,000-entry lorebook costs per message.
 *
 * A generated book: 1,000 entries with two or three literal keys each
 * (some case-sensitive, some whole-word, a few selective), 20 regex keys
 * and a few constant entries, recursion on. Each round matches the newest
 * message and the two before it (scan depth 3), as prompt assembly does.
 * Prints the compile time and the microseconds per match (mean, p99).
 * --smoke: fewer rounds, and fails if a match costs more than a millisecond. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "persona/lorebook.h"

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A word for entry I: "kyoto17"-like, so keys differ but share prefixes. */
static void word(char *out, size_t len, int i, int k) {
    static const char *const stems[] = { "dragon", "castle", "river", "lantern", "kyoto", "matcha", "shrine", "maple" };
    snprintf(out, len, "%s%d", stems[(i + k) % 8], i * 3 + k);
}

int main(int argc, char **argv) {
    int smoke = argc > 1 && !strcmp(argv[1], "--smoke");
    int rounds = smoke ? 2000 : 100000, entries = 1000;
    json_t *list = json_array();
    for (int i = 0; i < entries; i++) {
        char a[32], b[32], c[32], content[128];
        word(a, sizeof(a), i, 0);
        word(b, sizeof(b), i, 1);
        word(c, sizeof(c), i, 2);
        snprintf(content, sizeof(content), "Entry %d: lore about %s, see also %s.", i, a, (i % 10 == 0) ? c : "nothing");
        json_t *e = json_pack("{s:[s,s], s:s, s:i, s:b, s:b}", "keys", a, b, "content", content, "insertion_order", i,
                              "case_sensitive", i % 7 == 0, "constant", i % 250 == 0);
        if (i % 5 == 0) json_object_set_new(e, "extensions", json_pack("{s:b}", "match_whole_words", 1));
        if (i % 13 == 0) {
            json_object_set_new(e, "selective", json_true());
            json_object_set_new(e, "secondary_keys", json_pack("[s]", c));
        }
        if (i % 50 == 0) {
            char re[64];
            snprintf(re, sizeof(re), "/room ?%d[0-9]*/i", i);
            json_array_append_new(json_object_get(e, "keys"), json_string(re));
        }
        json_array_append_new(list, e);
    }
    json_t *book = json_pack("{s:s, s:i, s:i, s:b, s:o}", "name", "bench", "scan_depth", 3, "token_budget", 2000,
                             "recursive_scanning", 1, "entries", list);
    char err[300];
    double t0 = now_us();
    struct lorebook *lb = lorebook_compile(book, "bench", err, sizeof(err));
    double compile_ms = (now_us() - t0) / 1000;
    json_decref(book);
    if (!lb) {
        fprintf(stderr, "bench_lorebook: %s\n", err);
        return 1;
    }
    const char *msgs[] = {
        "Shall we walk along the river12 tonight? I heard the lantern27 festival starts at dusk.",
        "I'd love that. Do you remember the old castle4 we saw last spring, near the shrine?",
        "Yes! And the matcha at that tiny place in kyoto2004, the one with room 100 upstairs.",
        "Nothing special today, just tired after work, tell me something nice please.",
    };
    double *lat = malloc(sizeof(double) * (size_t)rounds);
    struct lore_hit hits[128];
    long total_hits = 0;
    for (int r = 0; r < rounds; r++) {
        const char *texts[3] = { msgs[r % 4], msgs[(r + 3) % 4], msgs[(r + 2) % 4] };
        double s = now_us();
        total_hits += lorebook_match(&lb, 1, texts, 3, 0, hits, 128);
        lat[r] = now_us() - s;
    }
    qsort(lat, (size_t)rounds, sizeof(double), cmp_double);
    double sum = 0;
    for (int r = 0; r < rounds; r++) sum += lat[r];
    double mean = sum / rounds, p99 = lat[(int)(rounds * 0.99)];
    printf("bench lorebook: %d entries, compiled in %.2f ms\n", entries, compile_ms);
    printf("  per message (3 messages scanned): mean %.2f us, p99 %.2f us, %.1f entries activated on average\n",
           mean, p99, (double)total_hits / rounds);
    printf("  %d rounds%s\n", rounds, smoke ? " (smoke)" : "");
    free(lat);
    lorebook_free(lb);
    if (smoke && mean > 1000) {
        fprintf(stderr, "bench_lorebook: a match costs %.0f us, over a millisecond\n", mean);
        return 1;
    }
    return 0;
}
