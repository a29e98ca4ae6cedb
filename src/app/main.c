/* main.c - chorusd: command line, start-up, signals, reload and shutdown.
 *
 * Start-up order matters: the HTTP listener binds before anything waits on
 * Redis, so health checks answer within moments of start whether or not
 * Redis is up. Shutdown drains in-flight replies up to a deadline, closes
 * websockets with 1001, then tears down in the order the libraries need. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "app/modules.h"
#include "app/paths.h"
#include "bus/bus.h"
#include "ops/admin.h"
#include "pipeline/channel.h"
#include "conf/config.h"
#include "io/http_client.h"
#include "lib/json_pool.h"
#include "lib/log.h"
#include "persona/persona.h"
#include "core/feed.h"
#include "core/platform.h"
#include "lib/redact.h"
#include "io/redis_client.h"
#include "io/redis_tracking.h"
#include "core/runtime.h"
#include "skills/plugin_watch.h"
#include "skills/ask.h"
#include "skills/scheduler.h"
#include "core/series.h"
#include "core/server.h"
#include "skills/skills.h"
#include "app/testkit.h"
#include "io/web.h"
#include "lib/xalloc.h"

static uv_signal_t sig_term, sig_int, sig_hup;
static uv_timer_t drain_timer, close_timer;
static int close_ticks;
static enum bus_role role = BUS_ROLE_ALL;

static void on_redis_ready(void);
static int watch_enabled(const struct runtime *rt);

static void usage(FILE *out) {
    fprintf(out,
            "Usage: chorusd --config FILE [--role all|gateway|worker] [--log-level LEVEL] [--log-format text|json]\n"
            "       chorusd --check-config FILE\n"
            "       chorusd --test --redis URL PLUGIN_DIR...   (the plugin test kit; see chorus-test)\n"
            "       chorusd --help | --version\n"
            "\n"
            "Hosts AI personas on chat platforms. Runs in the foreground and logs to stderr.\n"
            "\n"
            "  -c, --config FILE        the config file (Lua; see contrib/chorus.conf.lua)\n"
            "      --check-config FILE  validate FILE, print \"FILE: ok\" or its errors, and exit\n"
            "      --role ROLE          all (default: one process does everything), gateway (holds the\n"
            "                           platform connections) or worker (runs the skills); gateways and\n"
            "                           workers share one Redis and the same config (docs/scaling.md)\n"
            "  -l, --log-level LEVEL    debug, info, warn or error (overrides the config)\n"
            "      --log-format FORMAT  text (default) or json\n"
            "  -h, --help               show this help\n"
            "  -V, --version            show the version\n"
            "\n"
            "Environment: CHORUS_LISTEN (host:port) and CHORUS_REDIS_URL override the config;\n"
            "CHORUS_DATA_DIR overrides where lua/, plugins/ and web/ are found.\n"
            "Signals: TERM/INT drain and exit, HUP reloads the config and plugins.\n");
}

/* Where find_data_dir looked, for the start-up error. */
static char data_tried[4 * PATH_MAX];

/* Does DIR hold the Lua runtime library? Notes DIR as tried. */
static int has_runtime(const char *dir) {
    char path[PATH_MAX + 32];
    size_t used = strlen(data_tried);
    snprintf(data_tried + used, sizeof(data_tried) - used, "%s%s", used ? ", " : "", dir);
    snprintf(path, sizeof(path), "%s/lua/chorus/runtime.lua", dir);
    return access(path, R_OK) == 0;
}

/* Find lua/, plugins/ and web/ with no help: $CHORUS_DATA_DIR, else
 * relative to this binary (/proc/self/exe): the source tree it was built
 * from, a copied tree (bin/.. or src/..), an install (bin/../share/chorus),
 * and last the compiled-in prefix. NULL if none holds the runtime. */
static const char *find_data_dir(void) {
    static char real[PATH_MAX];
    const char *env = getenv("CHORUS_DATA_DIR");
    if (env && *env) return realpath(env, real) ? real : env;
    char exe[PATH_MAX], cand[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(cand, sizeof(cand), "%s/src", CHORUS_PATH_BUILDDIR);
        if (strcmp(exe, cand) == 0 && has_runtime(CHORUS_PATH_SRCDIR))   /* run from its build tree */
            return realpath(CHORUS_PATH_SRCDIR, real) ? real : CHORUS_PATH_SRCDIR;
        static const char *const rel[] = { "/..", "/../share/chorus", NULL };
        for (int i = 0; rel[i]; i++) {
            snprintf(cand, sizeof(cand), "%s%s", exe, rel[i]);
            if (realpath(cand, real) ? has_runtime(real) : has_runtime(cand)) return real;
        }
    }
    if (has_runtime(CHORUS_PATH_PKGDATADIR)) return CHORUS_PATH_PKGDATADIR;
    return NULL;
}

