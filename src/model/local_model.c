/* local_model.c - the built-in offline model "local", an ELIZA-like responder.
 *
 * Keyword rules ranked by priority choose reply templates; the clause after a
 * keyword is reflected ("sad about my job" -> "sad about your job") into {f}.
 * A hash of the user's text plus the user turn count picks the template, so
 * replies are deterministic yet vary. Other placeholders: {i} "I'm NAME. ",
 * {z} "我是NAME。", {u} " USER", {y} "USER", each empty when unknown. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "model/local_model.h"
#include "lib/xalloc.h"

#define MAX_TEXT 4096   /* bytes of a user message we look at */
#define MAX_FRAG 200    /* bytes of a captured, reflected fragment */
#define MAX_NAME 32     /* bytes of a persona or user name */
#define MAX_OUT 1024    /* a reply: longest template + fragment + names fit */

struct rule {
    int priority;
    int zh;                 /* 1: rule for text containing CJK, 0: for other text */
    int capture;            /* 1: the clause after the key fills {f} */
    const char *keys[12];   /* "?" means "ends with a question mark" */
    const char *need[10];   /* if set: no keys, use feel_keys; {f} must hold one */
    const char *replies[5];
};

static const char *feel_keys[12] = {"i'm feeling", "i am feeling", "i feel", "i'm",
    "i’m", "i am", "im"};

