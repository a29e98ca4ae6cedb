/* test_mattermost_events.c - `posted` events, shaped as the Mattermost
 * server sends them (the post and the mentions are JSON inside strings),
 * become chat_messages; the bot's own posts, other bots', system messages
 * and other teams' are skipped; malformed ones are told apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "platforms/mattermost/mattermost_events.h"
#include "tap.h"

static const struct mattermost_self self = { "botid00000000000000000000a", "chorus-bot", NULL };

/* Read DATA (the event's data, JSON text) with SELF; *M and *HOLD are filled. */
static int read_event(const char *data, const struct mattermost_self *me, struct chat_message *m,
                      struct mattermost_posted *hold, json_t **dj) {
    *dj = json_loads(data, 0, NULL);
    return mattermost_posted_message(*dj, me, m, hold);
}

static void test_channel_dm_thread(void) {
    struct chat_message m;
    struct mattermost_posted hold;
    json_t *d;
    int rc = read_event("{\"channel_type\":\"O\",\"sender_name\":\"@ann\",\"team_id\":\"team1\","
                        "\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"user_id\\\":\\\"ann1\\\",\\\"channel_id\\\":\\\"c1\\\","
                        "\\\"root_id\\\":\\\"\\\",\\\"message\\\":\\\"hello\\\",\\\"type\\\":\\\"\\\",\\\"props\\\":{}}\"}",
                        &self, &m, &hold, &d);
    ok(rc == MATTERMOST_POSTED_OK, "a channel post is read");
    is_str(m.text, "hello", "its text");
    is_str(m.author.name, "ann", "the sender without the @");
    is_str(m.channel, "c1", "its channel");
    ok(!m.direct && !m.thread, "not addressed, not in a thread");
    mattermost_posted_free(&hold);
    json_decref(d);
    rc = read_event("{\"channel_type\":\"O\",\"sender_name\":\"@ann\",\"mentions\":\"[\\\"botid00000000000000000000a\\\"]\","
                    "\"post\":\"{\\\"id\\\":\\\"p2\\\",\\\"user_id\\\":\\\"ann1\\\",\\\"channel_id\\\":\\\"c1\\\","
                    "\\\"root_id\\\":\\\"p1\\\",\\\"message\\\":\\\"@chorus-bot: what now\\\"}\"}",
                    &self, &m, &hold, &d);
    ok(rc == MATTERMOST_POSTED_OK && m.direct, "a mention is addressed to the bot");
    is_str(m.text, "what now", "the leading mention is taken off");
    is_str(m.thread, "p1", "root_id is the thread");
    is_str(m.thread_parent, "c1", "in its channel");
    ok(m.nmentions == 1, "the mentions are kept");
    mattermost_posted_free(&hold);
    json_decref(d);
    rc = read_event("{\"channel_type\":\"D\",\"post\":\"{\\\"id\\\":\\\"p3\\\",\\\"user_id\\\":\\\"ann1\\\","
                    "\\\"channel_id\\\":\\\"d1\\\",\\\"message\\\":\\\"psst\\\"}\"}", &self, &m, &hold, &d);
    ok(rc == MATTERMOST_POSTED_OK && m.direct, "a DM is addressed to the bot");
    mattermost_posted_free(&hold);
    json_decref(d);
}

static void test_skipped_and_malformed(void) {
    struct chat_message m;
    struct mattermost_posted hold;
    json_t *d;
    struct mattermost_self team_only = { self.user_id, self.username, "team1" };
    ok(read_event("{\"post\":\"{\\\"id\\\":\\\"p\\\",\\\"user_id\\\":\\\"botid00000000000000000000a\\\",\\\"channel_id\\\":\\\"c\\\","
                  "\\\"message\\\":\\\"echo\\\"}\"}", &self, &m, &hold, &d) == MATTERMOST_POSTED_SKIP, "the bot's own post");
    json_decref(d);
    ok(read_event("{\"post\":\"{\\\"id\\\":\\\"p\\\",\\\"user_id\\\":\\\"b2\\\",\\\"channel_id\\\":\\\"c\\\","
                  "\\\"message\\\":\\\"hi\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"}}\"}", &self, &m, &hold, &d) == MATTERMOST_POSTED_SKIP,
       "another bot's post");
    json_decref(d);
    ok(read_event("{\"post\":\"{\\\"id\\\":\\\"p\\\",\\\"user_id\\\":\\\"u\\\",\\\"channel_id\\\":\\\"c\\\","
                  "\\\"message\\\":\\\"ann joined\\\",\\\"type\\\":\\\"system_join_channel\\\"}\"}", &self, &m, &hold, &d) == MATTERMOST_POSTED_SKIP,
       "a system message");
    json_decref(d);
    ok(read_event("{\"team_id\":\"team2\",\"post\":\"{\\\"id\\\":\\\"p\\\",\\\"user_id\\\":\\\"u\\\",\\\"channel_id\\\":\\\"c\\\","
                  "\\\"message\\\":\\\"hi\\\"}\"}", &team_only, &m, &hold, &d) == MATTERMOST_POSTED_SKIP, "another team's channel");
    json_decref(d);
    ok(read_event("{\"post\":\"{\\\"id\\\": broken\"}", &self, &m, &hold, &d) == MATTERMOST_POSTED_MALFORMED,
       "a post that is not JSON");
    json_decref(d);
    ok(read_event("{\"channel_type\":\"O\"}", &self, &m, &hold, &d) == MATTERMOST_POSTED_MALFORMED, "no post at all");
    json_decref(d);
    ok(read_event("{\"post\":\"[1,2]\"}", &self, &m, &hold, &d) == MATTERMOST_POSTED_MALFORMED, "a post that is no object");
    json_decref(d);
}

