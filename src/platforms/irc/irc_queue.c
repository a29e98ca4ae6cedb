/* irc_queue.c - outbound lines by priority under a message timer (irc_queue.h). */
#include <stdlib.h>
#include <string.h>
#include "lib/xalloc.h"
#include "platforms/irc/irc_queue.h"

void irc_queue_init(struct irc_queue *q, int burst, double interval_ms) {
    memset(q, 0, sizeof(*q));
    q->burst = burst > 0 ? burst : 1;
    q->interval_ms = interval_ms > 0 ? interval_ms : 0;
}

void irc_queue_push(struct irc_queue *q, enum irc_priority prio, const char *line) {
    struct irc_qline *l = xcalloc(1, sizeof(*l));
    l->text = xstrdup(line);
    if (q->tail[prio]) q->tail[prio]->next = l;
    else q->head[prio] = l;
    q->tail[prio] = l;
    q->len++;
}

/* Server replies always go at once (a late PONG costs the connection) but
 * still count against the timer, so the skill replies after them wait. */
char *irc_queue_pop(struct irc_queue *q, double now, double *wait_ms) {
    *wait_ms = 0;
    int prio = 0;
    while (prio < IRC_PRIO_COUNT && !q->head[prio]) prio++;
    if (prio == IRC_PRIO_COUNT) return NULL;
    if (q->timer < now) q->timer = now;
    double ahead = q->timer - now;
    double room = q->interval_ms * (double)(q->burst - 1);
    if (prio != IRC_PRIO_SERVER && ahead > room) {
        *wait_ms = ahead - room;
        return NULL;
    }
    struct irc_qline *l = q->head[prio];
    q->head[prio] = l->next;
    if (!q->head[prio]) q->tail[prio] = NULL;
    q->len--;
    q->timer += q->interval_ms;
    char *text = l->text;
    free(l);
    return text;
}

void irc_queue_clear(struct irc_queue *q) {
    for (int p = 0; p < IRC_PRIO_COUNT; p++) {
        while (q->head[p]) {
            struct irc_qline *l = q->head[p];
            q->head[p] = l->next;
            free(l->text);
            free(l);
        }
        q->tail[p] = NULL;
    }
    q->len = 0;
    q->timer = 0;
}
