/* test_redis_slot.c - unit tests for src/lib/redis_slot.c.
 *
 * The story: chorusd talks to a Redis Cluster, so each command must reach
 * the master that owns its key. The slot is CRC16 of the key (or of its
 * hash tag) as the cluster spec defines it, and the key is found where
 * each command keeps it: EVAL after numkeys, XREADGROUP after STREAMS. */
#include <string.h>
#include "tap.h"
#include "lib/redis_slot.h"

static unsigned slot(const char *k) {
    return redis_key_slot(k, strlen(k));
}

/* The cluster spec's checksum vector and slots Redis reports. */
static void test_crc16(void) {
    is_int(redis_crc16("123456789", 9), 0x31C3, "CRC16 of \"123456789\" is 0x31C3 (the spec's vector)");
    is_int(slot("foo"), 12182, "CLUSTER KEYSLOT foo is 12182");
    is_int(slot("bar"), 5061, "CLUSTER KEYSLOT bar is 5061");
    is_int(slot(""), 0, "the empty key is in slot 0");
}

/* Hash tags: only the first {...} with something inside counts. */
static void test_tags(void) {
    is_int(slot("{user1000}.following"), slot("{user1000}.followers"), "{user1000}.following and .followers share a slot");
    is_int(slot("{user1000}.following"), slot("user1000"), "the slot is the tag's own slot");
    is_int(slot("foo{bar}{zap}"), slot("bar"), "only the first tag counts");
    is_int(slot("foo{}{bar}"), redis_crc16("foo{}{bar}", 10) & 16383, "an empty first tag hashes the whole key");
    is_int(slot("foo{{bar}}zap"), slot("{bar"), "the tag ends at the first } after the first {");
    is_int(slot("foo{bar"), redis_crc16("foo{bar", 7) & 16383, "an unclosed { hashes the whole key");
    is_int(slot("chorus:{webchat:lobby}:persona"), slot("chorus:{webchat:lobby}:history:aiko"),
           "a channel's persona and history keys share a slot");
    is_int(slot("chorus:out:{gw:main}"), slot("chorus:rk:{gw:main}:ev:1"), "an egress stream and its reply keys share a slot");
    const char bin[] = { 'a', '{', 'x', '\0', 'y', '}', 'b' };
    is_int(redis_key_slot(bin, sizeof(bin)), redis_crc16("x\0y", 3) & 16383, "a tag may hold a NUL byte");
}

static int keyidx(int argc, const char **argv) {
    return redis_command_key_index(argc, argv, NULL);
}

/* Where each command chorusd sends keeps its key. */
static void test_key_positions(void) {
    const char *get[] = { "GET", "k" };
    is_int(keyidx(2, get), 1, "GET: argv[1]");
    const char *eval[] = { "EVAL", "return 1", "2", "a", "b", "arg" };
    is_int(keyidx(6, eval), 3, "EVAL: the first key after numkeys");
    const char *eval0[] = { "eval", "return 1", "0", "arg" };
    is_int(keyidx(4, eval0), -1, "EVAL with 0 keys has no key");
    const char *evalsha[] = { "EVALSHA", "abc", "1", "k" };
    is_int(keyidx(4, evalsha), 3, "EVALSHA: the first key after numkeys");
    const char *xrg[] = { "XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "BLOCK", "100", "STREAMS", "s1", "s2", ">", ">" };
    is_int(keyidx(13, xrg), 9, "XREADGROUP: the first stream after STREAMS");
    const char *xrgl[] = { "xreadgroup", "group", "g", "c", "streams", "s", ">" };
    is_int(keyidx(7, xrgl), 5, "xreadgroup in lower case too");
    const char *xread[] = { "XREAD", "BLOCK", "0", "STREAMS", "s", "$" };
    is_int(keyidx(6, xread), 4, "XREAD: after STREAMS");
    const char *xinfo[] = { "XINFO", "STREAM", "s" };
    is_int(keyidx(3, xinfo), 2, "XINFO STREAM key: argv[2]");
    const char *xgroup[] = { "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM" };
    is_int(keyidx(6, xgroup), 2, "XGROUP CREATE key: argv[2]");
    const char *client[] = { "CLIENT", "UNBLOCK", "12" };
    is_int(keyidx(3, client), -1, "CLIENT UNBLOCK has no key");
    const char *ping[] = { "PING" };
    is_int(keyidx(1, ping), -1, "PING has no key");
    const char *cluster[] = { "CLUSTER", "SHARDS" };
    is_int(keyidx(2, cluster), -1, "CLUSTER SHARDS has no key");
    const char *xadd[] = { "XADD", "s", "*", "f", "v" };
    is_int(keyidx(5, xadd), 1, "XADD: argv[1]");
    size_t lens[] = { 4, 3, 1, 2 };
    const char *bin[] = { "EVALxx", "x", "1", "k\0" };
    is_int(redis_command_key_index(4, bin, lens), 3, "lengths are honoured (EVAL given with a length)");
}

int main(void) {
    test_crc16();
    test_tags();
    test_key_positions();
    return done_testing();
}
