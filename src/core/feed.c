/* feed.c - a ring of the newest conversation events, and one listener. */
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "core/feed.h"
#include "core/runtime.h"
#include "core/server.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"

#define TEXT_MAX 500

static char **ring;
static int ring_size, ring_next, ring_count, enabled, stopped;
static const struct runtime *seen_rt;
static feed_listener_fn *listener;
static void *listener_data;

static void ring_free(void) {
    for (int i = 0; i < ring_size; i++) free(ring[i]);
    free(ring);
    ring = NULL;
    ring_size = ring_next = ring_count = 0;
}

void feed_stop(void) {
    stopped = 1;
    ring_free();
}

/* On while the running config has an admin token (looked up once per config generation). */
int feed_enabled(void) {
    if (server.rt != seen_rt) {
        struct config_block *b = server.rt ? config_first(server.rt->cfg, "admin_token") : NULL;
        seen_rt = server.rt;
        enabled = b && json_is_string(b->value) && json_string_length(b->value) > 0;
        if (!enabled) ring_free();
    }
    return enabled && !stopped;
}

void feed_listen(feed_listener_fn *fn, void *data) {
    listener = fn;
    listener_data = data;
}

/* The ring's size from the config (console { feed_size = N }), 200 unless told. */
static int wanted_size(void) {
    struct config_block *b = server.rt ? config_first(server.rt->cfg, "console") : NULL;
    json_t *v = b && json_is_object(b->value) ? json_object_get(b->value, "feed_size") : NULL;
    int n = json_is_integer(v) ? (int)json_integer_value(v) : 200;
    return n < 1 ? 1 : n > 10000 ? 10000 : n;
}

/* TEXT cut to at most TEXT_MAX bytes, on a UTF-8 character boundary. */
static json_t *cut_text(const char *text) {
    size_t n = text ? strlen(text) : 0;
    if (n > TEXT_MAX) {
        n = TEXT_MAX;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
    }
    json_t *s = json_stringn(text ? text : "", n);
    return s ? s : json_string("");
}

static void record(const char *type, const char *platform, const char *channel, const char *who_key,
                   const char *who, const char *text) {
    if (!feed_enabled()) return;
    json_t *ev = json_pack("{s:s, s:f, s:s, s:s, s:s, s:o}", "type", type, "ts", vclock_now(), "platform",
                           platform ? platform : "", "channel", channel ? channel : "", who_key, who ? who : "",
                           "text", cut_text(text));
    if (!ev) return;
    char *line = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!line) return;
    int want = wanted_size();
    if (want != ring_size) {
        ring_free();
        ring = xcalloc((size_t)want, sizeof(*ring));
        ring_size = want;
    }
    free(ring[ring_next]);
    ring[ring_next] = line;
    ring_next = (ring_next + 1) % ring_size;
    if (ring_count < ring_size) ring_count++;
    if (listener) listener(line, strlen(line), listener_data);
}

void feed_message(const char *platform, const char *channel, const char *user, const char *text) {
    record("message", platform, channel, "user", user, text);
}

void feed_reply(const char *platform, const char *channel, const char *persona, const char *text) {
    record("reply", platform, channel, "persona", persona, text);
}

json_t *feed_recent(void) {
    json_t *list = json_array();
    for (int i = 0; i < ring_count; i++) {
        const char *line = ring[(ring_next - ring_count + i + ring_size) % ring_size];
        json_t *ev = json_loads(line, 0, NULL);
        if (ev) json_array_append_new(list, ev);
    }
    return list;
}
