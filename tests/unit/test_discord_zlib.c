/* test_discord_zlib.c - unit tests for src/discord_zlib.c: payloads of one
 * zlib stream, as Discord sends them, fed whole, byte by byte, and split
 * across websocket messages; a payload past the cap; a corrupt stream. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "platforms/discord/discord_zlib.h"
#include "tap.h"

/* The server side: one deflate stream, each payload flushed with Z_SYNC_FLUSH. */
struct server {
    z_stream zs;
    unsigned char out[1 << 20];
    size_t len;
};

static void server_init(struct server *s) {
    memset(&s->zs, 0, sizeof(s->zs));
    deflateInit(&s->zs, Z_DEFAULT_COMPRESSION);
}

/* Compress TEXT onto the stream; its bytes are out[from .. len). Returns from. */
static size_t server_send(struct server *s, const char *text, size_t n) {
    size_t from = s->len;
    s->zs.next_in = (Bytef *)text;
    s->zs.avail_in = (uInt)n;
    do {
        s->zs.next_out = s->out + s->len;
        s->zs.avail_out = (uInt)(sizeof(s->out) - s->len);
        deflate(&s->zs, Z_SYNC_FLUSH);
        s->len = sizeof(s->out) - s->zs.avail_out;
    } while (s->zs.avail_out == 0);
    return from;
}

/* Feed BYTES to Z in pieces of STEP, taking at the end of the last one. */
static const char *feed_and_take(struct discord_zlib *z, const unsigned char *bytes, size_t n, size_t step,
                                 size_t *len, int *rc) {
    *rc = 0;
    for (size_t at = 0; at < n && !*rc; at += step) *rc = discord_zlib_feed(z, bytes + at, n - at < step ? n - at : step);
    return *rc ? NULL : discord_zlib_take(z, len);
}

/* Two payloads of one stream come out whole, however the bytes are cut. */
static void test_payloads_in_pieces(void) {
    const char *a = "{\"op\":10,\"d\":{\"heartbeat_interval\":41250}}";
    const char *b = "{\"op\":0,\"s\":1,\"t\":\"MESSAGE_CREATE\",\"d\":{\"content\":\"hello hello hello\"}}";
    size_t steps[] = { 100000, 1, 3, 7 };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct server *s = calloc(1, sizeof(*s));
        server_init(s);
        struct discord_zlib *z = discord_zlib_new(4096);
        size_t from = server_send(s, a, strlen(a)), len = 0;
        int rc;
        const char *got = feed_and_take(z, s->out + from, s->len - from, steps[i], &len, &rc);
        is_str(got, a, "hello inflates whole in pieces of %zu", steps[i]);
        is_int((long long)len, (long long)strlen(a), "with its length");
        from = server_send(s, b, strlen(b));
        got = feed_and_take(z, s->out + from, s->len - from, steps[i], &len, &rc);
        is_str(got, b, "the next payload of the same stream too (pieces of %zu)", steps[i]);
        discord_zlib_free(z);
        deflateEnd(&s->zs);
        free(s);
    }
}

/* A payload whose bytes span two websocket messages waits for the marker. */
static void test_payload_across_messages(void) {
    const char *a = "{\"op\":11}";
    struct server *s = calloc(1, sizeof(*s));
    server_init(s);
    struct discord_zlib *z = discord_zlib_new(4096);
    size_t from = server_send(s, a, strlen(a)), half = (s->len - from) / 2, len = 0;
    is_int(discord_zlib_feed(z, s->out + from, half), 0, "the first half inflates");
    ok(discord_zlib_take(z, &len) == NULL, "no payload yet: no 00 00 FF FF at the end");
    is_int(discord_zlib_feed(z, s->out + from + half, s->len - from - half), 0, "the second half inflates");
    is_str(discord_zlib_take(z, &len), a, "then the payload is whole");
    ok(discord_zlib_take(z, &len) == NULL, "and taken only once");
    discord_zlib_free(z);
    deflateEnd(&s->zs);
    free(s);
}

/* A payload that inflates past the cap is refused, however well it compresses. */
static void test_too_big(void) {
    char *big = malloc(100000);
    memset(big, 'x', 100000);
    struct server *s = calloc(1, sizeof(*s));
    server_init(s);
    struct discord_zlib *z = discord_zlib_new(50000);
    size_t from = server_send(s, big, 50000), len = 0;
    int rc;
    ok(feed_and_take(z, s->out + from, s->len - from, 1000, &len, &rc) != NULL && len == 50000,
       "a payload of exactly the cap is fine");
    from = server_send(s, big, 50001);
    ok(s->len - from < 1000, "50001 bytes compress to %zu", s->len - from);
    feed_and_take(z, s->out + from, s->len - from, 100000, &len, &rc);
    is_int(rc, DISCORD_ZLIB_TOO_BIG, "one byte more is too big");
    ok(strstr(discord_zlib_error(z), "cap") != NULL, "the error says so: %s", discord_zlib_error(z));
    is_int(discord_zlib_feed(z, "x", 1), DISCORD_ZLIB_TOO_BIG, "and the stream stays dead");
    discord_zlib_free(z);
    deflateEnd(&s->zs);
    free(s);
    free(big);
}

/* Bytes that are not zlib are an error, never a crash or a payload. */
static void test_corrupt(void) {
    struct discord_zlib *z = discord_zlib_new(4096);
    const unsigned char junk[] = { 'n', 'o', 't', ' ', 'z', 'l', 'i', 'b', 0x00, 0x00, 0xff, 0xff };
    size_t len;
    is_int(discord_zlib_feed(z, junk, sizeof(junk)), DISCORD_ZLIB_CORRUPT, "a stream without a zlib header is corrupt");
    ok(*discord_zlib_error(z) != '\0', "with a reason: %s", discord_zlib_error(z));
    ok(discord_zlib_take(z, &len) == NULL, "and no payload comes of it");
    discord_zlib_free(z);

    const char *a = "{\"op\":10,\"d\":{\"heartbeat_interval\":41250}}";
    struct server *s = calloc(1, sizeof(*s));
    server_init(s);
    z = discord_zlib_new(4096);
    size_t from = server_send(s, a, strlen(a));
    int rc;
    ok(feed_and_take(z, s->out + from, s->len - from, 100000, &len, &rc) != NULL, "a good first payload");
    unsigned char bad[] = { 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff };
    is_int(discord_zlib_feed(z, bad, sizeof(bad)), DISCORD_ZLIB_CORRUPT, "then garbage mid-stream is corrupt");
    discord_zlib_free(z);
    deflateEnd(&s->zs);
    free(s);
}

int main(void) {
    test_payloads_in_pieces();
    test_payload_across_messages();
    test_too_big();
    test_corrupt();
    return done_testing();
}
