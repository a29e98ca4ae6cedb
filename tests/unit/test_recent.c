/* test_recent.c - unit tests for src/lib/recent.c.
 *
 * The story: a gateway remembers which platform message each of its
 * replies became, but only for its last few replies. It sends four into a
 * memory of three, learns one id again, and forgets the oldest. */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "lib/recent.h"
#include "lib/xalloc.h"

static int freed;

static void count_free(void *value) {
    freed++;
    free(value);
}

int main(void) {
    struct recent *r = recent_new(3, count_free);
    ok(recent_get(r, "bus:e1:0") == NULL, "nothing is remembered at first");

    recent_set(r, "bus:e1:0", xstrdup("111"));
    recent_set(r, "bus:e2:0", xstrdup("222"));
    recent_set(r, "bus:e3:0", xstrdup("333"));
    is_str(recent_get(r, "bus:e1:0"), "111", "three replies fit");
    is_str(recent_get(r, "bus:e3:0"), "333", "  the last one too");

    recent_set(r, "bus:e2:0", xstrdup("222b"));
    is_str(recent_get(r, "bus:e2:0"), "222b", "an id learnt again replaces the old one");
    is_int(freed, 1, "  and the old value is freed");

    recent_set(r, "bus:e4:0", xstrdup("444"));
    ok(recent_get(r, "bus:e1:0") == NULL, "a fourth reply pushes out the oldest");
    is_int(freed, 2, "  whose value is freed");
    is_str(recent_get(r, "bus:e2:0"), "222b", "  the one learnt again keeps its place");
    is_str(recent_get(r, "bus:e4:0"), "444", "  the newest is there");

    recent_set(r, "bus:e5:0", xstrdup("555"));
    ok(recent_get(r, "bus:e2:0") == NULL, "then the next oldest goes");
    is_str(recent_get(r, "bus:e3:0"), "333", "  and the rest stay");

    recent_free(r);
    is_int(freed, 6, "freeing the memory frees what it held");
    recent_free(NULL);

    struct recent *seen = recent_new(2, NULL);
    recent_set(seen, "msg-1", seen);
    recent_set(seen, "msg-2", seen);
    recent_set(seen, "msg-3", seen);
    ok(!recent_get(seen, "msg-1") && recent_get(seen, "msg-3") == seen, "without a free function, values are the caller's");
    recent_free(seen);
    return done_testing();
}
