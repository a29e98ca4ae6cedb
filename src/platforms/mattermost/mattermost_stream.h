/* mattermost_stream.h - streamed replies on Mattermost: one post made, then
 * edited while it grows (PUT /posts/{id}/patch; core/edit_stream.h), at
 * most one edit per edit_ms. Text past 2000 code points follows as new
 * posts, in the same thread. */
#ifndef CHORUS_MATTERMOST_STREAM_H
#define CHORUS_MATTERMOST_STREAM_H
#include <uv.h>
#include "core/edit_stream.h"
#include "platforms/mattermost/mattermost_rest.h"

#define STREAM_IDLE_MS 120000.0    /* a stream never finalized is forgotten after this */

/* EDIT_MS spaces the edits of one post (default 1000); free with edit_streams_free. */
struct edit_streams *mattermost_streams_new(uv_loop_t *loop, struct mattermost_rest *rest, long edit_ms);
#endif
