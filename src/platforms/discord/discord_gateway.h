/* discord_gateway.h - Discord gateway v10 connections (JSON encoding), one
 * per shard, all on the one loop as io/ws_client connections on web.c's
 * lws context.
 *
 * A discord_gateway_hub owns the shards of this process and what they share: the
 * identify pacing (max_concurrency buckets, session_start_limit) and the
 * options. Each shard keeps its session (id, seq, resume URL) across
 * connections: hello, jittered heartbeats, zombie detection, identify,
 * resume with replay (events at or below the last seq are never dispatched
 * twice), op 7, op 9, close codes, reconnects with backoff forever. Fatal
 * close codes (4004, 4010-4014) stop that shard only. */
#ifndef CHORUS_DISCORD_GATEWAY_H
#define CHORUS_DISCORD_GATEWAY_H
#include <stddef.h>
#include <jansson.h>
#include <uv.h>

struct lws_context;
struct discord_gateway_hub;
struct discord_gateway_shard;

struct discord_gateway_options {
    const char *token;
    long intents;
    const char *url;               /* from GET /gateway/bot or the config */
    int total_shards;
    int max_concurrency;           /* identify buckets (session_start_limit) */
    long session_remaining;        /* identifies left in the window, -1 unknown */
    long session_reset_after_ms;   /* when the window refills */
    size_t max_inbound;            /* largest message accepted (inflated, with compress) */
    int compress;                  /* ask for zlib-stream transport compression */
    double time_scale;             /* < 1 shrinks heartbeats, backoff, pacing */
    long identify_window_ms;       /* one identify per bucket per window; 0: 5000 x time_scale */
    int keep_sessions;             /* close with a resumable code when freed (another process resumes) */
};

/* What the hub tells its owner. DISPATCH gets every op 0 event once (D is
 * borrowed); READY is called when the set of ready shards changes; FATAL
 * when a shard stops for good. */
struct discord_gateway_callbacks {
    void (*dispatch)(struct discord_gateway_shard *s, const char *type, json_t *d, void *data);
    void (*ready)(struct discord_gateway_hub *h, void *data);
    void (*fatal)(struct discord_gateway_shard *s, int code, const char *why, void *data);
    /* Optional: a READY gave shard S a new session (to store elsewhere). */
    void (*session)(struct discord_gateway_shard *s, const char *session_id, const char *resume_url, long seq,
                    void *data);
    /* Optional: shard S may identify in BUCKET as far as this process
     * knows; ask others. Return 0 to identify now, or 1 and answer later
     * with discord_gateway_identify_answer(). */
    int (*identify_gate)(struct discord_gateway_shard *s, int bucket, long window_ms, void *data);
};

/* CTX is the lws context to connect on. Returns NULL with err. */
struct discord_gateway_hub *discord_gateway_new(uv_loop_t *loop, struct lws_context *ctx, const struct discord_gateway_options *opts,
                                const struct discord_gateway_callbacks *cb, void *data, char *err, size_t errlen);
/* Add shard ID (0 <= id < total) and start connecting it. Returns 0 or -1. */
int discord_gateway_add_shard(struct discord_gateway_hub *h, int id);
/* Add shard ID with a session another process left (RESUME first). */
int discord_gateway_add_shard_session(struct discord_gateway_hub *h, int id, const char *session_id,
                                      const char *resume_url, long seq);
/* Close shard ID's connection with CODE (4900 keeps the session
 * resumable, 1000 ends it) and forget the shard. Returns 0, or -1 when the
 * hub has no such shard. */
int discord_gateway_remove_shard(struct discord_gateway_hub *h, int id, int code);
/* The shard with ID, or NULL. */
struct discord_gateway_shard *discord_gateway_find(const struct discord_gateway_hub *h, int id);
/* The last sequence number S dispatched, and its session (NULL when none). */
long discord_gateway_shard_seq(const struct discord_gateway_shard *s);
const char *discord_gateway_shard_session(const struct discord_gateway_shard *s);
const char *discord_gateway_shard_resume_url(const struct discord_gateway_shard *s);
int discord_gateway_shard_ready(const struct discord_gateway_shard *s);
/* The answer to an identify_gate: WAIT_MS 0 identifies now, else the
 * shard asks again after WAIT_MS. */
void discord_gateway_identify_answer(struct discord_gateway_hub *h, int id, long wait_ms);
/* Close every connection with 1000 and free the hub; no callbacks after. */
void discord_gateway_free(struct discord_gateway_hub *h);
/* 1 when every shard is READY (or RESUMED) on an open connection; 0 with none. */
int discord_gateway_ready(const struct discord_gateway_hub *h);
int discord_gateway_shard_count(const struct discord_gateway_hub *h);
int discord_gateway_shard_id(const struct discord_gateway_shard *s);
/* "shard 0 stopped: ..." for the first shard not ready, or NULL. */
const char *discord_gateway_status(const struct discord_gateway_hub *h, char *buf, size_t len);
/* Gateway sockets still open, including ones closing after discord_gateway_free. */
int discord_gateway_open_connections(void);
#endif
