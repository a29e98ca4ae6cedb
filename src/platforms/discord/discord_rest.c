/* discord_rest.c - Discord REST calls: build the request, queue it on the
 * rate limiter, send it with http_client, read the limits off the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "platforms/discord/discord_ratelimit.h"
#include "platforms/discord/discord_rest.h"
#include "io/http_client.h"
#include "lib/json_fast.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "io/timer.h"

#define MAX_TRIES 4

struct rest_call {
    struct discord_rest *r;
    char *method;
    char *path;
    char *url;
    char *body;                 /* serialized JSON, or NULL */
    int tries;
    struct discord_ratelimit_ticket *ticket;
    struct http_call *http;
    uv_timer_t *retry_timer;    /* waiting before a retry after a 5xx */
    discord_rest_fn *cb;
    void *data;
    struct rest_call *prev, *next;
};

struct discord_rest {
    uv_loop_t *loop;
    struct http_client *http;
    struct ratelimit *rl;
    char *base;                 /* api_base + "/v10" */
    char *auth;                 /* "Authorization: Bot <token>" */
    double scale;
    struct rest_call *calls;
    int ncalls;
    int refused;                /* Discord answered 401: nothing more is sent */
    long dropped;               /* calls failed unsent since */
    void (*refused_cb)(void *data);
    void *refused_data;
};

struct discord_rest *discord_rest_new(uv_loop_t *loop, struct http_client *http,
                                      const struct discord_rest_options *opts) {
    struct discord_rest *r = xcalloc(1, sizeof(*r));
    if (!r) return NULL;
    r->loop = loop;
    r->http = http;
    r->scale = opts->time_scale > 0 ? opts->time_scale : 1.0;
    r->refused_cb = opts->refused;
    r->refused_data = opts->refused_data;
    r->rl = discord_ratelimit_new(loop, opts->global_per_sec);
    size_t n = strlen(opts->api_base);
    while (n && opts->api_base[n - 1] == '/') n--;
    if (n >= 4 && !strncmp(opts->api_base + n - 4, "/v10", 4)) n -= 4;   /* "…/api/v10" works too */
    r->base = xmalloc(n + 5);
    memcpy(r->base, opts->api_base, n);
    memcpy(r->base + n, "/v10", 5);
    size_t alen = strlen(opts->token) + 32;
    r->auth = xmalloc(alen);
    snprintf(r->auth, alen, "Authorization: Bot %s", opts->token);
    return r;
}

/* Unlink and free CALL, cancelling whatever it still waits on. */
static void call_free(struct rest_call *c) {
    struct discord_rest *r = c->r;
    if (c->prev) c->prev->next = c->next;
    else r->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    r->ncalls--;
    if (c->http) http_cancel(c->http);
    if (c->ticket) discord_ratelimit_cancel(r->rl, c->ticket);
    timer_free(&c->retry_timer);
    free(c->method);
    free(c->path);
    free(c->url);
    free(c->body);
    free(c);
}

void discord_rest_free(struct discord_rest *r) {
    if (!r) return;
    while (r->calls) call_free(r->calls);
    discord_ratelimit_free(r->rl);
    free(r->base);
    free(r->auth);
    free(r);
}

/* Is segment INDEX under TOP an interaction or webhook token (never a route key, never logged)? */
static int token_segment(const char *top, int index) {
    return index == 2 && (!strcmp(top, "interactions") || !strcmp(top, "webhooks"));
}

/* Append S[0..n) at OUT + USED the way snprintf would (cut to CAP, always
 * NUL-terminated); returns USED + N, as snprintf's count would add up. */
static size_t append(char *out, size_t cap, size_t used, const char *s, size_t n) {
    if (used < cap) {
        size_t room = cap - 1 - used;
        size_t k = n < room ? n : room;
        memcpy(out + used, s, k);
        out[used + k] = '\0';
    }
    return used + n;
}

