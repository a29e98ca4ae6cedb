/* platform.c - the registry of platform adapters. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline/channel.h"
#include "lib/metrics.h"
#include "platforms/discord/discord.h"
#include "core/platform.h"
#include "lib/utf8.h"
#include "platforms/test/testchat.h"
#include "platforms/webchat/webchat.h"

#define MAX_PLATFORMS 16

static struct platform platforms[MAX_PLATFORMS];
static int nplatforms;

/* Every built-in adapter registers here: one line per platform. */
void platform_init(void) {
    nplatforms = 0;
    webchat_register();
    discord_register();
    testchat_register();
}

void platform_register(const struct platform_ops *ops, void *state) {
    if (nplatforms == MAX_PLATFORMS) return;
    platforms[nplatforms].ops = ops;
    platforms[nplatforms].state = state;
    platforms[nplatforms].ready = 0;
    nplatforms++;
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
    return channel_enqueue(p, m);
}

int platform_send_text(struct platform *p, const char *channel, const char *text, size_t len,
                       const char *reply_to, const char *persona, platform_sent_fn *cb, void *data) {
    size_t fixed_len;
    char *fixed = utf8_repair(text, len, &fixed_len);
    if (!fixed) return -1;
    struct outgoing out = { .channel = channel, .text = fixed, .reply_to = reply_to, .persona = persona };
    int rc = p->ops->send(p, &out, cb, data);
    free(fixed);
    if (rc == 0) metrics_inc(METRIC_MESSAGES_OUT, p->ops->name, 1);
    return rc;
}
