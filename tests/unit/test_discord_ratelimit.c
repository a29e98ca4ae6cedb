/* test_discord_ratelimit.c - unit tests for src/discord_ratelimit.c on a
 * real libuv loop: what the limiter learns per interaction token is
 * forgotten once idle, while limits still in force, requests in flight and
 * the order of a channel's queue are kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "platforms/discord/discord_ratelimit.h"
#include "io/http_client.h"
#include "tap.h"

#define MAX_TICKETS 2048

/* The requests the limiter let go, as a fake server would see them. */
static struct discord_ratelimit_ticket *pending[MAX_TICKETS];
static int npending;
static int order[MAX_TICKETS];
static int norder;

/* GO: the request is sent; its answer comes on a later turn of the loop. */
static void on_go(struct discord_ratelimit_ticket *t, void *data) {
    pending[npending++] = t;
    order[norder++] = (int)(intptr_t)data;
}

/* Answer every request sent so far with R. */
static void answer_all(struct ratelimit *rl, const struct discord_ratelimit_result *r) {
    int n = npending;
    npending = 0;
    struct discord_ratelimit_ticket *sent[MAX_TICKETS];
    memcpy(sent, pending, sizeof(sent[0]) * (size_t)n);
    for (int i = 0; i < n; i++) discord_ratelimit_done(rl, sent[i], r);
}

/* Turn the loop for about MS milliseconds, answering requests with R (if given). */
static void spin(uv_loop_t *loop, struct ratelimit *rl, const struct discord_ratelimit_result *r, int ms) {
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
    while (uv_hrtime() < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (r) answer_all(rl, r);
        uv_sleep(1);
        uv_update_time(loop);
    }
}

/* A bot answers 300 slash commands: each interaction token gets its own
 * bucket while it is used, and the sweep forgets them once they are idle. */
static void test_interactions_are_forgotten(uv_loop_t *loop) {
    struct ratelimit *rl = discord_ratelimit_new(loop, 1000);
    struct discord_ratelimit_result answered = { .status = 204, .bucket = "cb", .remaining = 4, .reset_after_s = 0.05, .retry_after_s = 0 };
    char token[32];
    for (int i = 0; i < 300; i++) {
        snprintf(token, sizeof(token), "tok%d", i);
        discord_ratelimit_enqueue(rl, "POST /interactions/{id}/{token}/callback", token, on_go, (void *)(intptr_t)i);
        discord_ratelimit_enqueue(rl, "PATCH /webhooks/{id}/{token}/messages/@original", token, on_go, (void *)(intptr_t)i);
    }
    spin(loop, rl, &answered, 400);
    is_int(norder, 600, "every callback and follow-up was sent");
    ok(discord_ratelimit_bucket_count(rl) >= 300, "a bucket per token is tracked while fresh (%zu)", discord_ratelimit_bucket_count(rl));

    /* A channel whose bucket is empty for a minute: that limit is still in force. */
    struct discord_ratelimit_result empty = { .status = 200, .bucket = "msg", .remaining = 0, .reset_after_s = 60, .retry_after_s = 0 };
    discord_ratelimit_enqueue(rl, "POST /channels/{id}/messages", "c1", on_go, (void *)(intptr_t)1000);
    spin(loop, rl, &empty, 20);
    /* A request in flight on a bucket never learned: its queue is busy. */
    discord_ratelimit_enqueue(rl, "GET /channels/{id}", "c2", on_go, (void *)(intptr_t)2000);
    spin(loop, rl, NULL, 20);
    is_int(npending, 1, "one request is in flight");

    size_t gone = discord_ratelimit_sweep(rl);
    ok(gone >= 300, "the sweep forgot the idle interaction buckets (%zu)", gone);
    is_int((long long)discord_ratelimit_bucket_count(rl), 2, "only the empty channel bucket and the busy one are left");

    norder = 0;
    discord_ratelimit_enqueue(rl, "POST /channels/{id}/messages", "c1", on_go, (void *)(intptr_t)1001);
    spin(loop, rl, NULL, 100);
    is_int(norder, 0, "the learned empty bucket still holds the next message back");

    struct discord_ratelimit_result fine = { .status = 200, .bucket = NULL, .remaining = -1, .reset_after_s = -1, .retry_after_s = 0 };
    answer_all(rl, &fine);
    discord_ratelimit_sweep(rl);
    is_int((long long)discord_ratelimit_bucket_count(rl), 1, "the answered request's bucket goes at the next sweep");
    discord_ratelimit_free(rl);
    spin(loop, NULL, NULL, 5);
    npending = 0;
    norder = 0;
}

