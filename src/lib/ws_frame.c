/* ws_frame.c - websocket frames for a client (ws_frame.h). */
#include <stdlib.h>
#include <string.h>
#include "lib/utf8.h"
#include "lib/ws_frame.h"
#include "lib/xalloc.h"

#define KEEP_BUFFER (64u << 10)   /* a message buffer larger than this is freed after use */

void ws_decoder_init(struct ws_decoder *d, size_t max_message) {
    memset(d, 0, sizeof(*d));
    d->max_message = max_message ? max_message : (16u << 20);
}

void ws_decoder_free(struct ws_decoder *d) {
    free(d->msg);
    d->msg = NULL;
    d->msg_cap = d->msg_len = 0;
}

/* How long the header in d->hdr is, judging from the bytes read so far. */
static size_t header_size(const struct ws_decoder *d) {
    if (d->hdr_len < 2) return 2;
    size_t n = 2;
    unsigned l7 = d->hdr[1] & 0x7f;
    if (l7 == 126) n += 2;
    else if (l7 == 127) n += 8;
    if (d->hdr[1] & 0x80) n += 4;
    return n;
}

/* Check the whole header and set up the frame it starts. 0, or -1. */
static int header_parse(struct ws_decoder *d, const char **why) {
    d->fin = (d->hdr[0] & 0x80) != 0;
    d->opcode = d->hdr[0] & 0x0f;
    if (d->hdr[0] & 0x70) {
        *why = "a frame with reserved bits set (no extension was agreed)";
        return -1;
    }
    if (d->hdr[1] & 0x80) {
        *why = "the server masked a frame";
        return -1;
    }
    uint64_t len = d->hdr[1] & 0x7f;
    if (len == 126) {
        len = ((uint64_t)d->hdr[2] << 8) | d->hdr[3];
    } else if (len == 127) {
        len = 0;
        for (int i = 2; i < 10; i++) len = (len << 8) | d->hdr[i];
        if (len >> 63) {
            *why = "a frame length with its top bit set";
            return -1;
        }
    }
    d->left = len;
    switch (d->opcode) {
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!d->fin || len > 125) {
            *why = "a fragmented or oversized control frame";
            return -1;
        }
        d->ctl_len = 0;
        return 0;
    case WS_OP_CONTINUATION:
        if (!d->in_message) {
            *why = "a continuation frame with no message to continue";
            return -1;
        }
        return 0;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (d->in_message) {
            *why = "a new message before the last one ended";
            return -1;
        }
        d->in_message = 1;
        d->msg_binary = d->opcode == WS_OP_BINARY;
        d->msg_oversize = 0;
        d->msg_len = 0;
        d->msg_total = 0;
        return 0;
    default:
        *why = "a frame with an unknown opcode";
        return -1;
    }
}

/* Add N payload bytes to the message being put together. */
static void message_append(struct ws_decoder *d, const unsigned char *p, size_t n) {
    d->msg_total += n;
    if (d->msg_oversize) return;
    if (d->msg_total > d->max_message) {
        d->msg_oversize = 1;
        return;
    }
    if (d->msg_len + n + 1 > d->msg_cap) {
        size_t cap = d->msg_cap ? d->msg_cap : 4096;
        while (cap < d->msg_len + n + 1) cap *= 2;
        d->msg = xrealloc(d->msg, cap);
        d->msg_cap = cap;
    }
    memcpy(d->msg + d->msg_len, p, n);
    d->msg_len += n;
}

/* May a peer send CODE in a close frame? RFC 6455 7.4: 1004-1006 and 1015
 * are never sent, 1016-2999 are unassigned, 3000-4999 belong to
 * libraries and applications (Discord's 4004); 1012-1014 are in IANA's
 * registry since. */
static int close_code_ok(int code) {
    if (code >= 3000 && code <= 4999) return 1;
    if (code < 1000 || code > 1014) return 0;
    return code != 1004 && code != 1005 && code != 1006;
}

/* A text message must be UTF-8 (RFC 6455 8.1): else the connection fails
 * with 1007. 0, or -1. */
static int text_check(struct ws_decoder *d, const char *p, size_t n, const char **why) {
    if (utf8_valid(p, n)) return 0;
    *why = "a text message that is not UTF-8";
    d->fail_code = 1007;
    return -1;
}

