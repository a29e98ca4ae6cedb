/* feed.h - the live conversation feed of the admin console.
 *
 * Off unless the config sets admin_token (the console is on): then each
 * message handled and each reply sent becomes one small JSON event, kept
 * in a ring of the newest (console { feed_size = 200 }) and handed to
 * one listener, which fans it out to the console's websockets. Events:
 *   {"type":"message"|"reply","ts":S,"platform":P,"channel":C,
 *    "user":NAME (messages),"persona":NAME (replies),"text":T}
 * Texts are cut to 500 bytes. This process's traffic only. */
#ifndef CHORUS_FEED_H
#define CHORUS_FEED_H
#include <stddef.h>
#include <jansson.h>

typedef void feed_listener_fn(const char *event, size_t len, void *data);

/* Events are recorded while the config sets admin_token; stop for good
 * (shutdown) and free the ring. */
void feed_stop(void);
int feed_enabled(void);
/* The one listener (NULL: none). */
void feed_listen(feed_listener_fn *fn, void *data);
void feed_message(const char *platform, const char *channel, const char *user, const char *text);
void feed_reply(const char *platform, const char *channel, const char *persona, const char *text);
/* The events in the ring, oldest first, as a new JSON array. */
json_t *feed_recent(void);
#endif