/* Copy S[0..n) into OUT, cut to OUTLEN. */
static void copy_cut(char *out, size_t outlen, const char *s, size_t n) {
    if (n > outlen - 1) n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* The rate-limit route of PATH: ids become {id}, a reaction's emoji {emoji},
 * interaction and webhook tokens {token}; MAJOR gets the channel, guild or
 * webhook id the limits are counted on (for a token: the token itself, so
 * each interaction is its own queue). Runs for every REST call, so it
 * copies bytes rather than calling snprintf per segment. */
static void route_of(const char *method, const char *path, char *route, size_t rlen, char *major, size_t mlen) {
    size_t used = append(route, rlen, 0, method, strlen(method));
    used = append(route, rlen, used, " ", 1);
    copy_cut(major, mlen, "global", 6);
    const char *p = path;
    int index = 0;
    char prev[32] = "", top[32] = "";
    while (*p == '/' && used < rlen) {
        p++;
        size_t len = strcspn(p, "/?");
        int digits = len > 0;
        for (size_t i = 0; i < len; i++)
            if (p[i] < '0' || p[i] > '9') digits = 0;
        const char *seg = p;
        size_t seglen = len;
        if (!strcmp(prev, "reactions")) {
            seg = "{emoji}";
            seglen = 7;
        } else if (token_segment(top, index)) {
            seg = "{token}";
            seglen = 7;
            copy_cut(major, mlen, p, len);
        } else if (digits) {
            seg = "{id}";
            seglen = 4;
            if (index == 1 && (!strcmp(top, "channels") || !strcmp(top, "guilds") || !strcmp(top, "webhooks")))
                copy_cut(major, mlen, p, len);
        }
        used = append(route, rlen, used, "/", 1);
        used = append(route, rlen, used, seg, seglen);
        copy_cut(prev, sizeof(prev), p, len);
        if (index == 0) memcpy(top, prev, sizeof(top));
        index++;
        p += len;
    }
    if (used >= rlen) route[rlen - 1] = '\0';
}

/* PATH with interaction and webhook tokens masked, for log lines. */
static const char *loggable(const char *path, char *out, size_t len) {
    size_t used = 0;
    int index = 0;
    char top[32] = "";
    const char *p = path;
    out[0] = '\0';
    while (*p == '/' && used + 1 < len) {
        p++;
        size_t n = strcspn(p, "/?");
        if (index == 0) snprintf(top, sizeof(top), "%.*s", (int)(n < 31 ? n : 31), p);
        if (token_segment(top, index)) used += (size_t)snprintf(out + used, len - used, "/***");
        else used += (size_t)snprintf(out + used, len - used, "/%.*s", (int)n, p);
        index++;
        p += n;
    }
    return out;
}

static void start_http(struct rest_call *c);

/* The limiter says it is this call's turn. */
static void on_go(struct discord_ratelimit_ticket *t, void *data) {
    struct rest_call *c = data;
    (void)t;
    start_http(c);
}

/* A retry's backoff is over: queue the call again behind the limiter. */
static void on_retry_timer(uv_timer_t *t) {
    struct rest_call *c = t->data;
    timer_free(&c->retry_timer);
    char route[256], major[64];
    route_of(c->method, c->path, route, sizeof(route), major, sizeof(major));
    c->ticket = discord_ratelimit_enqueue(c->r->rl, route, major, on_go, c);
    if (!c->ticket) {
        discord_rest_fn *cb = c->cb;
        void *data = c->data;
        call_free(c);
        if (cb) cb(0, NULL, "out of memory", data);
    }
}

/* What the callers read of the message object Discord answers a post or
 * an edit with: its id (and an error's message, code, errors, retry_after
 * and global); the other members are stepped over, not built. */
static const char *const message_read[] = { "id", "message", "code", "errors", "retry_after", "global", NULL };

/* Does PATH name a channel's messages (a post or an edit answers with one)? */
static int is_message_path(const char *path) {
    return !strncmp(path, "/channels/", 10) && strstr(path, "/messages") && !strstr(path, "/reactions");
}

/* The answer's body as the callers read it. A post or an edit that went
 * through answers with the whole message object, of which they take the
 * id: it is read where it stands and the text after it is not looked at.
 * An error is read for the members above; any other answer whole. */
static json_t *answer_body(const struct rest_call *c, const struct http_response *res) {
    static const char *const id_path[] = { "id", NULL };
    if (!res->body_len) return NULL;
    if (!is_message_path(c->path)) return json_fast_loadb(res->body, res->body_len, NULL);
    const char *v;
    size_t n;
    if (res->status >= 200 && res->status <= 299 && json_fast_member(res->body, res->body_len, id_path, &v, &n) == 0 &&
        n >= 3 && v[0] == '"' && v[n - 1] == '"' && !memchr(v + 1, '\\', n - 2)) {
        json_t *body = json_object();
        if (body && json_object_set_new(body, "id", json_stringn(v + 1, n - 2)) == 0) return body;
        json_decref(body);
    }
    return json_fast_loadb_only(res->body, res->body_len, message_read, NULL);
}

/* The first error of a 400's nested "errors" object, as "key.path: message"
 * into OUT: Discord says only "Invalid Form Body" at the top, and which
 * field it refused, and why, sits in an "_errors" array somewhere below.
 * Returns 1 when one was found. */
static int first_error(json_t *errors, char *out, size_t len, size_t used) {
    const char *key;
    json_t *v;
    json_object_foreach(errors, key, v) {
        if (!strcmp(key, "_errors")) {
            json_t *msg = json_object_get(json_array_get(v, 0), "message");
            if (!json_is_string(msg)) continue;
            snprintf(out + used, len - used, "%s%s", used ? ": " : "", json_string_value(msg));
            return 1;
        }
        if (!json_is_object(v)) continue;
        int n = snprintf(out + used, len - used, "%s%s", used ? "." : "", key);
        if (n < 0 || used + (size_t)n >= len) return 0;
        if (first_error(v, out, len, used + (size_t)n)) return 1;
        out[used] = '\0';
    }
    return 0;
}

/* The HTTP exchange ended: retry, or report to the caller. */
static void on_http(const struct http_response *res, void *data) {
    struct rest_call *c = data;
    struct discord_rest *r = c->r;
    c->http = NULL;
    json_t *body = answer_body(c, res);
    struct discord_ratelimit_result lim;
    char bucket[128];
    discord_ratelimit_read(res, body, &lim, bucket, sizeof(bucket));
    struct discord_ratelimit_ticket *t = c->ticket;
    if (discord_ratelimit_done(r->rl, t, &lim)) {      /* a 429: the limiter sends it again */
        json_decref(body);
        return;
    }
    c->ticket = NULL;
    if (res->status == 401 && !r->refused) {
        char shown[300];
        r->refused = 1;
        log_error("discord: Discord refused the bot token (HTTP 401 on %s %s): it was reset or revoked; no more REST "
                  "calls are sent until chorusd restarts with a valid token", c->method,
                  loggable(c->path, shown, sizeof(shown)));
        if (r->refused_cb) r->refused_cb(r->refused_data);
    }
    int transient = res->error || res->status == 0 || res->status >= 500;
    if (transient && ++c->tries < MAX_TRIES) {
        uint64_t wait = (uint64_t)(500.0 * r->scale * (double)(1u << c->tries));
        char shown[300];
        log_warn("discord: %s %s failed (%s); retry %d in %llu ms", c->method, loggable(c->path, shown, sizeof(shown)),
                 res->error ? res->error : "server error", c->tries, (unsigned long long)wait);
        c->retry_timer = timer_new(r->loop, c);
        uv_timer_start(c->retry_timer, on_retry_timer, wait ? wait : 1, 0);
        json_decref(body);
        return;
    }
    char err[300] = "";
    if (res->error) {
        snprintf(err, sizeof(err), "%s", res->error);
    } else if (res->status >= 400) {
        json_t *m = body ? json_object_get(body, "message") : NULL;
        char detail[200] = "";
        if (json_is_object(json_object_get(body, "errors")) && first_error(json_object_get(body, "errors"), detail + 2,
                                                                          sizeof(detail) - 3, 0)) {
            detail[0] = ' ';
            detail[1] = '(';
            strcat(detail, ")");
        }
        snprintf(err, sizeof(err), "Discord answered %ld: %s%s", res->status,
                 json_is_string(m) ? json_string_value(m) : "an error", detail);
    }
    char shown[300];
    if (err[0]) log_warn("discord: %s %s: %s", c->method, loggable(c->path, shown, sizeof(shown)), err);
    discord_rest_fn *cb = c->cb;
    void *cbdata = c->data;
    long status = res->status;
    call_free(c);
    if (cb) cb(status, body, err[0] ? err : NULL, cbdata);
    json_decref(body);
}

/* The token is dead: fail CALL without sending it. Said at the 1st, 10th,
 * 100th... such call, so the log shows the replies lost without a line
 * for each. */
static void refuse_call(struct rest_call *c) {
    struct discord_rest *r = c->r;
    char shown[300];
    r->dropped++;
    long n = r->dropped;
    while (n % 10 == 0) n /= 10;
    if (n == 1)
        log_warn("discord: %s %s not sent: the bot token was refused (%ld calls dropped so far)", c->method,
                 loggable(c->path, shown, sizeof(shown)), r->dropped);
    discord_rest_fn *cb = c->cb;
    void *data = c->data;
    call_free(c);
    if (cb) cb(401, NULL, "not sent: Discord refused the bot token", data);
}

/* Send CALL's HTTP request now. */
static void start_http(struct rest_call *c) {
    if (c->r->refused) {
        refuse_call(c);
        return;
    }
    const char *headers[] = { c->r->auth, "Content-Type: application/json",
                              "User-Agent: DiscordBot (https://github.com/chorus, " PACKAGE_VERSION ")", NULL };
    struct http_request req = {
        .method = c->method, .url = c->url, .headers = headers, .body = c->body,
        .body_len = c->body ? strlen(c->body) : 0, .body_kept = 1, .timeout_ms = 30000,
    };
    if (!c->body && strcmp(c->method, "GET") != 0 && strcmp(c->method, "DELETE") != 0) {
        req.body = "";      /* POST/PUT without a body still says Content-Length: 0 */
    }
    c->http = http_start(c->r->http, &req, on_http, c);
    if (!c->http) {
        struct http_response res = { .status = 0, .body = "", .error = "the request could not be started", .headers = "" };
        on_http(&res, c);
    }
}

/* Queue a call whose body (malloc'd JSON text, or NULL) is already serialized;
 * the call owns BODY from here on, even on failure. */
static int queue_call(struct discord_rest *r, const char *method, const char *path, char *body,
                      discord_rest_fn *cb, void *data) {
    struct rest_call *c = xcalloc(1, sizeof(*c));
    if (!c) {
        free(body);
        return -1;
    }
    c->r = r;
    c->method = xstrdup(method);
    c->path = xstrdup(path);
    size_t blen = strlen(r->base), plen = strlen(path);
    c->url = xmalloc(blen + plen + 1);
    memcpy(c->url, r->base, blen);
    memcpy(c->url + blen, path, plen + 1);
    c->body = body;
    c->cb = cb;
    c->data = data;
    c->next = r->calls;
    if (r->calls) r->calls->prev = c;
    r->calls = c;
    r->ncalls++;
    char route[256], major[64];
    route_of(method, path, route, sizeof(route), major, sizeof(major));
    c->ticket = discord_ratelimit_enqueue(r->rl, route, major, on_go, c);
    if (!c->ticket) {
        c->cb = NULL;
        call_free(c);
        return -1;
    }
    return 0;
}

int discord_rest_call(struct discord_rest *r, const char *method, const char *path, json_t *body,
                      discord_rest_fn *cb, void *data) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return queue_call(r, method, path, text, cb, data);
}

