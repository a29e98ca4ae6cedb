/* test_rich.c - rich replies: checking against the limits (core/rich.c),
 * the plain text for platforms without them, and the Discord and Slack
 * renderings (platforms/discord/discord_rich.c, platforms/slack/slack_rich.c). */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "core/rich.h"
#include "lib/utf8.h"
#include "platforms/discord/discord_rich.h"
#include "platforms/slack/slack_rich.h"
#include "tap.h"

static json_t *parse(const char *s) {
    json_error_t e;
    json_t *v = json_loads(s, 0, &e);
    if (!v) fprintf(stderr, "bad test JSON: %s\n", e.text);
    return v;
}

/* rich_check on the JSON text IN: the result dumped, or "ERR: ..." */
static char *check(const char *in) {
    json_t *v = parse(in);
    char err[256];
    json_t *r = rich_check(v, err, sizeof(err));
    json_decref(v);
    if (!r) {
        char *out = malloc(strlen(err) + 6);
        strcpy(out, "ERR: ");
        strcat(out, err);
        return out;
    }
    char *out = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(r);
    return out;
}

static void expect(const char *in, const char *want, const char *what) {
    char *got = check(in);
    is_str(got, want, "%s", what);
    free(got);
}

static void test_check(void) {
    expect("{\"embed\":{\"title\":\"T\",\"fields\":[{\"name\":\"a\",\"value\":1,\"inline\":true}]},\"ephemeral\":true}",
           "{\"embed\":{\"fields\":[{\"inline\":true,\"name\":\"a\",\"value\":\"1\"}],\"title\":\"T\"},\"ephemeral\":true}",
           "an embed with a numeric field value, ephemeral");
    expect("{\"buttons\":[{\"label\":\"1\",\"id\":\"a\"},{\"label\":\"2\",\"id\":\"b\"},{\"label\":\"3\",\"id\":\"c\"},"
           "{\"label\":\"4\",\"id\":\"d\"},{\"label\":\"5\",\"id\":\"e\"},{\"label\":\"6\",\"url\":\"https://x.org\"}]}",
           "{\"buttons\":[[{\"id\":\"a\",\"label\":\"1\"},{\"id\":\"b\",\"label\":\"2\"},{\"id\":\"c\",\"label\":\"3\"},"
           "{\"id\":\"d\",\"label\":\"4\"},{\"id\":\"e\",\"label\":\"5\"}],[{\"label\":\"6\",\"url\":\"https://x.org\"}]]}",
           "a flat list of buttons is put in rows of five");
    expect("{\"buttons\":[[{\"label\":\"a\",\"id\":\"a\"}],[{\"label\":\"b\",\"id\":\"b\"}]]}",
           "{\"buttons\":[[{\"id\":\"a\",\"label\":\"a\"}],[{\"id\":\"b\",\"label\":\"b\"}]]}", "rows given as rows stay");
    expect("{\"buttons\":{}}", "{}", "an empty Lua table of buttons is none");
    expect("{\"embed\":{\"titel\":\"x\"}}", "ERR: embed has no field \"titel\" (title, description, url, color, image, footer, fields)",
           "a misspelt embed field is named");
    expect("{\"text2\":1}", "ERR: a reply has no field \"text2\" (text, embed, buttons, ephemeral)", "an unknown reply field");
    expect("{\"embed\":{\"title\":\"x\",\"url\":\"javascript:alert(1)\"}}",
           "ERR: embed.url must be an http(s) URL of at most 512 bytes", "only http(s) links");
    expect("{\"embed\":{\"color\":16777216}}", "ERR: embed.color must be a number from 0 to 0xffffff", "a color past 24 bits");
    expect("{\"embed\":{}}", "ERR: the embed is empty (give it a title, a description, fields or an image)", "an empty embed");
    expect("{\"buttons\":[{\"label\":\"x\"}]}", "ERR: button \"x\" needs either an id or a url", "a button that does nothing");
    expect("{\"buttons\":[{\"label\":\"x\",\"id\":\"a\",\"url\":\"https://x\"}]}", "ERR: button \"x\" needs either an id or a url",
           "a button with both");
    expect("{\"buttons\":[{\"id\":\"a\"}]}", "ERR: a button needs a label (a string)", "a button without a label");
    expect("{\"buttons\":[{\"label\":\"x\",\"id\":\"a\",\"style\":\"blurple\"}]}",
           "ERR: a button's style is primary, secondary, success or danger", "an unknown style");
    /* 26 fields, 26 buttons, an id of 101 bytes, a row of 6 */
    char big[8192] = "{\"embed\":{\"fields\":[";
    for (int i = 0; i < 26; i++) strcat(big, i ? ",{\"name\":\"n\",\"value\":\"v\"}" : "{\"name\":\"n\",\"value\":\"v\"}");
    strcat(big, "]}}");
    expect(big, "ERR: embed has more than 25 fields", "26 fields are refused");
    strcpy(big, "{\"buttons\":[");
    for (int i = 0; i < 26; i++) strcat(big, i ? ",{\"label\":\"b\",\"id\":\"x\"}" : "{\"label\":\"b\",\"id\":\"x\"}");
    strcat(big, "]}");
    expect(big, "ERR: at most 5 rows of 5 buttons (25 in all)", "26 buttons are refused");
    char id[300] = "{\"buttons\":[{\"label\":\"b\",\"id\":\"";
    memset(id + strlen(id), 'i', 101);
    strcpy(id + strlen(id), "\"}]}");
    expect(id, "ERR: button \"b\": its id must be a string of 1 to 100 bytes", "a custom id over 100 bytes");
    expect("{\"buttons\":[[{\"label\":\"1\",\"id\":\"a\"},{\"label\":\"1\",\"id\":\"a\"},{\"label\":\"1\",\"id\":\"a\"},"
           "{\"label\":\"1\",\"id\":\"a\"},{\"label\":\"1\",\"id\":\"a\"},{\"label\":\"1\",\"id\":\"a\"}]]}",
           "ERR: a row holds 1 to 5 buttons", "a row of six");
    /* Cuts: a title of 300 "é" keeps 255 and an ellipsis. */
    char longt[2048] = "{\"embed\":{\"title\":\"";
    for (int i = 0; i < 300; i++) strcat(longt, "\xc3\xa9");
    strcat(longt, "\"}}");
    json_t *v = parse(longt);
    char err[256];
    json_t *r = rich_check(v, err, sizeof(err));
    const char *t = json_string_value(json_object_get(json_object_get(r, "embed"), "title"));
    ok(t && utf8_codepoints(t, strlen(t)) == RICH_TITLE_MAX, "a long title is cut to 256 code points");
    ok(t && !strcmp(t + strlen(t) - 3, "\xe2\x80\xa6"), "and ends with an ellipsis");
    json_decref(r);
    json_decref(v);
    /* 6000 in all: five fields of 1024 and a description of 4096 are too much. */
    json_t *e = json_object(), *fields = json_array();
    char *kilo = malloc(4097);
    memset(kilo, 'x', 4096);
    kilo[4096] = '\0';
    json_object_set_new(e, "description", json_string(kilo));
    kilo[1024] = '\0';
    for (int i = 0; i < 5; i++) json_array_append_new(fields, json_pack("{s:s, s:s}", "name", "n", "value", kilo));
    json_object_set_new(e, "fields", fields);
    v = json_pack("{s:o}", "embed", e);
    r = rich_check(v, err, sizeof(err));
    ok(!r && !strcmp(err, "the embed's text is over 6000 characters in all"), "an embed over 6000 characters is refused");
    json_decref(v);
    free(kilo);
}

