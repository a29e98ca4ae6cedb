/* bus_codec.c - chat messages to and from stream entries (bus_codec.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bus/bus_codec.h"
#include "core/message.h"
#include "lib/xalloc.h"

/* FNV-1a over platform, a separator and channel. */
int bus_partition(const char *platform, const char *channel, int n) {
    uint32_t h = 2166136261u;
    for (const unsigned char *s = (const unsigned char *)platform; *s; s++) h = (h ^ *s) * 16777619u;
    h = (h ^ 0x1f) * 16777619u;
    for (const unsigned char *s = (const unsigned char *)channel; *s; s++) h = (h ^ *s) * 16777619u;
    return n > 0 ? (int)(h % (uint32_t)n) : 0;
}

static void put_str(json_t *o, const char *k, const char *v) {
    if (v) json_object_set_new(o, k, json_string(v));
}

json_t *bus_message_to_json(const struct chat_message *m) {
    json_t *o = json_object();
    put_str(o, "platform", m->platform);
    put_str(o, "channel", m->channel);
    put_str(o, "id", m->id);
    put_str(o, "reply_to", m->reply_to);
    put_str(o, "text", m->text);
    put_str(o, "author_id", m->author.id);
    put_str(o, "author_name", m->author.name);
    put_str(o, "author_mention", m->author.mention);
    if (m->author.guest) json_object_set_new(o, "guest", json_true());
    if (m->nmentions > 0) {
        json_t *a = json_array();
        for (int i = 0; i < m->nmentions; i++) json_array_append_new(a, json_string(m->mentions[i]));
        json_object_set_new(o, "mentions", a);
    }
    if (m->direct) json_object_set_new(o, "direct", json_true());
    put_str(o, "event", m->event);
    put_str(o, "reaction", m->reaction);
    put_str(o, "thread", m->thread);
    put_str(o, "thread_parent", m->thread_parent);
    json_object_set_new(o, "received_at", json_real(m->received_at));
    put_str(o, "connection", m->connection);
    return o;
}

/* A string member duplicated, or NULL. */
static char *get_str(const json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    return v ? xstrdup(v) : NULL;
}

struct chat_message *bus_message_from_json(const json_t *j) {
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "platform")) ||
        !json_is_string(json_object_get(j, "channel")))
        return NULL;
    struct chat_message *m = message_new();
    m->platform = get_str(j, "platform");
    m->channel = get_str(j, "channel");
    m->id = get_str(j, "id");
    m->reply_to = get_str(j, "reply_to");
    m->text = get_str(j, "text");
    if (!m->text) m->text = xstrdup("");
    m->author.id = get_str(j, "author_id");
    m->author.name = get_str(j, "author_name");
    m->author.mention = get_str(j, "author_mention");
    m->author.guest = json_is_true(json_object_get(j, "guest"));
    json_t *mentions = json_object_get(j, "mentions");
    for (size_t i = 0; i < json_array_size(mentions) && m->nmentions < MESSAGE_MAX_MENTIONS; i++) {
        const char *v = json_string_value(json_array_get(mentions, i));
        if (v) m->mentions[m->nmentions++] = xstrdup(v);
    }
    m->direct = json_is_true(json_object_get(j, "direct"));
    m->event = get_str(j, "event");
    m->reaction = get_str(j, "reaction");
    m->thread = get_str(j, "thread");
    m->thread_parent = get_str(j, "thread_parent");
    m->received_at = json_number_value(json_object_get(j, "received_at"));
    m->connection = get_str(j, "connection");
    return m;
}

void bus_event_key(const struct chat_message *m, char *out, size_t outlen) {
    if (!m->id || !*m->id) {
        if (outlen) out[0] = '\0';
        return;
    }
    /* The author too: a reaction or an edit reuses the message's id, and a
     * web chat client picks its own ids, which two clients may share. */
    snprintf(out, outlen, "%s:%s:%s:%s:%s%s%s", m->platform, m->channel, m->event ? m->event : "msg", m->id,
             m->author.id ? m->author.id : "", m->reaction ? ":" : "", m->reaction ? m->reaction : "");
}

/* Split "ms-seq" into two numbers (a missing seq is 0). */
static void id_parts(const char *id, uint64_t *ms, uint64_t *seq) {
    char *end;
    *ms = strtoull(id, &end, 10);
    *seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
}

int bus_id_cmp(const char *a, const char *b) {
    uint64_t am, as, bm, bs;
    id_parts(a, &am, &as);
    id_parts(b, &bm, &bs);
    if (am != bm) return am < bm ? -1 : 1;
    if (as != bs) return as < bs ? -1 : 1;
    return 0;
}
