/* bus_codec.h - a chat message as a stream entry, and where it goes.
 *
 * A gateway writes each normalized message to one ingress partition,
 * chosen by a hash of platform and channel so one channel always lands in
 * the same partition (and so stays in order). The message travels as one
 * JSON field holding every field of struct chat_message. */
#ifndef CHORUS_BUS_CODEC_H
#define CHORUS_BUS_CODEC_H
#include <stddef.h>
#include <jansson.h>

struct chat_message;

/* The partition (0..N-1) of PLATFORM's CHANNEL: FNV-1a, stable across
 * processes and builds. */
int bus_partition(const char *platform, const char *channel, int n);
/* M as a JSON object (every field the pipeline reads). */
json_t *bus_message_to_json(const struct chat_message *m);
/* The message back, or NULL when J is not one (platform or channel missing). */
struct chat_message *bus_message_from_json(const json_t *j);
/* The platform's identity of the event M carries, for deduplication:
 * "discord:<channel>:msg:<id>:<author>" and the like; "" when M has no id. */
void bus_event_key(const struct chat_message *m, char *out, size_t outlen);
/* Compare two stream ids "ms-seq": <0, 0, >0. */
int bus_id_cmp(const char *a, const char *b);
#endif
