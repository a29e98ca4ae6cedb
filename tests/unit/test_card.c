/* test_card.c - character cards in all three wrappings, and hostile ones refused. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "persona/card.h"
#include "tap.h"

static const char v2[] =
    "{\"spec\":\"chara_card_v2\",\"spec_version\":\"2.0\",\"data\":{\"name\":\"Aiko Tanaka\",\"description\":\"A barista.\","
    "\"personality\":\"warm\",\"scenario\":\"a cafe\",\"first_mes\":\"Welcome, {{user}}!\",\"mes_example\":\"<START>\\n{{user}}: hi\\n{{char}}: hello\","
    "\"creator_notes\":\"secret\",\"system_prompt\":\"\",\"post_history_instructions\":\"Stay in character.\","
    "\"alternate_greetings\":[\"Hi!\"],\"tags\":[\"cafe\"],\"creator\":\"me\",\"character_version\":\"1\",\"extensions\":{\"x\":1}}}";

static void put32(unsigned char *p, unsigned long v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A PNG with one tEXt chunk per (keyword, text) pair, then IEND. */
static size_t make_png(unsigned char *out, const char *const *kv, int n) {
    static const unsigned char magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    size_t at = 8;
    memcpy(out, magic, 8);
    for (int i = 0; i <= n; i++) {
        const char *type = i < n ? "tEXt" : "IEND";
        size_t klen = i < n ? strlen(kv[2 * i]) : 0, tlen = i < n ? strlen(kv[2 * i + 1]) : 0;
        size_t len = i < n ? klen + 1 + tlen : 0;
        put32(out + at, (unsigned long)len);
        memcpy(out + at + 4, type, 4);
        if (i < n) {
            memcpy(out + at + 8, kv[2 * i], klen);
            out[at + 8 + klen] = 0;
            memcpy(out + at + 9 + klen, kv[2 * i + 1], tlen);
        }
        put32(out + at + 8 + len, crc32(crc32(0L, Z_NULL, 0), out + at + 4, (uInt)(len + 4)));
        at += 12 + len;
    }
    return at;
}

