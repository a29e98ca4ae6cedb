/* webchat_frame.c - reassembling and checking the web chat's client frames.
 *
 * Everything a browser sends passes here before it reaches a channel: the
 * bytes must be UTF-8, the frame one JSON object of a known type, and each
 * field present and within its bounds. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "lib/json_fast.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "platforms/webchat/webchat_frame.h"

/* Append a fragment; a frame past MAX bytes is only marked, not kept. */
void webchat_rx_add(struct webchat_rx *rx, const char *data, size_t len, size_t max) {
    if (rx->overflow) return;
    if (rx->len + len > max) {
        rx->overflow = 1;
        return;
    }
    char *p = xrealloc(rx->buf, rx->len + len + 1);
    if (!p) {
        rx->overflow = 1;
        return;
    }
    rx->buf = p;
    if (len) memcpy(rx->buf + rx->len, data, len);
    rx->len += len;
    rx->buf[rx->len] = '\0';
}

/* The frame was handled: start the next one empty. */
void webchat_rx_reset(struct webchat_rx *rx) {
    free(rx->buf);
    rx->buf = NULL;
    rx->len = 0;
    rx->overflow = 0;
}

/* A string member, or NULL when absent or of another type. */
static const char *get_string(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Is S only whitespace? */
static int blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return 0;
    return 1;
}

/* Refuse the frame with CODE, answering REPLY_TO. */
static void refuse(struct webchat_frame *f, const char *code, const char *reply_to) {
    f->type = WEBCHAT_FRAME_BAD;
    f->error = code;
    f->reply_to = reply_to;
}

/* A "message" frame: every field present and within bounds. */
static void check_message(struct webchat_frame *f, size_t max_cp) {
    json_t *o = f->root;
    const char *id = get_string(o, "id");
    const char *channel = get_string(o, "channel");
    const char *text = get_string(o, "text");
    json_t *user = json_object_get(o, "user");
    const char *user_id = json_is_object(user) ? get_string(user, "id") : NULL;
    const char *user_name = json_is_object(user) ? get_string(user, "name") : NULL;
    if (id && (!*id || strlen(id) > WEBCHAT_MAX_ID_BYTES)) id = NULL;
    if (!id || !channel || !*channel || strlen(channel) > WEBCHAT_MAX_CHANNEL_BYTES || !text || blank(text) ||
        !user_id || !*user_id || strlen(user_id) > WEBCHAT_MAX_ID_BYTES) {
        refuse(f, "missing_field", id);
        return;
    }
    if (utf8_codepoints(text, strlen(text)) > max_cp) {
        refuse(f, "too_long", id);
        return;
    }
    f->type = WEBCHAT_FRAME_MESSAGE;
    f->id = id;
    f->channel = channel;
    f->text = text;
    f->user_id = user_id;
    f->user_name = user_name;
    f->stream = json_is_true(json_object_get(o, "stream"));
}

/* A "join" frame: a channel name within bounds. */
static void check_join(struct webchat_frame *f) {
    json_t *o = f->root;
    const char *channel = get_string(o, "channel");
    json_t *user = json_object_get(o, "user");
    if (!channel || !*channel || strlen(channel) > WEBCHAT_MAX_CHANNEL_BYTES) {
        refuse(f, "missing_field", get_string(o, "id"));
        return;
    }
    f->type = WEBCHAT_FRAME_JOIN;
    f->channel = channel;
    f->user_id = json_is_object(user) ? get_string(user, "id") : NULL;
    f->user_name = json_is_object(user) ? get_string(user, "name") : NULL;
}

/* A "hello" frame: a token that is absent or a string within bounds. */
static void check_hello(struct webchat_frame *f) {
    json_t *t = json_object_get(f->root, "token");
    if (t && !json_is_null(t) && (!json_is_string(t) || strlen(json_string_value(t)) > WEBCHAT_MAX_TOKEN_BYTES)) {
        refuse(f, "missing_field", NULL);
        return;
    }
    f->type = WEBCHAT_FRAME_HELLO;
    f->token = json_is_string(t) && *json_string_value(t) ? json_string_value(t) : NULL;
}

