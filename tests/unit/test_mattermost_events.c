/* test_mattermost_events.c - `posted` events, shaped as the Mattermost
 * server sends them (the post and the mentions are JSON inside strings),
 * become chat_messages; the bot's own posts, other bots', system messages
 * and other teams' are skipped; malformed ones are told apart. */
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

/* The bot's own posts told at a glance, in the text as it came. */
static void test_own_unread(void) {
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"create_at\\\":1733000000000,\\\"update_at\\\":1733000000000,\\\"edit_at\\\":0,\\\"delete_at\\\":0,\\\"is_pinned\\\":false,\\\"user_id\\\":\\\"botid00000000000000000000a\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"root_id\\\":\\\"\\\",\\\"original_id\\\":\\\"\\\",\\\"message\\\":\\\"say \\\\\\\"hi\\\\\\\"\\\\\\\\n\\\\n<b>\\\",\\\"type\\\":\\\"\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"hashtags\\\":\\\"\\\",\\\"metadata\\\":{}}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 1, "the bot's own post, as the server writes it");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"create_at\\\":1733000000000,\\\"update_at\\\":1733000000000,\\\"edit_at\\\":0,\\\"delete_at\\\":0,\\\"is_pinned\\\":false,\\\"user_id\\\":\\\"ann00000000000000000000001\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"root_id\\\":\\\"\\\",\\\"original_id\\\":\\\"\\\",\\\"message\\\":\\\"say \\\\\\\"hi\\\\\\\"\\\\\\\\n\\\\n<b>\\\",\\\"type\\\":\\\"\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"hashtags\\\":\\\"\\\",\\\"metadata\\\":{}}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "a person's post is not");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"create_at\\\":1733000000000,\\\"update_at\\\":1733000000000,\\\"edit_at\\\":0,\\\"delete_at\\\":0,\\\"is_pinned\\\":false,\\\"user_id\\\":\\\"botid00000000000000000000a\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"root_id\\\":\\\"\\\",\\\"original_id\\\":\\\"\\\",\\\"message\\\":\\\"say \\\\\\\"hi\\\\\\\"\\\\\\\\n\\\\n<b>\\\",\\\"type\\\":\\\"\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"hashtags\\\":\\\"\\\",\\\"metadata\\\":{}}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "an own post without an id goes the long way (malformed)");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"\\\",\\\"create_at\\\":1733000000000,\\\"update_at\\\":1733000000000,\\\"edit_at\\\":0,\\\"delete_at\\\":0,\\\"is_pinned\\\":false,\\\"user_id\\\":\\\"botid00000000000000000000a\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"root_id\\\":\\\"\\\",\\\"original_id\\\":\\\"\\\",\\\"message\\\":\\\"say \\\\\\\"hi\\\\\\\"\\\\\\\\n\\\\n<b>\\\",\\\"type\\\":\\\"\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"hashtags\\\":\\\"\\\",\\\"metadata\\\":{}}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "... with an empty id");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"create_at\\\":1733000000000,\\\"update_at\\\":1733000000000,\\\"edit_at\\\":0,\\\"delete_at\\\":0,\\\"is_pinned\\\":false,\\\"user_id\\\":\\\"botid00000000000000000000a\\\",\\\"channel_id\\\":\\\"\\\",\\\"root_id\\\":\\\"\\\",\\\"original_id\\\":\\\"\\\",\\\"message\\\":\\\"say \\\\\\\"hi\\\\\\\"\\\\\\\\n\\\\n<b>\\\",\\\"type\\\":\\\"\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"hashtags\\\":\\\"\\\",\\\"metadata\\\":{}}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "... with an empty channel_id");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"create_at\\\":1733000000000,\\\"update_at\\\":1733000000000,\\\"edit_at\\\":0,\\\"delete_at\\\":0,\\\"is_pinned\\\":false,\\\"user_id\\\":\\\"botid00000000000000000000a\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"root_id\\\":\\\"\\\",\\\"original_id\\\":\\\"\\\",\\\"type\\\":\\\"\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"hashtags\\\":\\\"\\\",\\\"metadata\\\":{}}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "... without a message");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"create_at\\\":1733000000000,\\\"update_at\\\":1733000000000,\\\"edit_at\\\":0,\\\"delete_at\\\":0,\\\"is_pinned\\\":false,\\\"user_id\\\":\\\"botid00000000000000000000a\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"root_id\\\":\\\"\\\",\\\"original_id\\\":\\\"\\\",\\\"message\\\":7,\\\"type\\\":\\\"\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"hashtags\\\":\\\"\\\",\\\"metadata\\\":{}}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "... with a message that is no string");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"user_id\\\":\\\"botid00000000000000000000a\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"channel_id\\\":\\\"c1\\\",\\\"message\\\":\\\"m\\\"}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "something nested before the four members: the long way");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"x\\\\\\\"user_id\\\":\\\"botid00000000000000000000a\\\",\\\"user_id\\\":\\\"ann00000000000000000000001\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"message\\\":\\\"m\\\"}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "a key that ends in user_id is not user_id");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"user_id\\\":\\\"\\\\u0062otid00000000000000000000a\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"message\\\":\\\"m\\\"}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "an escaped user_id goes the long way");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"create_at\\\":1733000000000,\\\"update_at\\\":1733000000000,\\\"edit_at\\\":0,\\\"delete_at\\\":0,\\\"is_pinned\\\":false,\\\"user_id\\\":\\\"botid00000000000000000000ab\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"root_id\\\":\\\"\\\",\\\"original_id\\\":\\\"\\\",\\\"message\\\":\\\"say \\\\\\\"hi\\\\\\\"\\\\\\\\n\\\\n<b>\\\",\\\"type\\\":\\\"\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"hashtags\\\":\\\"\\\",\\\"metadata\\\":{}}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "a longer user id is another user");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"create_at\\\":17", 0, "an event cut inside its post");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\": broken\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "a post that is not JSON");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"message\\\":\\\"m\\\",\\\"user_id\\\":\\\"botid00000000000000000000a\\\"}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 1, "the four members in another order");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"create_at\\\":1733000000000,\\\"update_at\\\":1733000000000,\\\"edit_at\\\":0,\\\"delete_at\\\":0,\\\"is_pinned\\\":false,\\\"user_id\\\":\\\"ann00000000000000000000001\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"root_id\\\":\\\"\\\",\\\"original_id\\\":\\\"\\\",\\\"message\\\":\\\"\\\\\\\"user_id\\\\\\\":\\\\\\\"botid00000000000000000000a\\\\\\\"\\\",\\\"type\\\":\\\"\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"hashtags\\\":\\\"\\\",\\\"metadata\\\":{}}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "a person's message that quotes the bot's user_id");
    check_own("{\"event\":\"posted\",\"data\":{\"channel_display_name\":\"Town Square\",\"channel_name\":\"town-square\",\"channel_type\":\"O\",\"post\":\"{\\\"id\\\":\\\"p1\\\",\\\"id\\\":\\\"p2\\\",\\\"create_at\\\":1733000000000,\\\"update_at\\\":1733000000000,\\\"edit_at\\\":0,\\\"delete_at\\\":0,\\\"is_pinned\\\":false,\\\"user_id\\\":\\\"botid00000000000000000000a\\\",\\\"channel_id\\\":\\\"c1\\\",\\\"root_id\\\":\\\"\\\",\\\"original_id\\\":\\\"\\\",\\\"message\\\":\\\"say \\\\\\\"hi\\\\\\\"\\\\\\\\n\\\\n<b>\\\",\\\"type\\\":\\\"\\\",\\\"props\\\":{\\\"from_bot\\\":\\\"true\\\"},\\\"hashtags\\\":\\\"\\\",\\\"metadata\\\":{}}\",\"sender_name\":\"@x\",\"set_online\":true,\"team_id\":\"team1\"},\"broadcast\":{\"omit_users\":null,\"user_id\":\"\",\"channel_id\":\"c1\"},\"seq\":5}", 0, "an id given twice goes the long way");
}

int main(void) {
    test_channel_dm_thread();
    test_skipped_and_malformed();
    test_own_unread();
    return done_testing();
}
