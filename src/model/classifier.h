/* classifier.h - small offline classifiers that run on every message:
 * cheap enough for the hot path, no network, no model call.
 *
 * difficulty: is this message easy (chit-chat, a greeting, a simple fact)
 * or hard (reasoning, code, maths, long multi-part questions)? A logistic
 * regression over hashed word and character features, trained by
 * tools/train_classifier.js on data/difficulty.tsv; the weights are
 * generated into src/classifier_weights.h. The tiered route uses it. */
#ifndef CHORUS_CLASSIFIER_H
#define CHORUS_CLASSIFIER_H
#include <stddef.h>

/* Probability in [0, 1] that TEXT is hard. */
double classifier_difficulty(const char *text, size_t len);
/* "easy" or "hard", with the probability of that label in *confidence. */
const char *classifier_difficulty_label(const char *text, size_t len, double *confidence);
#endif
