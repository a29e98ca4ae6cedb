/* platform.h - the interface every chat platform adapter implements.
 *
 * An adapter lives in its own folder (platforms/<name>/) and fills a
 * struct platform_ops. Adding a platform means adding its folder and one
 * line in the module table (app/modules.c). An adapter sees the rest of
 * chorusd only through its struct platform_host: the loop, the shared
 * clients, where incoming messages go, and the command catalogue. It
 * hands incoming messages to platform_receive(); the core answers through
 * ops->send and ops->typing. */
#ifndef CHORUS_PLATFORM_H
#define CHORUS_PLATFORM_H
#include <stddef.h>
#include <uv.h>

struct chat_message;
struct platform;
struct config_block;
struct command_list;
struct http_client;
struct redis_client;
struct lws_context;

/* What the program lends every adapter (app/modules.c fills it). */
struct platform_host {
    uv_loop_t *loop;
    struct http_client *http;
    /* The shared libwebsockets context, for websocket clients. */
    struct lws_context *(*lws)(void);
    /* The Redis connection of the moment (it changes on a reload). */
    struct redis_client *(*redis)(void);
    /* A snapshot of the commands skills and operators offer (free it with
     * command_list_free), or NULL when none are loaded. */
    struct command_list *(*commands)(void);
    /* The persona that speaks where no other is set. */
    const char *(*fallback_persona)(void);
    /* Nonzero once the process is draining to stop. */
    int (*stopping)(void);
    /* What this process runs: "all", "gateway" or "worker" (chorusd
     * --role). A gateway shares its connections with other gateways
     * (Discord's shards through leases in Redis). */
    const char *(*role)(void);
    /* A Redis connection of the adapter's own (for a blocking read), its
     * command timeout EXTRA_MS longer; free it with redis_client_free. NULL
     * with ERR. */
    struct redis_client *(*redis_open)(long extra_ms, char *err, size_t errlen);
};

/* Where platform_receive() sends messages: the channel queue in one
 * process; a Redis stream in a gateway. Returns 0, or -1 when full. */
typedef int platform_sink_fn(struct platform *p, const struct chat_message *m);

/* Completion of a send: the platform's message id (needed for later edits),
 * or ERR. Called exactly once, possibly before send() returns. */
typedef void platform_sent_fn(const char *message_id, const char *err, void *data);

struct outgoing {
    const char *channel;
    const char *text;          /* valid UTF-8 */
    const char *reply_to;      /* message id this answers, or NULL */
    const char *persona;       /* persona name speaking */
    const struct json_t *rich; /* an embed, buttons, ephemeral (core/rich.h), or NULL */
    /* The same for every attempt to send this reply (a gateway resending
     * what a dead one may have sent), or NULL: platforms that can refuse a
     * repeat use it (Discord's enforce_nonce). */
    const char *nonce;
};

/* Where replies leave: the adapter's send in one process; a Redis stream
 * when a worker answers for a gateway. The same contract as ops->send. */
typedef int platform_outbox_fn(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data);

struct platform_ops {
    const char *name;                       /* "webchat" */
    /* The config statement that turns the adapter on ("discord"), or NULL
     * when it is always on. */
    const char *config_kind;
    /* Build the adapter's state from its statement B (NULL when config_kind
     * is NULL); NULL means it cannot run (the reason is logged). */
    void *(*create)(struct platform *p, const struct config_block *b);
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
    /* How to mention a user in a reply ("<@id>"), a new string; optional
     * (NULL: "@name"). */
    char *(*mention)(struct platform *p, const char *user_id, const char *user_name);
    /* 1: send() shows out->rich itself; 0: it gets the plain text of it. */
    int rich;
};

struct platform {
    const struct platform_ops *ops;
    const struct platform_host *host;
    void *state;                            /* the adapter's own */
    int ready;
};

/* Forget every adapter (before the program registers them again). */
void platform_reset(void);
struct platform *platform_find(const char *name);
/* Iterate: i from 0 until NULL. */
struct platform *platform_at(int i);
/* Add an adapter; its create() runs with B. Returns it, or NULL when the
 * table is full or create() refused. */
struct platform *platform_add(const struct platform_ops *ops, const struct platform_host *host,
                              const struct config_block *b);
/* Install where received messages go. */
void platform_set_sink(platform_sink_fn *sink);
/* Install where replies leave (NULL: straight to the adapter's send). */
void platform_set_outbox(platform_outbox_fn *fn);
/* Told when the pipeline has finished with a received message (its job
 * ended, replies handed to the outbox): a worker acknowledges the stream
 * entry it came from. */
typedef void platform_done_fn(struct platform *p, const struct chat_message *m);
void platform_set_done(platform_done_fn *fn);
/* The pipeline finished M (calls the hook set by platform_set_done). */
void platform_job_done(struct platform *p, const struct chat_message *m);
/* Send TEXT (repaired to valid UTF-8) to CHANNEL of P as PERSONA. */
int platform_send_text(struct platform *p, const char *channel, const char *text, size_t len,
                       const char *reply_to, const char *persona, platform_sent_fn *cb, void *data);
/* The same with RICH (core/rich.h, checked; may be NULL). */
int platform_send_rich(struct platform *p, const char *channel, const char *text, size_t len, const char *reply_to,
                       const char *persona, const struct json_t *rich, platform_sent_fn *cb, void *data);
/* How P mentions the user ID called NAME, a new string. */
char *platform_mention(struct platform *p, const char *user_id, const char *user_name);
/* platform_send_rich with NONCE (see struct outgoing). */
int platform_send_keyed(struct platform *p, const char *channel, const char *text, size_t len, const char *reply_to,
                        const char *persona, const struct json_t *rich, const char *nonce, platform_sent_fn *cb,
                        void *data);
/* An adapter received a message: hand it to the sink. Copies M.
 * Returns 0, or -1 when the channel's queue is full (the adapter tells the user). */
int platform_receive(struct platform *p, const struct chat_message *m);
/* Plugins or the config were reloaded: adapters that publish the command
 * list (Discord's slash commands) refresh it. */
void platform_commands_changed(void);
#endif
