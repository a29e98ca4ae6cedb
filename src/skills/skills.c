/* skills.c - find, load and reload plugins; own the dispatch table. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "conf/config.h"
#include "core/commands.h"
#include "skills/dispatch.h"
#include "lib/log.h"
#include "core/platform.h"
#include "skills/plugin.h"
#include "core/runtime.h"
#include "core/server.h"
#include "skills/skills.h"
#include "skills/task.h"
#include "lib/xalloc.h"

/* The plugin's table from `plugin "name" { ... }`, or NULL. */
static json_t *plugin_config(const struct skill_host *h, const char *name) {
    struct config_block *b = config_find(h->rt->cfg, "plugin", name);
    return b ? b->value : NULL;
}

/* Would P's handlers clash with a name another plugin (not REPLACING)
 * already registered? Checked before anything changes. */
static int check_clashes(struct skill_host *h, struct plugin *p, struct plugin *replacing,
                         char *err, size_t errlen) {
    for (struct handler *hd = p->pending; hd; hd = hd->next) {
        if (hd->kind != HANDLER_COMMAND && hd->kind != HANDLER_TOOL && hd->kind != HANDLER_ROUTE) continue;
        struct handler *other = dispatch_find(h, hd->kind, hd->name);
        if (other && other->plugin != replacing) {
            snprintf(err, errlen, "plugin %s: \"%s\" is already registered by plugin %s",
                     p->name, hd->name, other->plugin->name);
            return -1;
        }
    }
    return 0;
}

/* Hand a loaded plugin's handlers to the dispatch table (no clashes left). */
static void activate(struct skill_host *h, struct plugin *p) {
    char err[256];
    while (p->pending) {
        struct handler *hd = p->pending;
        p->pending = hd->next;
        hd->next = NULL;
        if (dispatch_add(h, hd, err, sizeof(err)) < 0) {
            log_error("skills: %s", err);
            handler_free(hd);
        }
    }
}

/* Take P out of service; running tasks finish on their own state. */
static void retire(struct skill_host *h, struct plugin *p) {
    p->retired = 1;
    dispatch_remove_plugin(h, p);
    plugin_release(p);
}

/* Rebuild the "a,b,c" list of names for status. */
static void update_names(struct skill_host *h) {
    size_t used = 0;
    h->names[0] = '\0';
    for (int i = 0; i < h->nplugins && used < sizeof(h->names) - 1; i++)
        used += (size_t)snprintf(h->names + used, sizeof(h->names) - used, "%s%s", i ? "," : "", h->plugins[i]->name);
}

struct plugin *skills_find(struct skill_host *h, const char *name) {
    for (int i = 0; i < h->nplugins; i++)
        if (!strcmp(h->plugins[i]->name, name)) return h->plugins[i];
    return NULL;
}

/* Load plugin NAME from DIR and add it to the host. */
static int add_plugin(struct skill_host *h, const char *name, const char *dir, char *err, size_t errlen) {
    json_t *cfg = plugin_config(h, name);
    if (cfg && json_is_false(json_object_get(cfg, "enabled"))) {
        log_info("skills: plugin %s is disabled in the config", name);
        return 0;
    }
    struct plugin *p = plugin_load(h, name, dir, cfg, &h->limits, err, errlen);
    if (!p) return -1;
    if (check_clashes(h, p, NULL, err, errlen) < 0) {
        plugin_release(p);
        return -1;
    }
    activate(h, p);
    h->plugins = xrealloc(h->plugins, sizeof(*h->plugins) * (size_t)(h->nplugins + 1));
    h->plugins[h->nplugins++] = p;
    return 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every DIR/<name>/init.lua (or only ONLY's) in name order; earlier folders win. */
static int load_dir(struct skill_host *h, const char *dir, const char *only, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        log_warn("skills: cannot open plugin folder %s: %s", dir, strerror(errno));
        return 0;
    }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        char init[4096];
        struct stat st;
        if (e->d_name[0] == '.' || (only && strcmp(only, e->d_name))) continue;
        snprintf(init, sizeof(init), "%s/%s/init.lua", dir, e->d_name);
        if (stat(init, &st) == 0 && S_ISREG(st.st_mode)) names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), compare_names);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (rc == 0 && !skills_find(h, names[i])) rc = add_plugin(h, names[i], path, err, errlen);
        free(names[i]);
    }
    return rc;
}

/* Limits from `skills { ... }`, with defaults. */
static void read_limits(struct skill_host *h) {
    struct config_block *b = config_first(h->rt->cfg, "skills");
    h->limits.memory_mb = config_int(b, "memory_mb", 64);
    h->limits.slice_insns = config_int(b, "instructions", 20000000L);
    h->limits.slice_ms = config_int(b, "cpu_ms", 200);
    h->limits.deadline_ms = config_int(b, "deadline_ms", 120000);
    h->limits.message_ms = config_int(b, "message_cpu_ms", 500);
    snprintf(h->command_prefix, sizeof(h->command_prefix), "%s", config_str(b, "prefix", "!"));
}