static char *b64(const char *in) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    char *out = malloc(n / 3 * 4 + 8);
    for (size_t i = 0; i < n; i += 3) {
        unsigned long v = (unsigned long)(unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (unsigned long)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)in[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

static void le16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void le32(unsigned char *p, unsigned long v) { le16(p, (unsigned)(v & 0xffff)); le16(p + 2, (unsigned)(v >> 16)); }

/* A zip holding NAME = DATA (deflated), claiming USIZE uncompressed bytes (0: the truth). */
static size_t make_zip(unsigned char *out, const char *name, const unsigned char *data, size_t len, unsigned long usize) {
    unsigned char *comp = malloc(len + 1024);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = comp;
    zs.avail_out = (uInt)(len + 1024);
    deflate(&zs, Z_FINISH);
    size_t clen = zs.total_out;
    deflateEnd(&zs);
    unsigned long crc = crc32(crc32(0L, Z_NULL, 0), data, (uInt)len);
    size_t nlen = strlen(name), at = 0;
    memset(out, 0, 30);
    le32(out, 0x04034b50ul);
    le16(out + 8, 8);
    le32(out + 14, crc);
    le32(out + 18, (unsigned long)clen);
    le32(out + 22, usize ? usize : (unsigned long)len);
    le16(out + 26, (unsigned)nlen);
    memcpy(out + 30, name, nlen);
    memcpy(out + 30 + nlen, comp, clen);
    at = 30 + nlen + clen;
    size_t cd = at;
    memset(out + at, 0, 46);
    le32(out + at, 0x02014b50ul);
    le16(out + at + 10, 8);
    le32(out + at + 16, crc);
    le32(out + at + 20, (unsigned long)clen);
    le32(out + at + 24, usize ? usize : (unsigned long)len);
    le16(out + at + 28, (unsigned)nlen);
    memcpy(out + at + 46, name, nlen);
    at += 46 + nlen;
    memset(out + at, 0, 22);
    le32(out + at, 0x06054b50ul);
    le16(out + at + 8, 1);
    le16(out + at + 10, 1);
    le32(out + at + 12, (unsigned long)(at - cd));
    le32(out + at + 16, (unsigned long)cd);
    free(comp);
    return at + 22;
}

static json_t *parse(const void *buf, size_t len, char *err) {
    return card_parse(buf, len, err, 300);
}

static const char *data_str(json_t *card, const char *key) {
    return json_string_value(json_object_get(json_object_get(card, "data"), key));
}

int main(void) {
    char err[300];
    unsigned char *buf = malloc(1 << 24);

    json_t *c = parse(v2, strlen(v2), err);
    ok(c != NULL, "a V2 JSON card is read");
    is_str(json_string_value(json_object_get(c, "spec")), "chara_card_v3", "and becomes V3");
    is_str(data_str(c, "name"), "Aiko Tanaka", "name kept");
    is_str(data_str(c, "post_history_instructions"), "Stay in character.", "post-history instructions kept");
    ok(json_object_get(json_object_get(json_object_get(c, "data"), "extensions"), "x") != NULL, "unknown extensions kept");
    char slug[64];
    card_slug("Aiko Tanaka", slug, sizeof(slug));
    is_str(slug, "aiko-tanaka", "a persona name from the card name");
    json_decref(c);

    char *enc = b64(v2);
    const char *kv1[] = { "chara", enc };
    size_t n = make_png(buf, kv1, 1);
    c = parse(buf, n, err);
    ok(c && !strcmp(data_str(c, "name"), "Aiko Tanaka"), "a V2 PNG card (chara chunk) is read");
    json_decref(c);

    const char *v3 = "{\"spec\":\"chara_card_v3\",\"spec_version\":\"3.0\",\"data\":{\"name\":\"Aiko V3\",\"nickname\":\"Ai\"}}";
    char *enc3 = b64(v3);
    const char *kv2[] = { "chara", enc, "ccv3", enc3 };
    n = make_png(buf, kv2, 2);
    c = parse(buf, n, err);
    ok(c && !strcmp(data_str(c, "name"), "Aiko V3"), "with both chunks, ccv3 wins");
    is_str(data_str(c, "nickname"), "Ai", "nickname kept");
    json_decref(c);

    n = make_zip(buf, "card.json", (const unsigned char *)v3, strlen(v3), 0);
    c = parse(buf, n, err);
    ok(c && !strcmp(data_str(c, "name"), "Aiko V3"), "a CHARX zip with card.json is read");
    json_decref(c);

    /* Hostile cards. */
    const char *wrong = "{\"spec\":\"chara_card_v9\",\"data\":{\"name\":\"x\"}}";
    ok(!parse(wrong, strlen(wrong), err) && strstr(err, "spec:"), "a wrong spec is refused: %s", err);
    const char *noname = "{\"spec\":\"chara_card_v2\",\"data\":{\"description\":\"x\"}}";
    ok(!parse(noname, strlen(noname), err) && strstr(err, "data.name: missing"), "a missing name is refused: %s", err);
    const char *badtype = "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"x\",\"tags\":[1]}}";
    ok(!parse(badtype, strlen(badtype), err) && strstr(err, "data.tags[0]"), "a bad field type is refused: %s", err);
    const char *badbook = "{\"spec\":\"chara_card_v3\",\"data\":{\"name\":\"x\",\"character_book\":{\"entries\":[{\"keys\":\"/a(/\",\"use_regex\":true,\"content\":\"c\"}]}}}";
    ok(!parse(badbook, strlen(badbook), err) && strstr(err, "data.character_book.entries[0]"), "a bad lorebook regex is refused: %s", err);
    const char *kv3[] = { "chara", "eyJzcGVj!!!" };
    n = make_png(buf, kv3, 1);
    ok(!parse(buf, n, err) && strstr(err, "chara: broken base64"), "broken base64 is refused: %s", err);
    n = make_png(buf, kv1, 1);
    buf[n - 20] ^= 0x55;   /* damage the tEXt chunk's text */
    ok(!parse(buf, n, err) && strstr(err, "bad CRC"), "a damaged PNG chunk is refused: %s", err);
    put32(buf + 8, 0x7fffffff);
    ok(!parse(buf, n, err) && strstr(err, "past the end"), "a chunk longer than the file is refused: %s", err);
    ok(!parse(buf, CARD_FILE_MAX + 1, err) && strstr(err, "file:") && strstr(err, "limit"), "an oversized file is refused: %s", err);
    /* A zip bomb: 20 MB of zeros that claims to be 100 bytes, then one that says 20 MB. */
    size_t big = 20u << 20;
    unsigned char *zeros = calloc(1, big);
    memcpy(zeros, "{\"spec\":\"chara_card_v3\",\"data\":{\"name\":\"", 40);
    n = make_zip(buf, "card.json", zeros, big, 100);
    ok(!parse(buf, n, err) && strstr(err, "card.json: inflates beyond"), "a zip bomb that lies about its size is refused: %s", err);
    n = make_zip(buf, "card.json", zeros, big, 0);
    ok(!parse(buf, n, err) && strstr(err, "card.json:") && strstr(err, "limit"), "a zip bomb that tells its size is refused: %s", err);
    free(zeros);
    n = make_zip(buf, "other.json", (const unsigned char *)v3, strlen(v3), 0);
    ok(!parse(buf, n, err) && strstr(err, "no card.json"), "a CHARX without card.json is refused: %s", err);
    ok(!parse("not json", 8, err) && strstr(err, "card: not JSON"), "plain garbage is refused: %s", err);

    char r1[17], r2[17];
    c = parse(v2, strlen(v2), err);
    card_revision(c, r1);
    json_t *again = json_deep_copy(c);
    card_revision(again, r2);
    is_str(r1, r2, "the revision is stable");
    json_decref(c);
    json_decref(again);
    free(enc);
    free(enc3);
    free(buf);
    return done_testing();
}
