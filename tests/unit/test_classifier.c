/* test_classifier.c - unit tests for src/classifier.c.
 *
 * The story: the router asks, for every incoming message, whether the
 * cheap model will do. The C code must give the same probabilities as the
 * training script that produced its weights, be as accurate on the
 * held-out data as the script says, get the obvious cases right, and stay
 * fast and safe on empty, broken and huge messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tap.h"
#include "model/classifier.h"
#include "classifier_expect.h"

/* Monotonic time in seconds, for the speed checks. */
static double now(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Shorthand for a C string. */
static double difficulty(const char *s) {
    return classifier_difficulty(s, strlen(s));
}

/* The generated samples: C and the training script agree. */
static void test_matches_script(void) {
    size_t i;
    int r;
    double worst = 0;

    for (i = 0; i < CLASSIFIER_EXPECT_COUNT; i++) {
        const struct classifier_expect *e = &classifier_expect[i];
        size_t len = e->len * (size_t)e->repeat;
        char *buf = malloc(len ? len : 1);
        double p, diff;

        for (r = 0; r < e->repeat; r++) memcpy(buf + (size_t)r * e->len, e->text, e->len);
        p = classifier_difficulty(buf, len);
        diff = fabs(p - e->prob);
        if (diff > worst) worst = diff;
        ok(diff < 1e-3, "%s sample %zu (%zu bytes): C %.6f, script %.6f",
           i < CLASSIFIER_EXPECT_HELDOUT ? "held-out" : "odd", i, len, p, e->prob);
        free(buf);
    }
    printf("# largest difference from the script: %.3g\n", worst);
}

/* Undo the TSV escapes (\n, \t, \\) in place; returns the new length. */
static size_t unescape(char *s, size_t len) {
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len) {
            char n = s[i + 1];
            if (n == 'n' || n == 't' || n == '\\') {
                s[o++] = n == 'n' ? '\n' : n == 't' ? '\t' : '\\';
                i++;
                continue;
            }
        }
        s[o++] = s[i];
    }
    return o;
}

/* Held-out accuracy computed here, from the data file itself. */
static void test_heldout_accuracy(void) {
    const char *dir = getenv("CHORUS_SRCDIR");
    char path[4096];
    FILE *fp;
    char *line = NULL;
    size_t cap = 0, total = 0, right = 0;
    ssize_t n;
    int heldout = 0;
    double acc;

    if (dir == NULL || *dir == '\0') dir = ".";
    snprintf(path, sizeof path, "%s/data/difficulty.tsv", dir);
    fp = fopen(path, "r");
    if (!ok(fp != NULL, "open %s", path)) return;
    while ((n = getline(&line, &cap, fp)) != -1) {
        char *tab;
        size_t len;
        int hard;

        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (strcmp(line, "# held-out") == 0) {
            heldout = 1;
            continue;
        }
        if (!heldout || n == 0 || line[0] == '#') continue;
        tab = strchr(line, '\t');
        if (tab == NULL) continue;
        hard = (size_t)(tab - line) == 4 && memcmp(line, "hard", 4) == 0;
        len = unescape(tab + 1, (size_t)(line + n - (tab + 1)));
        total++;
        if ((classifier_difficulty(tab + 1, len) >= 0.5) == hard) right++;
    }
    free(line);
    fclose(fp);
    acc = total ? (double)right / (double)total : 0;
    printf("# held-out accuracy in C: %zu/%zu = %.4f\n", right, total, acc);
    ok(total >= 100, "the held-out set has %zu examples", total);
    ok(acc >= 0.85, "held-out accuracy %.4f is at least 0.85", acc);
}