struct skill_host *skill_host_new(struct runtime *rt, char *err, size_t errlen) {
    struct skill_host *h = xcalloc(1, sizeof(*h));
    h->rt = rt;
    read_limits(h);
    int rc = 0;
    for (char **dir = rt->cfg->plugin_dirs; rc == 0 && dir && *dir; dir++) rc = load_dir(h, *dir, NULL, err, errlen);
    if (rc == 0) {
        char shipped[4096];
        snprintf(shipped, sizeof(shipped), "%s/plugins", server.data_dir);
        rc = load_dir(h, shipped, NULL, err, errlen);
    }
    if (rc < 0) {
        skill_host_free(h);
        return NULL;
    }
    update_names(h);
    log_info("skills: loaded plugins: %s", h->names[0] ? h->names : "(none)");
    return h;
}

void skill_host_free(struct skill_host *h) {
    if (!h) return;
    for (int i = 0; i < h->nplugins; i++) retire(h, h->plugins[i]);
    free(h->plugins);
    free(h);
}

/* Replace plugin I with a fresh load from the same folder; on any
 * failure the running version stays untouched. */
static int reload_one(struct skill_host *h, int i, char *err, size_t errlen) {
    struct plugin *old = h->plugins[i];
    struct plugin *p = plugin_load(h, old->name, old->dir, plugin_config(h, old->name), &h->limits, err, errlen);
    if (!p) return -1;
    if (check_clashes(h, p, old, err, errlen) < 0) {
        plugin_release(p);
        return -1;
    }
    retire(h, old);
    activate(h, p);
    h->plugins[i] = p;
    log_info("skills: plugin %s reloaded", p->name);
    return 0;
}

/* Load plugin folders not loaded yet (only NAME's, if given), from the
 * configured folders and then the shipped ones. */
static int load_new(struct skill_host *h, const char *name, char *err, size_t errlen) {
    char shipped[4096];
    snprintf(shipped, sizeof(shipped), "%s/plugins", server.data_dir);
    for (char **dir = h->rt->cfg->plugin_dirs; dir && *dir; dir++)
        if (load_dir(h, *dir, name, err, errlen) < 0) return -1;
    return load_dir(h, shipped, name, err, errlen);
}

int skills_reload(struct skill_host *h, const char *name, char *err, size_t errlen) {
    int found = 0, failed = 0;
    size_t used = 0;
    err[0] = '\0';
    for (int i = 0; i < h->nplugins; i++) {
        if (name && strcmp(h->plugins[i]->name, name)) continue;
        found = 1;
        char one[1024];
        if (reload_one(h, i, one, sizeof(one)) < 0) {
            failed = 1;
            log_error("skills: %s; the running version stays", one);
            if (used < errlen) used += (size_t)snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", one);
        }
    }
    /* New plugin folders since the start (or a named one not loaded yet). */
    int before = h->nplugins;
    if (!name || !found) {
        char one[1024] = "";
        if (load_new(h, name, one, sizeof(one)) < 0) {
            failed = 1;
            log_error("skills: %s", one);
            if (used < errlen) used += (size_t)snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", one);
        }
    }
    if (name && !found && h->nplugins == before && !failed) {
        snprintf(err, errlen, "no plugin named \"%s\" is loaded or in a plugin folder", name);
        return -1;
    }
    for (int i = before; i < h->nplugins; i++) log_info("skills: new plugin %s loaded from %s", h->plugins[i]->name, h->plugins[i]->dir);
    update_names(h);
    platform_commands_changed();
    return failed ? -1 : 0;
}

void skills_cancel_all(struct skill_host *h) {
    for (int i = 0; i < h->nplugins; i++) {
        struct plugin *p = plugin_acquire(h->plugins[i]);
        while (p->tasks) task_cancel(p->tasks, "the daemon is shutting down");
        plugin_release(p);
    }
}

int skill_host_tasks(const struct skill_host *h) {
    int n = 0;
    for (int i = 0; h && i < h->nplugins; i++) n += h->plugins[i]->ntasks;
    return n;
}

const char *skill_host_plugins(const struct skill_host *h) {
    return h ? h->names : "";
}

/* The commands of live plugins, for platforms that publish a command menu. */
struct command_list *skills_command_list(struct skill_host *h, const char *operator_prefix) {
    struct command_list *l = command_list_new(h->command_prefix, operator_prefix);
    for (struct handler *hd = dispatch_next(h, NULL); hd; hd = dispatch_next(h, hd))
        if (hd->kind == HANDLER_COMMAND && !hd->plugin->retired && hd->name) command_list_add(l, hd->name, hd->spec);
    return l;
}
