/* redis_gather.h - several Redis commands sent at once, their replies
 * taken together.
 *
 * In a Redis Cluster one script may not touch keys in several slots, so
 * work that is one script on a single Redis runs there as commands of one
 * slot each, all sent at once; once every reply is in, the caller puts
 * them together into what the one script would have returned. A gather
 * keeps the replies, checks each one's shape, remembers the first error,
 * and calls DONE once, when the last reply is in and the caller has said
 * every part is sent. */
#ifndef CHORUS_REDIS_GATHER_H
#define CHORUS_REDIS_GATHER_H
#include "io/redis_client.h"

struct redis_gather;

/* 1 when R has the shape part WHICH must have. */
typedef int redis_gather_shape_fn(int which, const redisReply *r);
/* Part WHICH came in with the right shape (more parts may be sent from
 * here). May be NULL. */
typedef void redis_gather_part_fn(struct redis_gather *g, int which, const redisReply *r, void *data);
/* Every part is in: PARTS[i] is part i's reply (NULL when none was sent),
 * or ERR is the first error (a command's, a wrong shape, or Redis not
 * connected). The gather is freed when this returns. */
typedef void redis_gather_done_fn(redisReply *const *parts, const char *err, void *data);

/* A gather of NPARTS parts on RC. Send its parts, then redis_gather_end. */
struct redis_gather *redis_gather_new(struct redis_client *rc, int nparts, redis_gather_shape_fn *shape,
                                      redis_gather_part_fn *part, redis_gather_done_fn *done, void *data);
/* Send part WHICH. 0, or -1 when Redis is not connected (the gather's
 * error from then on). */
int redis_gather_send(struct redis_gather *g, int which, int argc, const char **argv);
/* Part WHICH is R, made by the caller (taken over). */
void redis_gather_put(struct redis_gather *g, int which, redisReply *r);
/* Every part is sent: DONE runs when the last reply is in (now, if all are). */
void redis_gather_end(struct redis_gather *g);
/* Forget a gather none of whose parts was sent (DONE is not called). */
void redis_gather_cancel(struct redis_gather *g);
#endif