/* A "button" frame: a message's fields, with the button's id instead of text. */
static void check_button(struct webchat_frame *f) {
    json_t *o = f->root;
    const char *id = get_string(o, "id");
    const char *channel = get_string(o, "channel");
    const char *button = get_string(o, "button");
    const char *message = get_string(o, "message");
    json_t *user = json_object_get(o, "user");
    const char *user_id = json_is_object(user) ? get_string(user, "id") : NULL;
    if (id && (!*id || strlen(id) > WEBCHAT_MAX_ID_BYTES)) id = NULL;
    if (!id || !channel || !*channel || strlen(channel) > WEBCHAT_MAX_CHANNEL_BYTES || !button || !*button ||
        strlen(button) > 100 || !user_id || !*user_id || strlen(user_id) > WEBCHAT_MAX_ID_BYTES ||
        (message && strlen(message) > WEBCHAT_MAX_ID_BYTES)) {
        refuse(f, "missing_field", id);
        return;
    }
    f->type = WEBCHAT_FRAME_BUTTON;
    f->id = id;
    f->channel = channel;
    f->button = button;
    f->message = message && *message ? message : NULL;
    f->user_id = user_id;
    f->user_name = get_string(user, "name");
}

/* The members of every object in V, nested ones too; -1 past depth 64. */
static long members_kept(json_t *v, int depth) {
    long n = 0, k;
    const char *key;
    size_t i;
    json_t *x;
    if (depth > 64) return -1;
    if (json_is_object(v)) {
        n = (long)json_object_size(v);
        json_object_foreach(v, key, x) {
            if ((k = members_kept(x, depth + 1)) < 0) return -1;
            n += k;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            if ((k = members_kept(x, depth + 1)) < 0) return -1;
            n += k;
        }
    }
    return n;
}

/* The members written in the JSON text BUF: in JSON that reads, a colon
 * outside a string separates a member's key from its value. */
static long members_written(const char *buf, size_t len) {
    long n = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (buf[i] == '\\') i++;
            else if (buf[i] == '"') in_string = 0;
        } else if (buf[i] == '"') {
            in_string = 1;
        } else if (buf[i] == ':') {
            n++;
        }
    }
    return n;
}

/* json_loadb(JSON_REJECT_DUPLICATES) of a frame, quicker: a frame comes
 * with every message and jansson's parse was most of its cost. The fast
 * reader gives json_loadb's value; when each member written is a member
 * kept, no key came twice. Otherwise (or when the text does not read)
 * jansson decides, with its error. */
static json_t *load_frame(const char *data, size_t len, json_error_t *jerr) {
    json_t *v = json_fast_loadb(data, len, NULL);
    if (v && members_kept(v, 0) == members_written(data, len)) return v;
    json_decref(v);
    return json_loadb(data, len, JSON_REJECT_DUPLICATES, jerr);
}

/* Decode a whole frame: UTF-8, one JSON object, a known type. */
void webchat_frame_decode(const char *data, size_t len, size_t max_cp, struct webchat_frame *f) {
    memset(f, 0, sizeof(*f));
    if (!utf8_valid(data, len)) {
        refuse(f, "bad_utf8", NULL);
        return;
    }
    json_error_t jerr;
    f->root = load_frame(data, len, &jerr);
    if (!f->root) {
        /* jansson refuses \u escapes of lone surrogates: bad text, not bad JSON. */
        refuse(f, strstr(jerr.text, "nicode") ? "bad_utf8" : "bad_json", NULL);
        return;
    }
    if (!json_is_object(f->root)) {
        refuse(f, "bad_json", NULL);
        return;
    }
    const char *type = get_string(f->root, "type");
    if (!type) refuse(f, "missing_field", get_string(f->root, "id"));
    else if (!strcmp(type, "message")) check_message(f, max_cp);
    else if (!strcmp(type, "join")) check_join(f);
    else if (!strcmp(type, "hello")) check_hello(f);
    else if (!strcmp(type, "button")) check_button(f);
    else refuse(f, "unsupported", get_string(f->root, "id"));
}

/* Drop the parsed frame; its borrowed strings go with it. */
void webchat_frame_clear(struct webchat_frame *f) {
    json_decref(f->root);
    memset(f, 0, sizeof(*f));
}
