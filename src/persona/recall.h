/* recall.h - long-term recall: past turns found again by meaning.
 *
 * Each stored turn of a channel is kept with its embedding as one record
 * of DIM signed bytes (the vector scaled so its largest component is 127,
 * rounded). A
 * question's vector is compared with every record by cosine similarity
 * (integer dot products, no allocation) and the best K above a floor come
 * back, newest first on ties. recall_store.h keeps the records in Redis. */
#ifndef CHORUS_RECALL_H
#define CHORUS_RECALL_H
#include <stddef.h>
#include <stdint.h>

struct recall_hit {
    long index;      /* the record's position, oldest first */
    float score;     /* cosine similarity, -1..1 */
};

/* V (DIM floats, any length) as a record: scaled to a largest |component| of 127, rounded. */
void recall_quantize(const float *v, int dim, int8_t *out);
/* The cosine similarity of two records. */
float recall_cosine(const int8_t *a, const int8_t *b, int dim);
/* The best K of the first N records (N * DIM bytes) by similarity to
 * QUERY, those under MIN_SCORE left out, best first, into OUT (K slots).
 * Returns how many. */
int recall_top_k(const int8_t *records, long n, int dim, const int8_t *query, int k, float min_score,
                 struct recall_hit *out);
#endif
