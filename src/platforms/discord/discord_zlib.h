/* discord_zlib.h - the inflate side of Discord's zlib-stream transport
 * compression.
 *
 * With `compress=zlib-stream` in the gateway query, every server payload is
 * a piece of one zlib stream that lives as long as the connection. A payload
 * is whole when the bytes received so far end with 00 00 FF FF (the marker
 * of a Z_SYNC_FLUSH). One discord_zlib per connection: feed it each binary
 * websocket message, then ask it for the payload (a payload may also span
 * several messages; feeding in smaller pieces works too). */
#ifndef CHORUS_DISCORD_ZLIB_H
#define CHORUS_DISCORD_ZLIB_H
#include <stddef.h>

#define DISCORD_ZLIB_TOO_BIG (-1)  /* a payload inflated past the cap */
#define DISCORD_ZLIB_CORRUPT (-2)  /* not a valid zlib stream */

struct discord_zlib;

/* A fresh stream whose payloads may inflate to at most MAX_PAYLOAD bytes.
 * Returns NULL when out of memory. */
struct discord_zlib *discord_zlib_new(size_t max_payload);
void discord_zlib_free(struct discord_zlib *z);
/* Inflate LEN more bytes of the stream. Returns 0, DISCORD_ZLIB_TOO_BIG or
 * DISCORD_ZLIB_CORRUPT; after an error the stream is dead and every later
 * call returns that error again. */
int discord_zlib_feed(struct discord_zlib *z, const void *in, size_t len);
/* At the end of a websocket message: when the stream so far ends with the
 * flush marker, return the inflated payload (NUL-terminated, valid until the
 * next feed) with its length in *LEN and start the next one; otherwise
 * return NULL (the payload goes on in the next message). */
const char *discord_zlib_take(struct discord_zlib *z, size_t *len);
/* What went wrong, for the log ("" when nothing did). */
const char *discord_zlib_error(const struct discord_zlib *z);
#endif