/* A channel's replies keep their order through a 429 and a sweep in the
 * middle; once all is answered and the limits refilled, nothing is left
 * and the sweep timer stops (the loop has nothing more to do). */
static void test_order_kept_and_timer_stops(uv_loop_t *loop) {
    struct ratelimit *rl = discord_ratelimit_new(loop, 50);
    for (int i = 1; i <= 5; i++) discord_ratelimit_enqueue(rl, "POST /channels/{id}/messages", "c9", on_go, (void *)(intptr_t)i);
    spin(loop, rl, NULL, 10);
    is_int(npending, 1, "one request of the channel at a time");
    struct discord_ratelimit_result limited = { .status = 429, .bucket = "msg", .remaining = 0, .reset_after_s = 0.15, .retry_after_s = 0.15 };
    answer_all(rl, &limited);
    discord_ratelimit_sweep(rl);
    ok(discord_ratelimit_bucket_count(rl) >= 1, "a sweep during the 429 keeps the bucket it holds");
    spin(loop, rl, NULL, 20);
    is_int(norder, 1, "so the retry still waits for retry_after");
    struct discord_ratelimit_result answered = { .status = 200, .bucket = "msg", .remaining = 5, .reset_after_s = 0.02, .retry_after_s = 0 };
    spin(loop, rl, &answered, 300);
    int want[] = { 1, 1, 2, 3, 4, 5 };
    int same = norder == 6;
    for (int i = 0; same && i < 6; i++) same = order[i] == want[i];
    ok(same, "sent in order, the 429'd one again first (%d sends)", norder);
    ok(uv_loop_alive(loop), "the sweep timer runs while a bucket is tracked");
    is_int((long long)discord_ratelimit_sweep(rl), 1, "then the idle bucket goes");
    is_int((long long)discord_ratelimit_bucket_count(rl), 0, "and none is left");
    spin(loop, NULL, NULL, 5);
    ok(!uv_loop_alive(loop), "with no bucket left the sweep timer stops");
    discord_ratelimit_free(rl);
    spin(loop, NULL, NULL, 5);
}

/* Found by fuzz/fuzz_discord_rest.c: a 429 whose retry_after is 1e300, or
 * a Reset-After of inf, was cast to an integer (undefined; UBSan aborts).
 * The wait is cut to a day, and the request stays queued, not lost. */
static void test_absurd_waits(uv_loop_t *loop) {
    struct ratelimit *rl = discord_ratelimit_new(loop, 1000);
    char headers[] = "x-ratelimit-bucket: b1\r\nx-ratelimit-remaining: 0\r\nx-ratelimit-reset-after: inf\r\n";
    json_t *body = json_pack("{s:f, s:b}", "retry_after", 1e300, "global", 0);
    struct http_response res = { .status = 429, .headers = headers, .retry_after_ms = -1 };
    struct discord_ratelimit_result r;
    char bucket[64];
    discord_ratelimit_read(&res, body, &r, bucket, sizeof(bucket));
    ok(r.retry_after_s == 1e300 && r.reset_after_s > 1e300, "the absurd waits are read as sent");
    npending = 0;
    struct discord_ratelimit_ticket *t = discord_ratelimit_enqueue(rl, "POST /channels/{id}/messages", "9", on_go, NULL);
    spin(loop, rl, NULL, 5);
    is_int(npending, 1, "the request is sent");
    npending = 0;
    is_int(discord_ratelimit_done(rl, t, &r), 1, "a 429 with retry_after 1e300 queues the request again");
    spin(loop, rl, NULL, 5);
    is_int(npending, 0, "and holds it");
    discord_ratelimit_cancel(rl, t);
    discord_ratelimit_free(rl);
    json_decref(body);
    spin(loop, NULL, NULL, 2);
}

