/* mattermost_events.c - `posted` events as chat_messages (mattermost_events.h). */
#include <stdlib.h>
#include <string.h>
#include "platforms/mattermost/mattermost_events.h"
#include "core/server.h"
#include "lib/json_fast.h"

/* A string member of O, or NULL. */
static const char *str_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Is member KEY of O "true" or true (props as servers and clients write them)? */
static int is_true(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "true"));
}

/* Drop leading mentions of the bot ("@name", any case, with a ':' or ','
 * after it) from TEXT. */
static const char *strip_bot_mention(const char *text, const char *username) {
    size_t n = username ? strlen(username) : 0;
    for (;;) {
        while (*text == ' ') text++;
        if (!n || text[0] != '@' || strncasecmp(text + 1, username, n) != 0) return text;
        char after = text[1 + n];
        if (after && after != ' ' && after != ':' && after != ',' && after != '\n') return text;
        text += 1 + n;
        if (*text == ':' || *text == ',') text++;
    }
}

/* Keys of a post no reader looks at (times, counters, metadata with its
 * embeds, emojis, files and reactions): the lean read steps over them. */
const char *const mattermost_post_unread[] = {
    "metadata", "create_at", "update_at", "edit_at", "delete_at", "is_pinned", "original_id", "hashtags",
    "pending_post_id", "reply_count", "last_reply_at", "participants", "file_ids", "remote_id", "last_picture_update",
    "notify_props", "timezone", NULL
};

void mattermost_posted_free(struct mattermost_posted *hold) {
    json_decref(hold->post);
    json_decref(hold->mentions);
    hold->post = hold->mentions = NULL;
}

/* The post as it stands inside data.post, still escaped as a string of
 * the event: read one of its own characters at a time, never past the
 * string's closing quote. */
struct inner {
    const char *p, *end;
};

/* The post's next character (\" gives ", \\ gives \, \n a newline, \u
 * below 0x80 its character and 0x80 for any other), or -1 at the end of
 * data.post or on anything odd (\u0000, a control byte, a bad escape). */
static int inner_next(struct inner *in) {
    if (in->p >= in->end) return -1;
    unsigned char c = (unsigned char)*in->p;
    if (c == '"' || c < 0x20) return -1;
    if (c != '\\') {
        in->p++;
        return c;
    }
    if (in->end - in->p < 2) return -1;
    char e = in->p[1];
    in->p += 2;
    switch (e) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': {
        if (in->end - in->p < 4) return -1;
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
            char h = in->p[i];
            v <<= 4;
            if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
            else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
            else return -1;
        }
        in->p += 4;
        if (v == 0) return -1;
        return v < 0x80 ? (int)v : 0x80;
    }
    default: return -1;
    }
}

/* A string of the post, its opening quote read: up to CAP of its
 * characters into BUF (may be NULL), its length in *N. 0, or -1 when it
 * does not end or holds what JSON does not allow. */
static int inner_string(struct inner *in, char *buf, size_t cap, size_t *n) {
    *n = 0;
    for (;;) {
        const char *run = in->p;   /* a plain run: the post's characters as they are */
        while (in->p < in->end && *in->p != '\\' && *in->p != '"' && (unsigned char)*in->p >= 0x20) in->p++;
        size_t k = (size_t)(in->p - run);
        if (buf && *n < cap) memcpy(buf + *n, run, *n + k < cap ? k : cap - *n);
        *n += k;
        int c = inner_next(in);
        if (c < 0x20) return -1;   /* -1 too */
        if (c == '"') return 0;
        if (c == '\\') {
            c = inner_next(in);
            if (c == 'u') {
                for (int i = 0; i < 4; i++) {
                    int h = inner_next(in);
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F'))) return -1;
                }
                c = 0x80;          /* not compared with anything: the long way reads it */
            } else if (c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
                c = 0x80;
            } else if (c != '"' && c != '\\' && c != '/') {
                return -1;
            }
        }
        if (buf && *n + 1 < cap) buf[*n] = (char)c;
        (*n)++;
    }
}

/* A number (digits, a leading minus) or true, false or null of the post,
 * its first character C read: the character after it, or -1. */
static int inner_scalar(struct inner *in, int c) {
    char word[8];
    size_t n = 0;
    if (c == '-') c = inner_next(in);
    if (c >= '0' && c <= '9') {
        while (c >= '0' && c <= '9') c = inner_next(in);
        return c;
    }
    while (c >= 'a' && c <= 'z' && n < sizeof(word) - 1) {
        word[n++] = (char)c;
        c = inner_next(in);
    }
    word[n] = '\0';
    return !strcmp(word, "true") || !strcmp(word, "false") || !strcmp(word, "null") ? c : -1;
}

