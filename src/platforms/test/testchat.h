/* testchat.h - the "test" platform: simulated rooms and users for the
 * plugin test kit (chorus-test, src/testkit.c).
 *
 * The module table adds it only in test mode (`chorusd --test`), and its
 * send refuses until the kit enables it, so a production daemon never
 * collects a transcript. Everything said in a room, by users
 * and by the bot, goes into one transcript the kit reads. */
#ifndef CHORUS_TESTCHAT_H
#define CHORUS_TESTCHAT_H
#include <jansson.h>

struct testchat_say {
    const char *channel;
    const char *user_id;
    const char *user_name;
    const char *text;          /* NULL for an event */
    const char *event;         /* "join", "leave", "reaction", or NULL */
    const char *reaction;      /* the emoji of a reaction */
    const char *reply_to;      /* message id, or NULL */
    int direct;
};

/* The adapter, for the module table (app/modules.c; test mode only). */
struct platform_ops;
extern const struct platform_ops testchat_platform;
/* Turn recording on (test mode) or off. */
void testchat_enable(int on);
/* A user speaks (or an event happens) in a room: recorded, then queued for
 * the channel. Returns the message id, or NULL when the queue is full. */
const char *testchat_say(const struct testchat_say *s);
/* Every entry so far, oldest first (borrowed): objects with kind
 * ("user", "bot", "typing", "reaction", "edit", "event", "delta"), channel, text,
 * id, and persona, user, reply_to where they apply. */
const json_t *testchat_transcript(void);
/* Forget the transcript (a new test begins). */
void testchat_reset(void);
#endif