int discord_rest_gateway_bot(struct discord_rest *r, discord_rest_fn *cb, void *data) {
    return discord_rest_call(r, "GET", "/gateway/bot", NULL, cb, data);
}

/* The parts of one multi-part send, posted in order on the channel's queue. */
struct send_state {
    int parts;
    int done;
    char *last_id;
    char *err;
    discord_sent_fn *cb;
    void *data;
};

/* One part was posted (or failed): report when the last one is in. */
static void on_part_sent(long status, json_t *body, const char *err, void *data) {
    struct send_state *s = data;
    (void)status;
    json_t *id = body ? json_object_get(body, "id") : NULL;
    if (err && !s->err) s->err = xstrdup(err);
    else if (!err && json_is_string(id)) {
        free(s->last_id);
        s->last_id = xstrdup(json_string_value(id));
    }
    if (++s->done < s->parts) return;
    if (s->cb) s->cb(s->err ? NULL : s->last_id, s->err, s->data);
    free(s->last_id);
    free(s->err);
    free(s);
}

/* The body of a message post: no mentions parsed, ever, unless asked. */
static json_t *message_json(const char *text, size_t len, const char *reply_to) {
    json_t *o = json_object();
    json_object_set_new(o, "content", json_stringn(text, len));
    json_t *am = json_object();
    json_object_set_new(am, "parse", json_array());
    json_object_set_new(o, "allowed_mentions", am);
    if (reply_to) {
        json_t *ref = json_object();
        json_object_set_new(ref, "message_id", json_string(reply_to));
        json_object_set_new(ref, "fail_if_not_exists", json_false());
        json_object_set_new(o, "message_reference", ref);
    }
    return o;
}

