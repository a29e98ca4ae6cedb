/* test_manners.c - the group-chat classifier: who is talking to the persona. */
#include <string.h>
#include <jansson.h>
#include "persona/manners.h"
#include "tap.h"

/* Decide for TEXT with manners M; spoke/auto are seconds ago (0 = never). */
static int decide(const struct manners *m, const char *text, double spoke_ago, double auto_ago, double roll,
                  const char **why) {
    struct manners_seen s = {
        .text = text, .names = { "aiko", "Aiko Tanaka", "Ai-chan", NULL }, .now = 1000000,
        .spoke_at = spoke_ago > 0 ? 1000000 - spoke_ago : 0, .auto_at = auto_ago > 0 ? 1000000 - auto_ago : 0,
        .roll = roll,
    };
    return manners_decide(m, &s, why);
}

static json_t *keep[16];
static int nkeep;

static struct manners parsed(const char *json) {
    struct manners m;
    manners_defaults(&m);
    json_t *v = json_loads(json, 0, NULL);
    manners_parse(v, &m);
    if (nkeep < 16) keep[nkeep++] = v;   /* m borrows from it */
    return m;
}

int main(void) {
    const char *why = "";
    struct manners m;
    manners_defaults(&m);
    ok(!decide(&m, "hey aiko, how are you?", 0, 0, 0, &why) && !strcmp(why, "unaddressed"),
       "no reply key: only what the platform addressed");
    struct manners_seen direct = { .text = "hello", .direct = 1 };
    ok(manners_decide(&m, &direct, &why) && !strcmp(why, "addressed"), "a mention or DM is always answered");

    m = parsed("{\"reply\": \"addressed\"}");
    ok(decide(&m, "Hey Aiko, how are you?", 0, 0, 0.99, &why) && !strcmp(why, "name"), "addressed: its name");
    ok(decide(&m, "ask ai-chan about it", 0, 0, 0.99, &why), "addressed: its nickname, any case");
    ok(decide(&m, "aiko tanaka is here", 0, 0, 0.99, &why), "addressed: its display name");
    ok(!decide(&m, "aikonic design is nice", 0, 0, 0, &why), "a name inside another word does not count");
    ok(!decide(&m, "what time is it?", 5, 0, 0, &why), "addressed: a question after it spoke is not enough");

    m = parsed("{\"reply\": \"auto\", \"interests\": [\"tea\", \"black holes\"], \"reply_cooldown_ms\": 60000}");
    ok(decide(&m, "aiko?", 0, 1, 0.5, &why) && !strcmp(why, "name"), "auto: its name, even in the cooldown");
    ok(decide(&m, "what do you think?", 10, 0, 0, &why) && !strcmp(why, "followup"), "auto: a question right after it spoke");
    ok(decide(&m, "Why though", 10, 0, 0, &why), "auto: a question without a question mark");
    ok(!decide(&m, "what do you think?", 600, 0, 0, &why) && !strcmp(why, "unrelated"), "auto: the same question long after is not for it");
    ok(!decide(&m, "nice weather", 10, 0, 0, &why) && !strcmp(why, "unrelated"), "auto: a statement after it spoke is not for it");
    ok(decide(&m, "I brewed some TEA today", 0, 0, 0, &why) && !strcmp(why, "interest"), "auto: a topic in its interests");
    ok(decide(&m, "I read about black holes", 0, 0, 0, &why), "auto: an interest of two words");
    ok(!decide(&m, "I like steak", 0, 0, 0, &why), "auto: 'tea' inside 'steak' does not count");
    ok(!decide(&m, "the football game was great", 0, 0, 0, &why) && !strcmp(why, "unrelated"), "auto: unrelated chatter stays unanswered");
    ok(!decide(&m, "more tea please", 0, 30, 0, &why) && !strcmp(why, "cooldown"), "auto: the cooldown holds");
    ok(decide(&m, "more tea please", 0, 61, 0, &why), "auto: after the cooldown it joins in again");
    m = parsed("{\"reply\": \"auto\", \"interests\": [\"tea\"], \"reply_probability\": 0}");
    ok(!decide(&m, "tea time", 0, 0, 0, &why) && !strcmp(why, "probability"), "auto: probability 0 never joins in");
    ok(decide(&m, "aiko, tea time", 0, 0, 0, &why), "auto: probability does not silence its name");
    m = parsed("{\"reply\": \"auto\", \"interests\": [\"tea\"], \"reply_probability\": 0.3}");
    ok(decide(&m, "tea", 0, 0, 0.29, &why) && !decide(&m, "tea", 0, 0, 0.31, &why), "auto: the roll against the probability");
    m = parsed("{\"reply\": \"auto\", \"interests\": [\"茶\"]}");
    ok(decide(&m, "我喜欢喝茶", 0, 0, 0, &why), "auto: interests in scripts without spaces match as substrings");
    ok(decide(&m, "你觉得呢？", 10, 0, 0, &why), "auto: a full-width question mark is a question");

    m = parsed("{\"reply\": \"always\"}");
    ok(decide(&m, "the football game was great", 0, 0, 0.99, &why) && !strcmp(why, "always"), "always: everything");

    /* Later blocks override earlier ones: persona, then channel. */
    m = parsed("{\"reply\": \"auto\", \"proactive\": {\"after_silence_ms\": 5000, \"daily_cap\": 2}}");
    json_t *chan = json_loads("{\"reply\": \"always\", \"proactive\": {\"daily_cap\": 5}}", 0, NULL);
    manners_parse(chan, &m);
    is_int(m.reply, MANNERS_ALWAYS, "a channel block overrides the persona's mode");
    is_int(m.silence_ms, 5000, "and keeps what it does not set");
    is_int(m.daily_cap, 5, "and overrides the cap");
    json_decref(chan);

    /* Quiet hours, over midnight and within a day, with a time zone. */
    manners_defaults(&m);
    char err[200];
    ok(manners_parse_quiet("22:00-07:30", &m.quiet_from, &m.quiet_to, err, sizeof(err)) == 0, "quiet hours parse");
    double day = 1700000000 - 1700000000 % 86400;
    ok(manners_quiet_now(&m, day + 23 * 3600), "23:00 is quiet");
    ok(manners_quiet_now(&m, day + 7 * 3600 + 29 * 60), "07:29 is quiet");
    ok(!manners_quiet_now(&m, day + 7 * 3600 + 30 * 60), "07:30 is not");
    ok(!manners_quiet_now(&m, day + 12 * 3600), "noon is not");
    m.utc_offset_min = 9 * 60;
    ok(manners_quiet_now(&m, day + 14 * 3600), "14:00 UTC is 23:00 at UTC+9: quiet");
    ok(manners_parse_quiet("13:00-14:00", &m.quiet_from, &m.quiet_to, err, sizeof(err)) == 0 && m.utc_offset_min == 540,
       "a daytime range");
    m.utc_offset_min = 0;
    ok(manners_quiet_now(&m, day + 13.5 * 3600) && !manners_quiet_now(&m, day + 14 * 3600), "13:30 quiet, 14:00 not");
    ok(manners_parse_quiet("25:00-07:00", &m.quiet_from, &m.quiet_to, err, sizeof(err)) < 0 && strstr(err, "22:00-07:00"),
       "a bad range is refused: %s", err);
    ok(manners_parse_quiet("10-12", &m.quiet_from, &m.quiet_to, err, sizeof(err)) < 0, "hours need minutes");

    /* Validation names the key. */
    json_t *bad = json_loads("{\"reply\": \"sometimes\"}", 0, NULL);
    ok(manners_validate(bad, "persona \"aiko\"", err, sizeof(err)) < 0 && strstr(err, "reply must be"), "%s", err);
    json_decref(bad);
    bad = json_loads("{\"reply_probability\": 2}", 0, NULL);
    ok(manners_validate(bad, "persona \"aiko\"", err, sizeof(err)) < 0 && strstr(err, "reply_probability"), "%s", err);
    json_decref(bad);
    bad = json_loads("{\"proactive\": {\"after_silence\": 5}}", 0, NULL);
    ok(manners_validate(bad, "channel \"x:y\"", err, sizeof(err)) < 0 && strstr(err, "after_silence'"), "%s", err);
    json_decref(bad);
    bad = json_loads("{\"proactive\": {\"schedule\": \"every never\"}}", 0, NULL);
    ok(manners_validate(bad, "persona \"aiko\"", err, sizeof(err)) < 0 && strstr(err, "proactive.schedule"), "%s", err);
    json_decref(bad);
    bad = json_loads("{\"proactive\": {\"quiet_hours\": \"late\"}}", 0, NULL);
    ok(manners_validate(bad, "persona \"aiko\"", err, sizeof(err)) < 0 && strstr(err, "quiet_hours"), "%s", err);
    json_decref(bad);
    json_t *good = json_loads("{\"reply\": \"auto\", \"reply_probability\": 0.5, \"proactive\": {\"after_silence_ms\": 60000,"
                              " \"quiet_hours\": \"22:00-07:00\", \"schedule\": \"0 9 * * *\", \"daily_cap\": 2}}", 0, NULL);
    ok(manners_validate(good, "persona \"aiko\"", err, sizeof(err)) == 0, "a full set of manners is valid");
    json_decref(good);
    ok(manners_is_question("  how's it going") && !manners_is_question("however, no") && !manners_is_question("island"),
       "question words only as whole words");
    for (int i = 0; i < nkeep; i++) json_decref(keep[i]);
    return done_testing();
}
