/* test_sentiment.c - unit tests for src/sentiment.c.
 *
 * The story: the persona engine scores every chat message to follow the
 * mood of a conversation and to notice when someone is sad. The scores
 * must point the right way in English and Chinese, respond to negation,
 * intensifiers, emoji and exclamation marks, label sadness apart from
 * anger, be accurate on the labeled set in data/sentiment/eval.tsv, and
 * stay fast and safe on empty, broken and huge messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tap.h"
#include "persona/sentiment.h"

/* Monotonic time in seconds, for the speed checks. */
static double now(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Shorthand for a C string. */
static struct sentiment sent(const char *s) {
    return sentiment_of(s, strlen(s));
}

/* The label of a C string. */
static const char *label(const char *s) {
    return sentiment_label(sent(s));
}

/* Is S a well-formed result? */
static int in_range(struct sentiment s) {
    return s.valence >= -1 && s.valence <= 1 && s.arousal >= 0 && s.arousal <= 1 && s.hits >= 0 &&
           !isnan(s.valence) && !isnan(s.arousal);
}

/* Check that each text has the wanted sign: 1, -1, or 0 for neutral. */
static void check_signs(const char *what, const char *const *texts, size_t n, int sign) {
    size_t i;

    for (i = 0; i < n; i++) {
        struct sentiment s = sent(texts[i]);
        int got = s.hits == 0 || fabs(s.valence) < 0.15 ? 0 : s.valence > 0 ? 1 : -1;
        ok(got == sign, "%s: \"%s\" (valence %+.3f, %d hits)", what, texts[i], s.valence, s.hits);
    }
}

/* Clear cases in English. */
static void test_english(void) {
    static const char *const pos[] = {
        "I am so happy today", "thank you, this is wonderful", "I love it",
        "great job everyone", "what a beautiful day",
    };
    static const char *const neg[] = {
        "I feel sad and lonely", "this is terrible", "I hate Mondays",
        "my cat died", "I'm really upset",
    };
    static const char *const neu[] = {
        "the meeting is at 3pm", "send me the file", "what time is it",
        "I am going to the store", "the bus leaves from stop 4",
    };
    struct sentiment s;

    check_signs("English positive", pos, sizeof pos / sizeof pos[0], 1);
    check_signs("English negative", neg, sizeof neg / sizeof neg[0], -1);
    check_signs("English neutral", neu, sizeof neu / sizeof neu[0], 0);
    s = sent("HAPPY");
    ok(s.valence > 0 && fabs(s.valence - sent("happy").valence) > 1e-9,
       "case is ignored for matching but capitals add emphasis (%+.3f vs %+.3f)", s.valence,
       sent("happy").valence);
    ok(sent("sooo happyyy").valence > 0.5, "stretched words still match (%+.3f)",
       sent("sooo happyyy").valence);
    ok(sent("don\xe2\x80\x99t like it").valence < 0 && sent("don't like it").valence < 0,
       "a typographic apostrophe works like ' in don't");
    ok(sent("I'm fed up").valence < 0 && sent("I can't wait").valence > 0,
       "two-word phrases: fed up is negative, can't wait is positive");
}

/* Clear cases in Chinese. */
static void test_chinese(void) {
    static const char *const pos[] = {
        "我今天很开心", "谢谢你，太棒了", "这个主意不错", "我喜欢这首歌", "这家店的菜很好吃",
    };
    static const char *const neg[] = {
        "我很难过", "气死我了", "我好累啊", "这服务太差了", "我很失望",
    };
    static const char *const neu[] = {
        "会议在下午三点", "请把文件发给我", "你吃饭了吗", "我在超市买东西", "好像要下雨了",
    };

    check_signs("Chinese positive", pos, sizeof pos / sizeof pos[0], 1);
    check_signs("Chinese negative", neg, sizeof neg / sizeof neg[0], -1);
    check_signs("Chinese neutral", neu, sizeof neu / sizeof neu[0], 0);
    is_int(sent("我最近很忙").hits, 0, "最近 (recently) is not 最 (most): no hit");
    is_int(sent("别人的事").hits, 0, "别人 (others) is not the negator 别");
}

/* Negation flips the sign. */
static void test_negation(void) {
    static const char *const pairs[][2] = {
        {"I am happy", "I am not happy"},
        {"this is good", "this is not good"},
        {"I like it", "I don't like it"},
        {"it's bad", "it's not bad"},
        {"I am happy", "I am not very happy"},
        {"我很开心", "我不开心"},
        {"我开心", "我没有开心"},
        {"我喜欢", "我不是很喜欢"},
        {"难过", "别难过"},
    };
    size_t i;

    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        double a = sent(pairs[i][0]).valence, b = sent(pairs[i][1]).valence;
        ok(a * b < 0, "negation flips \"%s\" (%+.3f) to \"%s\" (%+.3f)", pairs[i][0], a,
           pairs[i][1], b);
    }
    ok(sent("我没有不开心").valence > 0, "double negation: 我没有不开心 is positive (%+.3f)",
       sent("我没有不开心").valence);
    ok(sent("not happy, glad").valence > 0, "a comma ends the negation");
    ok(sent("no problem").valence > 0, "\"no problem\" is positive");
}

