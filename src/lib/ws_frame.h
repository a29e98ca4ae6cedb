/* ws_frame.h - the RFC 6455 frame format as a websocket client sees it.
 *
 * libwebsockets 4.1 reads a client connection's frames one byte at a time
 * (a function call and a state switch per byte: ~58 instructions each),
 * which made it the largest single cost of a Slack, Mattermost or OneBot
 * message. This decoder takes the bytes a read returned as one block: a
 * frame's header is read once and its payload copied with memcpy, or not
 * copied at all when a whole message sits in the block. The encoder writes
 * the masked frames a client sends. No I/O here: io/ws_client.c does it. */
#ifndef CHORUS_WS_FRAME_H
#define CHORUS_WS_FRAME_H
#include <stddef.h>
#include <stdint.h>

enum {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA
};

enum ws_event_kind {
    WS_EVENT_MESSAGE,    /* a whole text or binary message */
    WS_EVENT_OVERSIZE,   /* a message over the cap went by unread (len: its size) */
    WS_EVENT_PING,
    WS_EVENT_PONG,
    WS_EVENT_CLOSE       /* code 1005 when the peer gave none */
};

struct ws_event {
    enum ws_event_kind kind;
    int binary;
    const char *data;    /* valid during the callback only */
    size_t len;
    int close_code;
};

/* Called for each event; a non-zero return stops the feed (the owner is
 * going away). */
typedef int (*ws_event_fn)(const struct ws_event *ev, void *arg);

struct ws_decoder {
    size_t max_message;          /* larger messages are skipped, not kept */
    unsigned char hdr[14];
    size_t hdr_len;
    int opcode, fin;
    uint64_t left;               /* payload bytes of this frame still to come */
    int in_message;              /* a fragmented message is open */
    int msg_binary;
    int msg_oversize;
    char *msg;                   /* the message being put together */
    size_t msg_len, msg_cap, msg_total;
    unsigned char ctl[125];      /* a control frame's payload */
    size_t ctl_len;
    int fail_code;               /* after a -1 from the feed: the close code to fail with */
};

void ws_decoder_init(struct ws_decoder *d, size_t max_message);
void ws_decoder_free(struct ws_decoder *d);
/* Read BUF and emit the events it completes. Returns 0, a non-zero return
 * of FN, or -1 when the peer broke the protocol (*WHY says how; the caller
 * closes with d->fail_code: 1007 for text that is not UTF-8, else 1002). */
int ws_decoder_feed(struct ws_decoder *d, const unsigned char *buf, size_t len, ws_event_fn fn, void *arg, const char **why);

/* Write the header of a masked frame (FIN set) at OUT, at most 14 bytes;
 * returns its length. */
size_t ws_frame_header(unsigned char *out, int opcode, size_t len, const unsigned char mask[4]);
/* XOR N bytes at P with MASK, as the frame's payload starts at P. */
void ws_frame_mask(unsigned char *p, size_t n, const unsigned char mask[4]);
#endif