/* The members that make part PART of the reply KEY a nonce'd post, into
 * OUT (NONCE_TEXT bytes at least): their length. Discord's nonce is at most
 * 25 characters, so KEY is hashed (FNV-1a, 64 bits) to 16 hex digits;
 * enforce_nonce makes a retried post come back as the first one. */
#define NONCE_TEXT 96
static size_t nonce_members(char *out, const char *key, int part) {
    unsigned long long h = 1469598103934665603ULL;
    for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    static const char hex[] = "0123456789abcdef", head[] = ",\"nonce\":\"", end[] = "\",\"enforce_nonce\":true";
    size_t n = sizeof(head) - 1;
    memcpy(out, head, n);
    for (int i = 15; i >= 0; i--) out[n++] = hex[(h >> (i * 4)) & 15];
    out[n++] = '.';
    n += json_int_text(out + n, part % 1000);
    memcpy(out + n, end, sizeof(end));
    return n + sizeof(end) - 1;
}

/* BODY (a JSON object's text, taken over) with the nonce members of part
 * PART of the reply KEY (nonce_members). */
static char *with_nonce(char *body, const char *key, int part) {
    size_t len = body ? strlen(body) : 0;
    if (!key || len < 2 || body[len - 1] != '}') return body;
    char tail[NONCE_TEXT];
    size_t n = nonce_members(tail, key, part);
    char *out = xrealloc(body, len + n + 1);
    if (!out) return body;
    memcpy(out + len - 1, tail, n);
    memcpy(out + len - 1 + n, "}", 2);
    return out;
}