/* Intensifiers raise the magnitude, dampeners lower it. */
static void test_intensifiers(void) {
    static const char *const pairs[][2] = {
        {"happy", "very happy"},
        {"happy", "extremely happy"},
        {"sad", "so sad"},
        {"annoying", "really annoying"},
        {"开心", "非常开心"},
        {"开心", "太开心了"},
        {"难过", "特别难过"},
        {"开心", "好开心"},
        {"累", "累死了"},
        {"happy", "happy af"},
    };
    size_t i;

    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        double a = sent(pairs[i][0]).valence, b = sent(pairs[i][1]).valence;
        ok(fabs(b) > fabs(a) && a * b > 0, "\"%s\" (%+.3f) is stronger than \"%s\" (%+.3f)",
           pairs[i][1], b, pairs[i][0], a);
    }
    ok(fabs(sent("kind of happy").valence) < fabs(sent("happy").valence),
       "\"kind of\" dampens");
    ok(fabs(sent("有点难过").valence) < fabs(sent("难过").valence), "有点 dampens");
    ok(sent("好").valence > 0, "好 alone is positive");
    is_int(sent("好开心").hits, 1, "好 before a sentiment word is an intensifier, not a second hit");
    ok(sent("super").valence > 0 && sent("super happy").hits == 1,
       "super: a word alone, an intensifier before another");
}

/* Emoji and emoticons. */
static void test_emoji(void) {
    struct sentiment s;

    ok(sent("\xf0\x9f\x98\xa2").valence < 0, "crying face is negative");
    is_str(label("\xf0\x9f\x98\xa2"), "sad", "  and sad");
    ok(sent("\xf0\x9f\x98\xad").valence < 0, "loudly crying face is negative");
    ok(sent("\xf0\x9f\x98\x8a").valence > 0, "smiling face is positive");
    ok(sent("\xe2\x9d\xa4\xef\xb8\x8f").valence > 0, "red heart with its variation selector is positive");
    ok(sent(":(").valence < 0 && sent(":)").valence > 0, ":( is negative, :) positive");
    ok(sent(":-(").valence < 0 && sent(":D").valence > 0, ":-( is negative, :D positive");
    s = sent("thanks:)");
    ok(s.valence > 0 && s.hits == 2, "an emoticon glued to a word counts (%d hits)", s.hits);
    s = sent("\xe8\xb0\xa2\xe8\xb0\xa2:)");
    ok(s.valence > 0 && s.hits == 2, "  or to Chinese (%d hits)", s.hits);
    is_int(sent("note: (see below)").hits, 0, "ordinary punctuation is no emoticon");
    s = sent("\xf0\x9f\x98\xad\xf0\x9f\x98\xad\xf0\x9f\x98\xad");
    is_int(s.hits, 1, "a run of one emoji counts once");
    ok(s.arousal > sent("\xf0\x9f\x98\xad").arousal, "  but raises arousal");
    ok(sent("\xf0\x9f\x98\xa1").arousal > 0.8, "angry face has high arousal");
    is_int(sent("\xf0\x9f\x93\x8e").hits, 0, "a paperclip is neutral");
}

