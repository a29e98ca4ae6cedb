/* recall.c - int8 records of embeddings and the top-k cosine search over them. */
#include <math.h>
#include "persona/recall.h"

/* Scaled by the largest component, not the norm: cosine does not care,
 * and the record keeps all 8 bits of resolution. */
void recall_quantize(const float *v, int dim, int8_t *out) {
    double max = 0;
    for (int i = 0; i < dim; i++) max = fabs(v[i]) > max ? fabs(v[i]) : max;
    double scale = max > 0 ? 127.0 / max : 0;
    for (int i = 0; i < dim; i++) {
        long q = lround(v[i] * scale);
        out[i] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
}

/* The dot product and the squared norm of B, in integers (127 * 127 *
 * EMBED_MAX_DIM fits an int32, and int32 sums vectorise). */
static void dot_norm(const int8_t *a, const int8_t *b, int dim, int64_t *dot, int64_t *nb) {
    int32_t d = 0, n = 0;
    for (int i = 0; i < dim; i++) {
        d += (int32_t)a[i] * b[i];
        n += (int32_t)b[i] * b[i];
    }
    *dot = d;
    *nb = n;
}

float recall_cosine(const int8_t *a, const int8_t *b, int dim) {
    int64_t dot, nb, na, unused;
    dot_norm(a, b, dim, &dot, &nb);
    dot_norm(a, a, dim, &unused, &na);
    if (na == 0 || nb == 0) return 0;
    return (float)((double)dot / sqrt((double)na * (double)nb));
}

int recall_top_k(const int8_t *records, long n, int dim, const int8_t *query, int k, float min_score,
                 struct recall_hit *out) {
    int64_t unused, nq;
    dot_norm(query, query, dim, &unused, &nq);
    if (nq == 0 || k <= 0) return 0;
    double qn = sqrt((double)nq);
    int got = 0;
    for (long r = 0; r < n; r++) {
        int64_t dot, nr;
        dot_norm(query, records + (size_t)r * (size_t)dim, dim, &dot, &nr);
        if (nr == 0 || dot <= 0) continue;
        float s = (float)((double)dot / (qn * sqrt((double)nr)));
        if (s < min_score) continue;
        if (got == k && s < out[k - 1].score) continue;
        /* Insert in order; a later record wins a tie (newer). */
        int at = got < k ? got++ : k - 1;
        while (at > 0 && out[at - 1].score <= s) {
            out[at] = out[at - 1];
            at--;
        }
        out[at].index = r;
        out[at].score = s;
    }
    return got;
}
