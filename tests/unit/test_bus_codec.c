/* test_bus_codec.c - a message survives its trip through a stream entry,
 * and a channel always lands in the same partition. */
#include <stdlib.h>
#include <string.h>
#include "bus/bus_codec.h"
#include "core/message.h"
#include "lib/xalloc.h"
#include "tap.h"

/* A Discord guild message with every field the pipeline reads. */
static struct chat_message *sample(void) {
    struct chat_message *m = message_new();
    m->platform = xstrdup("discord");
    m->channel = xstrdup("100000000000000001");
    m->id = xstrdup("1234567890");
    m->reply_to = xstrdup("1234567000");
    m->text = xstrdup("héllo \"world\"\n");
    m->author.id = xstrdup("700000000000000001");
    m->author.name = xstrdup("Ann");
    m->author.mention = xstrdup("<@700000000000000001>");
    m->mentions[0] = xstrdup("900000000000000001");
    m->mentions[1] = xstrdup("900000000000000002");
    m->nmentions = 2;
    m->direct = 1;
    m->thread = xstrdup("100000000000000001");
    m->thread_parent = xstrdup("100000000000000000");
    m->received_at = 1764979200.25;
    m->connection = xstrdup("shard:0");
    return m;
}

static void test_round_trip(void) {
    struct chat_message *m = sample();
    json_t *j = bus_message_to_json(m);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_t *back = json_loads(text, 0, NULL);
    struct chat_message *c = bus_message_from_json(back);
    ok(c != NULL, "a serialized message reads back");
    is_str(c->platform, "discord", "  platform");
    is_str(c->channel, m->channel, "  channel");
    is_str(c->id, m->id, "  id (the event id deduplication needs)");
    is_str(c->reply_to, m->reply_to, "  reply_to");
    is_str(c->text, m->text, "  text, with quotes, accents and a newline");
    is_str(c->author.id, m->author.id, "  author id");
    is_str(c->author.name, "Ann", "  author name");
    is_str(c->author.mention, "<@700000000000000001>", "  author mention (a worker has no adapter to ask)");
    is_int(c->nmentions, 2, "  both mentions");
    is_str(c->mentions[1], "900000000000000002", "  in order");
    is_int(c->direct, 1, "  direct");
    is_str(c->thread_parent, m->thread_parent, "  thread parent");
    ok(c->received_at == m->received_at, "  received_at to the quarter second");
    is_str(c->connection, "shard:0", "  connection");
    ok(c->event == NULL && c->reaction == NULL, "  no event fields appear from nowhere");
    message_free(c);
    json_decref(back);
    free(text);
    message_free(m);
}

static void test_refuses(void) {
    json_t *j = json_loads("{\"channel\":\"x\"}", 0, NULL);
    ok(bus_message_from_json(j) == NULL, "an entry without a platform is refused");
    json_decref(j);
    j = json_loads("[1,2]", 0, NULL);
    ok(bus_message_from_json(j) == NULL, "so is one that is not an object");
    json_decref(j);
    ok(bus_message_from_json(NULL) == NULL, "and a field that was not JSON");
}

static void test_partition(void) {
    int p = bus_partition("discord", "100000000000000001", 16);
    ok(p >= 0 && p < 16, "a partition is within 0..N-1");
    is_int(bus_partition("discord", "100000000000000001", 16), p, "the same channel always lands in the same one");
    /* The separator matters: "ab"+"c" and "a"+"bc" are different channels. */
    int same = bus_partition("ab", "c", 1024) == bus_partition("a", "bc", 1024);
    ok(!same, "platform and channel do not run together");
    int seen[8] = { 0 }, used = 0;
    char ch[32];
    for (int i = 0; i < 200; i++) {
        snprintf(ch, sizeof(ch), "%d", 100000 + i);
        seen[bus_partition("discord", ch, 8)]++;
    }
    for (int i = 0; i < 8; i++) used += seen[i] > 0;
    is_int(used, 8, "200 channels spread over all 8 partitions");
    is_int(bus_partition("x", "y", 1), 0, "one partition takes everything");
}

static void test_event_key(void) {
    struct chat_message *m = sample();
    char a[256], b[256];
    bus_event_key(m, a, sizeof(a));
    is_str(a, "discord:100000000000000001:msg:1234567890:700000000000000001",
           "a message's event key is its platform, channel, id and author");
    free(m->author.id);
    m->author.id = xstrdup("700000000000000002");
    bus_event_key(m, b, sizeof(b));
    ok(strcmp(a, b) != 0, "another author's message with the same id (web chat ids are the client's) is another event");
    m->event = xstrdup("reaction");
    m->reaction = xstrdup("👍");
    bus_event_key(m, b, sizeof(b));
    ok(strcmp(a, b) != 0, "a reaction on that message is another event");
    ok(strstr(b, m->author.id) && strstr(b, "👍"), "  named after who reacted and with what");
    free(m->id);
    m->id = NULL;
    bus_event_key(m, b, sizeof(b));
    is_str(b, "", "no id, no key (the worker names it after the stream entry)");
    message_free(m);
}

static void test_ids(void) {
    ok(bus_id_cmp("1-0", "2-0") < 0, "stream ids compare by time");
    ok(bus_id_cmp("5-10", "5-9") > 0, "  then by sequence, as numbers not text");
    ok(bus_id_cmp("1764979200000-3", "1764979200000-3") == 0, "  equal ids are equal");
    ok(bus_id_cmp("10-0", "9-99") > 0, "  10 comes after 9");
}

int main(void) {
    test_round_trip();
    test_refuses();
    test_partition();
    test_event_key();
    test_ids();
    return done_testing();
}
