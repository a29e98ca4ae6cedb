/* plugin_watch.c - inotify (through libuv) on each plugin folder, with a
 * short debounce, because editors write a file in several steps. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "lib/log.h"
#include "skills/plugin_watch.h"
#include "core/runtime.h"
#include "skills/scheduler.h"
#include "core/server.h"
#include "skills/skills.h"
#include "lib/xalloc.h"

#define DEBOUNCE_MS 150

struct watch {
    uv_fs_event_t event;
    uv_timer_t debounce;
    char *name;
    int closing;
    struct watch *next;
};

static struct watch *watches;

/* The debounce ran out: reload the plugin into the current host. */
static void on_debounce(uv_timer_t *t) {
    struct watch *w = t->data;
    char err[2048];
    if (server.stopping || !server.rt) return;
    log_info("skills: files of plugin %s changed; reloading", w->name);
    if (skills_reload(server.rt->skills, w->name, err, sizeof(err)) == 0) scheduler_sync(server.rt->skills);
}

static void on_change(uv_fs_event_t *e, const char *file, int events, int status) {
    struct watch *w = e->data;
    (void)events;
    if (status < 0 || (file && file[0] == '.')) return;   /* editor swap files */
    uv_timer_start(&w->debounce, on_debounce, DEBOUNCE_MS, 0);
}

static void on_closed(uv_handle_t *h) {
    struct watch *w = h->data;
    if (++w->closing == 2) {
        free(w->name);
        free(w);
    }
}

void plugin_watch_stop(void) {
    while (watches) {
        struct watch *w = watches;
        watches = w->next;
        uv_fs_event_stop(&w->event);
        uv_timer_stop(&w->debounce);
        uv_close((uv_handle_t *)&w->event, on_closed);
        uv_close((uv_handle_t *)&w->debounce, on_closed);
    }
}

void plugin_watch_sync(struct skill_host *h, int enabled) {
    plugin_watch_stop();
    if (!enabled) return;
    for (int i = 0; i < h->nplugins; i++) {
        struct watch *w = xcalloc(1, sizeof(*w));
        w->name = xstrdup(h->plugins[i]->name);
        uv_fs_event_init(server.loop, &w->event);
        uv_timer_init(server.loop, &w->debounce);
        w->event.data = w;
        w->debounce.data = w;
        if (uv_fs_event_start(&w->event, on_change, h->plugins[i]->dir, 0) < 0) {
            log_warn("skills: cannot watch %s", h->plugins[i]->dir);
            uv_close((uv_handle_t *)&w->event, on_closed);
            uv_close((uv_handle_t *)&w->debounce, on_closed);
            continue;
        }
        w->next = watches;
        watches = w;
    }
    log_info("skills: watching %d plugin folders for changes", h->nplugins);
}
