/* mattermost_events.c - `posted` events as chat_messages (mattermost_events.h). */
#include <string.h>
#include "platforms/mattermost/mattermost_events.h"
#include "core/server.h"
#include "lib/json_fast.h"

/* A string member of O, or NULL. */
static const char *str_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
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
    const char *type = str_of(post, "type");
    const char *from_bot = str_of(json_object_get(post, "props"), "from_bot");
    const char *team = str_of(data, "team_id");
    if ((self->user_id && !strcmp(user, self->user_id)) || (type && *type) || (from_bot && !strcmp(from_bot, "true")) ||
        (self->team_id && team && *team && strcmp(team, self->team_id))) {
        mattermost_posted_free(hold);
        return MATTERMOST_POSTED_SKIP;
    }
    const char *mentions = str_of(data, "mentions");
    int mentioned = 0;
    if (mentions) {
        hold->mentions = json_fast_loadb(mentions, strlen(mentions), NULL);
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
