/* dict.c - chained hash table with FNV-1a hashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/dict.h"
#include "lib/xalloc.h"

struct entry {
    char *key;
    void *value;
    uint32_t hash;
    struct entry *next;
};

struct dict {
    struct entry **buckets;
    size_t nbuckets;
    size_t size;
};

static uint32_t hash_key(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

struct dict *dict_new(void) {
    struct dict *d = xcalloc(1, sizeof(*d));
    d->nbuckets = 16;
    d->buckets = xcalloc(d->nbuckets, sizeof(*d->buckets));
    return d;
}

void dict_free(struct dict *d) {
    if (!d) return;
    for (size_t i = 0; i < d->nbuckets; i++) {
        struct entry *e = d->buckets[i];
        while (e) {
            struct entry *next = e->next;
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(d->buckets);
    free(d);
}

static struct entry *find(const struct dict *d, const char *key, uint32_t h) {
    for (struct entry *e = d->buckets[h & (d->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0) return e;
    return NULL;
}

void *dict_get(const struct dict *d, const char *key) {
    struct entry *e = find(d, key, hash_key(key));
    return e ? e->value : NULL;
}

/* Double the bucket array once the table is as full as it is wide. */
static void grow(struct dict *d) {
    size_t n = d->nbuckets * 2;
    struct entry **b = xcalloc(n, sizeof(*b));
    if (!b) return;
    for (size_t i = 0; i < d->nbuckets; i++) {
        struct entry *e = d->buckets[i];
        while (e) {
            struct entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(d->buckets);
    d->buckets = b;
    d->nbuckets = n;
}

int dict_set(struct dict *d, const char *key, void *value) {
    uint32_t h = hash_key(key);
    struct entry *e = find(d, key, h);
    if (e) {
        e->value = value;
        return 0;
    }
    if (d->size >= d->nbuckets) grow(d);
    e = xmalloc(sizeof(*e));
    if (!e) return -1;
    e->key = xstrdup(key);
    e->value = value;
    e->hash = h;
    e->next = d->buckets[h & (d->nbuckets - 1)];
    d->buckets[h & (d->nbuckets - 1)] = e;
    d->size++;
    return 0;
}

void *dict_del(struct dict *d, const char *key) {
    uint32_t h = hash_key(key);
    struct entry **pp = &d->buckets[h & (d->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        struct entry *e = *pp;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            void *v = e->value;
            *pp = e->next;
            free(e->key);
            free(e);
            d->size--;
            return v;
        }
    }
    return NULL;
}

size_t dict_size(const struct dict *d) {
    return d->size;
}

void dict_each(const struct dict *d, void (*fn)(const char *key, void *value, void *arg), void *arg) {
    for (size_t i = 0; i < d->nbuckets; i++)
        for (struct entry *e = d->buckets[i]; e; e = e->next) fn(e->key, e->value, arg);
}

void **dict_values(const struct dict *d) {
    void **all = xcalloc(d->size + 1, sizeof(void *));
    size_t n = 0;
    for (size_t i = 0; i < d->nbuckets; i++)
        for (struct entry *e = d->buckets[i]; e; e = e->next) all[n++] = e->value;
    return all;
}

/* Several two-part keys are built for every message (channel, rate limit
 * queue and bucket, stream); plain copies cost a fraction of snprintf. */
void dict_key2(char *out, size_t outlen, const char *a, const char *b) {
    const char *parts[3] = { a, "\x1f", b };
    size_t j = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]);
        if (j + n >= outlen) n = outlen - 1 - j;
        memcpy(out + j, parts[i], n);
        j += n;
    }
    out[j] = '\0';
}
