/* test_metrics.c - unit tests for src/metrics.c.
 *
 * The story: an operator scrapes /metrics while people chat on two
 * platforms and a model answers slowly. The counters must add up per label
 * and the text must be exactly what Prometheus expects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "lib/metrics.h"

/* Does the exposition TEXT hold LINE as one whole line? */
static int has_line(const char *text, const char *line) {
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
    return 0;
}

/* Check one exact line of the rendered text. */
static void expect_line(const char *text, const char *line) {
    if (!ok(has_line(text, line), "render has: %s", line))
        printf("# (line not found in %zu bytes of output)\n", strlen(text));
}

static void expect_no_line(const char *text, const char *line) {
    ok(!has_line(text, line), "render lacks: %s", line);
}

/* Messages arrive on the web chat and on Discord. */
static void test_counters(void) {
    metrics_reset();
    metrics_inc(METRIC_MESSAGES_IN, "web", 1);
    metrics_inc(METRIC_MESSAGES_IN, "web", 1);
    metrics_inc(METRIC_MESSAGES_IN, "discord", 1);
    metrics_inc(METRIC_MESSAGES_IN, "web", 3);
    metrics_inc(METRIC_MESSAGES_OUT, "web", 1);

    ok(metrics_get(METRIC_MESSAGES_IN, "web") == 5, "web counted 5 messages in");
    ok(metrics_get(METRIC_MESSAGES_IN, "discord") == 1, "discord counted 1 message in");
    ok(metrics_get(METRIC_MESSAGES_OUT, "web") == 1, "web counted 1 message out, separately");
    ok(metrics_get(METRIC_MESSAGES_OUT, "discord") == 0, "an unseen series reads 0");
    ok(metrics_get(METRIC_BAD_FRAMES, "web") == 0, "another family is untouched");
    metrics_inc(METRIC_REDIS_ERRORS, NULL, 1);
    ok(metrics_get(METRIC_REDIS_ERRORS, NULL) == 1 && metrics_get(METRIC_REDIS_ERRORS, "") == 1,
       "a NULL label is the empty label");

    metrics_reset();
    ok(metrics_get(METRIC_MESSAGES_IN, "web") == 0, "metrics_reset clears every counter");
}

/* A model whose name is long still counts into one series. */
static void test_long_label(void) {
    const char *model = "acme-research/instruct-large-2025-07-preview-with-extended-context-128k";
    char *text;
    size_t len;
    int series = 0;

    metrics_reset();
    metrics_inc(METRIC_MODEL_CALLS, model, 1);
    metrics_inc(METRIC_MODEL_CALLS, model, 1);
    metrics_inc(METRIC_MODEL_CALLS, model, 1);
    if (!ok(metrics_get(METRIC_MODEL_CALLS, model) == 3,
            "a %zu-character model name counts 3 calls", strlen(model)))
        printf("#      got: %g\n", metrics_get(METRIC_MODEL_CALLS, model));
    text = metrics_render(&len);
    for (const char *p = text; (p = strstr(p, "\nchorus_model_calls_total{")) != NULL; p++) series++;
    is_int(series, 1, "  and renders as one series");
    free(text);
    metrics_reset();
}

/* The slow model: observations fall into every bucket at or above them. */
static void test_histogram(void) {
    char *text;
    size_t len;

    metrics_reset();
    metrics_observe(METRIC_MODEL_SECONDS, "x", 0.25);  /* exactly on a bound */
    metrics_observe(METRIC_MODEL_SECONDS, "x", 0.75);
    metrics_observe(METRIC_MODEL_SECONDS, "x", 2);
    metrics_observe(METRIC_MODEL_SECONDS, "x", 45);    /* beyond the last bound */
    metrics_observe(METRIC_MODEL_SECONDS, "y", 0.001);
    metrics_observe(METRIC_MODEL_SECONDS, "z", 0.05);  /* on a bound that is not exact in binary */
    text = metrics_render(&len);
    is_int((long long)len, (long long)strlen(text), "render returns the text's length");

    expect_line(text, "# HELP chorus_model_seconds Model call latency.");
    expect_line(text, "# TYPE chorus_model_seconds histogram");
    expect_line(text, "chorus_model_seconds_bucket{model=\"x\",le=\"0.1\"} 0");
    expect_line(text, "chorus_model_seconds_bucket{model=\"x\",le=\"0.25\"} 1");
    expect_line(text, "chorus_model_seconds_bucket{model=\"x\",le=\"0.5\"} 1");
    expect_line(text, "chorus_model_seconds_bucket{model=\"x\",le=\"1\"} 2");
    expect_line(text, "chorus_model_seconds_bucket{model=\"x\",le=\"2.5\"} 3");
    expect_line(text, "chorus_model_seconds_bucket{model=\"x\",le=\"30\"} 3");
    expect_line(text, "chorus_model_seconds_bucket{model=\"x\",le=\"+Inf\"} 4");
    expect_line(text, "chorus_model_seconds_sum{model=\"x\"} 48");
    expect_line(text, "chorus_model_seconds_count{model=\"x\"} 4");
    expect_line(text, "chorus_model_seconds_bucket{model=\"y\",le=\"0.005\"} 1");
    expect_line(text, "chorus_model_seconds_bucket{model=\"y\",le=\"30\"} 1");
    expect_line(text, "chorus_model_seconds_bucket{model=\"y\",le=\"+Inf\"} 1");
    expect_line(text, "chorus_model_seconds_count{model=\"y\"} 1");
    expect_line(text, "chorus_model_seconds_bucket{model=\"z\",le=\"0.025\"} 0");
    expect_line(text, "chorus_model_seconds_bucket{model=\"z\",le=\"0.05\"} 1");
    /* Every bucket of a series is cumulative: counts never go down. */
    {
        const char *p = text;
        unsigned long prev = 0, cur;
        int buckets = 0, monotonic = 1;
        while ((p = strstr(p, "chorus_model_seconds_bucket{model=\"x\",le=\"")) != NULL) {
            p = strstr(p, "} ");
            if (!p || sscanf(p + 2, "%lu", &cur) != 1) break;
            if (cur < prev) monotonic = 0;
            prev = cur;
            buckets++;
        }
        is_int(buckets, 13, "x has 12 bounded buckets and +Inf");
        ok(monotonic, "  and the counts only grow with le");
    }
    free(text);
    metrics_reset();
}

