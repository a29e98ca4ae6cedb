/* fuzz_webchat_frame.c - what a browser sends on /ws
 * (platforms/webchat/webchat_frame.c): fragments reassembled into a frame,
 * the frame decoded. An accepted frame has every field the adapter uses,
 * within its bounds; a refused one names a protocol error code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/utf8.h"
#include "platforms/webchat/webchat_frame.h"
#include "fuzz_input.h"

#define MAX_FRAME (64 * 1024)
#define MAX_CP 4000

static const char *const codes[] = { "bad_json", "missing_field", "too_long", "bad_utf8", "unsupported" };

static void check(const struct webchat_frame *f) {
    if (f->type == WEBCHAT_FRAME_BAD) {
        int known = 0;
        for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) known |= f->error && !strcmp(f->error, codes[i]);
        if (!known) abort();
        return;
    }
    if (f->type == WEBCHAT_FRAME_HELLO) {   /* a token is optional, and bounded */
        if (!f->root || (f->token && (!*f->token || strlen(f->token) > WEBCHAT_MAX_TOKEN_BYTES))) abort();
        return;
    }
    if (!f->root || !f->channel || !*f->channel || strlen(f->channel) > WEBCHAT_MAX_CHANNEL_BYTES) abort();
    if (!utf8_valid(f->channel, strlen(f->channel))) abort();
    if (f->type == WEBCHAT_FRAME_JOIN) return;
    if (f->type != WEBCHAT_FRAME_MESSAGE) abort();
    if (!f->id || !*f->id || strlen(f->id) > WEBCHAT_MAX_ID_BYTES) abort();
    if (!f->user_id || !*f->user_id || strlen(f->user_id) > WEBCHAT_MAX_ID_BYTES) abort();
    if (!f->text || utf8_codepoints(f->text, strlen(f->text)) > MAX_CP) abort();
    if (strspn(f->text, " \t\r\n") == strlen(f->text)) abort();      /* not blank */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    unsigned nfrag = 1 + fuzz_byte(&in) % 8;
    size_t max = fuzz_byte(&in) & 1 ? MAX_FRAME : 64;   /* a small cap reaches overflow */
    size_t len;
    const char *buf = (const char *)fuzz_rest(&in, &len);

    struct webchat_rx rx = { 0 };
    size_t step = len / nfrag + 1;
    for (size_t i = 0; i < len; i += step) webchat_rx_add(&rx, buf + i, len - i < step ? len - i : step, max);
    if (!rx.overflow) {
        if (rx.len != len || (len && memcmp(rx.buf, buf, len) != 0)) abort();
        struct webchat_frame f;
        webchat_frame_decode(rx.buf ? rx.buf : "", rx.len, MAX_CP, &f);
        check(&f);
        webchat_frame_clear(&f);
    } else if (len <= max) {
        abort();
    }
    webchat_rx_reset(&rx);
    if (rx.buf || rx.len || rx.overflow) abort();

    /* The same bytes as one frame, straight from the input. */
    struct webchat_frame f;
    webchat_frame_decode(buf, len, MAX_CP, &f);
    check(&f);
    webchat_frame_clear(&f);
    return 0;
}
