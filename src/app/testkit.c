/* testkit.c - `chorusd --test`: start the daemon's parts without listening
 * anywhere, run lua/chorus/testkit.lua over the plugin folders, tear down.
 *
 * Usage: chorusd --test --redis URL [--config FILE] [--timeout S]
 *                [--filter TEXT] [-v] PLUGIN_DIR...
 * contrib/chorus-test wraps it and brings its own redis-server. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include <lauxlib.h>
#include <lualib.h>
#include "app/modules.h"
#include "pipeline/channel.h"
#include "io/http_client.h"
#include "lib/log.h"
#include "core/feed.h"
#include "core/platform.h"
#include "lib/redact.h"
#include "io/redis_client.h"
#include "core/runtime.h"
#include "skills/ask.h"
#include "skills/scheduler.h"
#include "model/script_model.h"
#include "core/series.h"
#include "core/server.h"
#include "skills/skills.h"
#include "platforms/test/testchat.h"
#include "app/testkit.h"
#include "io/web.h"
#include "lib/xalloc.h"

struct kit kit;

/* The config every test starts from unless --config names another. */
static const char default_config[] =
    "-- written by chorusd --test\n"
    "model \"default\" { provider = \"script\", capabilities = { \"tools\", \"streaming\" } }\n"
    "persona \"aiko\" { display_name = \"Aiko\", prompt = \"You are Aiko, the test persona.\",\n"
    "                   model = \"default\", apology = \"Sorry, I can't answer right now.\" }\n"
    "default_persona \"aiko\"\n";

/* Say how to run the test mode when the options are wrong. */
static void test_usage(FILE *out) {
    fprintf(out,
            "Usage: chorusd --test --redis URL [--config FILE] [--timeout SECONDS] [--filter TEXT] [-v] PLUGIN_DIR...\n"
            "Runs each plugin's test.lua and test/*.lua (see docs/testing-plugins.md).\n"
            "The Redis database is flushed before every test. Use chorus-test, which starts its own Redis.\n");
}

/* Make the temp data dir: lua/ links to the real one, plugins/ starts empty. */
static int make_tmp(char *err, size_t errlen) {
    char tmpl[] = "/tmp/chorus-test-XXXXXX";
    if (!mkdtemp(tmpl)) {
        snprintf(err, errlen, "cannot make a temp folder: %s", strerror(errno));
        return -1;
    }
    kit.tmp = xstrdup(tmpl);
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof(a), "%s/lua", kit.data_dir);
    snprintf(b, sizeof(b), "%s/lua", kit.tmp);
    if (symlink(a, b) < 0) {
        snprintf(err, errlen, "cannot link %.3000s: %s", a, strerror(errno));
        return -1;
    }
    snprintf(b, sizeof(b), "%s/plugins", kit.tmp);
    mkdir(b, 0700);
    if (!kit.config_file) {
        snprintf(b, sizeof(b), "%s/chorus-test.lua", kit.tmp);
        FILE *f = fopen(b, "w");
        if (!f || fputs(default_config, f) < 0) {
            if (f) fclose(f);
            snprintf(err, errlen, "cannot write %.3000s", b);
            return -1;
        }
        fclose(f);
        kit.config_file = xstrdup(b);
    }
    return 0;
}

/* Remove the temp data dir and everything in it. */
static void remove_tmp(int own_config) {
    char p[PATH_MAX];
    if (!kit.tmp) return;
    kit_clear_plugins();
    snprintf(p, sizeof(p), "%s/plugins", kit.tmp);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/lua", kit.tmp);
    unlink(p);
    if (own_config) unlink(kit.config_file);
    rmdir(kit.tmp);
}

/* Load testkit.lua into the kit's state and start it as the runner. */
static int start_runner(int ndirs, char **dirs, const char *filter, double timeout, char *err, size_t errlen) {
    char path[PATH_MAX];
    kit.L = luaL_newstate();
    luaL_openlibs(kit.L);
    snprintf(path, sizeof(path), "%s/lua/chorus/testkit.lua", kit.data_dir);
    kit.runner = lua_newthread(kit.L);
    lua_setfield(kit.L, LUA_REGISTRYINDEX, "chorus.testkit.runner");
    if (luaL_loadfilex(kit.runner, path, "t") != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(kit.runner, -1));
        return -1;
    }
    kit_push_api(kit.runner);
    lua_createtable(kit.runner, ndirs, 0);
    for (int i = 0; i < ndirs; i++) {
        lua_pushstring(kit.runner, dirs[i]);
        lua_rawseti(kit.runner, -2, i + 1);
    }
    lua_createtable(kit.runner, 0, 2);
    lua_pushnumber(kit.runner, timeout);
    lua_setfield(kit.runner, -2, "timeout");
    if (filter) {
        lua_pushstring(kit.runner, filter);
        lua_setfield(kit.runner, -2, "filter");
    }
    kit_resume_later(kit.runner, 3);
    return 0;
}

