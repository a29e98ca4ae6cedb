/* message.c - allocation of normalized messages. */
#include <stdlib.h>
#include <string.h>
#include "core/message.h"
#include "lib/xalloc.h"

static char *dup_or_null(const char *s) {
    return s ? xstrdup(s) : NULL;
}

struct chat_message *message_new(void) {
    return xcalloc(1, sizeof(struct chat_message));
}

struct chat_message *message_copy(const struct chat_message *m) {
    struct chat_message *c = message_new();
    c->platform = dup_or_null(m->platform);
    c->channel = dup_or_null(m->channel);
    c->id = dup_or_null(m->id);
    c->reply_to = dup_or_null(m->reply_to);
    c->text = dup_or_null(m->text);
    c->author.id = dup_or_null(m->author.id);
    c->author.name = dup_or_null(m->author.name);
    c->author.guest = m->author.guest;
    c->author.mention = dup_or_null(m->author.mention);
    for (int i = 0; i < m->nmentions && i < MESSAGE_MAX_MENTIONS; i++) c->mentions[i] = dup_or_null(m->mentions[i]);
    c->nmentions = m->nmentions;
    c->direct = m->direct;
    c->event = dup_or_null(m->event);
    c->reaction = dup_or_null(m->reaction);
    c->thread = dup_or_null(m->thread);
    c->thread_parent = dup_or_null(m->thread_parent);
    c->received_at = m->received_at;
    c->connection = dup_or_null(m->connection);
    return c;
}

void message_free(struct chat_message *m) {
    if (!m) return;
    free(m->platform);
    free(m->channel);
    free(m->connection);
    free(m->id);
    free(m->reply_to);
    free(m->text);
    free(m->author.id);
    free(m->author.name);
    free(m->author.mention);
    free(m->event);
    free(m->reaction);
    free(m->thread);
    free(m->thread_parent);
    for (int i = 0; i < m->nmentions; i++) free(m->mentions[i]);
    free(m);
}