/* The JSON text of a message post (part PART of the reply KEY when KEY is
 * not NULL), written directly: this runs for every reply, and building a
 * jansson object only to dump it costs more than the rest of the send.
 * Text that is not UTF-8 takes the jansson path, so the result is always
 * what json_dumps(message_json(...)) would give. */
static char *message_body(const char *text, size_t len, const char *reply_to, const char *key, int part) {
    size_t rlen = reply_to ? strlen(reply_to) : 0;
    if (!utf8_valid(text, len) || (reply_to && !utf8_valid(reply_to, rlen))) {
        json_t *o = message_json(text, len, reply_to);
        char *out = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return key ? with_nonce(out, key, part) : out;
    }
    struct json_buf b = {0};
    json_buf_put(&b, "{\"content\":");
    json_buf_string(&b, text, len);
    json_buf_put(&b, ",\"allowed_mentions\":{\"parse\":[]}");
    if (reply_to) {
        json_buf_put(&b, ",\"message_reference\":{\"message_id\":");
        json_buf_string(&b, reply_to, rlen);
        json_buf_put(&b, ",\"fail_if_not_exists\":false}");
    }
    if (key) {
        char nonce[NONCE_TEXT];
        json_buf_raw(&b, nonce, nonce_members(nonce, key, part));
    }
    json_buf_raw(&b, "}", 1);
    return json_buf_take(&b, NULL);
}