static const struct rule rules[] = {
    {100, 0, 0, {"who are you", "what are you", "are you a bot", "are you real", "are you human",
        "are you an ai", "are you a robot", "what is your name", "what's your name"}, {0},
     {"{i}Honestly, I'm the built-in offline responder of Chorus: a few rules and templates, "
      "not a real language model. A real model can be configured for smarter answers.",
      "{i}To be clear, I'm a simple offline responder that ships with Chorus. I match keywords "
      "and fill in templates, with no network. Configure a real model for a proper chat."}},
    {95, 0, 0, {"my name is", "my name's"}, {0},
     {"Nice to meet you{u}! {i}What's on your mind?", "Pleased to meet you{u}. {i}How are you?",
      "Hello{u}, I'll remember that. {i}What shall we talk about?"}},
    {86, 0, 1, {0}, {"sad", "unhappy", "depressed", "lonely", "down", "upset", "miserable", "hurt"},
     {"I'm sorry you feel {f}. Do you want to tell me what happened?",
      "That sounds hard. What do you think is making you feel {f}?",
      "It's okay to feel {f}. I'm here, and I'm listening."}},
    {85, 0, 1, {0}, {"happy", "glad", "great", "excited", "wonderful", "proud"},
     {"That's lovely to hear! What is making you feel {f}?",
      "I'm glad you feel {f}. Tell me more!"}},
    {85, 0, 1, {0}, {"tired", "exhausted", "sleepy", "drained", "worn out"},
     {"Feeling {f} is no fun. Have you been able to rest?",
      "I'm sorry you feel {f}. Maybe a short break would help?"}},
    {85, 0, 1, {0}, {"angry", "mad", "annoyed", "furious", "frustrated"},
     {"It makes sense to feel {f} sometimes. What happened?",
      "I hear you. What made you feel {f}?"}},
    {85, 0, 1, {0}, {"worried", "anxious", "nervous", "scared", "afraid", "stressed"},
     {"Feeling {f} is hard. What worries you most?",
      "Let's take it slowly. What makes you feel {f}?"}},
    {80, 0, 0, {"bye", "goodbye", "good night", "see you", "see ya", "farewell"}, {0},
     {"Goodbye{u}! It was nice talking with you.", "Take care{u}. Come back any time."}},
    {75, 0, 0, {"thank you", "thanks", "thank u", "thx"}, {0},
     {"You're welcome{u}!", "Happy to help. Anything else?", "Any time{u}."}},
    {70, 0, 0, {"sorry", "apologize", "apologise", "my bad"}, {0},
     {"No need to apologize.", "It's all right, really. Please go on."}},
    {65, 0, 1, {"i'm feeling", "i am feeling", "i feel"}, {0},
     {"Why do you feel {f}?", "Do you often feel {f}?", "How long have you felt {f}?"}},
    {62, 0, 1, {"i want", "i need", "i'd like", "i would like"}, {0},
     {"What would it mean to you to get {f}?", "Why do you want {f}?",
      "Suppose you got {f}. What would change?"}},
    {60, 0, 1, {"i'm", "i’m", "i am", "im"}, {0},
     {"How long have you been {f}?", "Why do you say you are {f}?", "Do you like being {f}?"}},
    {58, 0, 1, {"can you", "could you", "will you", "would you"}, {0},
     {"Why do you want me to {f}?", "What makes you think I can {f}?",
      "I'm only a small offline responder, but tell me why you'd like me to {f}."}},
    {56, 0, 1, {"you are", "you're", "you’re"}, {0},
     {"What makes you think I am {f}?", "Does it matter to you that I am {f}?",
      "Perhaps you would like to be {f} yourself."}},
    {54, 0, 0, {"mother", "mom", "mum", "father", "dad", "sister", "brother", "family",
        "parents", "son", "daughter"}, {0},
     {"Tell me more about your family.", "How do you get along with your family?",
      "Family can mean a lot. What are they like?"}},
    {52, 0, 1, {"because"}, {0},
     {"Is that the real reason?", "I see. So {f}. What else could explain it?"}},
    {50, 0, 0, {"why"}, {0}, {"Why do you ask?", "Good question. What is your own guess?"}},
    {45, 0, 0, {"hello", "hi", "hey", "hiya", "howdy", "greetings", "good morning",
        "good afternoon", "good evening"}, {0},
     {"Hello{u}! {i}What would you like to talk about?", "Hi{u}! {i}How are you doing today?",
      "Hey{u}, good to see you. {i}What's on your mind?"}},
    {35, 0, 0, {"yes", "yeah", "yep", "sure", "ok", "okay"}, {0},
     {"You seem quite sure.", "Okay. Tell me more.", "I see. What next?"}},
    {35, 0, 0, {"no", "nope", "nah", "not really"}, {0},
     {"Why not?", "Fair enough. What would you rather talk about?"}},
    {20, 0, 0, {"?"}, {0},
     {"That's a good question. What do you think?",
      "I'm only a simple offline responder, so I may not know. What are your thoughts?"}},
    {0, 0, 0, {0}, {0},
     {"Tell me more.", "I see. Please go on.", "How does that make you feel?",
      "Interesting. Why do you say that?", "Let's explore that a little more."}},
    {100, 1, 0, {"你是谁", "你是什么", "你叫什么", "机器人"}, {0},
     {"{z}说实话，我是 Chorus 内置的离线应答程序，只靠简单的规则和模板，"
      "不是真正的语言模型。可以在配置里接入真实的模型。"}},
    {90, 1, 0, {"不开心", "难过", "伤心", "累", "烦"}, {0},
     {"听起来你不太好受。愿意说说发生了什么吗？", "我在这里听你说，慢慢来。"}},
    {80, 1, 0, {"再见", "拜拜", "晚安"}, {0}, {"再见{y}！欢迎随时回来聊天。", "保重{y}，下次见！"}},
    {75, 1, 0, {"谢谢", "感谢", "多谢"}, {0}, {"不客气{y}！", "很高兴能帮上忙。"}},
    {70, 1, 0, {"你好", "您好", "嗨", "哈喽", "早上好", "晚上好"}, {0},
     {"你好{y}！{z}今天想聊些什么？", "嗨{y}！{z}很高兴见到你。"}},
    {0, 1, 0, {0}, {0},
     {"嗯，我明白了。能多说一点吗？", "很有意思！然后呢？",
      "我只是一个简单的离线应答程序，不过很乐意听你说。"}},
};

