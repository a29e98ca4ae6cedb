/* prompt.c - assemble a persona's prompt within its token budget. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "persona/persona.h"
#include "persona/prompt.h"
#include "lib/tokens.h"

struct buf {
    char data[8192];
    size_t len;
};

/* Append a formatted line to B (silently cut at the buffer's end). */
static void add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct buf *b, const char *fmt, ...) {
    va_list ap;
    if (b->len >= sizeof(b->data) - 1) return;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, sizeof(b->data) - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n < sizeof(b->data) - b->len ? (size_t)n : sizeof(b->data) - b->len - 1;
}

/* "3 hours", "2 days": how long someone was away, in words. */
static void away_words(double s, char *out, size_t len) {
    if (s < 7200) snprintf(out, len, "%.0f minutes", s / 60);
    else if (s < 172800) snprintf(out, len, "%.0f hours", s / 3600);
    else snprintf(out, len, "%.0f days", s / 86400);
}

/* The persona's character and style, from its definition. */
static void add_style(struct buf *b, const struct persona *p) {
    json_t *traits = json_object_get(p->def, "traits");
    if (json_array_size(traits) > 0) {
        add(b, "\nYour character:");
        size_t i;
        json_t *t;
        json_array_foreach(traits, i, t) add(b, "%s %s", i ? "," : "", json_string_value(t));
        add(b, ".");
    }
    json_t *style = json_object_get(p->def, "style");
    const char *length = json_string_value(json_object_get(style, "length"));
    if (length && !strcmp(length, "short")) add(b, "\nKeep replies short: one to three sentences.");
    else if (length && !strcmp(length, "long")) add(b, "\nYou may answer at length when it helps.");
    json_t *emoji = json_object_get(style, "emoji");
    if (json_is_boolean(emoji)) add(b, json_is_true(emoji) ? "\nUse an emoji now and then." : "\nDo not use emoji.");
    const char *formality = json_string_value(json_object_get(style, "formality"));
    if (formality) add(b, "\nTone: %s.", formality);
    json_t *langs = json_object_get(style, "languages");
    if (json_array_size(langs) > 0) {
        add(b, "\nReply in the language the person writes in; you speak");
        size_t i;
        json_t *l;
        json_array_foreach(langs, i, l) add(b, "%s %s", i ? "," : "", json_string_value(l));
        add(b, ".");
    }
}

/* What the persona knows and feels about this conversation. */
static void add_context(struct buf *b, const char *user_name, const json_t *ctx) {
    json_t *obs = json_object_get(ctx, "observation");
    json_t *mood = json_object_get(obs, "mood");
    json_t *user = json_object_get(obs, "user");
    json_t *sentiment = json_object_get(obs, "sentiment");
    const char *mood_label = json_string_value(json_object_get(mood, "label"));
    if (mood_label && strcmp(mood_label, "neutral")) add(b, "\nThe mood of this conversation so far: %s.", mood_label);
    if (user_name && *user_name) add(b, "\nYou are talking with %s.", user_name);
    if (json_is_true(json_object_get(user, "new"))) {
        add(b, " This is the first time you talk with them; introduce yourself warmly.");
    } else if (json_is_true(json_object_get(user, "returning"))) {
        char away[64];
        away_words(json_number_value(json_object_get(user, "away_s")), away, sizeof(away));
        add(b, " They are back after %s; greet them as someone you know.", away);
    } else if (json_integer_value(json_object_get(user, "turns")) > 1) {
        add(b, " You have talked %lld times.", (long long)json_integer_value(json_object_get(user, "turns")));
    }
    json_t *facts = json_object_get(ctx, "facts");
    if (json_array_size(facts) > 0) {
        add(b, "\nWhat you know about them:");
        size_t i;
        json_t *f;
        json_array_foreach(facts, i, f) add(b, "%s %s", i ? ";" : "", json_string_value(f));
        add(b, ".");
    }
    const char *feel = json_string_value(json_object_get(sentiment, "label"));
    if (feel && (!strcmp(feel, "sad") || !strcmp(feel, "anxious")))
        add(b, "\nThey seem %s right now; be gentle and acknowledge how they feel before anything else.", feel);
    else if (feel && !strcmp(feel, "angry"))
        add(b, "\nThey seem upset; stay calm and kind, and take their concern seriously.");
    else if (feel && (!strcmp(feel, "happy") || !strcmp(feel, "excited")))
        add(b, "\nThey seem %s; share their good mood.", feel);
    const char *summary = json_string_value(json_object_get(ctx, "summary"));
    if (summary && *summary) add(b, "\nEarlier in this conversation: %.3000s", summary);
}

json_t *prompt_build(const struct persona *p, const char *user_name, const char *text, const json_t *ctx) {
    struct buf b = { .len = 0 };
    b.data[0] = '\0';
    add(&b, "%s", p->prompt);
    struct buf extra = { .len = 0 };
    extra.data[0] = '\0';
    add_style(&extra, p);
    add_context(&extra, user_name, ctx);
    if (extra.len) add(&b, "\n%s", extra.data);
    json_t *messages = json_array();
    json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "system", "content", b.data));
    /* Recent turns, newest kept first, as many as the budget allows. */
    long budget = p->max_prompt_tokens > 0 ? p->max_prompt_tokens : 3000;
    long used = tokens_estimate(b.data, b.len) + tokens_estimate(text, strlen(text)) + 8;
    json_t *turns = json_object_get(ctx, "turns");
    size_t n = json_array_size(turns), first = n;
    while (first > 0) {
        json_t *t = json_array_get(turns, first - 1);
        const char *content = json_string_value(json_object_get(t, "content"));
        long cost = (content ? tokens_estimate(content, strlen(content)) : 0) + 4;
        if (used + cost > budget) break;
        used += cost;
        first--;
    }
    for (size_t i = first; i < n; i++) {
        json_t *t = json_array_get(turns, i);
        const char *role = json_string_value(json_object_get(t, "role"));
        const char *content = json_string_value(json_object_get(t, "content"));
        if (!role || !content || (strcmp(role, "user") && strcmp(role, "assistant"))) continue;
        json_array_append_new(messages, json_pack("{s:s, s:s}", "role", role, "content", content));
    }
    json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "user", "content", text));
    return messages;
}