/* "/channels/CHANNEL/messages" into OUT (LEN bytes), cut to fit: per
 * reply, where snprintf cost more than the copy. */
static void message_path(char *out, size_t len, const char *channel) {
    static const char head[] = "/channels/", tail[] = "/messages";
    size_t n = strlen(channel), room = len - sizeof(head) - sizeof(tail) + 1;
    if (n > room) n = room;
    memcpy(out, head, sizeof(head) - 1);
    memcpy(out + sizeof(head) - 1, channel, n);
    memcpy(out + sizeof(head) - 1 + n, tail, sizeof(tail));
}

int discord_rest_send(struct discord_rest *r, const char *channel, const char *text, const char *reply_to,
                      discord_sent_fn *cb, void *data) {
    return discord_rest_send_rich(r, channel, text, reply_to, NULL, cb, data);
}

/* A post that carries EXTRA (embeds, components) beside its text: plugin
 * replies may mention users (msg.author:mention()). */
static char *rich_body(const char *text, size_t len, const char *reply_to, const json_t *extra) {
    json_t *o = message_json(text, len, reply_to);
    json_object_update(o, (json_t *)extra);
    json_object_set_new(o, "allowed_mentions", json_pack("{s:[s]}", "parse", "users"));
    char *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

int discord_rest_send_rich(struct discord_rest *r, const char *channel, const char *text, const char *reply_to,
                           const json_t *extra, discord_sent_fn *cb, void *data) {
    return discord_rest_send_keyed(r, channel, text, reply_to, extra, NULL, cb, data);
}

int discord_rest_send_keyed(struct discord_rest *r, const char *channel, const char *text, const char *reply_to,
                            const json_t *extra, const char *key, discord_sent_fn *cb, void *data) {
    size_t len = strlen(text);
    int rich = extra && json_object_size(extra) > 0;
    if (len == 0 && !rich) return -1;
    struct send_state *s = xcalloc(1, sizeof(*s));
    if (!s) return -1;
    s->cb = cb;
    s->data = data;
    size_t off = 0;
    int parts = 0;
    while (off < len) {
        off += utf8_prefix(text + off, len - off, DISCORD_MAX_CONTENT_CP);
        parts++;
    }
    if (parts == 0) parts = 1;          /* an embed or buttons with no text */
    s->parts = parts;
    char path[128];
    message_path(path, sizeof(path), channel);
    off = 0;
    for (int i = 0; i < parts; i++) {
        size_t n = utf8_prefix(text + off, len - off, DISCORD_MAX_CONTENT_CP);
        const char *ref = i == 0 ? reply_to : NULL;
        char *body = rich && i == parts - 1 ? with_nonce(rich_body(text + off, n, ref, extra), key, i)
                                            : message_body(text + off, n, ref, key, i);
        off += n;
        if (queue_call(r, "POST", path, body, on_part_sent, s) < 0)
            on_part_sent(0, NULL, "the message could not be queued", s);
    }
    return 0;
}

int discord_rest_edit(struct discord_rest *r, const char *channel, const char *message, const char *text, size_t len,
                      discord_rest_fn *cb, void *data) {
    char path[160];
    snprintf(path, sizeof(path), "/channels/%s/messages/%s", channel, message);
    size_t n = utf8_prefix(text, len, DISCORD_MAX_CONTENT_CP);
    return queue_call(r, "PATCH", path, message_body(text, n, NULL, NULL, 0), cb, data);
}

int discord_rest_delete(struct discord_rest *r, const char *channel, const char *message,
                        discord_rest_fn *cb, void *data) {
    char path[160];
    snprintf(path, sizeof(path), "/channels/%s/messages/%s", channel, message);
    return discord_rest_call(r, "DELETE", path, NULL, cb, data);
}

int discord_rest_typing(struct discord_rest *r, const char *channel, discord_rest_fn *cb, void *data) {
    char path[128];
    snprintf(path, sizeof(path), "/channels/%s/typing", channel);
    return discord_rest_call(r, "POST", path, NULL, cb, data);
}

int discord_rest_react(struct discord_rest *r, const char *channel, const char *message, const char *emoji,
                       discord_rest_fn *cb, void *data) {
    char *escaped = curl_easy_escape(NULL, emoji, 0);
    if (!escaped) return -1;
    char path[400];
    snprintf(path, sizeof(path), "/channels/%s/messages/%s/reactions/%s/@me", channel, message, escaped);
    curl_free(escaped);
    return discord_rest_call(r, "PUT", path, NULL, cb, data);
}

int discord_rest_register_commands(struct discord_rest *r, const char *application_id, const char *guild_id,
                                   json_t *commands, discord_rest_fn *cb, void *data) {
    char path[200];
    if (guild_id) snprintf(path, sizeof(path), "/applications/%s/guilds/%s/commands", application_id, guild_id);
    else snprintf(path, sizeof(path), "/applications/%s/commands", application_id);
    return discord_rest_call(r, "PUT", path, commands, cb, data);
}

int discord_rest_interaction_callback(struct discord_rest *r, const char *id, const char *token, int type,
                                      discord_rest_fn *cb, void *data) {
    size_t len = strlen(id) + strlen(token) + 32;
    char *path = xmalloc(len);
    if (!path) return -1;
    snprintf(path, len, "/interactions/%s/%s/callback", id, token);
    int rc = discord_rest_call(r, "POST", path, json_pack("{s:i}", "type", type), cb, data);
    free(path);
    return rc;
}

int discord_rest_followup(struct discord_rest *r, const char *application_id, const char *token, int original,
                          const char *text, size_t len, discord_rest_fn *cb, void *data) {
    return discord_rest_followup_rich(r, application_id, token, original, text, len, NULL, cb, data);
}

int discord_rest_followup_rich(struct discord_rest *r, const char *application_id, const char *token, int original,
                               const char *text, size_t len, const json_t *extra, discord_rest_fn *cb, void *data) {
    size_t plen = strlen(application_id) + strlen(token) + 40;
    char *path = xmalloc(plen);
    if (!path) return -1;
    snprintf(path, plen, "/webhooks/%s/%s%s", application_id, token, original ? "/messages/@original" : "");
    size_t n = utf8_prefix(text, len, DISCORD_MAX_CONTENT_CP);
    char *body = extra && json_object_size(extra) ? rich_body(text, n, NULL, extra) : message_body(text, n, NULL, NULL, 0);
    int rc = queue_call(r, original ? "PATCH" : "POST", path, body, cb, data);
    free(path);
    return rc;
}

struct ratelimit *discord_rest_ratelimit(struct discord_rest *r) {
    return r->rl;
}

long discord_rest_429_count(const struct discord_rest *r) {
    return discord_ratelimit_429_count(r->rl);
}

int discord_rest_pending(const struct discord_rest *r) {
    return r->ncalls;
}
