/* store.h - per-channel persona state in Redis (see docs/state.md).
 *
 * Keys of one channel share a hash tag, {platform:channel}, so a Redis
 * Cluster keeps them on one node:
 *   <prefix>{<platform>:<channel>}:persona              string
 *   <prefix>{<platform>:<channel>}:history:<persona>    list of JSON turns
 *   <prefix>{<platform>:<channel>}:manners              hash: reply mode, proactive opt-out,
 *                                                       when the persona last spoke (pipeline/manners.c)
 *   <prefix>{<platform>:<channel>}:recall:<persona>:*   long-term recall (persona/recall_store.h)
 * Every call returns -1 at once when Redis is down; otherwise its callback
 * runs exactly once, later. */
#ifndef CHORUS_STORE_H
#define CHORUS_STORE_H
#include <stddef.h>
#include <jansson.h>

struct redis_client;

struct store_limits {
    long history_turns;    /* list length kept per channel and persona */
    long ttl_s;            /* idle channel state expires after this */
};

/* NAME is NULL when the channel has no persona set; ERR on failure. */
typedef void store_persona_fn(const char *name, const char *err, void *data);
/* TURNS is an array of turn objects, oldest first (borrowed), or NULL with ERR. */
typedef void store_history_fn(json_t *turns, const char *err, void *data);
typedef void store_done_fn(const char *err, void *data);

/* Copy PART into OUT with '{', '}', '%' and control bytes written as %XX,
 * so user-chosen key parts cannot break a key's hash tag. */
size_t store_escape(const char *part, char *out, size_t outlen);
/* Build "<prefix>{<platform>:<channel>}<suffix>" with unsafe bytes escaped. */
size_t store_channel_key(const struct redis_client *rc, const char *platform, const char *channel,
                         const char *suffix, char *out, size_t outlen);

int store_persona_get(struct redis_client *rc, const char *platform, const char *channel,
                      store_persona_fn *cb, void *data);
int store_history_load(struct redis_client *rc, const char *platform, const char *channel,
                       const char *persona, long max_turns, store_history_fn *cb, void *data);
/* Append TURNS (array, borrowed) and trim to the limits. */
int store_history_append(struct redis_client *rc, const char *platform, const char *channel,
                         const char *persona, json_t *turns, const struct store_limits *lim,
                         store_done_fn *cb, void *data);
/* What the core checks before a message reaches the skills. */
struct store_context {
    const char *persona;     /* set for the channel, or NULL */
    int muted, banned, ignored;
    json_t *disabled;        /* plugin names turned off here (borrowed) */
    json_t *overrides;       /* live persona edits {field: value} (borrowed) */
    int flood;               /* 0 fine, 1 over a limit (say so once), 2 over again */
    json_t *manners;         /* the channel's <prefix>{p:c}:manners hash {field: value} (borrowed) */
    int role;                /* the user's best role here from <prefix>roles:<platform:user>, 0 user .. 3 owner */
};

/* Inbound flood limits: BURST messages, refilled over PER_S seconds (0 = off). */
struct store_flood {
    double now;
    double user_burst, user_per_s;
    double channel_burst, channel_per_s;
};
typedef void store_context_fn(const struct store_context *ctx, const char *err, void *data);
int store_job_context(struct redis_client *rc, const char *platform, const char *channel, const char *user,
                      const char *default_persona, const struct store_flood *flood, store_context_fn *cb, void *data);

/* The Redis script that forgets a user (KEYS[1]: their index set; ARGV:
 * user id, prefix): their turns and the answers to them leave every
 * history they spoke in (and from the channel's long-term recall, with
 * their vectors), those summaries go, then their facts, relationships and
 * the index. Returns the number of turns removed. */
const char *store_forget_script(void);
/* One channel's part of it (KEYS: history, summary; ARGV: user id), for a
 * Redis Cluster, where store_forget_split() (io/store_split.h) runs it per channel. */
const char *store_forget_channel_script(void);
#endif
