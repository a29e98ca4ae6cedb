/* embed.h - embeddings from a model of the registry: OpenAI-compatible
 * POST {base}/embeddings, Ollama POST {base}/api/embed, or the offline
 * "local" model's hashed bag of words (no network).
 *
 * Like a chat call, an embedding call runs on the loop: the callback runs
 * exactly once, later, unless the call is cancelled. */
#ifndef CHORUS_EMBED_H
#define CHORUS_EMBED_H
#include <stddef.h>
#include <uv.h>

struct http_client;
struct model;
struct embed_call;

#define EMBED_LOCAL_DIM 256      /* the local model's vector size */
#define EMBED_MAX_DIM 8192       /* larger vectors are refused */
#define EMBED_MAX_INPUTS 16      /* texts in one call */

struct embed_result {
    const char *error;           /* NULL on success, else a plain sentence */
    int n, dim;                  /* N vectors of DIM floats */
    const float *vecs;           /* n * dim, row by row (borrowed) */
    double latency_ms;
};

typedef void embed_done_fn(const struct embed_result *res, void *data);

/* Embed N texts with model M. Returns NULL with ERR when nothing could
 * start (a provider without embeddings, too many inputs). */
struct embed_call *embed_start(uv_loop_t *loop, struct http_client *hc, const struct model *m,
                               const char *const *texts, int n, embed_done_fn *cb, void *data,
                               char *err, size_t errlen);
void embed_cancel(struct embed_call *call);

/* The local model: a hashed bag of words (lowercased ASCII words, a few
 * stop words dropped, plural 's' folded; each other character a token)
 * in DIM floats, L2-normalised (all zero for a text without words). */
void embed_local(const char *text, size_t len, float *out, int dim);
#endif
