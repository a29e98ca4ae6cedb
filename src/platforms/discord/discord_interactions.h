/* discord_interactions.h - answering slash commands (INTERACTION_CREATE).
 *
 * An interaction must be answered within 3 s, so it is deferred at once
 * (callback type 5: Discord shows "thinking..."); the replies of the job it
 * starts then arrive as follow-ups: the first edits the deferred response
 * (@original), later ones are new follow-up messages, in order. The token
 * is valid for 15 minutes; past that, or when the deferral failed, replies
 * are posted in the channel instead so nobody is left without an answer. */
#ifndef CHORUS_DISCORD_INTERACTIONS_H
#define CHORUS_DISCORD_INTERACTIONS_H
#include <stdint.h>
#include <uv.h>
#include "platforms/discord/discord_rest.h"
#include "core/platform.h"

#define INTERACTION_CALLBACK_DEFERRED 5
#define INTERACTION_CALLBACK_DEFERRED_UPDATE 6   /* a button press: no new message, none edited */
#define INTERACTION_TOKEN_MS 900000.0     /* 15 minutes */
#define INTERACTION_EDIT_MS 1000.0        /* a streamed answer: one edit per second at most */

struct discord_interactions;
struct discord_ixshare;
struct discord_ixshare_record;

/* TIME_SCALE shrinks the edit throttle for tests. */
struct discord_interactions *discord_interactions_new(uv_loop_t *loop, struct discord_rest *rest, double time_scale);
/* Gateways share the bot: record each interaction in SHARE (discord_ixshare.h)
 * and claim @original there before editing it; pieces of a streamed answer
 * are not shown (another gateway may send the final answer). */
void discord_interactions_share(struct discord_interactions *ix, struct discord_ixshare *share);
/* Take over interaction ID another gateway deferred, as REC describes it
 * (NOW_MS unix ms, for the token's age): its replies then go out here.
 * 0, or -1 when it is known already. */
int discord_interaction_adopt(struct discord_interactions *ix, const char *id, const struct discord_ixshare_record *rec,
                              int64_t now_ms);
/* Forget every interaction (call after discord_rest_free: no REST callback comes). */
void discord_interactions_free(struct discord_interactions *ix);
/* Remember interaction ID of APP_ID in CHANNEL and defer it now: a slash
 * command with "thinking..." (its first reply takes that place), a button
 * press (COMPONENT) silently (its replies are new follow-ups, so the
 * message with the buttons stays). Returns 0 or -1. */
int discord_interaction_defer(struct discord_interactions *ix, const char *app_id, const char *id, const char *token,
                              const char *channel, int component);
/* A piece of the answer to REPLY_TO still being written. Returns 1 when
 * REPLY_TO is an interaction: its deferred response (@original) shows the
 * text so far, edited at most once per INTERACTION_EDIT_MS; the final reply
 * then replaces it. Else 0. */
int discord_interaction_delta(struct discord_interactions *ix, const char *reply_to, const char *text, size_t len);
/* Is ID an interaction we answer? */
int discord_interaction_known(struct discord_interactions *ix, const char *id);
/* A reply to REPLY_TO, with RICH (core/rich.h) or NULL. Returns 1 when
 * REPLY_TO is an interaction (the reply goes out as a follow-up, ephemeral
 * when RICH asks; CB is called once), else 0. */
int discord_interaction_send(struct discord_interactions *ix, const char *reply_to, const char *text,
                             const json_t *rich, platform_sent_fn *cb, void *data);
#endif
