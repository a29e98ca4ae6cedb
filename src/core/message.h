/* message.h - the normalized chat message every platform adapter produces.
 *
 * Adapters turn their platform's events into this one shape; everything
 * after the adapter (channel queues, skills, memory) sees only this. */
#ifndef CHORUS_MESSAGE_H
#define CHORUS_MESSAGE_H

#define MESSAGE_MAX_MENTIONS 16

struct chat_user {
    char *id;          /* platform-scoped; web chat guests: "guest:<session>:<id>" */
    char *name;        /* display name */
    int guest;         /* 1: anonymous, never holds a role */
    char *mention;     /* how the platform mentions this user (core/platform.c fills it from
                        * ops->mention as the message arrives, so a worker knows it), or NULL */
};

struct chat_message {
    char *platform;    /* "webchat", "discord", ... (the adapter's name) */
    char *channel;     /* platform channel id */
    char *id;          /* platform message id (web chat: the client id) */
    char *reply_to;    /* id of the message this one answers, or NULL */
    char *text;        /* valid UTF-8 */
    struct chat_user author;
    char *mentions[MESSAGE_MAX_MENTIONS];
    int nmentions;
    int direct;        /* 1: a DM or otherwise addressed to the persona */
    char *event;       /* NULL for a message; "join", "leave", "reaction", "edit" */
    char *reaction;    /* the emoji of a reaction event */
    char *thread;      /* the thread it was posted in, or NULL (Discord: == channel) */
    char *thread_parent; /* the channel that thread belongs to, or NULL */
    double received_at;  /* unix seconds */
    char *connection;    /* the peer connection it came on (web chat: the socket's session),
                          * for per-connection limits; NULL where the platform has one link */
};

struct chat_message *message_new(void);
/* Deep copy, so a queued message outlives the frame it came from. */
struct chat_message *message_copy(const struct chat_message *m);
void message_free(struct chat_message *m);
#endif
