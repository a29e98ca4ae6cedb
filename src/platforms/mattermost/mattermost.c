/* mattermost.c - the Mattermost adapter: reads `mattermost { ... }`, learns
 * who the bot is (GET /users/me, and the team when one is named), keeps the
 * websocket, turns `posted` events into chat_messages and replies into
 * posts (in the thread when the message was in one), streamed edits,
 * reactions and "typing..." notices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "core/message.h"
#include "core/platform.h"
#include "lib/dict.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/redact.h"
#include "lib/xalloc.h"
#include "platforms/mattermost/mattermost.h"
#include "platforms/mattermost/mattermost_events.h"
#include "platforms/mattermost/mattermost_rest.h"
#include "platforms/mattermost/mattermost_stream.h"
#include "platforms/mattermost/mattermost_ws.h"
#include "io/timer.h"

#define ROOTS_MAX 4096             /* thread roots of recent messages remembered for replies */

struct mattermost {
    struct platform *self;
    char *url;
    char *token;
    char *team;                    /* as configured (name or id), or NULL */
    struct mattermost_ws_options wso;
    long edit_ms;
    int max_inflight;
    long retry_ms;
    struct mattermost_rest *rest;
    struct edit_streams *streams;
    struct mattermost_ws *ws;
    char *bot_id;
    char *username;
    char *team_id;
    struct dict *roots;            /* message id -> the root of its thread */
    char *ring[ROOTS_MAX];         /* the keys of roots, oldest first, to forget them in turn */
    int ring_pos;
    uv_timer_t *start_retry;
    int start_attempts;
    int fatal;                     /* the server refused the token: down until reloaded */
    int stopped;
};

/* ---- config (the schema is in mattermost_config.c) ---------------------- */

/* Read the mattermost statement into MM. */
static void read_config(struct mattermost *mm, const struct config_block *b) {
    mm->url = xstrdup(config_str(b, "url", ""));
    mm->token = xstrdup(config_str(b, "token", ""));
    redact_add_secret(mm->token);
    const char *team = config_str(b, "team", NULL);
    mm->team = team && *team ? xstrdup(team) : NULL;
    mm->wso.ping_ms = config_int(b, "ping_interval_ms", 30000);
    mm->wso.reconnect_min_ms = config_int(b, "reconnect_min_ms", 1000);
    mm->wso.reconnect_max_ms = config_int(b, "reconnect_max_ms", 60000);
    long max = config_int(b, "max_inbound_bytes", 8388608);
    mm->wso.max_inbound = max > 4096 ? (size_t)max : 4096;
    mm->edit_ms = config_int(b, "edit_interval_ms", 1000);
    mm->max_inflight = (int)config_int(b, "max_inflight", 4);
    mm->retry_ms = config_int(b, "retry_ms", 500);
}

/* ---- threads ------------------------------------------------------------ */

/* Remember that message ID was posted in the thread ROOT (forgetting the
 * oldest once ROOTS_MAX are kept). */
static void remember_root(struct mattermost *mm, const char *id, const char *root) {
    if (dict_get(mm->roots, id)) return;
    char *old = mm->ring[mm->ring_pos];
    if (old) {
        free(dict_del(mm->roots, old));
        free(old);
    }
    mm->ring[mm->ring_pos] = xstrdup(id);
    mm->ring_pos = (mm->ring_pos + 1) % ROOTS_MAX;
    dict_set(mm->roots, id, xstrdup(root));
}

/* The thread a reply to message REPLY_TO goes into, or NULL (the channel). */
static const char *root_of(struct mattermost *mm, const char *reply_to) {
    return reply_to && mm->roots ? dict_get(mm->roots, reply_to) : NULL;
}

/* ---- events ------------------------------------------------------------- */

/* Tell a channel why its message was not taken. */
static void send_notice(struct mattermost *mm, const char *channel, const char *root, const char *text) {
    mattermost_rest_post(mm->rest, channel, root, text, NULL, NULL);
}

