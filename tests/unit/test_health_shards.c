/* test_health_shards.c - what an adapter reports of its shards is what
 * status reads back: replaced per platform, forgotten with n 0. */
#include <stdio.h>
#include <string.h>
#include "core/health.h"
#include "tap.h"

struct seen {
    char text[256];
};

/* Render each report as "platform:ids/total;". */
static void render(const char *platform, const int *ids, int n, int total, void *arg) {
    struct seen *s = arg;
    size_t len = strlen(s->text);
    len += (size_t)snprintf(s->text + len, sizeof(s->text) - len, "%s:", platform);
    for (int i = 0; i < n && len < sizeof(s->text); i++)
        len += (size_t)snprintf(s->text + len, sizeof(s->text) - len, "%s%d", i ? "," : "", ids[i]);
    if (len < sizeof(s->text)) snprintf(s->text + len, sizeof(s->text) - len, "/%d;", total);
}

static const char *shards_text(struct seen *s) {
    s->text[0] = '\0';
    health_shards_each(render, s);
    return s->text;
}

int main(void) {
    struct seen s;
    is_str(shards_text(&s), "", "nothing reported: nothing shown");
    int a[] = { 0, 2 }, b[] = { 1 };
    health_set_shards("discord", a, 2, 4);
    is_str(shards_text(&s), "discord:0,2/4;", "a gateway's shards as reported");
    health_set_shards("other", b, 1, 2);
    health_set_shards("discord", b, 1, 4);
    is_str(shards_text(&s), "discord:1/4;other:1/2;", "a new report replaces the platform's last one");
    health_set_shards("discord", NULL, 0, 4);
    is_str(shards_text(&s), "other:1/2;", "n 0 forgets a platform's shards");
    health_set_shards("discord", a, 2, 4);
    is_str(shards_text(&s), "discord:0,2/4;other:1/2;", "and it may report again");
    health_set_shards("other", NULL, 0, 0);
    health_set_shards("discord", NULL, 0, 0);
    return done_testing();
}
