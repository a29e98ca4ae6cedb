/* recent.h - a string-keyed map that keeps only the last N keys added:
 * what a process remembers of ids it saw lately (sent replies, acknowledged
 * entries, received events) without growing for ever. */
#ifndef CHORUS_RECENT_H
#define CHORUS_RECENT_H

struct recent;

/* KEEP keys at most; FREE_VALUE (may be NULL) frees a value that leaves. */
struct recent *recent_new(int keep, void (*free_value)(void *value));
/* Free the map and, with FREE_VALUE, its values. Safe with NULL. */
void recent_free(struct recent *r);
void *recent_get(const struct recent *r, const char *key);
/* Add KEY with VALUE (the key is copied), forgetting the oldest key when
 * KEEP are held; a key already held gets VALUE and keeps its place. */
void recent_set(struct recent *r, const char *key, void *value);
#endif