/* Arousal: angry and excited are high, tired and calm low; '!' raises it. */
static void test_arousal(void) {
    ok(sent("I'm furious").arousal > 0.8, "furious is aroused (%.3f)", sent("I'm furious").arousal);
    ok(sent("so excited!!").arousal > 0.8, "excited is aroused");
    ok(sent("I'm tired").arousal < 0.3, "tired is calm (%.3f)", sent("I'm tired").arousal);
    ok(sent("calm and relaxed").arousal < 0.2, "calm and relaxed is calm");
    ok(sent("我好困").arousal < 0.3, "困 (sleepy) is calm");
    ok(sent("我很兴奋").arousal > 0.8, "兴奋 (excited) is aroused");
    ok(sent("great!!!").arousal > sent("great").arousal, "exclamation marks raise arousal");
    ok(sent("太棒了！！").arousal > sent("太棒了").arousal, "  full-width ones too");
    ok(sent("THIS IS BAD").arousal > sent("this is bad").arousal, "  and so does shouting");
    ok(fabs(sent("great!!!").valence) > fabs(sent("great").valence),
       "exclamation marks also strengthen valence");
}

/* Labels: sadness apart from anger and worry, joy apart from excitement. */
static void test_labels(void) {
    static const char *const cases[][2] = {
        {"I'm so sad", "sad"},
        {"I feel lonely and tired", "sad"},
        {"I miss you so much", "sad"},
        {"我很难过", "sad"},
        {"我好累，心累", "sad"},
        {"I want to die", "sad"},
        {"I hate myself", "sad"},
        {"我不想活了", "sad"},
        {"I hate you", "angry"},
        {"I'm so angry at him!", "angry"},
        {"shut up", "angry"},
        {"气死我了", "angry"},
        {"我真的很讨厌他", "angry"},
        {"I'm worried about the exam", "anxious"},
        {"我好紧张", "anxious"},
        {"I'm so happy for you", "happy"},
        {"谢谢你", "happy"},
        {"I'm so excited!!!", "excited"},
        {"太棒了！我们赢了！", "excited"},
        {"the train leaves at noon", "neutral"},
        {"你好吗", "neutral"},
    };
    struct sentiment s;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s = sent(cases[i][0]);
        is_str(sentiment_label(s), cases[i][1], "\"%s\" is %s (%+.3f, %.3f)", cases[i][0],
               cases[i][1], s.valence, s.arousal);
    }
    /* The label is a function of the three fields: averaged moods work. */
    s.valence = -0.6, s.arousal = 0.2, s.hits = 5;
    is_str(sentiment_label(s), "sad", "an averaged mood: negative and calm is sad");
    s.valence = -0.6, s.arousal = 0.9;
    is_str(sentiment_label(s), "angry", "  negative and aroused is angry");
    s.valence = 0.6, s.arousal = 0.9;
    is_str(sentiment_label(s), "excited", "  positive and aroused is excited");
    s.valence = 0.05;
    is_str(sentiment_label(s), "neutral", "  near zero valence is neutral");
    s.valence = -0.9, s.hits = 0;
    is_str(sentiment_label(s), "neutral", "  no hits is neutral");
    s.valence = NAN, s.hits = 1;
    is_str(sentiment_label(s), "neutral", "  NaN is neutral");
}