int mattermost_posted_own(const char *event, size_t len, const char *user_id) {
    static const char *const post_path[] = { "data", "post", NULL };
    const char *raw;
    if (!user_id || json_fast_member(event, len, post_path, &raw, NULL) < 0 || *raw != '"') return 0;
    struct inner in = { raw + 1, event + len };
    size_t ulen = strlen(user_id);
    int have = 0;   /* 1 id, 2 user_id (ours), 4 channel_id, 8 message */
    if (inner_next(&in) != '{') return 0;
    for (;;) {   /* the post's members, up to the four above; nothing nested on the way */
        char key[16], val[80];
        size_t klen, vlen;
        if (inner_next(&in) != '"' || inner_string(&in, key, sizeof(key), &klen) < 0 || inner_next(&in) != ':') return 0;
        int which = 0;
        if (klen < sizeof(key)) {
            key[klen] = '\0';
            if (!strcmp(key, "id")) which = 1;
            else if (!strcmp(key, "user_id")) which = 2;
            else if (!strcmp(key, "channel_id")) which = 4;
            else if (!strcmp(key, "message")) which = 8;
        }
        int c = inner_next(&in);
        if (which) {
            if (c != '"' || (have & which) || inner_string(&in, val, sizeof(val), &vlen) < 0) return 0;
            if ((which == 1 || which == 4) && vlen == 0) return 0;
            if (which == 2 && (vlen != ulen || vlen >= sizeof(val) || memcmp(val, user_id, ulen) != 0)) return 0;
            have |= which;
            c = inner_next(&in);
        } else if (c == '"') {
            if (inner_string(&in, NULL, 0, &vlen) < 0) return 0;
            c = inner_next(&in);
        } else {
            c = inner_scalar(&in, c);
        }
        if (c == '}') return have == 15 && in.p < in.end && *in.p == '"';   /* the post ends, and so does data.post */
        if (c != ',') return 0;
        if (have == 15) return 1;   /* the members after these are not looked at */
    }
}

int mattermost_posted_message(json_t *data, const struct mattermost_self *self, struct chat_message *m,
                              struct mattermost_posted *hold) {
    memset(m, 0, sizeof(*m));
    memset(hold, 0, sizeof(*hold));
    const char *raw = str_of(data, "post");
    if (!raw) return MATTERMOST_POSTED_MALFORMED;
    hold->post = json_fast_loadb_lean(raw, strlen(raw), mattermost_post_unread, NULL);
    json_t *post = hold->post;
    const char *id = str_of(post, "id");
    const char *user = str_of(post, "user_id");
    const char *channel = str_of(post, "channel_id");
    const char *text = str_of(post, "message");
    if (!json_is_object(post) || !id || !*id || !user || !channel || !*channel || !text) {
        mattermost_posted_free(hold);
        return MATTERMOST_POSTED_MALFORMED;
    }
    /* A person's post has no type, or "me" (/me); the others are system
     * messages (system_join_channel...). Bots and incoming webhooks mark
     * their posts in props. */
    const char *type = str_of(post, "type");
    json_t *props = json_object_get(post, "props");
    const char *team = str_of(data, "team_id");
    if ((self->user_id && !strcmp(user, self->user_id)) || (type && *type && strcmp(type, "me")) ||
        is_true(props, "from_bot") || is_true(props, "from_webhook") ||
        (self->team_id && team && *team && strcmp(team, self->team_id))) {
        mattermost_posted_free(hold);
        return MATTERMOST_POSTED_SKIP;
    }
    /* mentions: a JSON string of a list of user ids, as the server sends
     * it; a list as it is is taken too. */
    json_t *mv = json_object_get(data, "mentions");
    int mentioned = 0;
    if (json_is_string(mv)) hold->mentions = json_fast_loadb(json_string_value(mv), json_string_length(mv), NULL);
    else if (json_is_array(mv)) hold->mentions = json_incref(mv);
    if (hold->mentions) {
        for (size_t i = 0; i < json_array_size(hold->mentions); i++) {
            json_t *u = json_array_get(hold->mentions, i);
            if (!json_is_string(u)) continue;
            if (self->user_id && !strcmp(json_string_value(u), self->user_id)) mentioned = 1;
            if (m->nmentions < MESSAGE_MAX_MENTIONS) m->mentions[m->nmentions++] = (char *)json_string_value(u);
        }
    }
    const char *ctype = str_of(data, "channel_type");
    int dm = ctype && !strcmp(ctype, "D");
    const char *sender = str_of(data, "sender_name");
    if (sender && *sender == '@') sender++;
    const char *root = str_of(post, "root_id");
    m->platform = "mattermost";
    m->channel = (char *)channel;
    m->id = (char *)id;
    m->text = (char *)strip_bot_mention(text, self->username);
    m->author.id = (char *)user;
    m->author.name = (char *)(sender && *sender ? sender : "someone");
    m->direct = dm || mentioned;
    if (root && *root) {
        m->thread = (char *)root;
        m->thread_parent = (char *)channel;
        m->reply_to = (char *)root;
    }
    m->received_at = server_now();
    return MATTERMOST_POSTED_OK;
}
