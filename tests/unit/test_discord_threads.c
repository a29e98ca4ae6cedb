/* test_discord_threads.c - the thread map learns threads from the gateway
 * events Discord documents, forgets deleted ones and a departed guild's. */
#include <string.h>
#include <jansson.h>
#include "platforms/discord/discord_threads.h"
#include "tap.h"

/* Feed one event given as JSON text; returns what dispatch returned. */
static int feed(struct discord_threads *t, const char *type, const char *json) {
    json_t *d = json_loads(json, 0, NULL);
    int rc = discord_threads_dispatch(t, type, d);
    json_decref(d);
    return rc;
}

static void test_learning_and_forgetting(void) {
    struct discord_threads *t = discord_threads_new();
    ok(feed(t, "GUILD_CREATE", "{\"id\":\"g1\",\"channels\":[{\"id\":\"c1\",\"type\":0}],"
            "\"threads\":[{\"id\":\"t1\",\"parent_id\":\"c1\",\"type\":11}]}") == 0,
       "GUILD_CREATE is not consumed: the adapter may want it");
    is_str(discord_threads_parent(t, "t1"), "c1", "an active thread from GUILD_CREATE");
    ok(discord_threads_parent(t, "c1") == NULL, "a text channel is no thread");
    ok(feed(t, "THREAD_CREATE", "{\"id\":\"t2\",\"guild_id\":\"g1\",\"parent_id\":\"c1\",\"type\":12}") == 1,
       "THREAD_CREATE is consumed");
    is_str(discord_threads_parent(t, "t2"), "c1", "a private thread from THREAD_CREATE");
    feed(t, "THREAD_UPDATE", "{\"id\":\"t2\",\"guild_id\":\"g1\",\"parent_id\":\"c9\",\"type\":12}");
    is_str(discord_threads_parent(t, "t2"), "c9", "THREAD_UPDATE replaces the entry");
    feed(t, "THREAD_CREATE", "{\"id\":\"x\",\"guild_id\":\"g1\",\"parent_id\":\"c1\",\"type\":0}");
    ok(discord_threads_parent(t, "x") == NULL, "a channel of type 0 is not taken for a thread");
    feed(t, "THREAD_LIST_SYNC", "{\"guild_id\":\"g2\",\"threads\":[{\"id\":\"t3\",\"parent_id\":\"c3\",\"type\":10}]}");
    is_str(discord_threads_parent(t, "t3"), "c3", "THREAD_LIST_SYNC adds the guild's threads");
    feed(t, "THREAD_DELETE", "{\"id\":\"t1\",\"guild_id\":\"g1\",\"parent_id\":\"c1\",\"type\":11}");
    ok(discord_threads_parent(t, "t1") == NULL, "THREAD_DELETE forgets it");
    feed(t, "GUILD_DELETE", "{\"id\":\"g1\",\"unavailable\":true}");
    ok(discord_threads_parent(t, "t2") == NULL, "GUILD_DELETE forgets the guild's threads");
    is_str(discord_threads_parent(t, "t3"), "c3", "and keeps other guilds'");
    ok(discord_threads_count(t) == 1, "one thread left");
    discord_threads_free(t);
}

static void test_bad_input(void) {
    struct discord_threads *t = discord_threads_new();
    ok(feed(t, "THREAD_CREATE", "{\"id\":\"t1\",\"type\":11}") == 1, "a thread without parent_id is consumed");
    ok(discord_threads_parent(t, "t1") == NULL, "but not remembered");
    ok(feed(t, "THREAD_CREATE", "[1, 2]") == 1, "a payload of the wrong shape does not crash");
    ok(discord_threads_dispatch(t, "THREAD_CREATE", NULL) == 0, "nor does a missing one");
    ok(feed(t, "MESSAGE_CREATE", "{\"id\":\"m1\"}") == 0, "other events pass through");
    ok(discord_threads_parent(NULL, "t1") == NULL && discord_threads_parent(t, NULL) == NULL, "NULLs are fine");
    discord_threads_free(t);
}

int main(void) {
    test_learning_and_forgetting();
    test_bad_input();
    return done_testing();
}
