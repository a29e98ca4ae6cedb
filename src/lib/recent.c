/* recent.c - the last N keys, in a ring beside a dict (recent.h). */
#include <stdlib.h>
#include "lib/dict.h"
#include "lib/recent.h"
#include "lib/xalloc.h"

struct recent {
    struct dict *map;
    char **ring;                /* the keys, oldest at next once full */
    int keep, next;
    void (*free_value)(void *value);
};

struct recent *recent_new(int keep, void (*free_value)(void *value)) {
    struct recent *r = xcalloc(1, sizeof(*r));
    r->map = dict_new();
    r->ring = xcalloc((size_t)keep, sizeof(*r->ring));
    r->keep = keep;
    r->free_value = free_value;
    return r;
}

/* Drop VALUE when the map owns its values. */
static void drop(struct recent *r, void *value) {
    if (r->free_value && value) r->free_value(value);
}

void recent_free(struct recent *r) {
    if (!r) return;
    for (int i = 0; i < r->keep; i++) {
        if (r->ring[i]) drop(r, dict_get(r->map, r->ring[i]));
        free(r->ring[i]);
    }
    dict_free(r->map);
    free(r->ring);
    free(r);
}

void *recent_get(const struct recent *r, const char *key) {
    return dict_get(r->map, key);
}

void recent_set(struct recent *r, const char *key, void *value) {
    if (dict_get(r->map, key)) {
        drop(r, dict_del(r->map, key));
        dict_set(r->map, key, value);
        return;
    }
    char *old = r->ring[r->next];
    if (old) {
        drop(r, dict_del(r->map, old));
        free(old);
    }
    r->ring[r->next] = xstrdup(key);
    r->next = (r->next + 1) % r->keep;
    dict_set(r->map, key, value);
}