static json_t *sample(void) {
    json_t *v = parse("{\"embed\":{\"title\":\"Quiz\",\"url\":\"https://q.org\",\"description\":\"Pick <one>\",\"color\":255,"
                      "\"image\":\"https://q.org/i.png\",\"footer\":\"f\",\"fields\":[{\"name\":\"A\",\"value\":\"1\",\"inline\":true}]},"
                      "\"buttons\":[{\"label\":\"Yes\",\"id\":\"y\",\"style\":\"success\"},{\"label\":\"Docs\",\"url\":\"https://d.org\"}],"
                      "\"ephemeral\":true}");
    char err[256];
    json_t *r = rich_check(v, err, sizeof(err));
    json_decref(v);
    return r;
}

static void test_plain(void) {
    json_t *r = sample();
    char *p = rich_plain("Hi", r);
    is_str(p, "Hi\nQuiz\nhttps://q.org\nPick <one>\nA: 1\nhttps://q.org/i.png\nf\n[Yes] [Docs: https://d.org]",
           "the plain text: title, link, description, fields, image, footer, buttons");
    free(p);
    p = rich_plain("", r);
    ok(!strncmp(p, "Quiz\n", 5), "no blank first line without text");
    free(p);
    json_decref(r);
}

static void test_discord(void) {
    json_t *r = sample();
    json_t *d = discord_rich_fields(r, 0);
    char *s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    is_str(s, "{\"components\":[{\"components\":[{\"custom_id\":\"y\",\"label\":\"Yes\",\"style\":3,\"type\":2},"
              "{\"label\":\"Docs\",\"style\":5,\"type\":2,\"url\":\"https://d.org\"}],\"type\":1}],"
              "\"embeds\":[{\"color\":255,\"description\":\"Pick <one>\",\"fields\":[{\"inline\":true,\"name\":\"A\",\"value\":\"1\"}],"
              "\"footer\":{\"text\":\"f\"},\"image\":{\"url\":\"https://q.org/i.png\"},\"title\":\"Quiz\",\"url\":\"https://q.org\"}]}",
           "Discord: one embed, an action row of a success button and a link button, no flags in a channel");
    free(s);
    json_decref(d);
    d = discord_rich_fields(r, 1);
    is_int(json_integer_value(json_object_get(d, "flags")), 64, "ephemeral in an interaction response is flags 64");
    json_decref(d);
    json_decref(r);
}

