/* prompt.c - assemble a persona's prompt within its token budget. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "persona/persona.h"
#include "persona/prompt.h"
#include "persona/lorebook.h"
#include "lib/tokens.h"
#include "lib/xalloc.h"

#define PROMPT_MAX_LORE 128

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
    json_t *recalled = json_object_get(ctx, "recalled");
    if (json_array_size(recalled) > 0) {
        add(b, "\nRecalled from long ago in this conversation (may be out of date):");
        size_t i;
        json_t *r;
        json_array_foreach(recalled, i, r) {
            const char *role = json_string_value(json_object_get(r, "role"));
            const char *name = json_string_value(json_object_get(r, "name"));
            const char *content = json_string_value(json_object_get(r, "content"));
            if (!content) continue;
            add(b, "\n- %s: %.600s", role && !strcmp(role, "assistant") ? "You" : name && *name ? name : "They", content);
        }
    }
}

char *prompt_replace(const char *text, const char *from, const char *to) {
    size_t flen = strlen(from), tlen = strlen(to), n = 0;
    for (const char *p = strstr(text, from); p; p = strstr(p + flen, from)) n++;
    char *out = xmalloc(strlen(text) + n * tlen + 1), *o = out;
    for (const char *p = text;;) {
        const char *hit = strstr(p, from);
        size_t len = hit ? (size_t)(hit - p) : strlen(p);
        memcpy(o, p, len);
        o += len;
        if (!hit) break;
        memcpy(o, to, tlen);
        o += tlen;
        p = hit + flen;
    }
    *o = '\0';
    return out;
}

char *prompt_macros(const char *text, const char *char_name, const char *user_name, const char *original) {
    static const char *const names[] = { "{{char}}", "<BOT>", "{{user}}", "<USER>", "{{original}}" };
    const char *values[] = { char_name, char_name, user_name, user_name, original };
    char *out = xstrdup(text);
    for (int i = 0; i < 5; i++) {
        if (!strstr(out, names[i])) continue;
        char *next = prompt_replace(out, names[i], values[i]);
        free(out);
        out = next;
    }
    return out;
}

/* A growing string: card texts have no fixed size. */
struct sb {
    char *data;
    size_t len, cap;
};

static void sb_add(struct sb *b, const char *text) {
    size_t n = strlen(text);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, text, n + 1);
    b->len += n;
}

/* Append a paragraph (macros replaced), separated from what came before by a blank line. */
static void sb_para(struct sb *b, const char *prefix, const char *text, const char *cname, const char *uname) {
    if (!text || !*text) return;
    char *t = prompt_macros(text, cname, uname, "");
    if (b->len) sb_add(b, "\n\n");
    sb_add(b, prefix);
    sb_add(b, t);
    free(t);
}

static void push(json_t *messages, const char *role, const char *content) {
    json_array_append_new(messages, json_pack("{s:s, s:s}", "role", role, "content", content));
}

/* The example dialogue: whole <START> blocks, in order, within SHARE tokens. */
static char *examples(const char *mes, const char *cname, const char *uname, long share, int *blocks) {
    char *all = prompt_macros(mes, cname, uname, "");
    struct sb out = { 0 };
    long used = 0;
    *blocks = 0;
    char *p = all;
    while (*p) {
        while (*p == '\n' || *p == '\r' || *p == ' ') p++;
        if (!strncmp(p, "<START>", 7)) p += 7;
        while (*p == '\n' || *p == '\r') p++;
        char *end = strstr(p, "<START>");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (p[len - 1] == '\n' || p[len - 1] == ' ' || p[len - 1] == '\r')) len--;
        if (len) {
            long cost = tokens_estimate(p, len);
            if (used + cost > share) break;
            used += cost;
            char save = p[len];
            p[len] = '\0';
            sb_add(&out, *blocks ? "\n\n" : "");
            sb_add(&out, p);
            p[len] = save;
            (*blocks)++;
        }
        if (!end) break;
        p = end;
    }
    free(all);
    return out.data;
}

json_t *prompt_build(const struct persona *p, const char *user_name, const char *text, const json_t *ctx) {
    return prompt_build_explain(p, user_name, text, ctx, NULL);
}