/* A `posted` event as the server writes it, around POST (JSON text: it
 * goes in data.post escaped). Static: each call replaces the last. */
static const char *event_of(const char *post) {
    static char text[4096];
    size_t n = (size_t)snprintf(text, sizeof(text), "{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\","
                                "\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"");
    for (const char *p = post; *p && n < sizeof(text) - 256; p++) {
        if (*p == '"' || *p == '\\') text[n++] = '\\';
        if (*p == '\n') {
            text[n++] = '\\';
            text[n++] = 'n';
            continue;
        }
        text[n++] = *p;
    }
    snprintf(text + n, sizeof(text) - n, "\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},"
             "\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}");
    return text;
}

/* The bot's own post as the server writes it (a message with escapes in
 * it), and the same post by Ann. */
static const char own_post[] =
    "{\"id\":\"p1\",\"create_at\":1733000000000,\"update_at\":1733000000000,\"edit_at\":0,\"delete_at\":0"
    ",\"is_pinned\":false,\"user_id\":\"botid00000000000000000000a\",\"channel_id\":\"c1\",\"root_id\":\""
    "\",\"original_id\":\"\",\"message\":\"say \\\"hi\\\"\\\\n\\n<b>\",\"type\":\"\",\"props\":{\"from_bo"
    "t\":\"true\"},\"hashtags\":\"\",\"metadata\":{}}";
static const char ann_post[] =
    "{\"id\":\"p1\",\"create_at\":1733000000000,\"update_at\":1733000000000,\"edit_at\":0,\"delete_at\":0"
    ",\"is_pinned\":false,\"user_id\":\"ann00000000000000000000001\",\"channel_id\":\"c1\",\"root_id\":\""
    "\",\"original_id\":\"\",\"message\":\"say \\\"hi\\\"\\\\n\\n<b>\",\"type\":\"\",\"props\":{\"from_bo"
    "t\":\"true\"},\"hashtags\":\"\",\"metadata\":{}}";

/* mattermost_posted_own on the whole event TEXT must say WANT, and say 1
 * only for what mattermost_posted_message skips (so a post it drops unread
 * is never one the full read would answer or log as malformed). */
static void check_own(const char *text, int want, const char *name) {
    int own = mattermost_posted_own(text, strlen(text), self.user_id);
    json_t *ev = json_loads(text, 0, NULL);
    int skip = 0;
    if (ev) {
        struct chat_message m;
        struct mattermost_posted hold;
        int rc = mattermost_posted_message(json_object_get(ev, "data"), &self, &m, &hold);
        if (rc == MATTERMOST_POSTED_OK) mattermost_posted_free(&hold);
        skip = rc == MATTERMOST_POSTED_SKIP;
    }
    ok(own == want && (!own || skip), "%s", name);
    json_decref(ev);
}

/* 1 when mattermost_posted_own says 1 for TEXT only if the full read
 * skips it as the bot's own (0 is always safe: the long way is taken). */
static int own_is_safe(const char *text, size_t len) {
    if (!mattermost_posted_own(text, len, self.user_id)) return 1;
    json_t *ev = json_loadb(text, len, 0, NULL);
    int skip = 0;
    if (ev) {
        struct chat_message m;
        struct mattermost_posted hold;
        int rc = mattermost_posted_message(json_object_get(ev, "data"), &self, &m, &hold);
        if (rc == MATTERMOST_POSTED_OK) mattermost_posted_free(&hold);
        skip = rc == MATTERMOST_POSTED_SKIP;
    }
    json_decref(ev);
    return skip;
}

/* Every cut of TEXT up to the comma after the post's message, and every
 * byte of the post up to there changed to one that matters in JSON: never
 * taken for the bot's own unless the full read would skip it too. */
static void check_own_mutations(const char *text) {
    const char *end = strstr(text, "\\\",\\\"type\\\"");   /* the end of message, and the member after it */
    size_t upto = end ? (size_t)(end - text) + 3 : 0, len = strlen(text);
    char *buf = malloc(len + 1);
    int safe = upto > 0, cuts = 1;
    for (size_t n = 0; n < upto; n++) cuts &= mattermost_posted_own(text, n, self.user_id) == 0;
    static const char repl[] = { '"', '\\', '{', '}', '[', ',', ':', 'x', '0', '\n', ' ', 'u' };
    const char *post = strstr(text, "\"post\":\"");
    for (size_t i = post ? (size_t)(post - text) + 8 : upto; i < upto; i++) {
        for (size_t r = 0; r < sizeof(repl); r++) {
            memcpy(buf, text, len + 1);
            buf[i] = repl[r];
            if (!own_is_safe(buf, len)) {
                fprintf(stderr, "# byte %zu changed to '%c' made it the bot's own\n", i, repl[r]);
                safe = 0;
            }
        }
    }
    free(buf);
    ok(cuts, "an event cut before the comma after its post's message is never the bot's own");
    ok(safe, "no byte of the post up to there changed makes it the bot's own when the full read would not skip it");
}

/* The bot's own posts told at a glance, in the text as it came. */
static void test_own_unread(void) {
    check_own(event_of(own_post), 1, "the bot's own post, as the server writes it");
    check_own(event_of(ann_post), 0, "a person's post is not");
    check_own(event_of("{\"user_id\":\"botid00000000000000000000a\",\"channel_id\":\"c1\",\"message\":\"no id\"}"),
              0, "an own post without an id goes the long way (malformed)");
    check_own(event_of("{\"id\":\"\",\"user_id\":\"botid00000000000000000000a\",\"channel_id\":\"c1\",\"message\":\"m\"}"),
              0, "... with an empty id");
    check_own(event_of("{\"id\":\"p1\",\"user_id\":\"botid00000000000000000000a\",\"channel_id\":\"\",\"message\":\"m\"}"),
              0, "... with an empty channel_id");
    check_own(event_of("{\"id\":\"p1\",\"user_id\":\"botid00000000000000000000a\",\"channel_id\":\"c1\"}"),
              0, "... without a message");
    check_own(event_of("{\"id\":\"p1\",\"user_id\":\"botid00000000000000000000a\",\"channel_id\":\"c1\",\"message\":7}"),
              0, "... with a message that is no string");
    check_own(event_of("{\"id\":\"p1\",\"user_id\":\"botid00000000000000000000a\",\"props\":{\"from_bot\":\"true\"},\"ch"
                       "annel_id\":\"c1\",\"message\":\"m\"}"),
              0, "something nested before the four members: the long way");
    check_own(event_of("{\"id\":\"p1\",\"x\\\"user_id\":\"botid00000000000000000000a\",\"user_id\":\"ann1\",\"channel_id"
                       "\":\"c1\",\"message\":\"m\"}"),
              0, "a key that ends in user_id is not user_id");
    check_own(event_of("{\"id\":\"p1\",\"user_id\":\"\\u0062otid00000000000000000000a\",\"channel_id\":\"c1\",\"message"
                       "\":\"m\"}"),
              0, "an escaped user_id goes the long way");
    check_own(event_of("{\"id\":\"p1\",\"user_id\":\"botid00000000000000000000ab\",\"channel_id\":\"c1\",\"message\":\"m"
                       "\"}"),
              0, "a longer user id is another user");
    check_own(event_of("{\"id\": broken"), 0, "a post that is not JSON");
    check_own(event_of("{\"id\":\"p1\",\"channel_id\":\"c1\",\"message\":\"m\",\"user_id\":\"botid00000000000000000000a"
                       "\"}"),
              1, "the four members in another order, the last one ending the post");
    check_own(event_of("{\"id\":\"p1\",\"user_id\":\"ann1\",\"channel_id\":\"c1\",\"message\":\"\\\"user_id\\\":\\\"boti"
                       "d00000000000000000000a\\\"\"}"),
              0, "a person's message that quotes the bot's user_id");
    check_own(event_of("{\"id\":\"p1\",\"id\":\"p2\",\"user_id\":\"botid00000000000000000000a\",\"channel_id\":\"c1\",\""
                       "message\":\"m\"}"),
              0, "an id given twice goes the long way");
    check_own(event_of("{\"id\":\"p1\",\"user_id\":\"botid00000000000000000000a\",\"channel_id\":\"c1\",\"message\":\"m"
                       "\"}x"),
              0, "a post with text after it is not one");
    char *text = strdup(event_of(own_post));
    check_own_mutations(text);
    free(text);
}

int main(void) {
    test_channel_dm_thread();
    test_skipped_and_malformed();
    test_own_unread();
    return done_testing();
}
