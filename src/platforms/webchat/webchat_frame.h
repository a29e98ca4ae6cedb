/* webchat_frame.h - reading what a browser sends on /ws: reassembling a
 * frame from its websocket fragments, then checking it against the
 * protocol of docs/webchat.md. This is the part of the web chat that reads
 * the outside world, kept apart from the sockets so it can be fuzzed
 * (fuzz/fuzz_webchat_frame.c). */
#ifndef CHORUS_WEBCHAT_FRAME_H
#define CHORUS_WEBCHAT_FRAME_H
#include <stddef.h>
#include <jansson.h>

#define WEBCHAT_MAX_CHANNEL_BYTES 256
#define WEBCHAT_MAX_ID_BYTES 256
#define WEBCHAT_MAX_TOKEN_BYTES 256

/* A frame being reassembled; zero-initialized is empty. */
struct webchat_rx {
    char *buf;                 /* NUL-terminated when not NULL */
    size_t len;
    int overflow;              /* the frame went past max bytes: refuse it */
};

/* Append one fragment, or mark the frame overflowed past MAX bytes. */
void webchat_rx_add(struct webchat_rx *rx, const char *data, size_t len, size_t max);
/* Forget the frame (after its last fragment was handled). */
void webchat_rx_reset(struct webchat_rx *rx);

enum webchat_frame_type {
    WEBCHAT_FRAME_BAD = 0,     /* refused: send error with reply_to */
    WEBCHAT_FRAME_MESSAGE,     /* a chat message, every field checked */
    WEBCHAT_FRAME_JOIN,        /* a subscription to channel */
    WEBCHAT_FRAME_HELLO,       /* the browser's identity token, if it has one */
    WEBCHAT_FRAME_BUTTON       /* a press of a card's button */
};

/* One decoded frame. Strings are borrowed from root and live as long as it. */
struct webchat_frame {
    int type;                  /* enum webchat_frame_type */
    const char *error;         /* BAD: bad_json, missing_field, too_long, bad_utf8, unsupported */
    const char *reply_to;      /* BAD: the frame's id for the error, or NULL */
    json_t *root;              /* the parsed frame (owned), or NULL */
    const char *id;            /* MESSAGE: 1..256 bytes */
    const char *channel;       /* MESSAGE, JOIN: 1..256 bytes */
    const char *text;          /* MESSAGE: not blank, at most MAX_CP code points */
    const char *user_id;       /* MESSAGE: 1..256 bytes; JOIN: as sent, or NULL */
    const char *user_name;     /* as sent, or NULL */
    int stream;                /* MESSAGE: "stream": true */
    const char *token;         /* HELLO: the token as sent (at most 256 bytes), or NULL */
    const char *button;        /* BUTTON: the button's id, 1..100 bytes */
    const char *message;       /* BUTTON: the id of the message it is on ("w12"), or NULL */
};

/* Decode the whole frame DATA (LEN bytes) into F. Texts longer than MAX_CP
 * code points are refused as too_long. Free F with webchat_frame_clear(). */
void webchat_frame_decode(const char *data, size_t len, size_t max_cp, struct webchat_frame *f);
void webchat_frame_clear(struct webchat_frame *f);
#endif