/* Bring up what plugins use: Redis, HTTP, platforms, channels. */
static int start_parts(char *err, size_t errlen) {
    struct redis_options ro;
    redis_options_from_json(&ro, NULL);
    ro.prefix = "chorus-test:";
    ro.timeout_ms = 5000;
    ro.reconnect_min_ms = 20;
    ro.reconnect_max_ms = 200;
    server.redis = redis_client_new(server.loop, kit.redis_url, &ro, err, errlen);
    if (!server.redis) return -1;
    server.http = http_client_new(server.loop);
    testchat_enable(1);
    modules_platforms_start(server.rt ? server.rt->cfg : NULL, 1);
    kit_wait_init(server.loop);
    return kit_http_start(err, errlen);
}

/* Stop everything the run started, in the order main.c does. */
static void stop_parts(void) {
    if (server.rt) {
        server.stopping = 2;
        skills_cancel_all(server.rt->skills);
    }
    scheduler_stop();
    ask_stop();
    web_stop(server.web);
    series_stop();
    feed_stop();
    kit_wait_close();
    http_client_free(server.http);
    server.http = NULL;
    redis_client_free(server.redis);
    server.redis = NULL;
    uv_run(server.loop, UV_RUN_NOWAIT);
    runtime_release(server.rt);
    server.rt = NULL;
    channel_shutdown();
    uv_run(server.loop, UV_RUN_DEFAULT);
    web_free(server.web);
    server.web = NULL;
    uv_run(server.loop, UV_RUN_NOWAIT);
}

/* Parse the test mode's options; -1 to exit with *code. */
static int parse_test_args(int argc, char **argv, const char **filter, double *timeout, int *verbose, int *code) {
    static const struct option opts[] = {
        { "test", no_argument, NULL, 'T' },
        { "redis", required_argument, NULL, 'r' },
        { "config", required_argument, NULL, 'c' },
        { "timeout", required_argument, NULL, 't' },
        { "filter", required_argument, NULL, 'f' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case 'T': break;
        case 'r': kit.redis_url = optarg; break;
        case 'c': kit.config_file = xstrdup(optarg); break;
        case 't': *timeout = strtod(optarg, NULL); break;
        case 'f': *filter = optarg; break;
        case 'v': *verbose = 1; break;
        case 'h': test_usage(stdout); *code = 0; return -1;
        default: test_usage(stderr); *code = 2; return -1;
        }
    }
    if (!kit.redis_url || optind >= argc || *timeout <= 0) {
        fprintf(stderr, "chorusd --test: %s\n", !kit.redis_url ? "--redis URL is required" : optind >= argc ? "name at least one plugin folder" : "--timeout must be a positive number of seconds");
        test_usage(stderr);
        *code = 2;
        return -1;
    }
    return 0;
}

/* Set up, run the runner on the loop until it finishes, tear down, exit with its verdict. */
int testkit_main(int argc, char **argv) {
    const char *filter = NULL;
    double timeout = 10;
    int verbose = 0, code = 0;
    char err[4096];
    if (parse_test_args(argc, argv, &filter, &timeout, &verbose, &code) < 0) return code;
    int own_config = kit.config_file == NULL;
    kit.data_dir = xstrdup(server.data_dir);
    log_init(verbose ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    script_model_enable(1);
    uv_loop_t loop;
    uv_loop_init(&loop);
    server.loop = &loop;
    server.started_at = server_now();
    int rc = make_tmp(err, sizeof(err));
    if (rc == 0) {
        server.data_dir = kit.tmp;
        rc = start_parts(err, sizeof(err));
    }
    if (rc == 0) rc = start_runner(argc - optind, argv + optind, filter, timeout, err, sizeof(err));
    if (rc == 0) {
        uv_run(&loop, UV_RUN_DEFAULT);
        code = kit.done ? kit.exit_code : 2;
    } else {
        fprintf(stderr, "chorus-test: %s\n", err);
        code = 2;
    }
    kit.waiter = kit.test = NULL;   /* late completions must not resume into the closed state */
    stop_parts();
    kit_mock_reset();
    if (kit.L) lua_close(kit.L);
    if (uv_loop_close(&loop) != 0) log_warn("chorus-test: some loop handles were still open");
    remove_tmp(own_config);
    script_model_enable(0);
    testchat_enable(0);
    curl_global_cleanup();
    log_shutdown();
    redact_clear();
    server.data_dir = kit.data_dir;
    free(kit.tmp);
    free(kit.config_file);
    free(kit.data_dir);
    return code;
}
