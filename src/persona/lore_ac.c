/* lore_ac.c - Aho-Corasick: a trie of the keys with failure links, packed
 * into one sorted edge array after building, with a direct table at the
 * root where most of a scan's steps start. */
#include <stdlib.h>
#include <string.h>
#include "persona/lore_ac.h"
#include "lib/xalloc.h"

struct ac_node {
    int fail;          /* longest proper suffix that is a trie node */
    int dict;          /* nearest node on the fail chain that ends a key, 0 = none */
    int key;           /* first key ending here, -1 = none; more via key_next */
    int first, nedges; /* packed edges; while building: head of a linked list */
};

struct ac_edge {
    unsigned char c;
    int to;
    int next;          /* building only */
};

struct lore_ac {
    int fold;
    struct ac_node *nodes;
    int nnodes, cap_nodes;
    struct ac_edge *edges;
    int nedges, cap_edges;
    int *key_next;
    int cap_keys, nkeys;
    int root[256];
    int built;
};

static unsigned char fold_byte(int fold, unsigned char c) {
    return fold && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int new_node(struct lore_ac *ac) {
    if (ac->nnodes == ac->cap_nodes) {
        ac->cap_nodes = ac->cap_nodes ? ac->cap_nodes * 2 : 64;
        ac->nodes = xrealloc(ac->nodes, (size_t)ac->cap_nodes * sizeof(*ac->nodes));
    }
    struct ac_node *n = &ac->nodes[ac->nnodes];
    n->fail = 0;
    n->dict = 0;
    n->key = -1;
    n->first = -1;
    n->nedges = 0;
    return ac->nnodes++;
}

struct lore_ac *lore_ac_new(int fold) {
    struct lore_ac *ac = xcalloc(1, sizeof(*ac));
    ac->fold = fold;
    new_node(ac);
    return ac;
}

/* While building: the child of S on C, or -1. */
static int build_child(const struct lore_ac *ac, int s, unsigned char c) {
    for (int e = ac->nodes[s].first; e >= 0; e = ac->edges[e].next)
        if (ac->edges[e].c == c) return ac->edges[e].to;
    return -1;
}

void lore_ac_add(struct lore_ac *ac, const char *key, size_t len, int id) {
    if (len == 0 || ac->built) return;
    int s = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = fold_byte(ac->fold, (unsigned char)key[i]);
        int t = build_child(ac, s, c);
        if (t < 0) {
            t = new_node(ac);
            if (ac->nedges == ac->cap_edges) {
                ac->cap_edges = ac->cap_edges ? ac->cap_edges * 2 : 64;
                ac->edges = xrealloc(ac->edges, (size_t)ac->cap_edges * sizeof(*ac->edges));
            }
            ac->edges[ac->nedges] = (struct ac_edge){ .c = c, .to = t, .next = ac->nodes[s].first };
            ac->nodes[s].first = ac->nedges++;
            ac->nodes[s].nedges++;
        }
        s = t;
    }
    if (id >= ac->cap_keys) {
        int cap = ac->cap_keys ? ac->cap_keys : 16;
        while (cap <= id) cap *= 2;
        ac->key_next = xrealloc(ac->key_next, (size_t)cap * sizeof(int));
        ac->cap_keys = cap;
    }
    ac->key_next[id] = ac->nodes[s].key;
    ac->nodes[s].key = id;
    ac->nkeys++;
}

static int edge_cmp(const void *a, const void *b) {
    return (int)((const struct ac_edge *)a)->c - (int)((const struct ac_edge *)b)->c;
}

/* After packing: the child of S on C, or -1 (binary search of its sorted edges). */
static int child(const struct lore_ac *ac, int s, unsigned char c) {
    const struct ac_edge *e = ac->edges + ac->nodes[s].first;
    int lo = 0, hi = ac->nodes[s].nedges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (e[mid].c == c) return e[mid].to;
        if (e[mid].c < c) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

void lore_ac_build(struct lore_ac *ac) {
    if (ac->built) return;
    /* Pack each node's edges contiguously, sorted by byte. */
    struct ac_edge *packed = xmalloc((size_t)(ac->nedges ? ac->nedges : 1) * sizeof(*packed));
    int n = 0;
    for (int s = 0; s < ac->nnodes; s++) {
        int start = n;
        for (int e = ac->nodes[s].first; e >= 0; e = ac->edges[e].next) packed[n++] = ac->edges[e];
        qsort(packed + start, (size_t)(n - start), sizeof(*packed), edge_cmp);
        ac->nodes[s].first = start;
        ac->nodes[s].nedges = n - start;
    }
    free(ac->edges);
    ac->edges = packed;
    ac->built = 1;
    for (int c = 0; c < 256; c++) ac->root[c] = 0;
    for (int i = 0; i < ac->nodes[0].nedges; i++) ac->root[ac->edges[ac->nodes[0].first + i].c] = ac->edges[ac->nodes[0].first + i].to;
    /* Failure links, breadth first. */
    int *queue = xmalloc((size_t)ac->nnodes * sizeof(int));
    int head = 0, tail = 0;
    for (int i = 0; i < ac->nodes[0].nedges; i++) queue[tail++] = ac->edges[ac->nodes[0].first + i].to;
    while (head < tail) {
        int u = queue[head++];
        for (int i = 0; i < ac->nodes[u].nedges; i++) {
            unsigned char c = ac->edges[ac->nodes[u].first + i].c;
            int v = ac->edges[ac->nodes[u].first + i].to, f = ac->nodes[u].fail, t;
            for (;;) {
                t = f ? child(ac, f, c) : ac->root[c];
                if (t > 0 || f == 0) break;
                f = ac->nodes[f].fail;
            }
            ac->nodes[v].fail = t > 0 && t != v ? t : 0;
            int fv = ac->nodes[v].fail;
            ac->nodes[v].dict = ac->nodes[fv].key >= 0 ? fv : ac->nodes[fv].dict;
            queue[tail++] = v;
        }
    }
    free(queue);
}

int lore_ac_keys(const struct lore_ac *ac) {
    return ac ? ac->nkeys : 0;
}

void lore_ac_free(struct lore_ac *ac) {
    if (!ac) return;
    free(ac->nodes);
    free(ac->edges);
    free(ac->key_next);
    free(ac);
}

void lore_ac_scan(const struct lore_ac *ac, const char *text, size_t len, lore_ac_hit_fn *fn, void *data) {
    if (!ac || !ac->built || ac->nkeys == 0) return;
    int s = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = fold_byte(ac->fold, (unsigned char)text[i]);
        for (;;) {
            if (s == 0) {
                s = ac->root[c];
                break;
            }
            int t = child(ac, s, c);
            if (t >= 0) {
                s = t;
                break;
            }
            s = ac->nodes[s].fail;
        }
        for (int o = ac->nodes[s].key >= 0 ? s : ac->nodes[s].dict; o > 0; o = ac->nodes[o].dict)
            for (int k = ac->nodes[o].key; k >= 0; k = ac->key_next[k]) fn(k, i + 1, data);
    }
}