/* The whole scrape: HELP/TYPE for every family and the exact series lines. */
static void test_render(void) {
    char *text;
    size_t len;

    metrics_reset();
    metrics_inc(METRIC_MESSAGES_IN, "web", 2);
    metrics_inc(METRIC_BAD_FRAMES, "bad_json", 1);
    metrics_inc(METRIC_MODEL_CALLS, "x", 0.5);
    metrics_observe(METRIC_REPLY_SECONDS, "web", 0.25);
    metrics_observe(METRIC_REPLY_SECONDS, "web", 0.5);
    metrics_inc(METRIC_SKILL_ERRORS, "say \"hi\"\\\n", 1);
    text = metrics_render(&len);

    expect_line(text, "# HELP chorus_messages_in_total Messages received, per platform.");
    expect_line(text, "# TYPE chorus_messages_in_total counter");
    expect_line(text, "chorus_messages_in_total{platform=\"web\"} 2");
    expect_line(text, "# TYPE chorus_messages_out_total counter");
    expect_line(text, "chorus_bad_frames_total{error=\"bad_json\"} 1");
    expect_line(text, "chorus_model_calls_total{model=\"x\"} 0.5");
    expect_line(text, "# TYPE chorus_reply_seconds histogram");
    expect_line(text, "chorus_reply_seconds_bucket{platform=\"web\",le=\"0.1\"} 0");
    expect_line(text, "chorus_reply_seconds_bucket{platform=\"web\",le=\"0.25\"} 1");
    expect_line(text, "chorus_reply_seconds_bucket{platform=\"web\",le=\"0.5\"} 2");
    expect_line(text, "chorus_reply_seconds_bucket{platform=\"web\",le=\"+Inf\"} 2");
    expect_line(text, "chorus_reply_seconds_sum{platform=\"web\"} 0.75");
    expect_line(text, "chorus_reply_seconds_count{platform=\"web\"} 2");
    expect_line(text, "chorus_skill_errors_total{where=\"say \\\"hi\\\"\\\\\\n\"} 1");
    expect_no_line(text, "chorus_messages_out_total{platform=\"web\"} 0");
    {
        int help = 0, type = 0;
        for (const char *p = text; (p = strstr(p, "# HELP ")) != NULL; p++) help++;
        for (const char *p = text; (p = strstr(p, "# TYPE ")) != NULL; p++) type++;
        is_int(help, METRIC_COUNT, "one HELP line per family");
        is_int(type, METRIC_COUNT, "one TYPE line per family");
    }
    ok(len > 0 && text[len - 1] == '\n', "the text ends with a newline");
    free(text);

    metrics_reset();
    text = metrics_render(&len);
    ok(strstr(text, "{") == NULL, "after reset only HELP/TYPE lines remain");
    free(text);
}

/* A busy scrape: many series grow the render buffer past its first size. */
static void test_large_render(void) {
    char *text, label[32], line[96];
    size_t len;

    metrics_reset();
    for (int i = 0; i < 40; i++) {
        snprintf(label, sizeof label, "model-%02d", i);
        metrics_observe(METRIC_MODEL_SECONDS, label, i);
    }
    text = metrics_render(&len);
    ok(len > 4096, "40 histogram series render past the first 4 KiB buffer (%zu bytes)", len);
    expect_line(text, "chorus_model_seconds_count{model=\"model-39\"} 1");
    snprintf(line, sizeof line, "chorus_model_seconds_sum{model=\"model-%02d\"} %d", 17, 17);
    expect_line(text, line);
    is_int((long long)strlen(text), (long long)len, "  and the length matches");
    free(text);
    metrics_reset();
}

int main(void) {
    test_counters();
    test_long_label();
    test_histogram();
    test_render();
    test_large_render();
    return done_testing();
}
