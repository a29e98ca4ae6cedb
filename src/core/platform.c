/* platform.c - the registry of platform adapters. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "conf/config.h"
#include "conf/config_schema.h"
#include "core/feed.h"
#include "core/message.h"
#include "core/platform.h"
#include "core/rich.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

#define MAX_PLATFORMS 32

static struct platform platforms[MAX_PLATFORMS];
static int nplatforms;
static platform_sink_fn *sink;
static platform_outbox_fn *outbox;
static platform_done_fn *done;

void platform_reset(void) {
    for (int i = 0; i < nplatforms; i++) {
        free(platforms[i].identity);
        free(platforms[i].persona);
    }
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
    const char *identity = b && b->name ? b->name : NULL;
    const char *persona = b ? config_identity_persona(b) : NULL;
    if (identity) snprintf(p->name, sizeof(p->name), "%s:%s", ops->name, identity);
    else snprintf(p->name, sizeof(p->name), "%s", ops->name);
    p->identity = identity ? xstrdup(identity) : NULL;
    p->persona = persona ? xstrdup(persona) : NULL;
    if (ops->create && !(p->state = ops->create(p, b))) {
        free(p->identity);
        free(p->persona);
        p->identity = p->persona = NULL;
        return NULL;
    }
    nplatforms++;
    return p;
}

struct platform *platform_find(const char *name) {
    struct platform *first = NULL;
    for (int i = 0; i < nplatforms; i++) {
        if (strcmp(platforms[i].name, name) == 0) return &platforms[i];
        if (!first && strcmp(platforms[i].ops->name, name) == 0) first = &platforms[i];
    }
    return first;
}

struct platform *platform_speaking_as(const char *platform, const char *persona) {
    struct platform *unbound = NULL;
    for (int i = 0; i < nplatforms; i++) {
        struct platform *p = &platforms[i];
        if (strcmp(p->ops->name, platform)) continue;
        if (p->persona && persona && !strcmp(p->persona, persona)) return p;
        if (!p->persona && (!unbound || !p->identity)) unbound = p;
    }
    return unbound ? unbound : platform_find(platform);
}

/* The statement of P in CFG (a worker's stand-in is named after it), or NULL. */
static const struct config_block *platform_block(const struct platform *p, const struct config *cfg) {
    char kind[64];
    snprintf(kind, sizeof(kind), "%s", p->ops->config_kind ? p->ops->config_kind : p->name);
    char *colon = strchr(kind, ':');
    if (colon) *colon = '\0';
    for (struct config_block *b = config_first(cfg, kind); b; b = config_next(b, kind))
        if (p->identity ? b->name && !strcmp(b->name, p->identity) : !b->name) return b;
    return NULL;
}

void platform_rebind(const struct config *cfg) {
    for (int i = 0; i < nplatforms; i++) {
        struct platform *p = &platforms[i];
        const struct config_block *b = platform_block(p, cfg);
        if (!b) continue;   /* gone from the config: the account runs on until a restart */
        const char *persona = config_identity_persona(b);
        if (!persona && !p->persona) continue;
        if (persona && p->persona && !strcmp(persona, p->persona)) continue;
        log_info("reload: %s now speaks as %s", p->name, persona ? persona : "the channel's persona");
        free(p->persona);
        p->persona = persona ? xstrdup(persona) : NULL;
    }
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
    struct chat_message with = *m;
    /* A named identity's messages say which account heard them. */
    if (p->identity) with.identity = p->identity;
    /* The author's mention travels with the message (a worker has no adapter to ask). */
    int mention = p->ops->mention && !m->author.mention && m->author.id;
    if (mention) with.author.mention = platform_mention(p, m->author.id, m->author.name);
    int rc = sink(p, &with);
    if (mention) free(with.author.mention);
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
        metrics_inc(METRIC_MESSAGES_OUT, p->name, 1);
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
