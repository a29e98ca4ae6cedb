/* bench_dispatch - what it costs to dispatch a message to a Lua handler
 * that replies, and what a plugin's Lua state weighs.
 *
 * In-process and without I/O: messages go through the real channel queue,
 * dispatch table, task (coroutine) and plugin API into a platform that
 * only counts replies. The baseline, measured in the same run, is the
 * least that work can cost: calling the same Lua handler directly with
 * lua_pcall on a bare state. Results are CPU microseconds per message and
 * the ratio to the baseline, then plugin state memory against a bare
 * luaL_openlibs state.
 *
 *   bench/bench_dispatch [--smoke]          (run from the build folder) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <lauxlib.h>
#include <lualib.h>
#include "bench_host.h"
#include "pipeline/channel.h"
#include "conf/config.h"
#include "lib/log.h"
#include "core/message.h"
#include "app/modules.h"
#include "core/platform.h"
#include "skills/plugin.h"
#include "core/runtime.h"
#include "core/server.h"
#include "skills/skills.h"

static long replies;

static int bench_send(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    (void)p;
    (void)out;
    replies++;
    if (cb) cb("1", NULL, data);
    return 0;
}

static const struct platform_ops bench_ops = { .name = "bench", .send = bench_send };

/* The baseline: the handler's own work, called directly. */
static double baseline_us(long n) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_dostring(L, "return function(msg) return 'pong ' .. msg.text end") != LUA_OK) abort();
    double t0 = bench_cpu_seconds();
    for (long i = 0; i < n; i++) {
        lua_pushvalue(L, -1);
        lua_createtable(L, 0, 2);
        lua_pushstring(L, "!ping");
        lua_setfield(L, -2, "text");
        lua_call(L, 1, 1);
        lua_pop(L, 1);
    }
    double us = (bench_cpu_seconds() - t0) * 1e6 / (double)n;
    lua_close(L);
    return us;
}

/* Bytes of a bare state with the standard libraries. */
static size_t bare_state_bytes(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_gc(L, LUA_GCCOLLECT, 0);
    size_t kb = (size_t)lua_gc(L, LUA_GCCOUNT, 0), b = (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
    lua_close(L);
    return kb * 1024 + b;
}

int main(int argc, char **argv) {
    long n = argc > 1 && !strcmp(argv[1], "--smoke") ? 2000 : 200000;
    char dir[] = "/tmp/chorus-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[512], err[4096];
    snprintf(path, sizeof(path), "%s/ping", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/ping/init.lua", dir);
    FILE *f = fopen(path, "w");
    fputs("chorus.command(\"ping\", function(msg) msg:reply(\"pong \" .. msg.text) end)\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/chorus.lua", dir);
    f = fopen(path, "w");
    fprintf(f, "plugins_dir \"%s\"\nplugin \"chat\" { enabled = false }\nlog_level \"warn\"\n", dir);
    fclose(f);

    log_init(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
    uv_loop_t loop;
    uv_loop_init(&loop);
    server.loop = &loop;
    server.data_dir = getenv("CHORUS_DATA_DIR") ? getenv("CHORUS_DATA_DIR") : CHORUS_SRCDIR;
    struct config *cfg;
    modules_register();
    if (config_load(path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    server.rt = runtime_new(cfg, err, sizeof(err));
    if (!server.rt) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    channel_init();
    struct platform *p = platform_add(&bench_ops, NULL, NULL);

    struct chat_message m = { .platform = "bench", .text = "!ping", .id = "1",
                              .author = { .id = "u", .name = "bench" }, .direct = 1 };
    char channel[32];
    double t0 = bench_cpu_seconds();
    for (long i = 0; i < n; i++) {
        snprintf(channel, sizeof(channel), "c%ld", i % 64);
        m.channel = channel;
        channel_enqueue(p, &m);
        if (i % 64 == 63) uv_run(&loop, UV_RUN_NOWAIT);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    double per = (bench_cpu_seconds() - t0) * 1e6 / (double)n;
    double base = baseline_us(n);
    struct plugin *ping = skills_find(server.rt->skills, "ping");
    lua_gc(ping->L, LUA_GCCOLLECT, 0);
    size_t bare = bare_state_bytes();

    printf("dispatch: %ld messages, %ld replies\n", n, replies);
    printf("  chorusd dispatch to a Lua handler that replies: %.2f us CPU per message\n", per);
    printf("  baseline (the same handler by lua_call):        %.2f us CPU per message\n", base);
    printf("  ratio: %.1fx the baseline (goal: under 5 us per dispatch)\n", per / base);
    printf("plugin state memory: %zu KiB (a bare Lua state with its libraries: %zu KiB; ratio %.1fx)\n",
           ping->mem / 1024, bare / 1024, (double)ping->mem / (double)bare);
    int ok = replies == n;
    runtime_release(server.rt);
    channel_shutdown();
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    log_shutdown();
    if (!ok) fprintf(stderr, "bench_dispatch: only %ld of %ld messages were answered\n", replies, n);
    return ok ? 0 : 1;
}