/* Mixed texts: contrast, both languages, opposite words. */
static void test_mixed(void) {
    struct sentiment s;

    s = sent("I love it but the ending was sad");
    ok(s.hits == 2 && s.valence < 0, "after \"but\" weighs more (%+.3f)", s.valence);
    s = sent("the ending was sad but I love it");
    ok(s.valence > 0, "  either way round (%+.3f)", s.valence);
    s = sent("虽然有点累，但是很开心");
    ok(s.valence > 0, "但是 works the same (%+.3f)", s.valence);
    s = sent("today was bad \xe4\xbb\x8a\xe5\xa4\xa9\xe5\xbe\x88\xe9\x9a\xbe\xe8\xbf\x87");
    ok(s.hits == 2 && s.valence < 0, "English and Chinese in one message both count (%d hits)",
       s.hits);
    s = sent("happy sad");
    ok(s.hits == 2 && fabs(s.valence) < fabs(sent("happy").valence),
       "opposite words pull against each other (%+.3f)", s.valence);
    s = sent("ok\xe4\xba\x86 \xf0\x9f\x98\x8a 好开心!!");
    ok(in_range(s) && s.valence > 0, "words, emoji and CJK glued together (%+.3f)", s.valence);
}

/* Empty, NUL-laden and broken UTF-8 input. */
static void test_odd_input(void) {
    static const char broken[] = "\xff\xfe\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80 caf\xc3";
    static const char glued[] = "\xff\xfehappy\x80\x80";
    static const char cut[] = "\xe5\xbc\x80\xe5\xbf";   /* 开 and half of 心 */
    static const char nul[] = "happy\0sad";
    struct sentiment s;

    s = sentiment_of("", 0);
    ok(s.hits == 0 && s.valence == 0 && in_range(s), "empty text is neutral");
    is_str(sentiment_label(s), "neutral", "  and labeled neutral");
    s = sentiment_of(NULL, 0);
    ok(s.hits == 0 && s.valence == 0 && in_range(s), "NULL is the empty text");
    s = sentiment_of(NULL, 10);
    ok(s.hits == 0 && in_range(s), "  even with a length");
    s = sentiment_of(broken, sizeof broken - 1);
    ok(in_range(s) && s.hits == 0, "invalid UTF-8 is skipped (%d hits)", s.hits);
    s = sentiment_of(glued, sizeof glued - 1);
    ok(s.hits == 1 && s.valence > 0, "a word between invalid bytes still counts");
    s = sentiment_of(cut, sizeof cut - 1);
    ok(in_range(s) && s.hits == 0, "a truncated sequence matches nothing and is safe");
    s = sentiment_of(nul, sizeof nul - 1);
    is_int(s.hits, 2, "NUL does not end the text");
    s = sentiment_of("\xe5\xbc\x80\xe5\xbf\x83", 4);
    is_int(s.hits, 0, "a match never reads past LEN");
}

