/* channel.h - per-channel queues: one job at a time, in arrival order. */
#ifndef CHORUS_CHANNEL_H
#define CHORUS_CHANNEL_H
struct platform;
struct chat_message;

#define CHANNEL_QUEUE_MAX 64

void channel_init(void);
/* Queue a copy of M. Returns 0, or -1 when the channel already has
 * CHANNEL_QUEUE_MAX messages waiting. */
int channel_enqueue(struct platform *p, const struct chat_message *m);
/* Number of channels with work, for status. */
int channel_active(void);
void channel_shutdown(void);
#endif
