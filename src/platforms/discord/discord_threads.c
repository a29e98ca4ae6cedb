/* discord_threads.c - the thread map: thread id -> parent channel and guild. */
#include <stdlib.h>
#include <string.h>
#include "lib/dict.h"
#include "platforms/discord/discord_threads.h"
#include "lib/xalloc.h"

struct thread {
    char *parent;
    char *guild;
};

struct discord_threads {
    struct dict *byid;
};

/* An empty map. */
struct discord_threads *discord_threads_new(void) {
    struct discord_threads *t = xcalloc(1, sizeof(*t));
    if (t && !(t->byid = dict_new())) {
        free(t);
        return NULL;
    }
    return t;
}

/* Free one entry (NULL is fine). */
static void thread_free(struct thread *th) {
    if (!th) return;
    free(th->parent);
    free(th->guild);
    free(th);
}

/* dict_each callback: free every entry before the table. */
static void free_entry(const char *key, void *value, void *arg) {
    (void)key;
    (void)arg;
    thread_free(value);
}

/* Free the map and every entry. */
void discord_threads_free(struct discord_threads *t) {
    if (!t) return;
    dict_each(t->byid, free_entry, NULL);
    dict_free(t->byid);
    free(t);
}

/* O[KEY] as a string, or NULL. */
static const char *str_field(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

/* Is channel object C a thread (types 10, 11, 12)? */
static int is_thread(json_t *c) {
    json_int_t type = json_integer_value(json_object_get(c, "type"));
    return type >= 10 && type <= 12;
}

/* Remember thread channel C of GUILD (C's own guild_id when GUILD is NULL). */
static void remember(struct discord_threads *t, json_t *c, const char *guild) {
    const char *id = str_field(c, "id"), *parent = str_field(c, "parent_id");
    if (!id || !parent || !is_thread(c)) return;
    struct thread *old = dict_get(t->byid, id);
    if (!old && dict_size(t->byid) >= DISCORD_THREADS_MAX) return;
    if (!guild) guild = str_field(c, "guild_id");
    struct thread *th = xcalloc(1, sizeof(*th));
    if (!th) return;
    th->parent = xstrdup(parent);
    th->guild = guild ? xstrdup(guild) : NULL;
    if (!th->parent || dict_set(t->byid, id, th) < 0) {
        thread_free(th);
        return;
    }
    if (old) thread_free(old);
}

/* The thread was deleted: drop it. */
static void forget(struct discord_threads *t, const char *id) {
    if (id) thread_free(dict_del(t->byid, id));
}

struct guild_sweep {
    const char *guild;
    char **ids;
    size_t n, cap;
};

/* dict_each callback: gather the ids of one guild's threads (the table
 * cannot change while it is walked). */
static void collect_guild(const char *key, void *value, void *arg) {
    struct guild_sweep *s = arg;
    struct thread *th = value;
    if (!th->guild || strcmp(th->guild, s->guild)) return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **p = xrealloc(s->ids, cap * sizeof(*p));
        if (!p) return;
        s->ids = p;
        s->cap = cap;
    }
    s->ids[s->n++] = xstrdup(key);
}

/* The bot left GUILD (or it went unavailable): its threads go too. */
static void forget_guild(struct discord_threads *t, const char *guild) {
    struct guild_sweep s = { .guild = guild };
    if (!guild) return;
    dict_each(t->byid, collect_guild, &s);
    for (size_t i = 0; i < s.n; i++) {
        forget(t, s.ids[i]);
        free(s.ids[i]);
    }
    free(s.ids);
}

/* Learn from one gateway event; see the header. */
int discord_threads_dispatch(struct discord_threads *t, const char *type, json_t *d) {
    size_t i;
    json_t *c;
    if (!t || !d) return 0;
    if (!strcmp(type, "GUILD_CREATE")) {
        const char *guild = str_field(d, "id");
        json_array_foreach(json_object_get(d, "threads"), i, c) remember(t, c, guild);
        return 0;   /* the adapter may want the guild too */
    }
    if (!strcmp(type, "GUILD_DELETE")) {
        forget_guild(t, str_field(d, "id"));
        return 0;
    }
    if (!strcmp(type, "THREAD_CREATE") || !strcmp(type, "THREAD_UPDATE")) {
        remember(t, d, NULL);
        return 1;
    }
    if (!strcmp(type, "THREAD_DELETE")) {
        forget(t, str_field(d, "id"));
        return 1;
    }
    if (!strcmp(type, "THREAD_LIST_SYNC")) {
        const char *guild = str_field(d, "guild_id");
        json_array_foreach(json_object_get(d, "threads"), i, c) remember(t, c, guild);
        return 1;
    }
    return 0;
}

/* Parent of a known thread, else NULL. */
const char *discord_threads_parent(const struct discord_threads *t, const char *id) {
    struct thread *th = t && id ? dict_get(t->byid, id) : NULL;
    return th ? th->parent : NULL;
}

/* How many threads are known (tests, status). */
size_t discord_threads_count(const struct discord_threads *t) {
    return t ? dict_size(t->byid) : 0;
}