/* What the limiter tells the other gateways (discord_rlshare.c). */
static char learned_route[128], learned_hash[64], learned_major[64];
static double learned_wait;
static int learned_global, learned_n, invalid_n;

static void on_learned(const char *route, const char *hash, const char *major, double wait_ms, int global, void *data) {
    (void)data;
    snprintf(learned_route, sizeof(learned_route), "%s", route);
    snprintf(learned_hash, sizeof(learned_hash), "%s", hash ? hash : "");
    snprintf(learned_major, sizeof(learned_major), "%s", major);
    learned_wait = wait_ms;
    learned_global = global;
    learned_n++;
}

static void on_invalid(void *data) {
    (void)data;
    invalid_n++;
}

/* Two gateways of one bot: a bucket one empties is told to the other,
 * which holds that channel (and only it) until the reset; a route it never
 * used learns its bucket from the news. */
static void test_shared_limits(uv_loop_t *loop) {
    struct ratelimit *one = discord_ratelimit_new(loop, 1000);
    struct ratelimit *other = discord_ratelimit_new(loop, 1000);
    struct discord_ratelimit_share share = { on_learned, on_invalid, NULL };
    discord_ratelimit_set_share(one, &share);
    npending = norder = 0;
    discord_ratelimit_enqueue(one, "POST /channels/{id}/messages", "c1", on_go, (void *)(intptr_t)1);
    spin(loop, one, NULL, 5);
    struct discord_ratelimit_result fine = { .status = 200, .bucket = "msg", .remaining = 3, .reset_after_s = 0.2, .retry_after_s = -1 };
    answer_all(one, &fine);
    is_int(learned_n, 0, "a bucket with requests left is not news");
    discord_ratelimit_enqueue(one, "POST /channels/{id}/messages", "c1", on_go, (void *)(intptr_t)2);
    spin(loop, one, NULL, 5);
    struct discord_ratelimit_result limited = { .status = 429, .bucket = "msg", .remaining = 0, .reset_after_s = 0.2, .retry_after_s = 0.2 };
    answer_all(one, &limited);
    ok(learned_n == 1 && !strcmp(learned_route, "POST /channels/{id}/messages") && !strcmp(learned_hash, "msg") &&
       !strcmp(learned_major, "c1") && learned_wait >= 199 && !learned_global, "a 429 is told with route, bucket, channel and wait");
    is_int(invalid_n, 1, "and counted as a refused request");
    spin(loop, one, &fine, 260);   /* its own retry goes out after the wait */
    is_int(learned_n, 1, "and its successful retry is no news");
    discord_ratelimit_apply(other, learned_route, learned_hash, learned_major, learned_wait, learned_global);
    npending = norder = 0;
    discord_ratelimit_enqueue(other, "POST /channels/{id}/messages", "c1", on_go, (void *)(intptr_t)3);
    discord_ratelimit_enqueue(other, "POST /channels/{id}/messages", "c2", on_go, (void *)(intptr_t)4);
    spin(loop, NULL, NULL, 60);
    ok(norder == 1 && order[0] == 4, "the other gateway holds that channel and sends to another (%d sent)", norder);
    spin(loop, NULL, NULL, 250);
    is_int(norder, 2, "after the reset it sends there too");
    answer_all(other, &fine);
    discord_ratelimit_apply(other, "POST /channels/{id}/messages", NULL, "global", 100, 1);
    npending = norder = 0;
    discord_ratelimit_enqueue(other, "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me", "c3", on_go, NULL);
    spin(loop, NULL, NULL, 40);
    is_int(norder, 0, "a global limit heard of holds every route");
    spin(loop, NULL, NULL, 120);
    is_int(norder, 1, "until it is over");
    answer_all(other, &fine);
    discord_ratelimit_set_share(one, NULL);
    discord_ratelimit_free(one);
    discord_ratelimit_free(other);
    spin(loop, NULL, NULL, 5);
}

int main(void) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    test_interactions_are_forgotten(&loop);
    test_order_kept_and_timer_stops(&loop);
    test_absurd_waits(&loop);
    test_shared_limits(&loop);
    is_int(uv_loop_close(&loop), 0, "every handle was closed");
    return done_testing();
}