/* A `posted` event: a post from someone else becomes a chat_message. */
static void on_posted(struct mattermost *mm, json_t *data) {
    struct mattermost_self me = { mm->bot_id, mm->username, mm->team_id };
    struct chat_message m;
    struct mattermost_posted hold;
    int rc = mattermost_posted_message(data, &me, &m, &hold);
    if (rc == MATTERMOST_POSTED_MALFORMED) {
        log_warn("mattermost: a posted event without a readable post; skipped");
        metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_malformed", 1);
        return;
    }
    if (rc != MATTERMOST_POSTED_OK) return;
    if (!*m.text) {
        mattermost_posted_free(&hold);
        return;
    }
    if (m.thread) remember_root(mm, m.id, m.thread);
    if (mm->self->host->stopping()) {
        if (m.direct) send_notice(mm, m.channel, m.thread, "I'm restarting right now. Please send that again in a moment.");
    } else if (platform_receive(mm->self, &m) < 0) {
        if (m.direct) send_notice(mm, m.channel, m.thread, "Too many messages are waiting in this channel. Please slow down a little.");
        else log_info("mattermost: the queue of %s is full; a message not addressed to the bot is skipped", m.channel);
    }
    mattermost_posted_free(&hold);
}

/* Every websocket event, exactly once and in order. */
static void on_ws_event(const char *type, json_t *data, void *arg) {
    struct mattermost *mm = arg;
    if (!strcmp(type, "posted")) on_posted(mm, data);
}

/* The websocket came up or went down. */
static void on_ws_ready(int ready, void *arg) {
    struct mattermost *mm = arg;
    mm->self->ready = ready && !mm->fatal;
}

/* The server refused the token (401 on WHAT): say so once, close the
 * websocket and stay down, never a storm of refused calls. */
static void go_fatal(struct mattermost *mm, long status, const char *what) {
    if (mm->fatal || mm->stopped) return;
    mm->fatal = 1;
    log_error("mattermost: the server refused the token (HTTP %ld on %s); check MATTERMOST_TOKEN. "
              "The Mattermost adapter stays down (no reconnects) until the configuration is fixed and reloaded",
              status, what);
    metrics_inc(METRIC_PLATFORM_EVENTS, "mattermost_fatal", 1);
    mm->self->ready = 0;
    uv_timer_stop(mm->start_retry);
    mattermost_ws_free(mm->ws);
    mm->ws = NULL;
}

/* mattermost_rest's refused: a 401 on any call. */
static void on_refused(long status, const char *path, void *arg) {
    go_fatal(arg, status, path);
}

/* ---- start -------------------------------------------------------------- */

static void request_me(struct mattermost *mm);

/* Retry the start after its backoff. */
static void on_start_retry(uv_timer_t *t) {
    request_me(t->data);
}

/* A start step failed (WHAT): try again after a backoff; a refused token
 * stops the adapter. */
static void start_failed(struct mattermost *mm, long status, const char *what) {
    if (status == 401 || status == 403) {
        go_fatal(mm, status, what);
        return;
    }
    if (mm->fatal) return;
    int n = mm->start_attempts < 16 ? mm->start_attempts : 16;
    double d = (double)mm->wso.reconnect_min_ms * (double)(1u << n);
    if (d > (double)mm->wso.reconnect_max_ms) d = (double)mm->wso.reconnect_max_ms;
    uint64_t delay = (uint64_t)d;
    log_warn("mattermost: %s failed (HTTP %ld); trying again in %llu ms", what, status, (unsigned long long)delay);
    mm->start_attempts++;
    uv_timer_start(mm->start_retry, on_start_retry, delay ? delay : 1, 0);
}

/* Who the bot is and where it works are known: open the websocket. */
static void start_ws(struct mattermost *mm) {
    char err[256];
    if (mm->fatal) return;
    struct mattermost_ws_options o = mm->wso;
    o.url = mm->url;
    o.token = mm->token;
    o.own_user_id = mm->bot_id;
    static const struct mattermost_ws_callbacks callbacks = { on_ws_event, on_ws_ready };
    mm->ws = mattermost_ws_new(mm->self->host->loop, mm->self->host->lws(), &o, &callbacks, mm, err, sizeof(err));
    if (!mm->ws) {
        log_error("%s", err);
        return;
    }
    log_info("mattermost: signed in as @%s; opening the websocket", mm->username);
    mattermost_ws_start(mm->ws);
}