/* The frame's payload is all here: emit what it completes. */
static int frame_done(struct ws_decoder *d, ws_event_fn fn, void *arg, const char **why) {
    struct ws_event ev;
    memset(&ev, 0, sizeof(ev));
    d->hdr_len = 0;
    if (d->opcode & 0x8) {
        ev.data = (const char *)d->ctl;
        ev.len = d->ctl_len;
        if (d->opcode == WS_OP_PING) {
            ev.kind = WS_EVENT_PING;
        } else if (d->opcode == WS_OP_PONG) {
            ev.kind = WS_EVENT_PONG;
        } else {
            if (d->ctl_len == 1) {
                *why = "a close frame with a one-byte payload";
                return -1;
            }
            ev.kind = WS_EVENT_CLOSE;
            ev.close_code = d->ctl_len >= 2 ? (d->ctl[0] << 8) | d->ctl[1] : 1005;
            ev.data = d->ctl_len > 2 ? (const char *)d->ctl + 2 : "";
            ev.len = d->ctl_len > 2 ? d->ctl_len - 2 : 0;
            if (d->ctl_len >= 2 && !close_code_ok(ev.close_code)) {
                *why = "a close frame with a code no peer may send";
                return -1;
            }
            if (text_check(d, ev.data, ev.len, why) < 0) {
                *why = "a close reason that is not UTF-8";
                return -1;
            }
        }
        return fn(&ev, arg);
    }
    if (!d->fin) return 0;
    d->in_message = 0;
    ev.binary = d->msg_binary;
    if (d->msg_oversize) {
        ev.kind = WS_EVENT_OVERSIZE;
        ev.len = d->msg_total;
    } else {
        ev.kind = WS_EVENT_MESSAGE;
        if (!d->msg_binary && text_check(d, d->msg, d->msg_len, why) < 0) return -1;
        if (!d->msg) message_append(d, (const unsigned char *)"", 0);   /* an empty message still has a buffer */
        d->msg[d->msg_len] = '\0';
        ev.data = d->msg;
        ev.len = d->msg_len;
    }
    int rc = fn(&ev, arg);
    d->msg_len = 0;
    if (d->msg_cap > KEEP_BUFFER) ws_decoder_free(d);
    return rc;
}

int ws_decoder_feed(struct ws_decoder *d, const unsigned char *buf, size_t len, ws_event_fn fn, void *arg, const char **why) {
    const unsigned char *p = buf, *end = buf + len;
    *why = NULL;
    d->fail_code = 1002;
    while (p < end) {
        if (d->hdr_len == 0 || d->hdr_len < header_size(d)) {
            /* Read the header, which may come split across reads. */
            for (;;) {
                size_t need = header_size(d);
                if (d->hdr_len >= need) break;
                if (p == end) return 0;
                size_t n = need - d->hdr_len;
                if (n > (size_t)(end - p)) n = (size_t)(end - p);
                memcpy(d->hdr + d->hdr_len, p, n);
                d->hdr_len += n;
                p += n;
            }
            if (header_parse(d, why) < 0) return -1;
            /* A whole message in one frame, all in this block: hand it
             * out where it lies, with no copy. */
            if (d->opcode != WS_OP_CONTINUATION && !(d->opcode & 0x8) && d->fin && d->left <= (uint64_t)(end - p) &&
                d->left <= d->max_message) {
                struct ws_event ev;
                memset(&ev, 0, sizeof(ev));
                ev.kind = WS_EVENT_MESSAGE;
                ev.binary = d->opcode == WS_OP_BINARY;
                ev.data = (const char *)p;
                ev.len = (size_t)d->left;
                if (!ev.binary && text_check(d, ev.data, ev.len, why) < 0) return -1;
                p += d->left;
                d->left = 0;
                d->hdr_len = 0;
                d->in_message = 0;
                int rc = fn(&ev, arg);
                if (rc) return rc;
                continue;
            }
            if (d->left == 0) {
                int rc = frame_done(d, fn, arg, why);
                if (rc) return rc;
                continue;
            }
        }
        size_t n = (size_t)(end - p);
        if ((uint64_t)n > d->left) n = (size_t)d->left;
        if (d->opcode & 0x8) {
            memcpy(d->ctl + d->ctl_len, p, n);
            d->ctl_len += n;
        } else {
            message_append(d, p, n);
        }
        p += n;
        d->left -= n;
        if (d->left == 0) {
            int rc = frame_done(d, fn, arg, why);
            if (rc) return rc;
        }
    }
    return 0;
}

size_t ws_frame_header(unsigned char *out, int opcode, size_t len, const unsigned char mask[4]) {
    size_t n = 0;
    out[n++] = (unsigned char)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[n++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        out[n++] = 0x80 | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) out[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    memcpy(out + n, mask, 4);
    return n + 4;
}

void ws_frame_mask(unsigned char *p, size_t n, const unsigned char mask[4]) {
    uint64_t m8;
    unsigned char m[8];
    memcpy(m, mask, 4);
    memcpy(m + 4, mask, 4);
    memcpy(&m8, m, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= m8;
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++) p[i] ^= mask[i & 3];
}
