/* platform.c - the registry of platform adapters. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "core/feed.h"
#include "core/message.h"
#include "core/platform.h"
#include "core/rich.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

#define MAX_PLATFORMS 16

static struct platform platforms[MAX_PLATFORMS];
static int nplatforms;
static platform_sink_fn *sink;
static platform_outbox_fn *outbox;
static platform_done_fn *done;

void platform_reset(void) {
    nplatforms = 0;
}

void platform_set_sink(platform_sink_fn *fn) {
    sink = fn;
}

void platform_set_outbox(platform_outbox_fn *fn) {
    outbox = fn;
}

void platform_set_done(platform_done_fn *fn) {
    done = fn;
}

void platform_job_done(struct platform *p, const struct chat_message *m) {
    if (done) done(p, m);
}

/* The outbox of a single process: the adapter sends at once. An adapter
 * without rich replies gets their plain text. */
static int platform_send_direct(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    if (!out->rich || p->ops->rich) return p->ops->send(p, out, cb, data);
    struct outgoing plain = *out;
    char *text = rich_plain(out->text, out->rich);
    plain.text = text;
    plain.rich = NULL;
    int rc = p->ops->send(p, &plain, cb, data);
    free(text);
    return rc;
}

struct platform *platform_add(const struct platform_ops *ops, const struct platform_host *host,
                              const struct config_block *b) {
    if (nplatforms == MAX_PLATFORMS) {
        log_error("platform %s: more than %d platforms", ops->name, MAX_PLATFORMS);
        return NULL;
    }
    struct platform *p = &platforms[nplatforms];
    p->ops = ops;
    p->host = host;
    p->state = NULL;
    p->ready = 0;
    if (ops->create && !(p->state = ops->create(p, b))) return NULL;
    nplatforms++;
    return p;
}

struct platform *platform_find(const char *name) {
    for (int i = 0; i < nplatforms; i++)
        if (strcmp(platforms[i].ops->name, name) == 0) return &platforms[i];
    return NULL;
}

struct platform *platform_at(int i) {
    return i >= 0 && i < nplatforms ? &platforms[i] : NULL;
}

void platform_commands_changed(void) {
    for (int i = 0; i < nplatforms; i++)
        if (platforms[i].ops->commands_changed) platforms[i].ops->commands_changed(&platforms[i]);
}

int platform_receive(struct platform *p, const struct chat_message *m) {
    if (!sink) {
        log_warn("%s: a message arrived before anything receives messages; refused", p->ops->name);
        return -1;
    }
    if (!p->ops->mention || m->author.mention || !m->author.id) return sink(p, m);
    /* The author's mention travels with the message (a worker has no adapter to ask). */
    struct chat_message with = *m;
    with.author.mention = platform_mention(p, m->author.id, m->author.name);
    int rc = sink(p, &with);
    free(with.author.mention);
    return rc;
}

int platform_send_text(struct platform *p, const char *channel, const char *text, size_t len,
                       const char *reply_to, const char *persona, platform_sent_fn *cb, void *data) {
    return platform_send_keyed(p, channel, text, len, reply_to, persona, NULL, NULL, cb, data);
}

int platform_send_rich(struct platform *p, const char *channel, const char *text, size_t len, const char *reply_to,
                       const char *persona, const struct json_t *rich, platform_sent_fn *cb, void *data) {
    return platform_send_keyed(p, channel, text, len, reply_to, persona, rich, NULL, cb, data);
}

int platform_send_keyed(struct platform *p, const char *channel, const char *text, size_t len, const char *reply_to,
                        const char *persona, const struct json_t *rich, const char *nonce, platform_sent_fn *cb,
                        void *data) {
    size_t fixed_len;
    char *fixed = utf8_repair(text, len, &fixed_len);
    if (!fixed) return -1;
    struct outgoing out = { .channel = channel, .text = fixed, .reply_to = reply_to, .persona = persona,
                            .rich = rich_has_content(rich) || json_is_true(json_object_get(rich, "ephemeral")) ? rich : NULL,
                            .nonce = nonce };
    int rc = (outbox ? outbox : platform_send_direct)(p, &out, cb, data);
    if (rc == 0) {
        metrics_inc(METRIC_MESSAGES_OUT, p->ops->name, 1);
        feed_reply(p->ops->name, channel, persona, fixed);
    }
    free(fixed);
    return rc;
}

char *platform_mention(struct platform *p, const char *user_id, const char *user_name) {
    if (p && p->ops->mention) {
        char *m = p->ops->mention(p, user_id ? user_id : "", user_name ? user_name : "");
        if (m) return m;
    }
    size_t n = strlen(user_name ? user_name : "") + 2;
    char *out = xmalloc(n);
    snprintf(out, n, "@%s", user_name ? user_name : "");
    return out;
}
