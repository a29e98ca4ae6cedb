/* test_recall.c - the local embedding and the similarity search of long-term recall. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/embed.h"
#include "persona/recall.h"
#include "tap.h"

#define DIM EMBED_LOCAL_DIM

/* The record of TEXT under the local model. */
static void rec(const char *text, int8_t *out) {
    float v[DIM];
    embed_local(text, strlen(text), v, DIM);
    recall_quantize(v, DIM, out);
}

static float sim(const char *a, const char *b) {
    int8_t ra[DIM], rb[DIM];
    rec(a, ra);
    rec(b, rb);
    return recall_cosine(ra, rb, DIM);
}

int main(void) {
    float v[DIM];
    double norm = 0;
    embed_local("My cat is called Miso", 21, v, DIM);
    for (int i = 0; i < DIM; i++) norm += (double)v[i] * v[i];
    ok(fabs(norm - 1.0) < 1e-5, "a local embedding is unit length (%f)", norm);
    embed_local("the a is I you", 14, v, DIM);
    norm = 0;
    for (int i = 0; i < DIM; i++) norm += fabs(v[i]);
    ok(norm == 0, "stop words alone embed to nothing");
    float w[DIM];
    embed_local("My cat is called Miso", 21, w, DIM);
    embed_local("my CAT is called miso!", 22, v, DIM);
    ok(!memcmp(v, w, sizeof(v)), "case and punctuation do not change a vector");
    embed_local("cats", 4, v, DIM);
    embed_local("cat's", 5, w, DIM);
    float u[DIM];
    embed_local("cat", 3, u, DIM);
    ok(!memcmp(v, u, sizeof(v)) && !memcmp(w, u, sizeof(w)), "plurals and possessives fold onto the word");

    ok(sim("what is my cat called?", "My cat is called Miso") > 0.8, "a question finds the fact (%.3f)",
       sim("what is my cat called?", "My cat is called Miso"));
    ok(sim("what is my cat called?", "I went hiking in the mountains yesterday") < 0.1, "an unrelated turn scores low (%.3f)",
       sim("what is my cat called?", "I went hiking in the mountains yesterday"));
    ok(sim("我喜欢猫", "猫很可爱") > 0.2, "CJK characters are tokens (%.3f)", sim("我喜欢猫", "猫很可爱"));

    int8_t q[DIM], z[DIM] = { 0 };
    rec("hello", q);
    ok(fabsf(recall_cosine(q, q, DIM) - 1.0f) < 0.01f, "a record is its own best match");
    ok(recall_cosine(q, z, DIM) == 0, "an empty record scores 0");

    /* A store of 300 turns, the fact at 17, a near miss at 250. */
    int n = 300;
    int8_t *recs = malloc((size_t)n * DIM);
    char text[128];
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof(text), "filler turn number %d about weather topic%d", i, i % 7);
        rec(text, recs + (size_t)i * DIM);
    }
    rec("My cat is called Miso", recs + 17 * DIM);
    rec("my cat likes the garden", recs + 250 * DIM);
    rec("what is my cat called?", q);
    struct recall_hit hits[4];
    int k = recall_top_k(recs, n, DIM, q, 4, 0.2f, hits);
    ok(k == 2, "only the turns above the floor come back (%d)", k);
    ok(k >= 1 && hits[0].index == 17, "the fact is the best hit (%ld, %.3f)", k ? hits[0].index : -1, k ? hits[0].score : 0);
    ok(k >= 2 && hits[1].index == 250 && hits[1].score < hits[0].score, "then the near miss, ordered by score");
    k = recall_top_k(recs, 200, DIM, q, 4, 0.2f, hits);
    ok(k == 1 && hits[0].index == 17, "records beyond N (the recent window) are not searched");
    k = recall_top_k(recs, n, DIM, q, 1, -1.0f, hits);
    ok(k == 1 && hits[0].index == 17, "k = 1 keeps only the best");
    k = recall_top_k(recs, n, DIM, z, 4, 0.0f, hits);
    ok(k == 0, "an empty query finds nothing");

    /* Ties: the newer record wins. */
    rec("My cat is called Miso", recs + 40 * DIM);
    k = recall_top_k(recs, n, DIM, q, 1, 0.2f, hits);
    ok(k == 1 && hits[0].index == 40, "on a tie the newer turn comes first (%ld)", k ? hits[0].index : -1);

    /* Quantizing keeps the order of similarities of float vectors. */
    float a[8] = { 1, 2, 3, 4, 0, 0, 0, 0 }, b[8] = { 1, 2, 3, 3.5f, 0.1f, 0, 0, 0 }, c[8] = { 4, 3, 2, 1, 0, 0, 0, 0 };
    int8_t qa[8], qb[8], qc[8];
    recall_quantize(a, 8, qa);
    recall_quantize(b, 8, qb);
    recall_quantize(c, 8, qc);
    ok(recall_cosine(qa, qb, 8) > recall_cosine(qa, qc, 8), "quantized vectors keep their order");
    ok(qa[3] == 127, "the largest component becomes 127 (%d)", qa[3]);
    free(recs);
    return done_testing();
}
