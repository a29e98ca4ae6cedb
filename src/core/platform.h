/* platform.h - the interface every chat platform adapter implements.
 *
 * An adapter lives in its own file(s) and fills a struct platform_ops.
 * Adding a platform means adding its files and one line in platform.c.
 * Adapters hand incoming messages to platform_receive(); the core answers
 * through ops->send and ops->typing. */
#ifndef CHORUS_PLATFORM_H
#define CHORUS_PLATFORM_H
#include <stddef.h>

struct chat_message;
struct platform;

/* Completion of a send: the platform's message id (needed for later edits),
 * or ERR. Called exactly once, possibly before send() returns. */
typedef void platform_sent_fn(const char *message_id, const char *err, void *data);

struct outgoing {
    const char *channel;
    const char *text;          /* valid UTF-8 */
    const char *reply_to;      /* message id this answers, or NULL */
    const char *persona;       /* persona name speaking */
};

struct platform_ops {
    const char *name;                       /* "webchat" */
    int (*start)(struct platform *p);       /* 0 or -1 */
    int (*send)(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data);
    int (*typing)(struct platform *p, const char *channel);
    /* Optional: NULL when the platform has no such thing. */
    int (*react)(struct platform *p, const char *channel, const char *message_id, const char *emoji);
    int (*edit)(struct platform *p, const char *channel, const char *message_id, const char *text, size_t len);
    /* A piece of a reply still being written (streaming); optional. */
    void (*stream_delta)(struct platform *p, const char *channel, const char *reply_to, const char *text, size_t len);
    /* The skills' commands may have changed (a reload); optional. */
    void (*commands_changed)(struct platform *p);
    void (*stop)(struct platform *p);       /* close connections cleanly */
    int (*connections)(struct platform *p); /* open connections, for status and drain */
};

struct platform {
    const struct platform_ops *ops;
    void *state;                            /* the adapter's own */
    int ready;
};

/* Register built-in adapters. */
void platform_init(void);
struct platform *platform_find(const char *name);
/* Iterate: i from 0 until NULL. */
struct platform *platform_at(int i);
void platform_register(const struct platform_ops *ops, void *state);
/* Send TEXT (repaired to valid UTF-8) to CHANNEL of P as PERSONA. */
int platform_send_text(struct platform *p, const char *channel, const char *text, size_t len,
                       const char *reply_to, const char *persona, platform_sent_fn *cb, void *data);
/* An adapter received a message: queue it for its channel. Copies M.
 * Returns 0, or -1 when the channel's queue is full (the adapter tells the user). */
int platform_receive(struct platform *p, const struct chat_message *m);
/* Plugins or the config were reloaded: adapters that publish the command
 * list (Discord's slash commands) refresh it. */
void platform_commands_changed(void);
#endif
