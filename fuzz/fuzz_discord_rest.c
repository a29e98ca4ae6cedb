/* fuzz_discord_rest.c - Discord's REST answers as the rate limiter reads
 * them (platforms/discord/discord_ratelimit.c): status, the X-RateLimit-*
 * headers and, on a 429, the JSON body's retry_after and global. The
 * answer is read, then handed to a real limiter for a request in flight,
 * as discord_rest.c does; UBSan watches the waits computed from it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <uv.h>
#include "io/http_client.h"
#include "lib/json_fast.h"
#include "platforms/discord/discord_ratelimit.h"
#include "fuzz_input.h"

/* discord_ratelimit.c logs through lib/log.c, which is linked; nothing else
 * of the server is needed. */

static int went;

static void on_go(struct discord_ratelimit_ticket *t, void *data) {
    (void)t;
    (void)data;
    went = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uv_loop_t *loop;
    if (!loop) loop = uv_default_loop();
    struct fuzz_input in = { data, size };
    static const long statuses[] = { 200, 204, 400, 401, 403, 404, 429, 500, 502, 0 };
    unsigned pick = fuzz_byte(&in);
    long status = statuses[pick % 10];
    char *headers = fuzz_str(&in, 0, NULL);
    size_t blen;
    const char *body = (const char *)fuzz_rest(&in, &blen);

    json_t *parsed = blen ? json_fast_loadb(body, blen, NULL) : NULL;
    struct http_response res = { .status = status, .body = body, .body_len = blen, .headers = headers,
                                 .retry_after_ms = (long)(pick >> 4) * 250 - 1 };
    struct discord_ratelimit_result lim;
    char bucket[128];
    discord_ratelimit_read(&res, parsed, &lim, bucket, sizeof(bucket));
    if (lim.bucket && strlen(lim.bucket) >= sizeof(bucket)) abort();

    struct ratelimit *rl = discord_ratelimit_new(loop, 50);
    went = 0;
    struct discord_ratelimit_ticket *t = discord_ratelimit_enqueue(rl, "POST /channels/{id}/messages", "900", on_go, NULL);
    for (int i = 0; i < 5 && !went; i++) uv_run(loop, UV_RUN_NOWAIT);
    if (!went) abort();
    if (discord_ratelimit_done(rl, t, &lim) == 1) discord_ratelimit_cancel(rl, t);
    /* A second request on the same route sees what was learned. */
    t = discord_ratelimit_enqueue(rl, "POST /channels/{id}/messages", "900", on_go, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    discord_ratelimit_cancel(rl, t);
    discord_ratelimit_free(rl);
    uv_run(loop, UV_RUN_NOWAIT);                      /* let closed handles go */
    json_decref(parsed);
    free(headers);
    return 0;
}
