/* rich.c - checking rich replies and writing them as plain text (rich.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/rich.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

/* Set ERR and return NULL, for one-line refusals. */
static json_t *refuse(char *err, size_t errlen, const char *fmt, const char *what) {
    snprintf(err, errlen, fmt, what);
    return NULL;
}

/* A string member KEY of O cut to MAX code points (with "…" at the cut),
 * added to OUT; *TOTAL counts what was kept. Returns -1 when KEY holds
 * something other than a string. */
static int take_string(const json_t *o, const char *key, size_t max, json_t *out, size_t *total) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v) || json_is_real(v)) {
        char num[64];
        if (json_is_integer(v)) snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        else snprintf(num, sizeof(num), "%g", json_real_value(v));
        json_object_set_new(out, key, json_string(num));
        if (total) *total += strlen(num);
        return 0;
    }
    if (!json_is_string(v)) return -1;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v), cp = utf8_codepoints(s, len);
    if (cp <= max) {
        json_object_set_new(out, key, json_stringn(s, len));
        if (total) *total += cp;
        return 0;
    }
    size_t keep = utf8_prefix(s, len, max - 1);
    char *cut = xmalloc(keep + 4);
    memcpy(cut, s, keep);
    memcpy(cut + keep, "\xe2\x80\xa6", 4);   /* "…" */
    json_object_set_new(out, key, json_string(cut));
    free(cut);
    if (total) *total += max;
    return 0;
}

/* A link is http(s), of bounded length. */
static int url_ok(const char *s) {
    return s && strlen(s) <= RICH_URL_MAX && (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7));
}

/* Check one embed. */
static json_t *check_embed(const json_t *in, char *err, size_t errlen) {
    if (!json_is_object(in)) return refuse(err, errlen, "%s must be a table", "embed");
    json_t *out = json_object();
    size_t total = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v) {
        if (strcmp(key, "title") && strcmp(key, "description") && strcmp(key, "url") && strcmp(key, "color") &&
            strcmp(key, "image") && strcmp(key, "footer") && strcmp(key, "fields")) {
            json_decref(out);
            return refuse(err, errlen, "embed has no field \"%s\" (title, description, url, color, image, footer, fields)", key);
        }
    }
    if (take_string(in, "title", RICH_TITLE_MAX, out, &total) < 0 ||
        take_string(in, "description", RICH_DESCRIPTION_MAX, out, &total) < 0 ||
        take_string(in, "footer", RICH_FOOTER_MAX, out, &total) < 0) {
        json_decref(out);
        return refuse(err, errlen, "%s: title, description and footer are strings", "embed");
    }
    const char *links[] = { "url", "image" };
    for (int i = 0; i < 2; i++) {
        v = json_object_get(in, links[i]);
        if (!v) continue;
        if (!json_is_string(v) || !url_ok(json_string_value(v))) {
            json_decref(out);
            return refuse(err, errlen, "embed.%s must be an http(s) URL of at most 512 bytes", links[i]);
        }
        json_object_set(out, links[i], v);
    }
    v = json_object_get(in, "color");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xffffff) {
            json_decref(out);
            return refuse(err, errlen, "embed.color must be a number from 0 to 0xffffff%s", "");
        }
        json_object_set(out, "color", v);
    }
    json_t *fields = json_object_get(in, "fields");
    if (fields && !(json_is_object(fields) && json_object_size(fields) == 0)) {
        if (!json_is_array(fields)) {
            json_decref(out);
            return refuse(err, errlen, "embed.fields must be a list of {name=, value=}%s", "");
        }
        if (json_array_size(fields) > RICH_FIELDS_MAX) {
            json_decref(out);
            return refuse(err, errlen, "embed has more than %s fields", "25");
        }
        json_t *list = json_array();
        size_t i;
        json_array_foreach(fields, i, v) {
            json_t *f = json_object();
            if (!json_is_object(v) || take_string(v, "name", RICH_FIELD_NAME_MAX, f, &total) < 0 ||
                take_string(v, "value", RICH_FIELD_VALUE_MAX, f, &total) < 0 || !json_object_get(f, "name") ||
                !json_object_get(f, "value")) {
                json_decref(f);
                json_decref(list);
                json_decref(out);
                return refuse(err, errlen, "each embed field needs a name and a value (strings)%s", "");
            }
            json_object_set_new(f, "inline", json_boolean(json_is_true(json_object_get(v, "inline"))));
            json_array_append_new(list, f);
        }
        json_object_set_new(out, "fields", list);
    }
    if (total > RICH_EMBED_TOTAL_MAX) {
        json_decref(out);
        return refuse(err, errlen, "the embed's text is over %s characters in all", "6000");
    }
    if (json_object_size(out) == 0) {
        json_decref(out);
        return refuse(err, errlen, "the embed is empty (give it a title, a description, fields or an image)%s", "");
    }
    return out;
}