/* Messages nobody should get wrong. */
static void test_obvious(void) {
    static const char *easy[] = {
        "hi!",
        "thanks a lot",
        "good morning :)",
        "lol ok",
    };
    static const char *hard[] = {
        ("My C program crashes with a segfault when I call free() twice:\n"
         "char *p = malloc(16);\nfree(p);\nif (err) { free(p); }\n"
         "Why does this happen and how do I fix it properly?"),
        ("A farmer has 120 metres of fence and wants a rectangular pen against "
         "a barn wall, fencing only three sides. What dimensions maximise the "
         "area, and what is that area? Show each step."),
        ("Write a Python function that parses a log file, counts errors per "
         "hour and plots them, and explain how you would test it."),
    };
    const char *label;
    double conf = -1;
    size_t i;

    for (i = 0; i < sizeof easy / sizeof easy[0]; i++) {
        label = classifier_difficulty_label(easy[i], strlen(easy[i]), &conf);
        is_str(label, "easy", "\"%s\" is easy (confidence %.3f)", easy[i], conf);
    }
    for (i = 0; i < sizeof hard / sizeof hard[0]; i++) {
        label = classifier_difficulty_label(hard[i], strlen(hard[i]), &conf);
        is_str(label, "hard", "hard request %zu is hard (confidence %.3f)", i, conf);
    }

    label = classifier_difficulty_label("hi!", 3, &conf);
    ok(fabs(conf - (1.0 - difficulty("hi!"))) < 1e-12 && conf >= 0.5,
       "confidence is the probability of the label given");
    label = classifier_difficulty_label(hard[0], strlen(hard[0]), NULL);
    is_str(label, "hard", "confidence may be NULL");
}

/* Empty, NUL-laden and broken UTF-8 input. */
static void test_odd_input(void) {
    static const char broken[] = "\xff\xfe\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80 caf\xc3";
    static const char nuls[] = "hi\0\0\0 for (i = 0; i < n; i++) { x[i] = y[i]; }";
    double p, q, conf = -1;

    p = classifier_difficulty("", 0);
    ok(p > 0 && p < 1, "empty text gives a probability (%.4f)", p);
    is_str(classifier_difficulty_label("", 0, &conf), "easy", "  and is easy");
    ok(classifier_difficulty(NULL, 0) == p, "NULL with length 0 is the empty text");
    ok(classifier_difficulty(NULL, 10) == p, "NULL with a length is also the empty text");

    p = classifier_difficulty(broken, sizeof broken - 1);
    ok(p >= 0 && p <= 1 && !isnan(p), "invalid UTF-8 gives a probability (%.4f)", p);
    ok(classifier_difficulty(broken, sizeof broken - 1) == p, "  the same one each time");
    ok(classifier_difficulty(broken, 1) >= 0, "  a lone 0xFF byte is fine");
    ok(classifier_difficulty("\xe4\xbd", 2) >= 0, "  a truncated sequence is fine");

    p = classifier_difficulty(nuls, sizeof nuls - 1);
    q = classifier_difficulty(nuls, 2);
    ok(p != q, "NUL bytes do not end the text (%.4f vs %.4f)", p, q);
    ok(p >= 0 && p <= 1, "  and the result is a probability");
}

/* A 1 MB message costs no more than its first 4 KiB. */
static void test_huge_input(void) {
    static const char chunk[] = "haha that was so much fun, see you soon! ";
    size_t size = 1 << 20, i, k = sizeof chunk - 1;
    char *big = malloc(size);
    double p, prefix, t0, t1;
    int r;

    for (i = 0; i < size; i++) big[i] = chunk[i % k];
    t0 = now();
    for (r = 0; r < 100; r++) p = classifier_difficulty(big, size);
    t1 = now();
    prefix = classifier_difficulty(big, 4096);
    ok(p == prefix, "1 MB gives the same result as its first 4096 bytes (%.4f)", p);
    ok(classifier_difficulty(big, 4097) == prefix, "  the cut is at exactly 4096 bytes");
    ok(classifier_difficulty(big, 4095) != prefix, "  and 4095 bytes still counts every byte");
    printf("# 1 MB message: %.1f us per call\n", (t1 - t0) / 100 * 1e6);
    ok((t1 - t0) / 100 < 0.005, "a 1 MB message takes under 5 ms (%.1f us)", (t1 - t0) / 100 * 1e6);
    free(big);
}

int main(void) {
    test_matches_script();
    test_heldout_accuracy();
    test_obvious();
    test_odd_input();
    test_huge_input();
    return done_testing();
}