/* Every plugin needs the runtime: one clear line at start-up, not an error per plugin. */
static int no_runtime(void) {
    fprintf(stderr, "chorusd: cannot find the Lua runtime library (lua/chorus/runtime.lua); looked in %s. "
            "Set CHORUS_DATA_DIR to the folder holding lua/, plugins/ and web/, or reinstall.\n", data_tried);
    return 1;
}

/* Load FILE with the environment applied; prints errors to stderr. */
static struct config *load_config(const char *file) {
    struct config *cfg;
    char err[8192];
    if (config_load(file, &cfg, err, sizeof(err)) < 0) {
        char clean[8192];
        redact(err, clean, sizeof(clean));
        fprintf(stderr, "%s\n", clean);
        return NULL;
    }
    if (config_apply_env(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        config_free(cfg);
        return NULL;
    }
    if (!cfg->web_root) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/web", server.data_dir);
        cfg->web_root = xstrdup(path);
    }
    return cfg;
}

static void close_handle(uv_handle_t *h) {
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Last stage inside the loop: release every handle so uv_run returns. */
static void shutdown_final(void) {
    uv_timer_stop(&close_timer);
    bus_stop();
    scheduler_stop();
    ask_stop();
    plugin_watch_stop();
    web_stop(server.web);
    series_stop();
    feed_stop();
    http_client_free(server.http);
    server.http = NULL;
    redis_tracking_stop();
    redis_client_free(server.redis);
    server.redis = NULL;
    admin_stop(server.admin);
    server.admin = NULL;
    close_handle((uv_handle_t *)&sig_term);
    close_handle((uv_handle_t *)&sig_int);
    close_handle((uv_handle_t *)&sig_hup);
    close_handle((uv_handle_t *)&drain_timer);
    close_handle((uv_handle_t *)&close_timer);
}

/* Wait (briefly) for websockets to finish their closing handshake. */
static void on_close_tick(uv_timer_t *t) {
    int open = 0;
    (void)t;
    for (int i = 0; platform_at(i); i++) {
        struct platform *p = platform_at(i);
        if (p->ops->connections) open += p->ops->connections(p);
    }
    /* A gateway or worker lets its last writes (leases given back) leave first. */
    int min_ticks = role == BUS_ROLE_ALL ? 0 : 2;
    if ((open == 0 && close_ticks >= min_ticks) || ++close_ticks > 40) shutdown_final();
    else if (open == 0) close_ticks++;
}

/* Every reply is out (or the deadline passed): close the platforms. */
static void shutdown_close(void) {
    if (server.stopping >= 3) return;
    server.stopping = 3;
    uv_timer_stop(&drain_timer);
    bus_stop();
    for (int i = 0; platform_at(i); i++) {
        struct platform *p = platform_at(i);
        if (p->ops->stop) p->ops->stop(p);
    }
    uv_timer_start(&close_timer, on_close_tick, 0, 25);
}

/* The drain deadline passed: stop the skills still running. */
static void on_drain_deadline(uv_timer_t *t) {
    (void)t;
    log_warn("shutdown: %d replies still running after the deadline; cancelling them", server.jobs_in_flight);
    server.stopping = 2;
    skills_cancel_all(server.rt->skills);
    shutdown_close();
}

/* A job ended: once nothing is left, a draining stop closes the platforms. */
static void main_job_finished(void) {
    if (server.stopping == 1 && server.jobs_in_flight == 0 && server.jobs_queued == 0) shutdown_close();
}

/* TERM/INT or an operator: drain, then close; a second request cuts the drain short. */
static void main_request_stop(void) {
    if (server.stopping) {
        if (server.stopping == 1) on_drain_deadline(&drain_timer);
        return;
    }
    server.stopping = 1;
    ask_end_all("shutdown");
    log_info("shutting down: draining %d replies (up to %ld ms)", server.jobs_in_flight + server.jobs_queued,
             server.rt->cfg->shutdown_timeout_ms);
    uv_timer_start(&drain_timer, on_drain_deadline, (uint64_t)server.rt->cfg->shutdown_timeout_ms, 0);
    main_job_finished();
}

/* Build a new generation from the config file; the old one stays on error. */
static void start_client_cache(const struct config *cfg, const struct redis_options *ro);

static int main_reload(char *err, size_t errlen) {
    struct config *cfg = NULL;
    char cerr[8192];
    if (config_load(server.config_file, &cfg, cerr, sizeof(cerr)) < 0) {
        redact(cerr, err, errlen);
        return -1;
    }
    if (config_apply_env(cfg, err, errlen) < 0) {
        config_free(cfg);
        return -1;
    }
    if (!cfg->web_root) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/web", server.data_dir);
        cfg->web_root = xstrdup(path);
    }
    const struct config *old = server.rt->cfg;
    if (strcmp(old->listen_host, cfg->listen_host) != 0 || old->listen_port != cfg->listen_port)
        log_warn("reload: the listen address changed; it takes effect at the next restart");
    if (strcmp(server.redis_url, cfg->redis_url) != 0 ||
        !json_equal(old->redis_opts ? old->redis_opts : json_null(), cfg->redis_opts ? cfg->redis_opts : json_null())) {
        struct redis_options ro;
        redis_options_from_json(&ro, cfg->redis_opts);
        struct redis_client *rc = redis_client_new(server.loop, cfg->redis_url, &ro, err, errlen);
        if (!rc) {
            config_free(cfg);
            return -1;
        }
        redis_tracking_stop();
        redis_client_free(server.redis);
        server.redis = rc;
        redis_client_on_ready(rc, on_redis_ready);
        start_client_cache(cfg, &ro);
        free(server.redis_url);
        server.redis_url = xstrdup(cfg->redis_url);
    }
    enum log_level lvl;
    if (log_level_parse(cfg->log_level, &lvl) == 0) log_set_level(lvl);
    struct runtime *rt = runtime_new(cfg, err, errlen);
    if (!rt) return -1;
    web_reload_files(server.web, cfg->web_root);
    struct runtime *old_rt = server.rt;
    server.rt = rt;
    runtime_release(old_rt);
    scheduler_sync(rt->skills);
    plugin_watch_sync(rt->skills, watch_enabled(rt));
    platform_rebind(cfg);
    platform_commands_changed();
    log_info("reload: config and plugins reloaded");
    return 0;
}