/* Check one button. */
static json_t *check_button(const json_t *in, char *err, size_t errlen) {
    if (!json_is_object(in)) return refuse(err, errlen, "a button must be a table {label=, id=} or {label=, url=}%s", "");
    json_t *out = json_object();
    if (take_string(in, "label", RICH_LABEL_MAX, out, NULL) < 0 || !json_object_get(out, "label") ||
        !*json_string_value(json_object_get(out, "label"))) {
        json_decref(out);
        return refuse(err, errlen, "a button needs a label (a string)%s", "");
    }
    json_t *id = json_object_get(in, "id"), *url = json_object_get(in, "url"), *style = json_object_get(in, "style");
    char label[RICH_LABEL_MAX * 4 + 4];
    snprintf(label, sizeof(label), "%s", json_string_value(json_object_get(out, "label")));
    if ((id && url) || (!id && !url)) {
        json_decref(out);
        return refuse(err, errlen, "button \"%s\" needs either an id or a url", label);
    }
    if (id) {
        if (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) > RICH_ID_MAX) {
            json_decref(out);
            return refuse(err, errlen, "button \"%s\": its id must be a string of 1 to 100 bytes", label);
        }
        json_object_set(out, "id", id);
    } else {
        if (!json_is_string(url) || !url_ok(json_string_value(url))) {
            json_decref(out);
            return refuse(err, errlen, "button \"%s\": its url must be http(s), at most 512 bytes", label);
        }
        json_object_set(out, "url", url);
    }
    if (style) {
        const char *s = json_string_value(style);
        if (!s || (strcmp(s, "primary") && strcmp(s, "secondary") && strcmp(s, "success") && strcmp(s, "danger"))) {
            json_decref(out);
            return refuse(err, errlen, "a button's style is primary, secondary, success or danger%s", "");
        }
        json_object_set(out, "style", style);
    }
    return out;
}

/* Check buttons: a list of buttons (put in rows of five) or of rows. */
static json_t *check_buttons(const json_t *in, char *err, size_t errlen) {
    if (json_is_object(in) && json_object_size(in) == 0) return json_array();   /* {} from an empty Lua table */
    if (!json_is_array(in)) return refuse(err, errlen, "buttons must be a list%s", "");
    json_t *rows = json_array();
    size_t i;
    json_t *v, *row = NULL;
    json_array_foreach(in, i, v) {
        int given_row = json_is_array(v);
        size_t n = given_row ? json_array_size(v) : 1;
        if (given_row && (n == 0 || n > RICH_ROW_BUTTONS_MAX)) {
            json_decref(rows);
            return refuse(err, errlen, "a row holds 1 to %s buttons", "5");
        }
        if (given_row || !row || json_array_size(row) == RICH_ROW_BUTTONS_MAX) {
            if (json_array_size(rows) == RICH_ROWS_MAX) {
                json_decref(rows);
                return refuse(err, errlen, "at most 5 rows of 5 buttons (%s in all)", "25");
            }
            row = json_array();
            json_array_append_new(rows, row);
        }
        for (size_t k = 0; k < n; k++) {
            json_t *b = check_button(given_row ? json_array_get(v, k) : v, err, errlen);
            if (!b) {
                json_decref(rows);
                return NULL;
            }
            json_array_append_new(row, b);
        }
        if (given_row) row = NULL;
    }
    return rows;
}

json_t *rich_check(const json_t *in, char *err, size_t errlen) {
    if (!json_is_object(in)) return refuse(err, errlen, "a rich reply is a table%s", "");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v) {
        if (strcmp(key, "embed") && strcmp(key, "buttons") && strcmp(key, "ephemeral"))
            return refuse(err, errlen, "a reply has no field \"%s\" (text, embed, buttons, ephemeral)", key);
    }
    json_t *out = json_object();
    v = json_object_get(in, "embed");
    if (v) {
        json_t *e = check_embed(v, err, errlen);
        if (!e) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, "embed", e);
    }
    v = json_object_get(in, "buttons");
    if (v) {
        json_t *b = check_buttons(v, err, errlen);
        if (!b) {
            json_decref(out);
            return NULL;
        }
        if (json_array_size(b)) json_object_set_new(out, "buttons", b);
        else json_decref(b);
    }
    if (json_is_true(json_object_get(in, "ephemeral"))) json_object_set_new(out, "ephemeral", json_true());
    return out;
}

int rich_has_content(const json_t *rich) {
    return rich && (json_object_get(rich, "embed") || json_object_get(rich, "buttons"));
}

/* A growing string. */
struct buf {
    char *s;
    size_t len, cap;
};

static void put(struct buf *b, const char *s) {
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

/* Start a new line unless the text is empty so far. */
static void line(struct buf *b) {
    if (b->len && b->s[b->len - 1] != '\n') put(b, "\n");
}

static const char *str(const json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

char *rich_plain(const char *text, const json_t *rich) {
    struct buf b = { NULL, 0, 0 };
    put(&b, text ? text : "");
    const json_t *e = json_object_get(rich, "embed");
    if (e) {
        const char *parts[] = { "title", "url", "description" };
        for (int i = 0; i < 3; i++)
            if (str(e, parts[i])) {
                line(&b);
                put(&b, str(e, parts[i]));
            }
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(e, "fields"), i, f) {
            line(&b);
            put(&b, str(f, "name"));
            put(&b, ": ");
            put(&b, str(f, "value"));
        }
        if (str(e, "image")) {
            line(&b);
            put(&b, str(e, "image"));
        }
        if (str(e, "footer")) {
            line(&b);
            put(&b, str(e, "footer"));
        }
    }
    size_t r;
    json_t *row;
    json_array_foreach(json_object_get(rich, "buttons"), r, row) {
        line(&b);
        size_t i;
        json_t *btn;
        json_array_foreach(row, i, btn) {
            if (i) put(&b, " ");
            put(&b, "[");
            put(&b, str(btn, "label"));
            if (str(btn, "url")) {
                put(&b, ": ");
                put(&b, str(btn, "url"));
            }
            put(&b, "]");
        }
    }
    if (!b.s) put(&b, "");
    return b.s;
}
