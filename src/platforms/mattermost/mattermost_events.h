/* mattermost_events.h - Mattermost `posted` events as chat_messages.
 *
 * The post is JSON inside a string (data.post) and so are the mentions
 * (data.mentions, user ids): both are decoded again here. Kept apart from
 * the adapter so unit tests can feed it events without a connection. */
#ifndef CHORUS_MATTERMOST_EVENTS_H
#define CHORUS_MATTERMOST_EVENTS_H
#include <jansson.h>
#include "core/message.h"

/* Who the bot is, to know its own posts and mentions of it. */
struct mattermost_self {
    const char *user_id;
    const char *username;
    const char *team_id;       /* only this team's channels (and DMs); NULL: every team */
};

/* The decoded parts a message points into: free with mattermost_posted_free. */
struct mattermost_posted {
    json_t *post;
    json_t *mentions;
};

#define MATTERMOST_POSTED_OK 0
#define MATTERMOST_POSTED_SKIP -1       /* ours, another bot's, a system message, another team */
#define MATTERMOST_POSTED_MALFORMED -2  /* not a post we can read (logged by the caller) */

/* Turn DATA of a `posted` event into M, whose strings point into DATA and
 * HOLD. direct is set for a DM or a mention of the bot; thread is the
 * root_id of a reply in a thread (thread_parent its channel); a leading
 * @mention of the bot is taken off the text. Returns one of the codes above. */
int mattermost_posted_message(json_t *data, const struct mattermost_self *self, struct chat_message *m,
                              struct mattermost_posted *hold);
void mattermost_posted_free(struct mattermost_posted *hold);

/* Is EVENT[0..len), a `posted` event as JSON text, of a post by USER_ID
 * that mattermost_posted_message would skip as the bot's own? The post is
 * read where it stands in data.post, escaped, up to its id, user_id,
 * channel_id and message (which must come before anything nested, as the
 * server writes them); nothing is built, and the post past those members
 * is not looked at. For dropping the bot's posts coming back before they
 * are parsed. 1 or 0 (0 also when in doubt: read it whole). */
int mattermost_posted_own(const char *event, size_t len, const char *user_id);

/* The keys of a post (and of the users and teams REST answers with) that no
 * reader looks at: a skip list for json_fast_loadb_lean. */
extern const char *const mattermost_post_unread[];
#endif