static const char *empty_replies[5] = {
    "Hello! {i}Say something and I'll do my best to answer.",
    "{i}I'm listening. What would you like to talk about?"};

/* Point-of-view swaps; "you", "are", "was", "were" depend on the word before
 * them and are handled in reflect_word(). */
static const char *swaps[][2] = {
    {"i", "you"}, {"me", "you"}, {"my", "your"}, {"mine", "yours"},
    {"myself", "yourself"}, {"am", "are"}, {"i'm", "you're"}, {"i’m", "you’re"},
    {"i've", "you've"}, {"i'll", "you'll"}, {"i'd", "you'd"}, {"your", "my"},
    {"yours", "mine"}, {"yourself", "myself"}, {"you're", "I'm"}, {"you’re", "I’m"},
    {"you've", "I've"}, {"you'll", "I'll"}, {"you'd", "I'd"}};

struct convo {
    char text[MAX_TEXT + 1];    /* last user message, cleaned */
    char low[MAX_TEXT + 1];     /* the same, ASCII lowercased */
    char persona[MAX_NAME + 1];
    char user[MAX_NAME + 1];
    unsigned turns;             /* number of user messages */
    const char *last_reply;     /* last assistant content, or NULL */
    int returning;              /* the prompt says they are back after a while */
    int sad;                    /* the prompt says they seem sad */
};

/* Locale-free lowercase: only ASCII changes, so UTF-8 and offsets survive. */
static int lower(int c) {
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* A byte that belongs to an English word, for whole-word matching. */
static int word_byte(int c) {
    c = lower(c);
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'';
}

/* Length of the well-formed UTF-8 sequence at s and its code point, or 0 if
 * malformed (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    size_t len, i;
    uint32_t c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; c &= 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; c &= 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; c &= 0x07; }
    else return 0;
    if (n < len) return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
        (len == 4 && (c < 0x10000 || c > 0x10FFFF))) return 0;
    *cp = c;
    return len;
}

/* Longest prefix of valid UTF-8 s[0..len) within max bytes: never split a code point. */
static size_t utf8_cut(const char *s, size_t len, size_t max) {
    if (len <= max) return len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
    return max;
}

/* Make untrusted text safe to echo: valid UTF-8, no controls, trimmed, at most
 * MAX_TEXT bytes; low gets a lowercased twin with the same offsets. */
static void clean_text(const char *src, char *dst, char *low) {
    size_t n = strnlen(src, MAX_TEXT + 4), i = 0, o = 0, k;
    uint32_t cp;
    while (i < n && o + 4 <= MAX_TEXT) {
        k = utf8_next((const unsigned char *)src + i, n - i, &cp);
        if (k == 0) { memcpy(dst + o, "\xEF\xBF\xBD", 3); o += 3; i++; continue; }
        if (cp < 0x20 || cp == 0x7F) dst[o++] = ' ';
        else { memcpy(dst + o, src + i, k); o += k; }
        i += k;
    }
    while (o > 0 && dst[o - 1] == ' ') o--;
    for (i = 0; i < o && dst[i] == ' '; i++) {}
    memmove(dst, dst + i, o - i);
    dst[o - i] = '\0';
    for (k = 0; k <= o - i; k++) low[k] = (char)lower((unsigned char)dst[k]);
}

/* Offset of key as a whole word in low ("hi" must not fire in "this"), or -1. */
static long find_word(const char *low, const char *key) {
    size_t klen = strlen(key);
    const char *p = low;
    while ((p = strstr(p, key)) != NULL) {
        if ((p == low || !word_byte((unsigned char)p[-1])) &&
            !word_byte((unsigned char)p[klen])) return p - low;
        p++;
    }
    return -1;
}

/* Copy the name at s (letters incl. Latin ones like 'ë', digits, '-') into out. */
static size_t take_name(const char *s, char *out) {
    size_t n = strnlen(s, MAX_NAME + 4), i = 0, k;
    uint32_t cp;
    while (i < n) {
        k = utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (k == 0 || i + k > MAX_NAME) break;
        if (!(cp < 0x80 && word_byte((int)cp) && cp != '\'') && cp != '-' &&
            !(cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7)) break;
        i += k;
    }
    memcpy(out, s, i);
    out[i] = '\0';
    return i;
}

/* The persona's name from "You are Aiko, ..." in the system prompt; a
 * lowercase word ("You are a helpful bot") is a description, not a name. */
static void find_persona(const char *prompt, char *out) {
    static const char *intro[] = {"You are ", "you are ", "You're ", "Your name is "};
    const char *p, *w;
    size_t i;
    for (i = 0; i < sizeof intro / sizeof intro[0]; i++) {
        for (p = prompt; (p = strstr(p, intro[i])) != NULL; p++) {
            w = p + strlen(intro[i]);
            if (*w >= 'A' && *w <= 'Z' && take_name(w, out) > 1) return;
        }
    }
    out[0] = '\0';
}

/* Remember "my name is Sam" so that later turns can greet the user by name. */
static void find_user_name(const char *text, const char *low, char *out) {
    static const char *keys[] = {"my name is", "my name's"};
    char name[MAX_NAME + 1];
    const char *w;
    size_t i;
    long at;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if ((at = find_word(low, keys[i])) < 0) continue;
        for (w = text + at + strlen(keys[i]); *w == ' '; w++) {}
        if (take_name(w, name) == 0 || strcmp(name, "not") == 0) continue;
        if (name[0] >= 'a' && name[0] <= 'z') name[0] = (char)(name[0] - 32);
        memcpy(out, name, strlen(name) + 1);
        return;
    }
}