/* Deterministic pseudo-random bytes (xorshift32). */
static unsigned next_rand(unsigned *x) {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Random bytes and random pieces of real text never break the invariants. */
static void test_random(void) {
    static const char *const pieces[] = {
        "happy", "not ", "very ", "\xe4\xb8\x8d", "\xe5\xbc\x80\xe5\xbf\x83", ":)", "!", " ",
        "\xf0\x9f\x98\xad", "\xef\xb8\x8f", "but ", "\xe5\xa5\xbd", "\xff", "\xe5", "'", "af ",
        "\xe6\xad\xbb\xe4\xba\x86", "kind of ", "SAD ", "\n", "\xe2\x80\x99", "sooo",
    };
    char buf[512];
    unsigned x = 12345;
    int i, bad = 0;

    for (i = 0; i < 20000; i++) {
        size_t len = next_rand(&x) % sizeof buf, k;
        struct sentiment s;
        if (i % 2) {
            for (k = 0; k < len; k++) buf[k] = (char)(next_rand(&x) & 0xFF);
        } else {
            size_t used = 0;
            while (used < len) {
                const char *p = pieces[next_rand(&x) % (sizeof pieces / sizeof pieces[0])];
                size_t n = strlen(p);
                if (used + n > len) break;
                memcpy(buf + used, p, n);
                used += n;
            }
            len = used;
        }
        s = sentiment_of(buf, len);
        if (!in_range(s)) bad++;
        if (sentiment_label(s) == NULL) bad++;
    }
    is_int(bad, 0, "20000 random texts give results in range");
}

/* A 1 MB message costs no more than its first 4 KiB; a 100-byte message
 * takes microseconds. */
static void test_speed(void) {
    static const char chunk[] = "haha that was so much fun, see you soon! 今天很开心 ";
    static const char *const msgs[] = {
        "I'm not sure what happened, but honestly I feel really sad and tired today, nothing is going right.",
        "\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xb7\xa5\xe4\xbd\x9c\xe5\xa5\xbd\xe7\xb4\xaf\xef\xbc\x8c"
        "\xe4\xbd\x86\xe6\x98\xaf\xe6\x99\x9a\xe4\xb8\x8a\xe5\x90\x83\xe5\x88\xb0\xe4\xba\x86"
        "\xe5\xa5\xbd\xe5\x90\x83\xe7\x9a\x84\xe7\x81\xab\xe9\x94\x85\xef\xbc\x8c\xe8\xb6\x85"
        "\xe7\xba\xa7\xe5\xbc\x80\xe5\xbf\x83\xef\xbc\x81\xe6\x98\x8e\xe5\xa4\xa9\xe8\xa7\x81"
        "\xe5\x93\x88\xe5\x93\x88\xef\xbc\x8c\xe6\x99\x9a\xe5\xae\x89\xe5\x95\xa6",
        "OMG we won the game!!! \xf0\x9f\x8e\x89\xf0\x9f\x8e\x89 best day ever, can't wait to celebrate tonight",
        "can you send me the quarterly report before the meeting at 3pm tomorrow please? thanks a lot :)",
    };
    size_t size = 1 << 20, i, k = sizeof chunk - 1, bytes = 0;
    char *big = malloc(size);
    struct sentiment s, prefix;
    double t0, t1, per;
    int r, reps = 20000;

    if (!ok(big != NULL, "allocate 1 MB")) return;
    for (i = 0; i < size; i++) big[i] = chunk[i % k];
    t0 = now();
    for (r = 0; r < 100; r++) s = sentiment_of(big, size);
    t1 = now();
    prefix = sentiment_of(big, 4096);
    ok(s.valence == prefix.valence && s.arousal == prefix.arousal && s.hits == prefix.hits,
       "1 MB gives the same result as its first 4096 bytes (%d hits)", s.hits);
    ok(sentiment_of(big, 3000).hits < prefix.hits, "  and shorter prefixes count fewer hits");
    printf("# 1 MB message: %.1f us per call\n", (t1 - t0) / 100 * 1e6);
    ok((t1 - t0) / 100 < 0.005, "a 1 MB message takes under 5 ms (%.1f us)", (t1 - t0) / 100 * 1e6);
    free(big);

    t0 = now();
    for (r = 0; r < reps; r++) {
        for (i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
            s = sentiment_of(msgs[i], strlen(msgs[i]));
            bytes += strlen(msgs[i]);
        }
    }
    t1 = now();
    per = (t1 - t0) / (double)bytes * 100 * 1e6;
    printf("# %.2f us per 100 bytes of message (messages of ~%zu bytes, %.1f ns per byte)\n",
           per, bytes / (reps * (sizeof msgs / sizeof msgs[0])), (t1 - t0) / (double)bytes * 1e9);
    ok(per < 50, "a 100-byte message takes under 50 us, even under sanitizers (%.2f us)", per);
}

/* Accuracy counters for one slice of the labeled set. */
struct tally {
    int total, polarity, mood;
};

/* Polarity of a result: "pos", "neg" or "neu", as eval.tsv spells it. */
static const char *polarity_of(struct sentiment s) {
    if (s.hits == 0 || fabs(s.valence) < 0.15) return "neu";
    return s.valence > 0 ? "pos" : "neg";
}

/* Does TEXT contain a CJK ideograph (U+4E00..U+9FFF)? */
static int has_cjk(const char *text) {
    const unsigned char *p = (const unsigned char *)text;

    for (; *p; p++)
        if (*p >= 0xE4 && *p <= 0xE9 && (p[1] & 0xC0) == 0x80) return 1;
    return 0;
}

/* Print one slice's accuracy; returns its polarity accuracy. */
static double report(const char *name, const struct tally *t) {
    double pol = t->total ? (double)t->polarity / t->total : 0;
    double mood = t->total ? (double)t->mood / t->total : 0;

    printf("# %-9s %3d messages: polarity %3d = %.3f, mood label %3d = %.3f\n", name, t->total,
           t->polarity, pol, t->mood, mood);
    return pol;
}

/* Accuracy on data/sentiment/eval.tsv, computed from the file itself. */
static void test_eval(void) {
    const char *dir = getenv("CHORUS_SRCDIR");
    char path[4096];
    FILE *fp;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int heldout = 0, verbose = getenv("SENTIMENT_VERBOSE") != NULL;
    struct tally all = {0, 0, 0}, tuned = {0, 0, 0}, held = {0, 0, 0}, en = {0, 0, 0},
                 zh = {0, 0, 0};
    double acc, hacc;

    if (dir == NULL || *dir == '\0') dir = ".";
    snprintf(path, sizeof path, "%s/data/sentiment/eval.tsv", dir);
    fp = fopen(path, "r");
    if (!ok(fp != NULL, "open %s", path)) return;
    while ((n = getline(&line, &cap, fp)) != -1) {
        char *pol, *mood, *text;
        struct sentiment s;
        int pol_ok, mood_ok;
        struct tally *slices[3];
        int k;

        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (strcmp(line, "# held-out") == 0) heldout = 1;
        if (n == 0 || line[0] == '#') continue;
        pol = line;
        if ((mood = strchr(pol, '\t')) == NULL) continue;
        *mood++ = '\0';
        if ((text = strchr(mood, '\t')) == NULL) continue;
        *text++ = '\0';
        s = sent(text);
        pol_ok = strcmp(polarity_of(s), pol) == 0;
        mood_ok = strcmp(sentiment_label(s), mood) == 0;
        if (verbose && (!pol_ok || !mood_ok))
            printf("# miss: want %s/%s got %s (%+.3f, %.3f, %d hits): %s\n", pol, mood,
                   sentiment_label(s), s.valence, s.arousal, s.hits, text);
        slices[0] = &all;
        slices[1] = heldout ? &held : &tuned;
        slices[2] = has_cjk(text) ? &zh : &en;
        for (k = 0; k < 3; k++) {
            slices[k]->total++;
            slices[k]->polarity += pol_ok;
            slices[k]->mood += mood_ok;
        }
    }
    free(line);
    fclose(fp);
    acc = report("all", &all);
    report("tuned", &tuned);
    hacc = report("held-out", &held);
    report("English", &en);
    report("Chinese", &zh);
    ok(all.total >= 120, "the labeled set has %d messages", all.total);
    ok(en.total >= 40 && zh.total >= 40, "  in both languages (%d English, %d Chinese)", en.total,
       zh.total);
    ok(acc >= 0.80, "polarity accuracy %.3f is at least 0.80", acc);
    ok(hacc >= 0.80, "  and %.3f on the held-out part alone", hacc);
}

int main(void) {
    test_english();
    test_chinese();
    test_negation();
    test_intensifiers();
    test_emoji();
    test_arousal();
    test_labels();
    test_mixed();
    test_odd_input();
    test_random();
    test_speed();
    test_eval();
    return done_testing();
}
