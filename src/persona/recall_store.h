/* recall_store.h - long-term recall kept in Redis, per persona and channel.
 *
 * Keys (one hash tag per channel, like the history):
 *   <prefix>{<platform>:<channel>}:recall:<persona>:vec    string: one record of DIM
 *                                                          signed bytes per turn (recall.h)
 *   <prefix>{<platform>:<channel>}:recall:<persona>:turns  list of JSON turns, in the same order
 *   <prefix>{<platform>:<channel>}:recall:<persona>:meta   hash: dim, model, gen
 * The record at byte i * dim of :vec belongs to element i of :turns. `gen`
 * changes whenever records move (forget, a cut, a new embedding model), so
 * chorusd's in-memory copy of :vec (read once, then only the new tail) knows
 * to read it again. A store over max_turns loses its oldest tenth.
 *
 * Embedding calls and Redis commands run on the loop; each operation's
 * callback runs exactly once, later, unless it is cancelled. A failing
 * embedding server means no recall (the error says why), never a stall. */
#ifndef CHORUS_RECALL_STORE_H
#define CHORUS_RECALL_STORE_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

struct redis_client;
struct http_client;
struct model;
struct recall_op;

struct recall_where {
    const char *platform, *channel, *persona;
};

struct recall_opts {
    int k;                  /* turns to bring back */
    float min_score;        /* cosine floor */
    long exclude;           /* the newest records to skip (those already in the prompt) */
    long max_turns;         /* records kept per channel (store) */
    long ttl_s;             /* idle keys expire (store); 0 = never */
};

/* HITS: [{role, content, name, score, index}], best first (borrowed), or
 * NULL with ERR. QUERY: the question's record (DIM bytes), for storing it later. */
typedef void recall_found_fn(json_t *hits, const char *err, const int8_t *query, int dim, void *data);
typedef void recall_stored_fn(long stored, const char *err, void *data);

/* Find the past turns most like TEXT. */
struct recall_op *recall_find(uv_loop_t *loop, struct redis_client *rc, struct http_client *hc, const struct model *m,
                              const struct recall_where *w, const char *text, const struct recall_opts *o,
                              recall_found_fn *cb, void *data);
/* Store TURNS (array of turn objects, borrowed) with their embeddings;
 * KNOWN (KNOWN_DIM bytes, or NULL) is already the record of turn KNOWN_AT. */
struct recall_op *recall_store(uv_loop_t *loop, struct redis_client *rc, struct http_client *hc, const struct model *m,
                               const struct recall_where *w, json_t *turns, const int8_t *known, int known_dim,
                               int known_at, const struct recall_opts *o, recall_stored_fn *cb, void *data);
/* Stop: the callback will not run. */
void recall_cancel(struct recall_op *op);
/* Build the key "<prefix>{p:c}:recall:<persona>:<part>". */
void recall_key(struct redis_client *rc, const struct recall_where *w, const char *part, char *out, size_t outlen);
/* Drop chorusd's in-memory copies of the vectors (tests, shutdown). */
void recall_cache_clear(void);
#endif
