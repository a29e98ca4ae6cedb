/* discord_stream.h - streamed replies on Discord: one message posted, then
 * edited while it grows (core/edit_stream.h), through the REST client.
 * Edits are spaced by STREAM_EDIT_MS (times time_scale); text past 2000
 * code points follows as new messages. */
#ifndef CHORUS_DISCORD_STREAM_H
#define CHORUS_DISCORD_STREAM_H
#include <uv.h>
#include "core/edit_stream.h"
#include "platforms/discord/discord_rest.h"

#define STREAM_EDIT_MS 1000.0      /* Discord's edits: keep well inside the limits */
#define STREAM_IDLE_MS 120000.0    /* a stream never finalized is forgotten after this */

/* Streamed replies posted and edited through REST (free with edit_streams_free). */
struct edit_streams *discord_streams_new(uv_loop_t *loop, struct discord_rest *rest, double time_scale);
#endif