/* What prompt.c tells any model about the person: their name, whether
 * they are back after a while, whether they seem sad. */
static void read_context(const char *system, struct convo *c) {
    const char *at = strstr(system, "You are talking with ");
    if (at && !c->user[0]) {
        char name[MAX_NAME + 1];
        if (take_name(at + 21, name) > 0) memcpy(c->user, name, strlen(name) + 1);
    }
    c->returning = strstr(system, "They are back after") != NULL;
    c->sad = strstr(system, "They seem sad") != NULL || strstr(system, "They seem anxious") != NULL;
}

/* Keep what the rules need from the messages; skip, never reject, bad ones. */
static void read_convo(const json_t *messages, struct convo *c) {
    const char *role, *s;
    int seen_system = 0;
    size_t i;
    for (i = 0; json_is_array(messages) && i < json_array_size(messages); i++) {
        const json_t *m = json_array_get(messages, i);
        role = json_string_value(json_object_get(m, "role"));
        s = json_string_value(json_object_get(m, "content"));
        if (role == NULL) continue;
        if (strcmp(role, "user") == 0) {
            c->turns++;
            clean_text(s ? s : "", c->text, c->low);
            find_user_name(c->text, c->low, c->user);
        } else if (strcmp(role, "system") == 0 && !seen_system && s) {
            find_persona(s, c->persona);
            read_context(s, c);
            seen_system = 1;
        } else if (strcmp(role, "assistant") == 0) {
            c->last_reply = s;
        }
    }
}

/* Swap a lowercased word's point of view, or NULL to keep it. prev (the last
 * word out) and object tell "you" the subject ("if you go") from the object. */
