/* discord_events.c - reactions, edits and slash commands as chat messages
 * (discord_events.h). */
#include <string.h>
#include "platforms/discord/discord_events.h"
#include "core/server.h"

/* A string member of O, or NULL. */
static const char *str_of(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The name people see for USER (or "someone"). */
static const char *display_name(json_t *user) {
    const char *name = str_of(user, "global_name");
    if (!name) name = str_of(user, "username");
    return name ? name : "someone";
}

/* Fill what every Discord event message has. */
static void base(struct chat_message *m, const char *channel, const char *id, const char *author_id, json_t *user) {
    memset(m, 0, sizeof(*m));
    m->platform = "discord";
    m->channel = (char *)channel;
    m->id = (char *)id;
    m->author.id = (char *)author_id;
    m->author.name = (char *)display_name(user);
    m->received_at = server_now();
}

int discord_person_message(json_t *d) {
    json_t *type = json_object_get(d, "type");
    json_t *hook = json_object_get(d, "webhook_id");
    if (json_is_integer(type) && json_integer_value(type) != 0 && json_integer_value(type) != 19) return 0;
    return hook == NULL || json_is_null(hook);
}

int discord_reaction_event(json_t *d, const char *bot_id, struct chat_message *m) {
    const char *user_id = str_of(d, "user_id");
    const char *channel = str_of(d, "channel_id");
    const char *message = str_of(d, "message_id");
    json_t *emoji = json_object_get(d, "emoji");
    const char *name = str_of(emoji, "name");
    json_t *user = json_object_get(json_object_get(d, "member"), "user");
    if (!user_id || !channel || !message || !name) return -1;
    if ((bot_id && !strcmp(user_id, bot_id)) || json_is_true(json_object_get(user, "bot"))) return -1;
    base(m, channel, message, user_id, user);
    m->event = "reaction";
    m->reaction = (char *)name;
    m->text = "";
    m->direct = json_object_get(d, "guild_id") == NULL;
    return 0;
}

int discord_edit_event(json_t *d, const char *bot_id, struct chat_message *m) {
    json_t *author = json_object_get(d, "author");
    const char *author_id = str_of(author, "id");
    const char *channel = str_of(d, "channel_id");
    const char *id = str_of(d, "id");
    const char *content = str_of(d, "content");
    /* Only a person's new text: embeds unfurling also send MESSAGE_UPDATE, without an edit time. */
    if (!author_id || !channel || !id || !content || !str_of(d, "edited_timestamp")) return -1;
    if ((bot_id && !strcmp(author_id, bot_id)) || json_is_true(json_object_get(author, "bot"))) return -1;
    if (!discord_person_message(d)) return -1;
    base(m, channel, id, author_id, author);
    m->event = "edit";
    m->text = (char *)content;
    m->direct = json_object_get(d, "guild_id") == NULL;
    return 0;
}

int discord_interaction_event(json_t *d, const char *text, struct chat_message *m) {
    json_t *user = json_object_get(json_object_get(d, "member"), "user");
    if (!user) user = json_object_get(d, "user");
    const char *user_id = str_of(user, "id");
    const char *channel = str_of(d, "channel_id");
    if (!channel) channel = str_of(json_object_get(d, "channel"), "id");
    const char *id = str_of(d, "id");
    if (!user_id || !channel || !id || !text) return -1;
    base(m, channel, id, user_id, user);
    m->text = (char *)text;
    m->direct = 1;
    return 0;
}
