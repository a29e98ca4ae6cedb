/* discord_foreign.h - replies to events this gateway may not have seen.
 *
 * Gateways of one bot share their egress stream, so a reply (or a piece of
 * a streamed one) can reach a gateway that knows nothing of the event it
 * answers. If that event was a slash command another gateway deferred, the
 * reply must go out as the interaction's answer, not as a channel post.
 * Replies to what this gateway received come back to it, so only a reply
 * to an event it neither received nor deferred (a dead gateway's, handed
 * over) is in doubt. Before such a reply goes anywhere, Redis is asked once
 * (discord_ixshare_get); what comes for the same event meanwhile waits
 * behind it, in order. An interaction is then adopted and its replies sent
 * as follow-ups; anything else goes out as it would have. While the other
 * gateway's deferral is still in flight the question is asked again, a few
 * times, before the reply is posted in the channel. */
#ifndef CHORUS_DISCORD_FOREIGN_H
#define CHORUS_DISCORD_FOREIGN_H
#include <stddef.h>
#include <uv.h>
#include "core/platform.h"

struct discord_ixshare;
struct discord_ixshare_record;
struct discord_foreign;

/* What the adapter does once it knows. */
struct discord_foreign_ops {
    /* Send OUT now (the interaction, if it is one, has been adopted). */
    void (*send)(const struct outgoing *out, platform_sent_fn *cb, void *cb_data, void *data);
    /* Show a piece of the answer to REPLY_TO now. */
    void (*piece)(const char *channel, const char *reply_to, const char *text, size_t len, void *data);
    /* Take interaction ID over as REC describes it (NOW_MS unix ms). */
    void (*adopt)(const char *id, const struct discord_ixshare_record *rec, long long now_ms, void *data);
};

/* ASK_MS: how long between questions while a deferral is in flight (scaled for tests). */
struct discord_foreign *discord_foreign_new(uv_loop_t *loop, struct discord_ixshare *share,
                                            const struct discord_foreign_ops *ops, void *data, double ask_ms);
/* Fail every reply still waiting ("Discord is not running"). Free SHARE
 * first, so no answer comes for them. Safe with NULL. */
void discord_foreign_free(struct discord_foreign *f);
/* Event ID (a channel message, a reaction, an edit) was received here:
 * replies to it go out without asking Redis. The last 16,384 are kept. */
void discord_foreign_heard(struct discord_foreign *f, const char *id);
/* A reply to OUT->reply_to, an event this gateway did not see. 1 when it
 * waits for Redis (CB is called once, later), 0 when the event is known to
 * be no interaction: the caller sends it as usual. */
int discord_foreign_send(struct discord_foreign *f, const struct outgoing *out, platform_sent_fn *cb, void *cb_data);
/* The same for a piece of a streamed answer. */
int discord_foreign_piece(struct discord_foreign *f, const char *channel, const char *reply_to, const char *text,
                          size_t len);
#endif
