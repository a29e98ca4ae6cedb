/* irc_queue.h - the outbound line queue with Eggdrop-style flood control.
 *
 * Three priorities: server replies (PONG, registration) first, then skill
 * replies, then bulk. Lines leave at a sustained rate with a burst, as
 * RFC 1459 8.10 describes: each line adds INTERVAL to a message timer
 * that may run at most BURST lines ahead of the clock. Time is passed in
 * (milliseconds) so the unit tests drive it. */
#ifndef CHORUS_IRC_QUEUE_H
#define CHORUS_IRC_QUEUE_H
#include <stddef.h>
#include <stdint.h>

enum irc_priority { IRC_PRIO_SERVER, IRC_PRIO_REPLY, IRC_PRIO_BULK, IRC_PRIO_COUNT };

struct irc_qline {
    char *text;                 /* without CRLF */
    struct irc_qline *next;
};

struct irc_queue {
    struct irc_qline *head[IRC_PRIO_COUNT], *tail[IRC_PRIO_COUNT];
    size_t len;
    double interval_ms;         /* sustained: one line per interval */
    int burst;                  /* lines that may go at once */
    double timer;               /* the message timer, ms */
};

void irc_queue_init(struct irc_queue *q, int burst, double interval_ms);
void irc_queue_push(struct irc_queue *q, enum irc_priority prio, const char *line);
/* The next line allowed at NOW (the caller frees it), or NULL; then *wait_ms
 * says how long until one may go (0 when the queue is empty). */
char *irc_queue_pop(struct irc_queue *q, double now, double *wait_ms);
/* Forget everything (a new connection starts with a fresh burst). */
void irc_queue_clear(struct irc_queue *q);
#endif
