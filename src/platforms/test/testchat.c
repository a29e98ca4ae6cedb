/* testchat.c - the "test" platform adapter: rooms live in a transcript. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/message.h"
#include "core/platform.h"
#include "platforms/test/testchat.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"

static struct platform *self;
static json_t *transcript;
static unsigned long counter;
static int enabled;

/* Recording only in test mode, so a production daemon keeps no transcript. */
void testchat_enable(int on) {
    enabled = on;
    if (on && !transcript) transcript = json_array();
    if (!on) {
        json_decref(transcript);
        transcript = NULL;
    }
}

/* Each test starts with empty rooms. */
void testchat_reset(void) {
    if (transcript) json_array_clear(transcript);
}

/* The kit reads what was said from here. */
const json_t *testchat_transcript(void) {
    return transcript;
}

/* Append one entry; KIND and CHANNEL always, the rest when not NULL. */
static void record(const char *kind, const char *channel, const char *text, const char *id,
                   const char *key, const char *value, const char *reply_to) {
    if (!transcript) return;
    json_t *e = json_pack("{s:s, s:s}", "kind", kind, "channel", channel);
    if (text) json_object_set_new(e, "text", json_string(text));
    if (id) json_object_set_new(e, "id", json_string(id));
    if (key && value) json_object_set_new(e, key, json_string(value));
    if (reply_to) json_object_set_new(e, "reply_to", json_string(reply_to));
    json_array_append_new(transcript, e);
}

/* A simulated user speaks: record it, then queue it like any adapter's message. */
const char *testchat_say(const struct testchat_say *s) {
    static char id[32];
    snprintf(id, sizeof(id), "t%lu", ++counter);
    if (s->event) record("event", s->channel, s->event, id, "user", s->user_name, NULL);
    else record("user", s->channel, s->text, id, "user", s->user_name, s->reply_to);
    struct chat_message m = {
        .platform = "test", .channel = (char *)s->channel, .id = id, .reply_to = (char *)s->reply_to,
        .text = (char *)(s->text ? s->text : ""), .direct = s->direct, .event = (char *)s->event,
        .reaction = (char *)s->reaction, .received_at = vclock_now(),
        .author = { .id = (char *)s->user_id, .name = (char *)s->user_name, .guest = 0 },
    };
    return platform_receive(self, &m) < 0 ? NULL : id;
}

/* platform_ops.send: the bot's message goes into the transcript. */
static int testchat_send(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    char id[32];
    (void)p;
    if (!enabled) {
        if (cb) cb(NULL, "the test platform exists only under chorus-test", data);
        return 0;
    }
    snprintf(id, sizeof(id), "s%lu", ++counter);
    record("bot", out->channel, out->text, id, "persona", out->persona, out->reply_to);
    /* A rich reply keeps its embed, buttons and ephemeral flag for the test. */
    json_t *e = transcript ? json_array_get(transcript, json_array_size(transcript) - 1) : NULL;
    if (e && out->rich) json_object_update(e, (json_t *)out->rich);
    if (cb) cb(id, NULL, data);
    return 0;
}

/* platform_ops.mention: "@name", as in the web chat. */
static char *testchat_mention(struct platform *p, const char *user_id, const char *user_name) {
    (void)p, (void)user_id;
    size_t n = strlen(user_name) + 2;
    char *out = xmalloc(n);
    snprintf(out, n, "@%s", user_name);
    return out;
}

/* Typing is recorded so tests can see a skill signalled it. */
static int testchat_typing(struct platform *p, const char *channel) {
    (void)p;
    record("typing", channel, NULL, NULL, NULL, NULL, NULL);
    return 0;
}

/* Reactions are recorded with the message they target. */
static int testchat_react(struct platform *p, const char *channel, const char *message_id, const char *emoji) {
    (void)p;
    record("reaction", channel, emoji, message_id, NULL, NULL, NULL);
    return 0;
}

/* Edits are recorded with the message they change. */
static int testchat_edit(struct platform *p, const char *channel, const char *message_id, const char *text,
                         size_t len) {
    (void)p;
    char *copy = xstrndup(text, len);
    record("edit", channel, copy, message_id, NULL, NULL, NULL);
    free(copy);
    return 0;
}

/* Streamed pieces are recorded apart ("delta"), so tests see what a
 * growing reply showed before its final message. */
static void testchat_stream_delta(struct platform *p, const char *channel, const char *reply_to, const char *text,
                                  size_t len) {
    (void)p;
    char *copy = xstrndup(text, len);
    record("delta", channel, copy, NULL, NULL, NULL, reply_to);
    free(copy);
}

/* Nothing to connect to: ready at once. */
static int testchat_start(struct platform *p) {
    p->ready = 1;
    return 0;
}

/* The test platform has no config: the module table adds it in test mode only. */
static void *testchat_create(struct platform *p, const struct config_block *b) {
    (void)b;
    self = p;
    return p;
}

const struct platform_ops testchat_platform = {
    .name = "test",
    .create = testchat_create,
    .start = testchat_start,
    .send = testchat_send,
    .typing = testchat_typing,
    .react = testchat_react,
    .edit = testchat_edit,
    .stream_delta = testchat_stream_delta,
    .mention = testchat_mention,
    .rich = 1,
};
