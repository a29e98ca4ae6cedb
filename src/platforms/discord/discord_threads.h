/* discord_threads.h - which Discord channels are threads, and their parents.
 *
 * A MESSAGE_CREATE in a thread names only the thread (as channel_id); the
 * gateway tells us about threads separately (GUILD_CREATE, THREAD_*), so
 * the adapter keeps this map to mark messages with their thread. */
#ifndef CHORUS_DISCORD_THREADS_H
#define CHORUS_DISCORD_THREADS_H
#include <jansson.h>

#define DISCORD_THREADS_MAX 100000   /* bound the map; older threads still work, unmarked */

struct discord_threads;
struct discord_threads *discord_threads_new(void);
void discord_threads_free(struct discord_threads *t);
/* Learn from gateway event TYPE with payload D; returns 1 if it was a
 * thread event (nothing else to do with it), else 0. */
int discord_threads_dispatch(struct discord_threads *t, const char *type, json_t *d);
/* The parent channel of thread ID, or NULL when ID is not a known thread. */
const char *discord_threads_parent(const struct discord_threads *t, const char *id);
size_t discord_threads_count(const struct discord_threads *t);
#endif
