/* test_webchat_frame.c - unit tests for platforms/webchat/webchat_frame.c:
 * Ann's browser sends frames, good and bad, whole and in fragments; each
 * is accepted with its fields or refused with the protocol's error code
 * and the id to answer. */
#include <string.h>
#include "platforms/webchat/webchat_frame.h"
#include "tap.h"

/* Decode TEXT and return its type; F keeps the result (clear it after). */
static int decode(const char *text, struct webchat_frame *f) {
    webchat_frame_decode(text, strlen(text), 4000, f);
    return f->type;
}

/* TEXT is refused with CODE, answering REPLY_TO (NULL: none). */
static void refused(const char *what, const char *text, const char *code, const char *reply_to) {
    struct webchat_frame f;
    is_int(decode(text, &f), WEBCHAT_FRAME_BAD, "%s: refused", what);
    is_str(f.error, code, "%s: error %s", what, code);
    ok(reply_to ? f.reply_to && !strcmp(f.reply_to, reply_to) : f.reply_to == NULL, "%s: reply_to %s", what,
       reply_to ? reply_to : "null");
    webchat_frame_clear(&f);
}

int main(void) {
    struct webchat_frame f;
    is_int(decode("{\"type\":\"message\",\"id\":\"m1\",\"channel\":\"lobby\",\"user\":{\"id\":\"u1\",\"name\":\"Ann\"},"
                  "\"text\":\"hello\",\"stream\":true}", &f), WEBCHAT_FRAME_MESSAGE, "a message is accepted");
    is_str(f.id, "m1", "its id");
    is_str(f.channel, "lobby", "its channel");
    is_str(f.text, "hello", "its text");
    is_str(f.user_id, "u1", "its user id");
    is_str(f.user_name, "Ann", "its user name");
    is_int(f.stream, 1, "it asks for a stream");
    webchat_frame_clear(&f);

    is_int(decode("{\"type\":\"join\",\"channel\":\"lobby\"}", &f), WEBCHAT_FRAME_JOIN, "a join is accepted");
    is_str(f.channel, "lobby", "the channel joined");
    ok(f.user_id == NULL, "a join without a user has none");
    webchat_frame_clear(&f);

    is_int(decode("{\"type\":\"hello\",\"token\":\"u1.ab\"}", &f), WEBCHAT_FRAME_HELLO, "a hello is accepted");
    is_str(f.token, "u1.ab", "with its token");
    webchat_frame_clear(&f);
    is_int(decode("{\"type\":\"hello\",\"token\":null}", &f), WEBCHAT_FRAME_HELLO, "a first hello has no token");
    ok(f.token == NULL, "and none is kept");
    webchat_frame_clear(&f);
    is_int(decode("{\"type\":\"hello\",\"token\":42}", &f), WEBCHAT_FRAME_BAD, "a token that is not a string is refused");
    webchat_frame_clear(&f);

    refused("bad bytes", "{\"type\":\"message\",\"text\":\"\xC3\"}", "bad_utf8", NULL);
    refused("a lone surrogate escape", "{\"type\":\"message\",\"text\":\"\\ud800\"}", "bad_utf8", NULL);
    refused("not JSON", "hello?", "bad_json", NULL);
    refused("not an object", "[1]", "bad_json", NULL);
    refused("a duplicate key", "{\"type\":\"join\",\"type\":\"join\",\"channel\":\"c\"}", "bad_json", NULL);
    refused("a duplicate key in user", "{\"type\":\"message\",\"id\":\"m9\",\"channel\":\"c\",\"user\":{\"id\":\"u\",\"id\":\"v\"},\"text\":\"x\"}",
            "bad_json", NULL);
    refused("a duplicate key deep in a member nobody reads", "{\"type\":\"join\",\"channel\":\"c\",\"x\":[{\"a\":1,\"a\":2}]}", "bad_json", NULL);
    is_int(decode("{\"type\":\"message\",\"id\":\"m8\",\"channel\":\"c:d\",\"user\":{\"id\":\"u\"},\"text\":\"a: \\\"b:c\\\" \\\\\"}", &f),
           WEBCHAT_FRAME_MESSAGE, "colons and quotes inside strings are not members");
    is_str(f.text, "a: \"b:c\" \\", "and the text is as sent");
    webchat_frame_clear(&f);
    refused("no type", "{\"id\":\"x1\"}", "missing_field", "x1");
    refused("an unknown type", "{\"type\":\"dance\",\"id\":\"d1\"}", "unsupported", "d1");
    refused("a join without a channel", "{\"type\":\"join\",\"id\":\"j1\"}", "missing_field", "j1");
    refused("a message without text", "{\"type\":\"message\",\"id\":\"m2\",\"channel\":\"c\",\"user\":{\"id\":\"u\"}}",
            "missing_field", "m2");
    refused("a blank text", "{\"type\":\"message\",\"id\":\"m3\",\"channel\":\"c\",\"user\":{\"id\":\"u\"},\"text\":\" \\n\"}",
            "missing_field", "m3");
    refused("an empty id is no id", "{\"type\":\"message\",\"id\":\"\",\"channel\":\"c\",\"user\":{\"id\":\"u\"},\"text\":\"x\"}",
            "missing_field", NULL);

    char big[4200 + 100];
    int n = snprintf(big, sizeof(big), "{\"type\":\"message\",\"id\":\"long1\",\"channel\":\"c\",\"user\":{\"id\":\"u\"},\"text\":\"");
    memset(big + n, 'a', 4001);
    strcpy(big + n + 4001, "\"}");
    refused("4,001 characters", big, "too_long", "long1");

    /* Fragments: reassembled in order; past the cap, only marked. */
    struct webchat_rx rx = { 0 };
    webchat_rx_add(&rx, "{\"type\":", 8, 64);
    webchat_rx_add(&rx, "\"join\",\"channel\":\"c\"}", 21, 64);
    is_int(rx.overflow, 0, "two fragments within the cap");
    is_int(decode(rx.buf, &f), WEBCHAT_FRAME_JOIN, "reassemble into a join");
    webchat_frame_clear(&f);
    webchat_rx_reset(&rx);
    ok(rx.buf == NULL && rx.len == 0, "reset empties the frame");
    webchat_rx_add(&rx, big, 60, 64);
    webchat_rx_add(&rx, big, 5, 64);
    is_int(rx.overflow, 1, "65 bytes overflow a 64-byte cap");
    is_int((long long)rx.len, 60, "and the overflowing fragment is not kept");
    webchat_rx_reset(&rx);
    is_int(rx.overflow, 0, "the next frame starts afresh");
    return done_testing();
}