static void on_signal(uv_signal_t *s, int signum) {
    (void)s;
    if (signum == SIGHUP) {
        char err[4096];
        log_info("SIGHUP: reloading %s", server.config_file);
        if (server_reload(err, sizeof(err)) < 0) log_error("reload failed, keeping the running config:\n%s", err);
        return;
    }
    log_info("%s received", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    server_request_stop();
}

/* Parse options; returns -1 to exit with *code. */
static int parse_args(int argc, char **argv, const char **config, const char **check,
                      const char **level, const char **format, int *code) {
    const char *role_name = NULL;
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", required_argument, NULL, 'C' },
        { "log-level", required_argument, NULL, 'l' },
        { "log-format", required_argument, NULL, 'F' },
        { "role", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:l:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': *config = optarg; break;
        case 'C': *check = optarg; break;
        case 'l': *level = optarg; break;
        case 'F': *format = optarg; break;
        case 'R': role_name = optarg; break;
        case 'h': usage(stdout); *code = 0; return -1;
        case 'V': printf("chorusd %s\n", PACKAGE_VERSION); *code = 0; return -1;
        default: usage(stderr); *code = 2; return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "chorusd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        *code = 2;
        return -1;
    }
    if (role_name && bus_role_parse(role_name, &role) < 0) {
        fprintf(stderr, "chorusd: --role must be all, gateway or worker\n");
        *code = 2;
        return -1;
    }
    if (!*config && !*check) {
        fprintf(stderr, "chorusd: --config FILE is required\n");
        usage(stderr);
        *code = 2;
        return -1;
    }
    return 0;
}

/* Is the development file watcher on (skills { watch = true })? */
static int watch_enabled(const struct runtime *rt) {
    return config_bool(config_first(rt->cfg, "skills"), "watch", 0);
}

/* Redis is (back) up: put back what lives there. */
static void on_redis_ready(void) {
    if (server.rt && !server.stopping) scheduler_sync(server.rt->skills);
    bus_redis_ready();
}

/* Channel contexts cached in process, kept true by Redis's CLIENT TRACKING
 * (io/redis_tracking.h), unless redis { client_cache = false }. */
static void start_client_cache(const struct config *cfg, const struct redis_options *ro) {
    json_t *on = cfg->redis_opts ? json_object_get(cfg->redis_opts, "client_cache") : NULL;
    if (json_is_false(on)) return;
    redis_tracking_start(server.loop, server.redis, cfg->redis_url, ro);
}

/* Start the parts on the loop; returns 0 or -1 after logging why. */
static int start(struct config *cfg) {
    char err[4096];
    struct redis_options ro;
    server.http = http_client_new(server.loop);
    redis_options_from_json(&ro, cfg->redis_opts);
    server.redis = redis_client_new(server.loop, cfg->redis_url, &ro, err, sizeof(err));
    if (!server.redis) {
        log_error("config: %s", err);
        config_free(cfg);
        return -1;
    }
    server.redis_url = xstrdup(cfg->redis_url);
    server.rt = runtime_new(cfg, err, sizeof(err));
    if (!server.rt) {
        log_error("%s", err);
        return -1;
    }
    redis_client_on_ready(server.redis, on_redis_ready);
    start_client_cache(cfg, &ro);
    if (modules_role_start(cfg, role, err, sizeof(err)) < 0) {
        log_error("%s: %s", bus_role_name(role), err);
        return -1;
    }
    if (role != BUS_ROLE_ALL) log_info("role: %s", bus_role_name(role));
    server.web = web_start(server.loop, cfg->listen_host, cfg->listen_port, cfg->web_root, err, sizeof(err));
    if (!server.web || (cfg->listen_port >= 0 && web_port(server.web) < 0)) {
        log_error("%s", err);
        return -1;
    }
    if (cfg->listen_port < 0)
        log_info("HTTP listener off (listen \"off\"): no web chat, /healthz or /metrics");
    else
        log_info("listening on http://%s:%d (web chat at /, websocket at /ws)", cfg->listen_host, web_port(server.web));
    plugin_watch_sync(server.rt->skills, watch_enabled(server.rt));
    scheduler_sync(server.rt->skills);
    const char *admin_path = cfg->admin_socket ? cfg->admin_socket : admin_default_path();
    if (!strcmp(admin_path, "off")) {
        log_info("admin socket off (admin_socket \"off\"): chorusctl cannot reach this process");
        return 0;
    }
    server.admin = admin_start(server.loop, admin_path, err, sizeof(err));
    if (server.admin) log_info("admin socket at %s", admin_path);
    else log_warn("admin: %s; running without the admin socket", err);
    return 0;
}

static const struct server_hooks main_hooks = { main_request_stop, main_reload, main_job_finished };

int main(int argc, char **argv) {
    const char *config_file = NULL, *check = NULL, *level_name = NULL, *format_name = NULL;
    int code = 0;
    json_pool_install();          /* before any jansson value exists */
    server_set_hooks(&main_hooks);
    modules_register();
    server.data_dir = find_data_dir();
    int have_data = server.data_dir != NULL;
    if (!have_data) server.data_dir = CHORUS_PATH_PKGDATADIR;
    if (argc > 1 && strcmp(argv[1], "--test") == 0) return have_data ? testkit_main(argc, argv) : no_runtime();
    if (parse_args(argc, argv, &config_file, &check, &level_name, &format_name, &code) < 0) return code;
    if (!have_data && !check) return no_runtime();
    if (check) {
        struct config *cfg = load_config(check);
        if (!cfg) return 1;
        config_free(cfg);
        redact_clear();
        printf("%s: ok\n", check);
        return 0;
    }
    enum log_format format = LOG_FORMAT_TEXT;
    if (format_name && strcmp(format_name, "json") == 0) format = LOG_FORMAT_JSON;
    else if (format_name && strcmp(format_name, "text") != 0) {
        fprintf(stderr, "chorusd: --log-format must be text or json\n");
        return 2;
    }
    server.config_file = config_file;
    struct config *cfg = load_config(config_file);
    if (!cfg) return 1;
    enum log_level level = LOG_LEVEL_INFO;
    if (level_name && log_level_parse(level_name, &level) < 0) {
        fprintf(stderr, "chorusd: --log-level must be debug, info, warn or error\n");
        config_free(cfg);
        return 2;
    }
    if (!level_name) log_level_parse(cfg->log_level, &level);
    log_init(level, format);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srand((unsigned)(time(NULL) ^ getpid()));
    uv_loop_t loop;
    uv_loop_init(&loop);
    server.loop = &loop;
    server.started_at = server_now();
    uv_signal_init(&loop, &sig_term);
    uv_signal_init(&loop, &sig_int);
    uv_signal_init(&loop, &sig_hup);
    uv_timer_init(&loop, &drain_timer);
    uv_timer_init(&loop, &close_timer);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_hup, on_signal, SIGHUP);
    log_info("chorusd %s starting (pid %d, data from %s)", PACKAGE_VERSION, (int)getpid(), server.data_dir);
    int rc = start(cfg);
    if (rc < 0) {
        server.stopping = 3;
        shutdown_final();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    bus_free();
    web_free(server.web);
    runtime_release(server.rt);
    channel_shutdown();
    free(server.redis_url);
    uv_run(&loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&loop) != 0) log_warn("shutdown: some loop handles were still open");
    curl_global_cleanup();
    if (rc == 0) log_info("stopped");
    log_shutdown();
    redact_clear();
    return rc < 0 ? 1 : 0;
}