static const char *reflect_word(const char *low, const char *prev, int object) {
    size_t i;
    if (strcmp(low, "you") == 0)
        return (!object && (prev[0] == '\0' || strcmp(prev, "and") == 0 ||
                strcmp(prev, "that") == 0 || strcmp(prev, "if") == 0)) ? "I" : "me";
    if (strcmp(prev, "i") == 0 && strcmp(low, "are") == 0) return "am";
    if (strcmp(prev, "i") == 0 && strcmp(low, "were") == 0) return "was";
    if (strcmp(prev, "you") == 0 && strcmp(low, "was") == 0) return "were";
    for (i = 0; i < sizeof swaps / sizeof swaps[0]; i++)
        if (strcmp(low, swaps[i][0]) == 0) return swaps[i][1];
    return NULL;
}

/* Echo one clause after a keyword, capped and reflected: "my job." -> "your job". */
static void capture(const char *text, size_t start, char *frag) {
    char out[MAX_FRAG * 4 + 8], prev[16] = "", cur[16];
    const char *w, *rep;
    size_t end, n, o = 0, i, j, k, len;
    int object;
    for (end = start; text[end] && !strchr(".!?;,:\n", text[end]); end++) {}
    while (start < end && text[start] == ' ') start++;
    text += start;
    n = utf8_cut(text, end - start, MAX_FRAG);
    if (n < end - start)        /* cut short: prefer to stop at a space */
        for (i = n; i > n / 2; i--) if (text[i] == ' ') { n = i; break; }
    while (n > 0 && strchr(" '\"(-", text[n - 1])) n--;
    for (i = 0; i < n; i = j) {
        for (j = i; j < n && text[j] != ' '; j++) {}
        if (j == i) { j++; continue; }
        for (k = 0; k < j - i && k < sizeof cur - 1; k++) cur[k] = (char)lower((unsigned char)text[i + k]);
        cur[k] = '\0';
        if (o > 0 && (strcmp(cur, "because") == 0 || strcmp(cur, "but") == 0)) break;
        for (k = j; k < n && text[k] == ' '; k++) {}     /* "you" last or before "to": object */
        object = k == n || (strncmp(text + k, "to", 2) == 0 && (k + 2 == n || text[k + 2] == ' '));
        rep = j - i < sizeof cur ? reflect_word(cur, prev, object) : NULL;
        w = rep ? rep : text + i;
        len = rep ? strlen(rep) : j - i;
        if (o > 0) out[o++] = ' ';
        memcpy(out + o, w, len);
        o += len;
        for (k = 0; k < len && k < sizeof prev - 1; k++) prev[k] = (char)lower((unsigned char)w[k]);
        prev[k] = '\0';
    }
    o = utf8_cut(out, o, MAX_FRAG);
    while (o > 0 && out[o - 1] == ' ') o--;
    memcpy(frag, out, o);
    frag[o] = '\0';
}

/* Whether the text holds a CJK ideograph, to answer in Chinese. */
static int has_cjk(const char *s) {
    size_t n = strlen(s), i = 0, k;
    uint32_t cp;
    for (; i < n && (k = utf8_next((const unsigned char *)s + i, n - i, &cp)) > 0; i += k)
        if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
            (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x2FA1F)) return 1;
    return 0;
}

/* Whether rule r fires, filling frag if it captures; a capture needs a fragment,
 * and an emotion rule one of its words in it, not negated. */
static int rule_matches(const struct rule *r, const struct convo *c, char *frag) {
    const char *const *keys = r->need[0] ? feel_keys : r->keys;
    char low[MAX_FRAG + 1];
    size_t i, j, k, n = strlen(c->text);
    long at;
    if (keys[0] == NULL) return 1;     /* fallback */
    for (i = 0; i < 12 && keys[i]; i++) {
        if (strcmp(keys[i], "?") == 0) {     /* a question: ends with '?' or '？' */
            if ((n >= 1 && c->text[n - 1] == '?') ||
                (n >= 3 && strcmp(c->text + n - 3, "？") == 0)) return 1;
            continue;
        }
        if ((at = find_word(c->low, keys[i])) < 0) continue;
        if (!r->capture) return 1;
        capture(c->text, (size_t)at + strlen(keys[i]), frag);
        if (frag[0] == '\0') continue;
        if (r->need[0] == NULL) return 1;
        for (k = 0; frag[k]; k++) low[k] = (char)lower((unsigned char)frag[k]);
        low[k] = '\0';
        if (find_word(low, "not") >= 0 || find_word(low, "never") >= 0) continue;
        for (j = 0; j < 10 && r->need[j]; j++)
            if (find_word(low, r->need[j]) >= 0) return 1;
    }
    return 0;
}

