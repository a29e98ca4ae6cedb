/* test_onebot_segments.c - OneBot v11 segments and CQ codes as the spec
 * (message/string.md, message/segment.md) writes them: escapes, codes,
 * at-the-bot, replies, faces, images, and malformed input skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "lib/json_write.h"
#include "platforms/onebot/onebot_segments.h"
#include "tap.h"

static void test_escapes(void) {
    char *e = onebot_cq_escape("a&b[c]d,e", 0);
    is_str(e, "a&amp;b&#91;c&#93;d,e", "text escapes & [ ] and leaves commas");
    free(e);
    e = onebot_cq_escape("a&b[c]d,e", 1);
    is_str(e, "a&amp;b&#91;c&#93;d&#44;e", "a code value escapes commas too");
    free(e);
    char *u = onebot_cq_unescape("&amp;#91; &#91;x&#93; &#44;", 27, 0);
    is_str(u, "&#91; [x] &#44;", "unescaping text is one pass and keeps &#44;");
    free(u);
    u = onebot_cq_unescape("a&#44;b", 7, 1);
    is_str(u, "a,b", "a value's &#44; is a comma");
    free(u);
}

static void test_parse(void) {
    const char *s = "[CQ:reply,id=123]hi [CQ:at,qq=10001] look&#91;1&#93; [CQ:image,file=a.jpg,url=http://x/a?b=1&amp;c=2&#44;3][CQ:face,id=14]";
    json_t *segs = onebot_cq_parse(s, strlen(s));
    is_int((long long)json_array_size(segs), 6, "six segments");
    is_str(json_string_value(json_object_get(json_array_get(segs, 0), "type")), "reply", "a reply first");
    is_str(json_string_value(json_object_get(json_object_get(json_array_get(segs, 0), "data"), "id")), "123", "its id");
    is_str(json_string_value(json_object_get(json_object_get(json_array_get(segs, 3), "data"), "text")), " look[1] ",
           "text between codes is unescaped");
    is_str(json_string_value(json_object_get(json_object_get(json_array_get(segs, 4), "data"), "url")),
           "http://x/a?b=1&c=2,3", "a value is unescaped with commas");
    char *back = onebot_cq_build(segs);
    json_t *again = onebot_cq_parse(back, strlen(back));
    ok(json_equal(segs, again), "build then parse gives the same segments");
    free(back);
    json_decref(again);
    json_decref(segs);
    segs = onebot_cq_parse("[CQ:at,qq] [CQ:broken [x", 24);
    is_int((long long)json_array_size(segs), 1, "malformed codes stay text");
    json_decref(segs);
}

static void test_read(void) {
    json_t *m = json_loads("[{\"type\":\"reply\",\"data\":{\"id\":\"77\"}},{\"type\":\"at\",\"data\":{\"qq\":\"10001\"}},"
                           "{\"type\":\"text\",\"data\":{\"text\":\" hello \"}},{\"type\":\"at\",\"data\":{\"qq\":2002}},"
                           "{\"type\":\"face\",\"data\":{\"id\":\"14\"}},{\"type\":\"image\",\"data\":{\"file\":\"x.png\",\"url\":\"http://i/x.png\"}},"
                           "{\"type\":\"text\"},42,{\"type\":\"at\",\"data\":{}}]", 0, NULL);
    struct onebot_parsed p;
    ok(onebot_segments_read(m, "10001", &p) == 0, "an array is read");
    ok(p.at_self, "at the bot is seen");
    is_str(p.reply_to, "77", "the reply id");
    is_str(p.text, "hello @2002[face:14][image: http://i/x.png]", "text, other ats, faces and images; the bot's at dropped");
    is_int(p.skipped, 3, "three malformed segments skipped");
    is_int(p.nmentions, 2, "two mentions");
    onebot_parsed_free(&p);
    json_decref(m);
    m = json_string("[CQ:at,qq=10001] what&#39;s &#91;up&#93;");
    ok(onebot_segments_read(m, "10001", &p) == 0 && p.at_self, "a CQ string is read too");
    is_str(p.text, "what&#39;s [up]", "and unescaped");
    onebot_parsed_free(&p);
    json_decref(m);
    m = json_integer(1);
    ok(onebot_segments_read(m, "1", &p) == -1, "a number is no message");
    json_decref(m);
}

static void test_reply(void) {
    json_t *segs = onebot_segments_reply("hi [there]", "55");
    char *s = onebot_cq_build(segs);
    is_str(s, "[CQ:reply,id=55]hi &#91;there&#93;", "a reply as a CQ string");
    free(s);
    json_decref(segs);
    segs = onebot_segments_reply("hi [CQ:at,qq=10001]! and [CQ:at,qq=all] [CQ:at,qq=]", NULL);
    ok(json_array_size(segs) == 3, "text, at, text");
    is_str(json_string_value(json_object_get(json_object_get(json_array_get(segs, 1), "data"), "qq")), "10001",
           "a mention is an at segment");
    is_str(json_string_value(json_object_get(json_object_get(json_array_get(segs, 2), "data"), "text")),
           "! and [CQ:at,qq=all] [CQ:at,qq=]", "qq=all and empty codes stay text");
    json_decref(segs);
    segs = onebot_segments_reply("[CQ:at,qq=7]", "9");
    ok(json_array_size(segs) == 2, "a reply segment and the at alone");
    json_decref(segs);
}

/* The segments written straight are what jansson made of them. */
static void test_reply_write(void) {
    static const char *const texts[] = {
        "hi", "", "[CQ:at,qq=7]", "a[CQ:at,qq=10001]b[CQ:at,qq=2]", "q\"uote\\ tab\t nl\n \x01 caf\xc3\xa9 \xf0\x9f\x98\x80",
        "[CQ:at,qq=]", "[CQ:at,qq=12345678901234567890123]", "trailing [CQ:at,qq=5]", "   ",
    };
    static const char *const replies[] = { NULL, "", "55", "x\"y" };
    int bad = 0;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        for (size_t j = 0; j < sizeof(replies) / sizeof(replies[0]); j++) {
            json_t *segs = onebot_segments_reply(texts[i], replies[j]);
            char *want = json_dumps(segs, JSON_COMPACT);
            struct json_buf b = { 0 };
            int r = onebot_segments_reply_write(&b, texts[i], replies[j]);
            char *got = json_buf_take(&b, NULL);
            if (r != 0 || strcmp(want, got)) {
                bad++;
                printf("# want %s\n# got  %s\n", want, got);
            }
            free(want);
            free(got);
            json_decref(segs);
        }
    }
    ok(bad == 0, "written segments are json_dumps' text of the built ones (%d differ)", bad);
    struct json_buf b = { 0 };
    ok(onebot_segments_reply_write(&b, "bad \xc3", NULL) == -1 && b.len == 0, "text that is not UTF-8 is not written");
    ok(onebot_segments_reply_write(&b, "ok", "\xff") == -1 && b.len == 0, "nor a reply id that is not");
    json_buf_free(&b);
}

int main(void) {
    test_escapes();
    test_parse();
    test_read();
    test_reply();
    test_reply_write();
    return done_testing();
}
