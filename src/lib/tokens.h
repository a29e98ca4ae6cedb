/* tokens.h - the one token estimate used everywhere (budgets, memory
 * windows, prompt assembly) when a provider has not counted for us.
 *
 * An approximation, documented so everyone gets the same number: each CJK
 * character (Han, Hiragana, Katakana, Hangul, full-width forms) counts as
 * one token; every other run of bytes counts as its length divided by 4,
 * rounded up. Real tokenizers differ by tens of percent; budgets reserve
 * the worst case and settle to the provider's own count. */
#ifndef CHORUS_TOKENS_H
#define CHORUS_TOKENS_H
#include <stddef.h>
#include <jansson.h>

long tokens_estimate(const char *text, size_t len);
/* The estimate for a messages array: each message's content plus 4 for its framing. */
long tokens_estimate_messages(const json_t *messages);
#endif