/* GET /teams/name/{team} answered: its id, or (404) the name was an id. */
static void on_team(long status, json_t *body, const char *err, void *data) {
    struct mattermost *mm = data;
    if (mm->stopped || mm->fatal) return;
    json_t *id = json_object_get(body, "id");
    if (status == 200 && json_is_string(id)) {
        mm->team_id = xstrdup(json_string_value(id));
    } else if (status == 404) {
        mm->team_id = xstrdup(mm->team);
    } else {
        start_failed(mm, status, err ? "GET /teams/name" : "GET /teams/name (no id)");
        return;
    }
    start_ws(mm);
}

/* GET /users/me answered: the bot's id and name. */
static void on_me(long status, json_t *body, const char *err, void *data) {
    struct mattermost *mm = data;
    if (mm->stopped || mm->fatal) return;
    json_t *id = json_object_get(body, "id");
    json_t *name = json_object_get(body, "username");
    if (err || !json_is_string(id) || !json_is_string(name)) {
        start_failed(mm, status, "GET /users/me");
        return;
    }
    free(mm->bot_id);
    free(mm->username);
    mm->bot_id = xstrdup(json_string_value(id));
    mm->username = xstrdup(json_string_value(name));
    if (mm->team && !mm->team_id) {
        char path[320];
        snprintf(path, sizeof(path), "/teams/name/%s", mm->team);
        mattermost_rest_call(mm->rest, "GET", path, NULL, NULL, on_team, mm);
        return;
    }
    start_ws(mm);
}

/* Ask the server who the bot is. */
static void request_me(struct mattermost *mm) {
    if (mattermost_rest_call(mm->rest, "GET", "/users/me", NULL, NULL, on_me, mm) < 0)
        log_error("mattermost: cannot start GET /users/me");
}

/* platform_ops.start: the REST queue, then GET /users/me; the websocket follows. */
static int mattermost_start(struct platform *p) {
    struct mattermost *mm = p->state;
    struct mattermost_rest_options ro = { .url = mm->url, .token = mm->token, .max_inflight = mm->max_inflight,
                                          .retry_ms = mm->retry_ms, .refused = on_refused, .arg = mm };
    mm->rest = mattermost_rest_new(p->host->loop, p->host->http, &ro);
    mm->streams = mattermost_streams_new(p->host->loop, mm->rest, mm->edit_ms);
    mm->roots = dict_new();
    mm->start_retry = timer_new(p->host->loop, mm);
    request_me(mm);
    return 0;
}

/* ---- replies ------------------------------------------------------------ */

/* platform_ops.send: the end of a streamed reply, or a post (split as
 * needed), in the thread of the message it answers. */
static int mattermost_send(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    struct mattermost *mm = p->state;
    if (!mm || mm->stopped || mm->fatal || !mm->rest) {
        if (cb) cb(NULL, "Mattermost is not running", data);
        return 0;
    }
    if (edit_stream_final(mm->streams, out->channel, out->reply_to, out->text, cb, data)) return 0;
    if (mattermost_rest_post(mm->rest, out->channel, root_of(mm, out->reply_to), out->text, cb, data) < 0 && cb)
        cb(NULL, "an empty reply cannot be sent to Mattermost", data);
    return 0;
}

/* platform_ops.stream_delta: grow the reply in one post, edited as it grows. */
static void mattermost_stream_delta_op(struct platform *p, const char *channel, const char *reply_to, const char *text,
                                       size_t len) {
    struct mattermost *mm = p->state;
    if (!mm || mm->stopped || !mm->rest) return;
    edit_stream_delta(mm->streams, channel, reply_to, root_of(mm, reply_to), text, len);
}

/* platform_ops.typing: a user_typing action on the websocket (no REST call). */
static int mattermost_typing(struct platform *p, const char *channel) {
    struct mattermost *mm = p->state;
    if (!mm || mm->stopped || !mm->ws) return 0;
    return mattermost_ws_send(mm->ws, "user_typing", json_pack("{s:s, s:s}", "channel_id", channel, "parent_id", ""));
}

