/* redis_gather.c - several Redis commands sent at once, their replies
 * taken together (redis_gather.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "io/redis_gather.h"
#include "lib/xalloc.h"

struct redis_gather {
    struct redis_client *rc;
    int nparts;
    redisReply **parts;
    redis_gather_shape_fn *shape;
    redis_gather_part_fn *part;
    redis_gather_done_fn *done;
    void *data;
    int pending;               /* replies awaited, plus one until redis_gather_end */
    char err[300];
};

/* A reply's tag: which gather, which part. */
struct gather_tag {
    struct redis_gather *g;
    int which;
};

struct redis_gather *redis_gather_new(struct redis_client *rc, int nparts, redis_gather_shape_fn *shape,
                                      redis_gather_part_fn *part, redis_gather_done_fn *done, void *data) {
    struct redis_gather *g = xcalloc(1, sizeof(*g));
    if (!g) return NULL;
    g->parts = xcalloc((size_t)nparts, sizeof(redisReply *));
    g->rc = rc;
    g->nparts = nparts;
    g->shape = shape;
    g->part = part;
    g->done = done;
    g->data = data;
    g->pending = 1;
    return g;
}

/* Free G and the replies it holds. */
static void gather_free(struct redis_gather *g) {
    for (int i = 0; i < g->nparts; i++)
        if (g->parts[i]) freeReplyObject(g->parts[i]);
    free(g->parts);
    free(g);
}

void redis_gather_cancel(struct redis_gather *g) {
    if (g) gather_free(g);
}

/* One reply fewer to wait for; the last one finishes the gather. */
static void gather_step(struct redis_gather *g) {
    if (--g->pending > 0) return;
    g->done(g->parts, g->err[0] ? g->err : NULL, g->data);
    gather_free(g);
}

/* Keep ERR unless an earlier error is kept already. */
static void gather_fail(struct redis_gather *g, const char *err) {
    if (!g->err[0]) snprintf(g->err, sizeof(g->err), "%s", err);
}

void redis_gather_put(struct redis_gather *g, int which, redisReply *r) {
    if (g->parts[which]) freeReplyObject(g->parts[which]);
    g->parts[which] = r;
}

static void on_gather_reply(redisReply *r, const char *err, void *data) {
    struct gather_tag *tag = data;
    struct redis_gather *g = tag->g;
    int which = tag->which;
    free(tag);
    if (err) {
        gather_fail(g, err);
    } else if (!g->shape(which, r)) {
        gather_fail(g, r->type == REDIS_REPLY_ERROR && r->str ? r->str : "unexpected Redis reply");
    } else {
        redis_gather_put(g, which, redis_reply_copy(r));
        if (g->part) g->part(g, which, r, g->data);
    }
    gather_step(g);
}

int redis_gather_send(struct redis_gather *g, int which, int argc, const char **argv) {
    struct gather_tag *tag = xmalloc(sizeof(*tag));
    tag->g = g;
    tag->which = which;
    g->pending++;
    if (redis_command(g->rc, on_gather_reply, tag, argc, argv, NULL) < 0) {
        free(tag);
        g->pending--;
        gather_fail(g, "Redis is not connected");
        return -1;
    }
    return 0;
}

void redis_gather_end(struct redis_gather *g) {
    gather_step(g);
}
