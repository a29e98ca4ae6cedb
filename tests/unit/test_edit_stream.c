/* test_edit_stream.c - a streamed reply is one message, posted once and
 * edited no faster than the throttle, ending in the final text; when the
 * post or the last edit fails, the reply still arrives as a plain post. The
 * "platform" here answers each call on the next loop turn, as a REST
 * client answers later. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "core/edit_stream.h"
#include "tap.h"

#define EDIT_MS 30
#define IDLE_MS 150
#define MAX_CALLS 256

struct call {
    int edit;                      /* 0: a post, 1: an edit */
    char reply_to[32], thread[32], message_id[32], text[256];
    uint64_t at;
    platform_sent_fn *cb;          /* a post's */
    void *data;
    struct edit_stream *stream;    /* an edit's */
    int answered;
};

static uv_loop_t *loop;
static struct call calls[MAX_CALLS];
static int ncalls, answered_upto, posts_made;
static int fail_posts, fail_edits; /* how many of the next calls fail */
static uv_timer_t answer_timer;

/* What the reply's sender hears at the end. */
static int done_count;
static char done_id[32], done_err[128];

static void copy(char *out, size_t len, const char *s, size_t n) {
    if (!s) s = "", n = 0;
    if (n >= len) n = len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Answer every call made so far, in order. */
static void answer_calls(uv_timer_t *t) {
    (void)t;
    while (answered_upto < ncalls) {
        struct call *c = &calls[answered_upto++];
        c->answered = 1;
        if (c->edit) {
            int fail = fail_edits > 0 ? (fail_edits--, 1) : 0;
            edit_stream_edited(c->stream, fail ? "HTTP 500" : NULL);
        } else {
            int fail = fail_posts > 0 ? (fail_posts--, 1) : 0;
            char id[32];
            snprintf(id, sizeof(id), "m%d", ++posts_made);
            if (c->cb) c->cb(fail ? NULL : id, fail ? "HTTP 500" : NULL, c->data);
        }
    }
}

static void answer_soon(void) {
    uv_timer_start(&answer_timer, answer_calls, 0, 0);
}

/* Ten bytes make a message here, so overflow is easy to reach. */
static size_t test_fits(const char *text, size_t len) {
    (void)text;
    return len < 10 ? len : 10;
}

static int test_post(void *ctx, const char *channel, const char *reply_to, const char *thread, const char *text,
                     platform_sent_fn *cb, void *data) {
    (void)ctx;
    (void)channel;
    if (ncalls == MAX_CALLS) return -1;
    struct call *c = &calls[ncalls++];
    memset(c, 0, sizeof(*c));
    copy(c->reply_to, sizeof(c->reply_to), reply_to, reply_to ? strlen(reply_to) : 0);
    copy(c->thread, sizeof(c->thread), thread, thread ? strlen(thread) : 0);
    copy(c->text, sizeof(c->text), text, strlen(text));
    c->at = uv_now(loop);
    c->cb = cb;
    c->data = data;
    answer_soon();
    return 0;
}

static int test_edit(void *ctx, const char *channel, const char *message_id, const char *text, size_t len,
                     struct edit_stream *stream) {
    (void)ctx;
    (void)channel;
    if (ncalls == MAX_CALLS) return -1;
    struct call *c = &calls[ncalls++];
    memset(c, 0, sizeof(*c));
    c->edit = 1;
    copy(c->message_id, sizeof(c->message_id), message_id, strlen(message_id));
    copy(c->text, sizeof(c->text), text, len);
    c->at = uv_now(loop);
    c->stream = stream;
    answer_soon();
    return 0;
}

static const struct edit_stream_ops ops = {
    .platform = "Test", .fits = test_fits, .post = test_post, .edit = test_edit,
};

static void on_done(const char *id, const char *err, void *data) {
    (void)data;
    done_count++;
    copy(done_id, sizeof(done_id), id, id ? strlen(id) : 0);
    copy(done_err, sizeof(done_err), err, err ? strlen(err) : 0);
}

static void reset(void) {
    ncalls = answered_upto = posts_made = fail_posts = fail_edits = done_count = 0;
    done_id[0] = done_err[0] = '\0';
}

static void stop_loop(uv_timer_t *t) {
    uv_stop(t->loop);
}

/* Let the loop run for MS milliseconds. */
static void run_for(uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, stop_loop, ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* The loop stops when the reply's sender has heard (or after 2 s). */
static void run_until_done(void) {
    for (int i = 0; i < 200 && done_count == 0; i++) run_for(10);
}

static int count(int edit) {
    int n = 0;
    for (int i = 0; i < ncalls; i++) n += calls[i].edit == edit;
    return n;
}

int main(void) {
    loop = uv_default_loop();
    uv_timer_init(loop, &answer_timer);

    /* A model streams "a", "b", ... faster than the throttle. */
    reset();
    struct edit_streams *s = edit_streams_new(loop, &ops, NULL, EDIT_MS, IDLE_MS);
    ok(edit_stream_final(s, "c1", "u1", "nothing streamed", on_done, NULL) == 0,
       "a reply that was never streamed is not the streams' to send");
    const char pieces[] = "abcdefgh";
    for (int i = 0; i < 8; i++) {
        edit_stream_delta(s, "c1", "u1", NULL, pieces + i, 1);
        run_for(5);
    }
    ok(edit_stream_final(s, "c1", "u1", "abcdefgh!", on_done, NULL) == 1, "the final text goes to the stream");
    run_until_done();
    ok(count(0) == 1, "one message was posted (%d posts)", count(0));
    ok(!strcmp(calls[0].reply_to, "u1") && !strcmp(calls[0].text, "a"), "the post answers the user's message with the first piece");
    int spaced = 1;
    for (int i = 1; i < ncalls; i++)
        if (calls[i].edit && i > 1 && calls[i].at - calls[i - 1].at + 1 < EDIT_MS) spaced = 0;
    ok(spaced, "edits are at least %d ms apart", EDIT_MS);
    ok(count(1) >= 1 && !strcmp(calls[ncalls - 1].text, "abcdefgh!") && !strcmp(calls[ncalls - 1].message_id, "m1"),
       "the last edit shows the final text in the posted message");
    ok(done_count == 1 && !strcmp(done_id, "m1") && !done_err[0], "the sender hears once, with the message's id");
    ok(edit_stream_final(s, "c1", "u1", "again", on_done, NULL) == 0, "a finished stream is forgotten");

    /* The post fails: the final text goes as a plain reply. */
    reset();
    fail_posts = 1;
    edit_stream_delta(s, "c1", "u2", NULL, "hel", 3);
    run_for(5);
    ok(edit_stream_final(s, "c1", "u2", "hello", on_done, NULL) == 1, "the stream takes the final text after a failed post");
    run_until_done();
    ok(count(0) == 2 && count(1) == 0 && !strcmp(calls[1].text, "hello") && !strcmp(calls[1].reply_to, "u2"),
       "the whole final text is posted again as a reply, with no edit");
    ok(done_count == 1 && !strcmp(done_id, "m2"), "the sender hears of the plain post");

    /* The final text is longer than a message: the rest follows in the thread. */
    reset();
    edit_stream_delta(s, "c1", "u3", "t9", "0123", 4);
    run_for(5);
    edit_stream_final(s, "c1", "u3", "0123456789abcdef", on_done, NULL);
    run_until_done();
    ok(!strcmp(calls[ncalls - 2].text, "0123456789") && calls[ncalls - 2].edit,
       "the message is edited to as much as fits");
    ok(!calls[ncalls - 1].edit && !strcmp(calls[ncalls - 1].text, "abcdef") && !calls[ncalls - 1].reply_to[0]
           && !strcmp(calls[ncalls - 1].thread, "t9"),
       "the rest is a new post in the same thread, answering nothing");
    ok(!strcmp(calls[0].thread, "t9"), "the first post went to the thread too");
    ok(done_count == 1 && !strcmp(done_id, "m2"), "the sender hears the last message's id");

    /* The final edit fails: the final text is posted plainly. */
    reset();
    edit_stream_delta(s, "c1", "u4", NULL, "draft", 5);
    run_for(5);
    fail_edits = 1;
    edit_stream_final(s, "c1", "u4", "final", on_done, NULL);
    run_until_done();
    ok(count(0) == 2 && !strcmp(calls[ncalls - 1].text, "final") && !calls[ncalls - 1].edit,
       "after a failed final edit the final text is posted as a new reply");
    ok(done_count == 1 && !strcmp(done_id, "m2"), "the sender hears once");

    /* Blank pieces show nothing; a stream never finished is forgotten. */
    reset();
    edit_stream_delta(s, "c1", "u5", NULL, "  \n", 3);
    run_for(20);
    ok(ncalls == 0, "pieces of only spaces are not posted");
    edit_stream_delta(s, "c1", "u6", NULL, "hi", 2);
    run_for(IDLE_MS + EDIT_MS + 100);
    ok(edit_stream_final(s, "c1", "u5", "late", on_done, NULL) == 0 && edit_stream_final(s, "c1", "u6", "late", on_done, NULL) == 0,
       "streams idle past %d ms are forgotten", IDLE_MS);

    /* Streams still open when the adapter stops are freed with it. */
    reset();
    edit_stream_delta(s, "c1", "u7", NULL, "open", 4);
    edit_streams_free(s);
    ok(1, "freeing the streams with one open leaves nothing behind (LeakSanitizer checks)");
    uv_timer_stop(&answer_timer);
    uv_close((uv_handle_t *)&answer_timer, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return done_testing();
}
