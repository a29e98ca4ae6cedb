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

int main(void) {
    test_channel_dm_thread();
    test_skipped_and_malformed();
    return done_testing();
}