static void test_slack(void) {
    char *m = slack_rich_mrkdwn("<@U123AB> & <!channel> <@x>");
    is_str(m, "<@U123AB> &amp; &lt;!channel&gt; &lt;@x&gt;", "Slack: user mentions stay, broadcasts are escaped");
    free(m);
    json_t *r = sample();
    json_t *b = slack_rich_blocks("Hi", r);
    char *s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    is_str(s, "[{\"text\":{\"text\":\"Hi\",\"type\":\"mrkdwn\"},\"type\":\"section\"},"
              "{\"text\":{\"text\":\"*<https://q.org|Quiz>*\\nPick &lt;one&gt;\",\"type\":\"mrkdwn\"},\"type\":\"section\"},"
              "{\"fields\":[{\"text\":\"*A*\\n1\",\"type\":\"mrkdwn\"}],\"type\":\"section\"},"
              "{\"alt_text\":\"Quiz\",\"image_url\":\"https://q.org/i.png\",\"type\":\"image\"},"
              "{\"elements\":[{\"text\":\"f\",\"type\":\"mrkdwn\"}],\"type\":\"context\"},"
              "{\"block_id\":\"chorus:0\",\"elements\":[{\"action_id\":\"y\",\"style\":\"primary\",\"text\":{\"text\":\"Yes\",\"type\":\"plain_text\"},"
              "\"type\":\"button\",\"value\":\"y\"},{\"action_id\":\"link:0:1\",\"text\":{\"text\":\"Docs\",\"type\":\"plain_text\"},"
              "\"type\":\"button\",\"url\":\"https://d.org\"}],\"type\":\"actions\"}]",
           "Slack: text, title and description, fields, image, footer, actions");
    free(s);
    json_decref(b);
    json_decref(r);
}

int main(void) {
    test_check();
    test_plain();
    test_discord();
    test_slack();
    return done_testing();
}
