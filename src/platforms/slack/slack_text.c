/* slack_text.c - mrkdwn escaping, mention stripping and splitting (slack_text.h). */
#include <stdlib.h>
#include <string.h>
#include "platforms/slack/slack_text.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

char *slack_text_escape(const char *text, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += text[i] == '&' ? 5 : (text[i] == '<' || text[i] == '>') ? 4 : 1;
    char *out = xmalloc(n + 1);
    char *o = out;
    for (size_t i = 0; i < len; i++) {
        const char *rep = text[i] == '&' ? "&amp;" : text[i] == '<' ? "&lt;" : text[i] == '>' ? "&gt;" : NULL;
        if (rep) {
            size_t k = strlen(rep);
            memcpy(o, rep, k);
            o += k;
        } else {
            *o++ = text[i];
        }
    }
    *o = '\0';
    return out;
}

char *slack_text_unescape(const char *text) {
    size_t len = strlen(text);
    char *out = xmalloc(len + 1);
    char *o = out;
    for (size_t i = 0; i < len;) {
        if (!strncmp(text + i, "&amp;", 5)) { *o++ = '&'; i += 5; }
        else if (!strncmp(text + i, "&lt;", 4)) { *o++ = '<'; i += 4; }
        else if (!strncmp(text + i, "&gt;", 4)) { *o++ = '>'; i += 4; }
        else *o++ = text[i++];
    }
    *o = '\0';
    return out;
}

/* Length of a mention of BOT_USER at P ("<@U1>" or "<@U1|name>"), or 0. */
static size_t mention_at(const char *p, const char *bot_user) {
    size_t idlen = strlen(bot_user);
    if (!idlen || strncmp(p, "<@", 2) || strncmp(p + 2, bot_user, idlen)) return 0;
    const char *q = p + 2 + idlen;
    if (*q == '|') q += strcspn(q, ">");
    return *q == '>' ? (size_t)(q + 1 - p) : 0;
}

const char *slack_text_strip_mention(const char *text, const char *bot_user) {
    if (!bot_user) return text;
    for (;;) {
        while (*text == ' ') text++;
        size_t n = mention_at(text, bot_user);
        if (!n) return text;
        text += n;
    }
}

int slack_text_mentions(const char *text, const char *bot_user) {
    if (!bot_user) return 0;
    for (const char *p = strstr(text, "<@"); p; p = strstr(p + 2, "<@"))
        if (mention_at(p, bot_user)) return 1;
    return 0;
}

size_t slack_text_split(const char *text, size_t len, size_t max_cp) {
    size_t cut = utf8_prefix(text, len, max_cp);
    if (cut >= len) return len;
    for (size_t i = cut; i > cut / 2; i--) {
        if (text[i - 1] == '\n' || text[i - 1] == ' ') return i;
    }
    /* No space: do not leave half an entity ("&am" | "p;"). */
    for (size_t i = cut; i > 0 && cut - i < 5; i--) {
        if (text[i - 1] == ';') break;
        if (text[i - 1] == '&') return i - 1 ? i - 1 : cut;
    }
    return cut ? cut : len;
}
