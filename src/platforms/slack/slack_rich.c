/* slack_rich.c - rich replies as Block Kit blocks (slack_rich.h), within
 * the limits of https://api.slack.com/reference/block-kit/blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platforms/slack/slack_rich.h"
#include "platforms/slack/slack_text.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

char *slack_rich_mrkdwn(const char *text) {
    char *esc = slack_text_escape(text, strlen(text));
    char *out = xmalloc(strlen(esc) + 1), *o = out;
    for (const char *p = esc; *p;) {
        /* "&lt;@U123ABC&gt;" back to "<@U123ABC>": a user mention, never a broadcast. */
        if (!strncmp(p, "&lt;@", 5) && (p[5] == 'U' || p[5] == 'W')) {
            const char *q = p + 5;
            while ((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')) q++;
            if (!strncmp(q, "&gt;", 4) && q - p - 5 >= 2) {
                *o++ = '<';
                memcpy(o, p + 4, (size_t)(q - p - 4));
                o += q - p - 4;
                *o++ = '>';
                p = q + 4;
                continue;
            }
        }
        *o++ = *p++;
    }
    *o = '\0';
    free(esc);
    return out;
}

/* A text object of TYPE holding S cut to MAX code points. */
static json_t *text_obj(const char *type, const char *s, size_t max) {
    size_t n = utf8_prefix(s, strlen(s), max);
    return json_pack("{s:s, s:s%}", "type", type, "text", s, n);
}

/* A section block of mrkdwn S. */
static json_t *section(const char *s) {
    return json_pack("{s:s, s:o}", "type", "section", "text", text_obj("mrkdwn", s, SLACK_SECTION_TEXT_MAX));
}

/* Join A and B (either may be NULL) into a new string. */
static char *join(const char *a, const char *b) {
    size_t n = strlen(a ? a : "") + strlen(b ? b : "") + 1;
    char *out = xmalloc(n);
    strcpy(out, a ? a : "");
    strcat(out, b ? b : "");
    return out;
}

/* The embed's blocks: title (linked) and description, fields, image, footer. */
static void embed_blocks(json_t *blocks, const json_t *e) {
    const char *title = json_string_value(json_object_get(e, "title"));
    const char *url = json_string_value(json_object_get(e, "url"));
    const char *desc = json_string_value(json_object_get(e, "description"));
    if (title || desc) {
        char *t = title ? slack_rich_mrkdwn(title) : NULL, *d = desc ? slack_rich_mrkdwn(desc) : NULL;
        char *head = NULL;
        if (t && url) {
            size_t n = strlen(t) + strlen(url) + 8;
            head = xmalloc(n);
            snprintf(head, n, "*<%s|%s>*", url, t);
        } else if (t) {
            head = join("*", t);
            char *h2 = join(head, "*");
            free(head);
            head = h2;
        }
        char *all = head && d ? join(head, "\n") : NULL;
        char *body = all ? join(all, d) : xstrdup(head ? head : d);
        json_array_append_new(blocks, section(body));
        free(body);
        free(all);
        free(head);
        free(t);
        free(d);
    }
    json_t *fields = json_object_get(e, "fields"), *sec = NULL, *f;
    size_t i;
    json_array_foreach(fields, i, f) {
        if (i % SLACK_SECTION_FIELDS_MAX == 0) {
            sec = json_pack("{s:s, s:[]}", "type", "section", "fields");
            json_array_append_new(blocks, sec);
        }
        char *name = slack_rich_mrkdwn(json_string_value(json_object_get(f, "name")));
        char *value = slack_rich_mrkdwn(json_string_value(json_object_get(f, "value")));
        char *a = join("*", name), *b = join(a, "*\n"), *c = join(b, value);
        json_array_append_new(json_object_get(sec, "fields"), text_obj("mrkdwn", c, SLACK_FIELD_TEXT_MAX));
        free(a), free(b), free(c), free(name), free(value);
    }
    const char *image = json_string_value(json_object_get(e, "image"));
    if (image)
        json_array_append_new(blocks, json_pack("{s:s, s:s, s:s}", "type", "image", "image_url", image, "alt_text",
                                                title ? title : "image"));
    const char *footer = json_string_value(json_object_get(e, "footer"));
    if (footer) {
        char *ft = slack_rich_mrkdwn(footer);
        json_array_append_new(blocks, json_pack("{s:s, s:[o]}", "type", "context", "elements",
                                                text_obj("mrkdwn", ft, SLACK_SECTION_TEXT_MAX)));
        free(ft);
    }
}

/* An actions block per row; Slack's styles are primary and danger only. */
static void button_blocks(json_t *blocks, const json_t *rows) {
    size_t r, i;
    json_t *row, *b;
    json_array_foreach(rows, r, row) {
        json_t *elements = json_array();
        json_array_foreach(row, i, b) {
            json_t *o = json_pack("{s:s, s:o}", "type", "button", "text",
                                  text_obj("plain_text", json_string_value(json_object_get(b, "label")), SLACK_BUTTON_TEXT_MAX));
            const char *style = json_string_value(json_object_get(b, "style"));
            if (style && (!strcmp(style, "primary") || !strcmp(style, "danger") || !strcmp(style, "success")))
                json_object_set_new(o, "style", json_string(!strcmp(style, "danger") ? "danger" : "primary"));
            if (json_object_get(b, "url")) {
                char aid[48];
                snprintf(aid, sizeof(aid), "link:%zu:%zu", r, i);
                json_object_set_new(o, "action_id", json_string(aid));
                json_object_set(o, "url", json_object_get(b, "url"));
            } else {
                json_object_set(o, "action_id", json_object_get(b, "id"));
                json_object_set(o, "value", json_object_get(b, "id"));
            }
            json_array_append_new(elements, o);
        }
        char bid[32];
        snprintf(bid, sizeof(bid), SLACK_BLOCK_PREFIX "%zu", r);
        json_array_append_new(blocks, json_pack("{s:s, s:s, s:o}", "type", "actions", "block_id", bid, "elements", elements));
    }
}

json_t *slack_rich_blocks(const char *text, const json_t *rich) {
    json_t *blocks = json_array();
    if (text && *text) {
        char *t = slack_rich_mrkdwn(text);
        json_array_append_new(blocks, section(t));
        free(t);
    }
    if (json_object_get(rich, "embed")) embed_blocks(blocks, json_object_get(rich, "embed"));
    if (json_object_get(rich, "buttons")) button_blocks(blocks, json_object_get(rich, "buttons"));
    return blocks;
}