/* Append to the reply; the bound is never reached, it guards careless edits. */
static void add(char *out, size_t *len, const char *s, size_t n) {
    if (*len + n >= MAX_OUT) return;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

/* Write template t into out, filling in the placeholders. */
static void expand(char *out, const char *t, const struct convo *c, const char *frag) {
    size_t len = 0;
    const char *name = c->persona, *user = c->user;
    out[0] = '\0';
    for (; *t; t++) {
        if (t[0] != '{' || t[1] == '\0' || t[2] != '}') { add(out, &len, t, 1); continue; }
        if (t[1] == 'f') add(out, &len, frag, strlen(frag));
        if (t[1] == 'u' && user[0]) add(out, &len, " ", 1);
        if ((t[1] == 'u' || t[1] == 'y') && user[0]) add(out, &len, user, strlen(user));
        if (t[1] == 'i' && name[0]) add(out, &len, "I'm ", 4);
        if (t[1] == 'z' && name[0]) add(out, &len, "我是", strlen("我是"));
        if ((t[1] == 'i' || t[1] == 'z') && name[0]) add(out, &len, name, strlen(name));
        if (t[1] == 'i' && name[0]) add(out, &len, ". ", 2);
        if (t[1] == 'z' && name[0]) add(out, &len, "。", strlen("。"));
        t += 2;
    }
}

/* FNV-1a, to pick a template deterministically from the user's text. */
static uint32_t hash_text(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Best rule, then template by hash and turn; never echo the last reply verbatim. */
char *local_model_reply(const json_t *messages) {
    struct convo *c = xcalloc(1, sizeof *c);
    char *out = xmalloc(MAX_OUT), frag[MAX_FRAG + 1], best_frag[MAX_FRAG + 1] = "";
    const char *const *replies = empty_replies;
    size_t i, n, pick;
    int zh, best = -1;

    if (c == NULL || out == NULL) { free(c); free(out); return NULL; }
    read_convo(messages, c);
    zh = has_cjk(c->text);
    for (i = 0; c->text[0] && i < sizeof rules / sizeof rules[0]; i++) {
        if (rules[i].zh != zh || rules[i].priority <= best) continue;
        frag[0] = '\0';
        if (!rule_matches(&rules[i], c, frag)) continue;
        best = rules[i].priority;
        replies = rules[i].replies;
        memcpy(best_frag, frag, strlen(frag) + 1);
    }
    for (n = 0; n < 5 && replies[n]; n++) {}
    pick = (hash_text(c->text) + c->turns) % n;
    expand(out, replies[pick], c, best_frag);
    if (n > 1 && c->last_reply && strcmp(out, c->last_reply) == 0)
        expand(out, replies[(pick + 1) % n], c, best_frag);
    /* A returning person is welcomed back; a sad one is heard first. */
    const char *lead = c->returning ? (zh ? "欢迎回来！" : "Welcome back") : c->sad && !zh ? "I'm sorry you're feeling low." : NULL;
    if (lead) {
        char *with = xmalloc(MAX_OUT);
        if (with) {
            if (c->returning && !zh && c->user[0]) snprintf(with, MAX_OUT, "%s, %s! %s", lead, c->user, out);
            else if (c->returning && !zh) snprintf(with, MAX_OUT, "%s! %s", lead, out);
            else snprintf(with, MAX_OUT, "%s %s", lead, out);
            free(out);
            out = with;
        }
    }
    free(c);
    return out;
}
