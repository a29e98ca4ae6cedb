/* sentiment.h - a small offline sentiment classifier for chat messages.
 *
 * Lexicon based, for English and Chinese (plus emoji and emoticons): cheap
 * enough to run on every message (a few microseconds, no allocation, at
 * most the first 4 KiB of a text are read). The persona engine uses it to
 * follow the mood of a conversation and to notice when someone is sad.
 *
 * English words are matched case-insensitively; Chinese terms and emoji
 * are matched greedily, longest first, since Chinese has no spaces.
 * Negation ("not happy", "不开心", "没有"), intensifiers ("very", "非常",
 * "太"), contrast ("but", "但是"), shouting and exclamation marks are taken
 * into account. The lexicon is generated into src/sentiment_lexicon.h by
 * tools/build_sentiment.js; its sources and licences are recorded in
 * data/sentiment/LICENSES.md. */
#ifndef CHORUS_SENTIMENT_H
#define CHORUS_SENTIMENT_H
#include <stddef.h>

/* Valence in [-1, 1] (negative to positive) and arousal in [0, 1] (calm to
 * excited) of a text; hits is the number of lexicon hits (0 = neutral or
 * unknown, and then valence is 0). */
struct sentiment {
    double valence;
    double arousal;
    int hits;
};

/* The sentiment of TEXT (LEN bytes, any bytes: invalid UTF-8 and NUL are
 * skipped). Only the first 4096 bytes are read. */
struct sentiment sentiment_of(const char *text, size_t len);

/* A coarse label for logs and prompts: "sad", "angry", "anxious", "happy",
 * "excited" or "neutral". It depends on the three fields only, so it also
 * works on a mood averaged over several messages: neutral when hits is 0
 * or valence is within 0.15 of 0; otherwise positive valence is "excited"
 * from arousal 0.65 up and "happy" below, negative valence is "sad" below
 * arousal 0.45, "anxious" below 0.72 and "angry" above. */
const char *sentiment_label(struct sentiment s);
#endif