json_t *prompt_build_explain(const struct persona *p, const char *user_name, const char *text, const json_t *ctx,
                             json_t *explain) {
    const char *cname = p->display_name, *uname = user_name && *user_name ? user_name : "User";
    long budget = p->max_prompt_tokens > 0 ? p->max_prompt_tokens : 3000;
    json_t *turns = json_object_get(ctx, "turns");
    size_t n = json_array_size(turns);

    /* Lorebooks: scan the message and the newest turns. */
    struct lore_hit hits[PROMPT_MAX_LORE];
    int nhits = 0;
    if (p->nbooks > 0) {
        const char *texts[64];
        int nt = 0;
        texts[nt++] = text;
        for (size_t i = n; i > 0 && nt < 64; i--) {
            const char *c = json_string_value(json_object_get(json_array_get(turns, i - 1), "content"));
            if (c) texts[nt++] = c;
        }
        nhits = lorebook_match(p->books, p->nbooks, texts, nt, budget / 4, hits, PROMPT_MAX_LORE);
    }

    /* The system message. */
    struct sb sys = { 0 };
    char *prompt = prompt_macros(p->prompt, cname, uname, "");
    sb_add(&sys, prompt);
    free(prompt);
    if (p->card) {
        for (int i = 0; i < nhits; i++)
            if (hits[i].entry->position == LORE_BEFORE_CHAR) sb_para(&sys, "", hits[i].entry->content, cname, uname);
        sb_para(&sys, "", persona_card_str(p, "description"), cname, uname);
        if (*persona_card_str(p, "personality")) {
            char prefix[300];
            snprintf(prefix, sizeof(prefix), "%s's personality: ", cname);
            sb_para(&sys, prefix, persona_card_str(p, "personality"), cname, uname);
        }
        sb_para(&sys, "Scenario: ", persona_card_str(p, "scenario"), cname, uname);
        for (int i = 0; i < nhits; i++)
            if (hits[i].entry->position == LORE_AFTER_CHAR) sb_para(&sys, "", hits[i].entry->content, cname, uname);
    } else {
        for (int i = 0; i < nhits; i++)
            if (hits[i].entry->position != LORE_AT_DEPTH) sb_para(&sys, "", hits[i].entry->content, cname, uname);
    }
    struct buf extra = { .len = 0 };
    extra.data[0] = '\0';
    add_style(&extra, p);
    add_context(&extra, user_name, ctx);
    if (extra.len) {
        sb_add(&sys, "\n");
        sb_add(&sys, extra.data);
    }
    json_t *messages = json_array();
    push(messages, "system", sys.data);
    long used = tokens_estimate(sys.data, sys.len) + tokens_estimate(text, strlen(text)) + 8;
    free(sys.data);

    int blocks = 0;
    const char *mes = persona_card_str(p, "mes_example");
    if (*mes) {
        char *ex = examples(mes, cname, uname, budget / 4, &blocks);
        if (ex && *ex) {
            struct sb e = { 0 };
            sb_add(&e, "Example dialogue (how ");
            sb_add(&e, cname);
            sb_add(&e, " speaks; not part of this conversation):\n\n");
            sb_add(&e, ex);
            push(messages, "system", e.data);
            used += tokens_estimate(e.data, e.len) + 4;
            free(e.data);
        }
        free(ex);
    }
    char *post = prompt_macros(persona_card_str(p, "post_history_instructions"), cname, uname, "");
    used += *post ? tokens_estimate(post, strlen(post)) + 4 : 0;
    for (int i = 0; i < nhits; i++)
        if (hits[i].entry->position == LORE_AT_DEPTH) used += hits[i].entry->tokens + 4;

    /* Recent turns, newest kept first, as many as the budget allows. */
    size_t first = n;
    while (first > 0) {
        json_t *t = json_array_get(turns, first - 1);
        const char *content = json_string_value(json_object_get(t, "content"));
        long cost = (content ? tokens_estimate(content, strlen(content)) : 0) + 4;
        if (used + cost > budget) break;
        used += cost;
        first--;
    }
    /* The conversation with the depth entries inside it: depth D goes before the last D messages. */
    json_t *conv = json_array();
    for (size_t i = first; i < n; i++) {
        json_t *t = json_array_get(turns, i);
        const char *role = json_string_value(json_object_get(t, "role"));
        const char *content = json_string_value(json_object_get(t, "content"));
        if (!role || !content || (strcmp(role, "user") && strcmp(role, "assistant"))) continue;
        push(conv, role, content);
    }
    push(conv, "user", text);
    size_t nconv = json_array_size(conv);
    for (size_t i = 0; i <= nconv; i++) {
        for (int h = 0; h < nhits; h++) {
            const struct lore_entry *e = hits[h].entry;
            size_t depth = e->depth > (int)nconv ? nconv : (size_t)e->depth;
            if (e->position != LORE_AT_DEPTH || nconv - depth != i) continue;
            char *c = prompt_macros(e->content, cname, uname, "");
            push(messages, e->role, c);
            free(c);
        }
        if (i < nconv) json_array_append(messages, json_array_get(conv, i));
    }
    json_decref(conv);
    if (*post) push(messages, "system", post);
    free(post);

    if (explain) {
        json_t *lore = json_array();
        for (int i = 0; i < nhits; i++) {
            const struct lore_entry *e = hits[i].entry;
            const char *pos = e->position == LORE_BEFORE_CHAR ? "before_char" : e->position == LORE_AFTER_CHAR ? "after_char" : "depth";
            json_array_append_new(lore, json_pack("{s:s, s:s, s:s, s:s, s:i, s:I}", "book", lorebook_name(hits[i].book),
                                                  "entry", e->name, "why", hits[i].why, "position", pos,
                                                  "depth", e->depth, "tokens", (json_int_t)e->tokens));
        }
        json_object_set_new(explain, "lore", lore);
        json_object_set_new(explain, "examples", json_integer(blocks));
        json_t *recalled = json_object_get(ctx, "recalled");
        json_object_set_new(explain, "recall", json_is_array(recalled) ? json_deep_copy(recalled) : json_array());
        json_object_set_new(explain, "tokens", json_integer(tokens_estimate_messages(messages)));
        json_object_set_new(explain, "budget", json_integer(budget));
    }
    return messages;
}