/* Mattermost names its emoji; the few unicode ones skills use most are mapped. */
static const char *emoji_name(const char *emoji, char *buf, size_t len) {
    static const char *const map[][2] = {
        { "\xf0\x9f\x91\x8d", "+1" }, { "\xf0\x9f\x91\x8e", "-1" }, { "\xe2\x9d\xa4\xef\xb8\x8f", "heart" },
        { "\xe2\x9d\xa4", "heart" }, { "\xf0\x9f\x91\x80", "eyes" }, { "\xe2\x9c\x85", "white_check_mark" },
        { "\xf0\x9f\x98\x84", "smile" }, { "\xf0\x9f\x8e\x89", "tada" }, { NULL, NULL }
    };
    for (int i = 0; map[i][0]; i++)
        if (!strcmp(emoji, map[i][0])) return map[i][1];
    size_t n = strlen(emoji);
    if (n >= 2 && emoji[0] == ':' && emoji[n - 1] == ':') {
        snprintf(buf, len, "%.*s", (int)(n - 2), emoji + 1);
        return buf;
    }
    return emoji;
}

/* platform_ops.react: POST /reactions as the bot. */
static int mattermost_react_op(struct platform *p, const char *channel, const char *message_id, const char *emoji) {
    struct mattermost *mm = p->state;
    char buf[80];
    (void)channel;
    if (!mm || mm->stopped || !mm->rest || !*emoji) return -1;
    return mattermost_rest_react(mm->rest, mm->bot_id, message_id, emoji_name(emoji, buf, sizeof(buf)), NULL, NULL);
}

/* platform_ops.edit: PUT /posts/{id}/patch on a post the bot made. */
static int mattermost_edit_op(struct platform *p, const char *channel, const char *message_id, const char *text, size_t len) {
    struct mattermost *mm = p->state;
    if (!mm || mm->stopped || !mm->rest || len == 0) return -1;
    return mattermost_rest_patch(mm->rest, channel, message_id, text, len, NULL, NULL);
}

/* ---- stop --------------------------------------------------------------- */

/* dict_each helper: free a remembered root. */
static void free_root(const char *key, void *value, void *arg) {
    (void)key;
    (void)arg;
    free(value);
}

/* platform_ops.stop: close the websocket (1000) and drop pending REST calls. */
static void mattermost_stop(struct platform *p) {
    struct mattermost *mm = p->state;
    if (!mm || mm->stopped) return;
    mm->stopped = 1;
    p->ready = 0;
    mattermost_ws_free(mm->ws);
    timer_free(&mm->start_retry);
    mattermost_rest_free(mm->rest);
    edit_streams_free(mm->streams);
    if (mm->roots) {
        dict_each(mm->roots, free_root, NULL);
        dict_free(mm->roots);
    }
    for (int i = 0; i < ROOTS_MAX; i++) free(mm->ring[i]);
    free(mm->url);
    free(mm->token);
    free(mm->team);
    free(mm->bot_id);
    free(mm->username);
    free(mm->team_id);
    free(mm);
    p->state = NULL;
}

/* platform_ops.connections: websockets still open (for the drain). */
static int mattermost_connections(struct platform *p) {
    (void)p;
    return mattermost_ws_open_connections();
}

/* The adapter's state from the `mattermost { ... }` statement B. */
static void *mattermost_create(struct platform *p, const struct config_block *b) {
    struct mattermost *mm = xcalloc(1, sizeof(*mm));
    read_config(mm, b);
    mm->self = p;
    return mm;
}

/* platform_ops.mention: "@username" (the sender_name Mattermost gives). */
static char *mattermost_mention(struct platform *p, const char *user_id, const char *user_name) {
    (void)p, (void)user_id;
    size_t n = strlen(user_name) + 2;
    char *out = xmalloc(n);
    snprintf(out, n, "@%s", user_name);
    return out;
}

const struct platform_ops mattermost_platform = {
    .name = "mattermost",
    .config_kind = "mattermost",
    .create = mattermost_create,
    .start = mattermost_start,
    .send = mattermost_send,
    .typing = mattermost_typing,
    .react = mattermost_react_op,
    .edit = mattermost_edit_op,
    .stream_delta = mattermost_stream_delta_op,
    .stop = mattermost_stop,
    .connections = mattermost_connections,
    .mention = mattermost_mention,
};
