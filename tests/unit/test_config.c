/* test_config.c - unit tests for src/config.c and the schemas of the modules.
 *
 * The story: Mira runs chorusd for her community. She writes a config file,
 * gets it wrong in every way a person can, and each time the daemon must
 * point at the exact FILE:LINE and say what is wrong in a sentence. Every
 * file is written under a fresh mkdtemp() folder that is removed at the end. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "tap.h"
#include "app/modules.h"
#include "conf/config.h"

#define SECRET_KEY "sk-live-Mira0123456789abcdef"
#define REDIS_PASS "hunter2-redis-pass"

static char tmpdir[PATH_MAX / 2];      /* realpath of the mkdtemp() folder */
static char *created[64];          /* every file and folder made, for cleanup */
static int ncreated;

/* Print a multi-line text as TAP comments, so a failure shows the message. */
static void note(const char *label, const char *text) {
    const char *p = text ? text : "(null)";

    printf("# %s:\n#   ", label);
    for (; *p; p++) {
        if (*p == '\n') printf("\n#   ");
        else putchar(*p);
    }
    printf("\n");
}

static void remember(const char *path) {
    if (ncreated < (int)(sizeof created / sizeof created[0])) created[ncreated++] = strdup(path);
}

/* Write TEXT to NAME inside the temp folder; the full path goes to PATH. */
static void write_file(const char *name, const char *text, char *path, size_t pathlen) {
    FILE *f;

    snprintf(path, pathlen, "%s/%s", tmpdir, name);
    f = fopen(path, "wb");
    if (!f) {
        printf("Bail out! cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    remember(path);
}

/* Write a config and load it. Returns config_load()'s result. */
static int load_text(const char *name, const char *text, struct config **cfg,
                     char *path, size_t pathlen, char *err, size_t errlen) {
    write_file(name, text, path, pathlen);
    return config_load(path, cfg, err, errlen);
}

/* Does ERR hold a line that starts with "PATH:LINE: " followed by a sentence
 * containing NEEDLE? */
static int has_error_line(const char *err, const char *path, int line, const char *needle) {
    char prefix[PATH_MAX + 32];
    size_t plen;
    const char *p = err;

    plen = (size_t)snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > plen + 8 && strncmp(p, prefix, plen) == 0) {
            char sentence[1024];
            size_t slen = len - plen < sizeof sentence - 1 ? len - plen : sizeof sentence - 1;
            memcpy(sentence, p + plen, slen);
            sentence[slen] = '\0';
            if (!needle || strstr(sentence, needle)) return 1;
        }
        p = eol ? eol + 1 : NULL;
    }
    return 0;
}

static int count_lines(const char *s) {
    int n = *s ? 1 : 0;

    for (; *s; s++)
        if (*s == '\n') n++;
    return n;
}

/* Mira's mistake: load TEXT, expect a refusal naming LINE and saying NEEDLE. */
static void expect_error(const char *what, const char *name, const char *text, int line,
                         const char *needle) {
    struct config *cfg = (struct config *)1;
    char path[PATH_MAX], err[2048];
    int rc = load_text(name, text, &cfg, path, sizeof path, err, sizeof err);

    is_int(rc, -1, "%s: the config is refused", what);
    ok(cfg == NULL, "%s: no half-loaded config is handed back", what);
    if (!ok(has_error_line(err, path, line, needle), "%s: reported as FILE:%d: with '%s'",
            what, line, needle))
        note("error was", err);
    config_free(rc == 0 ? cfg : NULL);
}

/* Her real config, with everything in it, loads and resolves. */
static void test_full_config(void) {
    const char *text =
        "-- Mira's chorus\n"                                                        /* 1 */
        "listen \"0.0.0.0:8181\"\n"                                                 /* 2 */
        "redis \"redis://127.0.0.1:6380/2\" { prefix = \"mira:\", timeout_ms = 1500 }\n"
        "log_level \"debug\"\n"                                                     /* 4 */
        "admin_socket \"run/admin.sock\"\n"                                         /* 5 */
        "shutdown_timeout_ms(2500)\n"                                              /* 6 */
        "model \"x\" {\n"                                                           /* 7 */
        "  provider = \"openai\",\n"
        "  base_url = \"http://127.0.0.1:11434/v1\",\n"
        "  api_key = \"" SECRET_KEY "\",\n"
        "  model = \"llama3\",\n"
        "}\n"
        "model \"y\" { provider = \"local\" }\n"                                    /* 13 */
        "persona \"aiko\" {\n"                                                      /* 14 */
        "  prompt = \"You are Aiko.\",\n"
        "  model = \"x\",\n"
        "}\n"
        "default_persona \"aiko\"\n"                                                /* 18 */
        "plugins_dir \"plugins\"\n"                                                 /* 19 */
        "plugin \"chat\" { anything = 1 }\n"                                        /* 20 */
        "skills { memory_mb = 64 }\n";                                              /* 21 */
    struct config *cfg = NULL;
    char path[PATH_MAX], err[2048], want[PATH_MAX + 64];
    struct config_block *b;
    int rc = load_text("chorus.lua", text, &cfg, path, sizeof path, err, sizeof err);

    if (!is_int(rc, 0, "Mira's full config loads")) note("error was", err);
    is_str(err, "", "  and reports nothing");
    if (!cfg) return;
    is_str(cfg->path, path, "  path is the file's absolute path");
    is_str(cfg->dir, tmpdir, "  dir is its folder");
    is_str(cfg->listen_host, "0.0.0.0", "  listen host");
    is_int(cfg->listen_port, 8181, "  listen port");
    is_str(cfg->redis_url, "redis://127.0.0.1:6380/2", "  redis url");
    ok(cfg->redis_opts && json_is_object(cfg->redis_opts), "  redis options kept as an object");
    is_str(json_string_value(json_object_get(cfg->redis_opts, "prefix")), "mira:", "  redis prefix");
    is_int(json_integer_value(json_object_get(cfg->redis_opts, "timeout_ms")), 1500, "  redis timeout_ms");
    is_str(cfg->log_level, "debug", "  log level");
    snprintf(want, sizeof want, "%s/run/admin.sock", tmpdir);
    is_str(cfg->admin_socket, want, "  relative admin_socket resolves against the file's folder");
    is_int(cfg->shutdown_timeout_ms, 2500, "  shutdown timeout");
    is_int(cfg->reply_max_chars, 4000, "  reply_max_chars keeps its default");
    is_str(cfg->default_persona, "aiko", "  default persona");
    snprintf(want, sizeof want, "%s/plugins", tmpdir);
    ok(cfg->plugin_dirs != NULL, "  plugin_dirs is a list");
    if (cfg->plugin_dirs) {
        is_str(cfg->plugin_dirs[0], want, "  relative plugins_dir resolves against the file's folder");
        ok(cfg->plugin_dirs[0] && cfg->plugin_dirs[1] == NULL, "  and the list ends after it");
    }
    ok(cfg->web_root == NULL, "  web_root unset stays NULL");

    b = config_first(cfg, "model");
    is_str(b ? b->name : NULL, "x", "  first model is x");
    is_int(b ? b->line : 0, 7, "  model x remembers its line");
    is_str(config_str(b, "base_url", NULL), "http://127.0.0.1:11434/v1", "  model x base_url");
    is_str(config_str(b, "api_key", NULL), SECRET_KEY, "  model x api_key");
    is_str(config_str(b, "model", NULL), "llama3", "  model x model id");
    b = b ? config_next(b, "model") : NULL;
    is_str(b ? b->name : NULL, "y", "  then model y");
    is_str(config_str(b, "provider", NULL), "local", "  model y is local");
    ok(b && config_next(b, "model") == NULL, "  and no third model");
    b = config_find(cfg, "persona", "aiko");
    is_int(b ? b->line : 0, 14, "  persona aiko at line 14");
    is_str(config_str(b, "prompt", NULL), "You are Aiko.", "  persona prompt");
    is_str(config_str(b, "display_name", "fallback"), "fallback", "  absent key gives the default");
    b = config_find(cfg, "plugin", "chat");
    is_int(config_int(b, "anything", -1), 1, "  plugin chat gets its free-form table");
    b = config_first(cfg, "skills");
    is_int(config_int(b, "memory_mb", -1), 64, "  skills memory_mb");
    is_int(config_bool(b, "missing", 7), 7, "  config_bool default when absent");
    ok(config_find(cfg, "persona", "nobody") == NULL, "  config_find of an unknown name is NULL");
    config_free(cfg);
}

/* An empty file is a valid config: everything has a default. */
static void test_defaults(void) {
    struct config *cfg = NULL;
    char path[PATH_MAX], err[512];
    int rc = load_text("empty.lua", "-- nothing yet\n", &cfg, path, sizeof path, err, sizeof err);

    if (!is_int(rc, 0, "an empty config loads")) note("error was", err);
    if (!cfg) return;
    is_str(cfg->listen_host, "127.0.0.1", "  default listen host");
    is_int(cfg->listen_port, 8080, "  default listen port");
    is_str(cfg->redis_url, "redis://127.0.0.1:6379/0", "  default redis url");
    ok(cfg->redis_opts == NULL, "  no redis options");
    is_str(cfg->log_level, "info", "  default log level");
    ok(cfg->admin_socket == NULL, "  admin_socket NULL means the built-in path");
    is_int(cfg->shutdown_timeout_ms, 5000, "  default shutdown timeout");
    ok(cfg->plugin_dirs && cfg->plugin_dirs[0] == NULL, "  no plugin folders");
    config_free(cfg);
}

/* She starts chorusd from her home folder with a relative path: errors name
 * the file as she typed it, and paths resolve against the file, not the cwd. */
static void test_relative_path(void) {
    char sub[PATH_MAX], path[PATH_MAX], want[PATH_MAX + 32], err[1024];
    char *cwd = getcwd(NULL, 0);
    struct config *cfg = NULL;
    int rc;

    snprintf(sub, sizeof sub, "%s/etc", tmpdir);
    mkdir(sub, 0700);
    remember(sub);
    write_file("etc/good.lua", "admin_socket \"admin.sock\"\nplugins_dir \"/opt/plugins\"\n",
               path, sizeof path);
    write_file("etc/bad.lua", "listen \"127.0.0.1:8080\"\nlog_level \"loud\"\n", path, sizeof path);
    if (chdir(tmpdir) != 0) {
        ok(0, "chdir into the temp folder");
        free(cwd);
        return;
    }
    rc = config_load("etc/good.lua", &cfg, err, sizeof err);
    if (!is_int(rc, 0, "a config given by a relative path loads")) note("error was", err);
    snprintf(want, sizeof want, "%s/etc/admin.sock", tmpdir);
    is_str(cfg ? cfg->admin_socket : NULL, want, "  admin_socket resolves against etc/, not the cwd");
    is_str(cfg && cfg->plugin_dirs ? cfg->plugin_dirs[0] : NULL, "/opt/plugins",
           "  an absolute plugins_dir is kept as is");
    config_free(cfg);
    cfg = NULL;
    rc = config_load("etc/bad.lua", &cfg, err, sizeof err);
    is_int(rc, -1, "a bad log level is refused");
    if (!ok(has_error_line(err, "etc/bad.lua", 2, "log_level \"loud\""),
            "  the error names the file as she typed it: etc/bad.lua:2:"))
        note("error was", err);
    if (chdir(cwd) != 0) ok(0, "chdir back");
    free(cwd);
}

/* One mistake at a time, each at its line with a sentence. */
static void test_error_kinds(void) {
    expect_error("unknown statement", "e_stmt.lua",
                 "listen \"127.0.0.1:8080\"\n"
                 "\n"
                 "lisen \"0.0.0.0:9000\"\n",
                 3, "unknown statement or name 'lisen'");
    expect_error("unknown key", "e_key.lua",
                 "-- aiko\n"
                 "persona \"aiko\" { prompt = \"hi\", colour = \"red\" }\n",
                 2, "unknown key 'colour'");
    expect_error("unknown key lists the known ones", "e_key2.lua",
                 "persona \"aiko\" { prompt = \"hi\", promt = \"typo\" }\n",
                 1, "known keys: prompt, display_name");
    expect_error("wrong type of a statement value", "e_type.lua",
                 "log_level \"info\"\n"
                 "listen(8080)\n",
                 2, "listen must be given a string, not an integer");
    expect_error("wrong type of a key", "e_type2.lua",
                 "redis \"redis://127.0.0.1:6379/0\" {\n"
                 "  timeout_ms = \"soon\",\n"
                 "}\n",
                 1, "'timeout_ms' must be an integer, not a string");
    expect_error("a fraction where an integer belongs", "e_type3.lua",
                 "shutdown_timeout_ms(2.5)\n",
                 1, "shutdown_timeout_ms must be given an integer");
    /* Found by fuzz/fuzz_config.c: the integer check cast 1e300 (and nan)
     * to long, which is undefined (UBSan: outside the range of long). */
    expect_error("a number too big for an integer", "e_type4.lua",
                 "shutdown_timeout_ms(1e300)\n",
                 1, "shutdown_timeout_ms must be given an integer");
    expect_error("nan where an integer belongs", "e_type5.lua",
                 "reply_max_chars(0/0)\n",
                 1, "reply_max_chars must be given an integer");
    expect_error("a huge number for an integer key", "e_type6.lua",
                 "redis \"redis://127.0.0.1:6379/0\" { timeout_ms = -1e19 }\n",
                 1, "'timeout_ms' must be an integer, not a number");
    expect_error("missing required key", "e_req.lua",
                 "listen \"127.0.0.1:8080\"\n"
                 "persona \"aiko\" {\n"
                 "  display_name = \"Aiko\",\n"
                 "}\n",
                 2, "persona \"aiko\" is missing the required key 'prompt'");
    expect_error("a persona without its table", "e_req2.lua",
                 "persona \"aiko\"\n",
                 1, "needs a { ... } table");
    expect_error("undefined model reference", "e_model.lua",
                 "model \"x\" { provider = \"local\" }\n"
                 "persona \"aiko\" {\n"
                 "  prompt = \"hi\",\n"
                 "  model = \"gpt9\",\n"
                 "}\n",
                 2, "uses model \"gpt9\", which is not defined");
    expect_error("default_persona not defined", "e_default.lua",
                 "persona \"aiko\" { prompt = \"hi\" }\n"
                 "default_persona \"bob\"\n",
                 2, "default_persona \"bob\" is not defined");
    expect_error("rediss:// is refused", "e_tls.lua",
                 "listen \"127.0.0.1:8080\"\n"
                 "redis \"rediss://cache.example.com:6380/0\"\n",
                 2, "TLS");
    expect_error("listen without a port", "e_listen.lua",
                 "\n"
                 "listen \"localhost\"\n",
                 2, "is not host:port");
    expect_error("Lua syntax error", "e_syntax.lua",
                 "listen \"127.0.0.1:8080\"\n"
                 "persona \"aiko\" { prompt = = \"hi\" }\n",
                 2, "unexpected symbol");
    expect_error("duplicate persona", "e_dup.lua",
                 "persona \"aiko\" {\n"
                 "  prompt = \"one\",\n"
                 "}\n"
                 "persona \"aiko\" { prompt = \"two\" }\n",
                 4, "persona \"aiko\" is defined twice (first at line 1)");
    expect_error("a statement set twice", "e_twice.lua",
                 "listen \"127.0.0.1:8080\"\n"
                 "listen \"127.0.0.1:8081\"\n",
                 2, "listen is set twice (first at line 1)");
    expect_error("an unknown provider", "e_provider.lua",
                 "model \"x\" { provider = \"opneai\" }\n",
                 1, "provider \"opneai\" is not one of openai, anthropic, ollama, local");
    expect_error("io is not reachable from the sandbox", "e_io.lua",
                 "local f = io.open(\"/etc/passwd\")\n",
                 1, "unknown statement or name 'io'");
}

/* A duplicate persona is one complaint, and she still hears about the rest
 * of the file instead of a confusing Lua error. */
static void test_duplicate_is_one_error(void) {
    const char *text =
        "persona \"aiko\" { prompt = \"one\" }\n"           /* 1 */
        "persona \"aiko\" { prompt = \"two\" }\n"           /* 2 */
        "persona \"ren\" { prompt = \"hi\", mood = 1 }\n";  /* 3 */
    struct config *cfg = NULL;
    char path[PATH_MAX], err[2048];
    int rc = load_text("dup2.lua", text, &cfg, path, sizeof path, err, sizeof err);

    is_int(rc, -1, "a file with a duplicate persona is refused");
    ok(has_error_line(err, path, 2, "defined twice"), "  the duplicate is reported at line 2");
    if (!ok(strstr(err, "attempt to call") == NULL,
            "  no confusing 'attempt to call a nil value' follows the duplicate"))
        note("error was", err);
    if (!ok(has_error_line(err, path, 3, "unknown key 'mood'"),
            "  the mistake after the duplicate is still reported"))
        note("error was", err);
    config_free(cfg);
}

/* A config with several mistakes reports all of them, one per line, in order. */
static void test_several_errors(void) {
    const char *text =
        "listen \"127.0.0.1:8080\"\n"                                 /* 1 */
        "persona \"aiko\" { prompt = \"hi\", colour = \"red\" }\n"    /* 2 */
        "log_level \"info\"\n"                                        /* 3 */
        "redis \"redis://127.0.0.1:6379/0\" { prefix = 7 }\n"         /* 4 */
        "\n"                                                          /* 5 */
        "skills { memory_mb = \"lots\" }\n";                          /* 6 */
    const char *late =
        "persona \"aiko\" { display_name = \"Aiko\" }\n"              /* 1 */
        "persona \"ren\" { prompt = \"hi\", model = \"nope\" }\n"     /* 2 */
        "default_persona \"bob\"\n";                                  /* 3 */
    struct config *cfg = NULL;
    char path[PATH_MAX], err[4096];
    int rc = load_text("many.lua", text, &cfg, path, sizeof path, err, sizeof err);

    is_int(rc, -1, "a file with three mistakes is refused");
    if (!is_int(count_lines(err), 3, "  three errors, one per line")) note("error was", err);
    ok(has_error_line(err, path, 2, "colour"), "  line 2: the unknown key");
    ok(has_error_line(err, path, 4, "'prefix' must be a string, not an integer"), "  line 4: the wrong type");
    ok(has_error_line(err, path, 6, "'memory_mb' must be an integer, not a string"), "  line 6: the wrong type");
    ok(strstr(err, ":2:") < strstr(err, ":4:") && strstr(err, ":4:") < strstr(err, ":6:"),
       "  in file order");

    rc = load_text("many_late.lua", late, &cfg, path, sizeof path, err, sizeof err);
    is_int(rc, -1, "a file with three cross-check mistakes is refused");
    if (!is_int(count_lines(err), 3, "  three errors, one per line")) note("error was", err);
    ok(has_error_line(err, path, 1, "required key 'prompt'"), "  line 1: the missing prompt");
    ok(has_error_line(err, path, 2, "model \"nope\""), "  line 2: the undefined model");
    ok(has_error_line(err, path, 3, "default_persona \"bob\""), "  line 3: the undefined default");
}

/* She pastes a loop by mistake: chorusd stops it instead of hanging. */
static void test_endless_loop(void) {
    const char *text =
        "listen \"127.0.0.1:8080\"\n"
        "local n = 0\n"
        "while true do n = n + 1 end\n";
    struct config *cfg = NULL;
    char path[PATH_MAX], err[1024];
    time_t start = time(NULL);
    int rc = load_text("loop.lua", text, &cfg, path, sizeof path, err, sizeof err);

    is_int(rc, -1, "an endless loop is stopped and refused");
    ok(time(NULL) - start < 60, "  within the instruction budget, not a hang");
    if (!ok(strstr(err, "runs too long") != NULL, "  the sentence says it ran too long")) note("error was", err);
    if (!ok(has_error_line(err, path, 3, "runs too long"), "  at FILE:3: where the loop is"))
        note("error was", err);
    config_free(cfg);
}

/* Secrets come from files and the environment. */
static void test_file_and_env(void) {
    char path[PATH_MAX], keypath[PATH_MAX], err[1024];
    struct config *cfg = NULL;
    const char *uses_file =
        "model \"x\" {\n"
        "  base_url = \"https://api.example.com/v1\", model = \"m\",\n"
        "  api_key = file(\"openai.key\"),\n"
        "}\n";
    const char *uses_env = "log_level(env(\"CHORUS_TEST_LEVEL\", \"warn\"))\n";
    int rc;

    write_file("openai.key", SECRET_KEY "\n", keypath, sizeof keypath);
    rc = load_text("withfile.lua", uses_file, &cfg, path, sizeof path, err, sizeof err);
    if (!is_int(rc, 0, "file(\"openai.key\") reads the key next to the config")) note("error was", err);
    is_str(config_str(cfg ? config_find(cfg, "model", "x") : NULL, "api_key", NULL), SECRET_KEY,
           "  without its trailing newline");
    config_free(cfg);
    cfg = NULL;

    expect_error("file() of a missing file", "missing_file.lua",
                 "listen \"127.0.0.1:8080\"\n"
                 "model \"x\" { base_url = \"https://api.example.com/v1\", model = \"m\",\n"
                 "  api_key = file(\"missing.key\") }\n",
                 3, "missing.key");

    unsetenv("CHORUS_TEST_LEVEL");
    rc = load_text("env.lua", uses_env, &cfg, path, sizeof path, err, sizeof err);
    if (!is_int(rc, 0, "env(\"X\", \"warn\") with X unset loads")) note("error was", err);
    is_str(cfg ? cfg->log_level : NULL, "warn", "  and gives the default");
    config_free(cfg);
    cfg = NULL;

    setenv("CHORUS_TEST_LEVEL", "error", 1);
    rc = config_load(path, &cfg, err, sizeof err);
    if (!is_int(rc, 0, "env(\"X\", \"warn\") with X=error loads")) note("error was", err);
    is_str(cfg ? cfg->log_level : NULL, "error", "  and gives the variable");
    config_free(cfg);
    cfg = NULL;

    setenv("CHORUS_TEST_LEVEL", "", 1);
    rc = config_load(path, &cfg, err, sizeof err);
    is_str(cfg ? cfg->log_level : NULL, "warn", "an empty variable counts as unset");
    config_free(cfg);
    unsetenv("CHORUS_TEST_LEVEL");
}

/* In a container she overrides listen and redis with the environment. */
static void test_apply_env(void) {
    struct config *cfg = NULL;
    char path[PATH_MAX], err[512];
    int rc = load_text("envover.lua",
                       "listen \"127.0.0.1:8080\"\nredis \"redis://127.0.0.1:6379/0\"\n",
                       &cfg, path, sizeof path, err, sizeof err);

    if (!is_int(rc, 0, "a config for the container loads") || !cfg) {
        note("error was", err);
        return;
    }
    unsetenv("CHORUS_LISTEN");
    unsetenv("CHORUS_REDIS_URL");
    is_int(config_apply_env(cfg, err, sizeof err), 0, "with no variables set, apply_env succeeds");
    is_str(cfg->listen_host, "127.0.0.1", "  and listen host is the file's");
    is_int(cfg->listen_port, 8080, "  and listen port is the file's");
    is_str(cfg->redis_url, "redis://127.0.0.1:6379/0", "  and redis url is the file's");

    setenv("CHORUS_LISTEN", "0.0.0.0:9090", 1);
    setenv("CHORUS_REDIS_URL", "redis://redis.internal:6379/3", 1);
    is_int(config_apply_env(cfg, err, sizeof err), 0, "CHORUS_LISTEN and CHORUS_REDIS_URL apply");
    is_str(cfg->listen_host, "0.0.0.0", "  listen host from CHORUS_LISTEN");
    is_int(cfg->listen_port, 9090, "  listen port from CHORUS_LISTEN");
    is_str(cfg->redis_url, "redis://redis.internal:6379/3", "  redis url from CHORUS_REDIS_URL");

    setenv("CHORUS_LISTEN", "[::1]:9091", 1);
    unsetenv("CHORUS_REDIS_URL");
    is_int(config_apply_env(cfg, err, sizeof err), 0, "an IPv6 CHORUS_LISTEN applies");
    is_str(cfg->listen_host, "::1", "  host without brackets");
    is_int(cfg->listen_port, 9091, "  port");
    is_str(cfg->redis_url, "redis://redis.internal:6379/3", "  an unset CHORUS_REDIS_URL changes nothing");

    err[0] = '\0';
    setenv("CHORUS_LISTEN", "localhost", 1);
    is_int(config_apply_env(cfg, err, sizeof err), -1, "a CHORUS_LISTEN without a port is an error");
    ok(strstr(err, "CHORUS_LISTEN") != NULL && strstr(err, "host:port") != NULL,
       "  the sentence names CHORUS_LISTEN and host:port");
    is_str(cfg->listen_host, "::1", "  and the previous listen host stays");
    setenv("CHORUS_LISTEN", "0.0.0.0:70000", 1);
    is_int(config_apply_env(cfg, err, sizeof err), -1, "a port above 65535 is an error");
    setenv("CHORUS_LISTEN", "0.0.0.0:http", 1);
    is_int(config_apply_env(cfg, err, sizeof err), -1, "a port that is not a number is an error");
    is_int(cfg->listen_port, 9091, "  and the previous port stays");
    unsetenv("CHORUS_LISTEN");
    config_free(cfg);
}

/* Mistakes in a model block never print its api_key, nor a Redis password. */
static void test_secrets_stay_secret(void) {
    static const struct { const char *what, *text; } cases[] = {
        { "a model with an ftp:// base_url",
          "model \"x\" { provider = \"openai\", api_key = \"" SECRET_KEY "\", base_url = \"ftp://h/v1\", model = \"m\" }\n" },
        { "a model with a misspelt provider",
          "model \"x\" { provider = \"opneai\", api_key = \"" SECRET_KEY "\" }\n" },
        { "a model without base_url",
          "model \"x\" { api_key = \"" SECRET_KEY "\", model = \"m\" }\n" },
        { "a model without its model id",
          "model \"x\" { api_key = \"" SECRET_KEY "\", base_url = \"http://h/v1\" }\n" },
        { "a model with an unknown key holding the key too",
          "model \"x\" { api_key = \"" SECRET_KEY "\", apikey = \"" SECRET_KEY "\", max_tokens = \"lots\" }\n" },
        { "a model named local that is not local",
          "model \"local\" { api_key = \"" SECRET_KEY "\", base_url = \"http://h/v1\", model = \"m\" }\n" },
        { "a model with a fractional timeout",
          "model \"x\" { api_key = \"" SECRET_KEY "\", base_url = \"http://h/v1\", model = \"m\", timeout_ms = 1.5 }\n" },
        { "a Redis URL with a password and a bad port",
          "redis \"redis://:" REDIS_PASS "@127.0.0.1:99999/0\"\n" },
        { "a Redis URL with a password and the wrong scheme",
          "redis \"http://:" REDIS_PASS "@127.0.0.1:6379/0\"\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct config *cfg = NULL;
        char path[PATH_MAX], err[2048], name[32];
        int rc;

        snprintf(name, sizeof name, "secret%zu.lua", i);
        rc = load_text(name, cases[i].text, &cfg, path, sizeof path, err, sizeof err);
        is_int(rc, -1, "%s is refused", cases[i].what);
        if (!ok(has_error_line(err, path, 1, NULL), "  with FILE:1:")) note("error was", err);
        if (!ok(strstr(err, SECRET_KEY) == NULL && strstr(err, REDIS_PASS) == NULL,
                "  and the message does not contain the secret"))
            note("error was", err);
        config_free(cfg);
    }
}

/* A missing config file is a plain error, not a crash. */
static void test_missing_file(void) {
    struct config *cfg = (struct config *)1;
    char path[PATH_MAX], err[512];

    snprintf(path, sizeof path, "%s/nope.lua", tmpdir);
    is_int(config_load(path, &cfg, err, sizeof err), -1, "a missing config file is refused");
    ok(cfg == NULL, "  with no config");
    ok(strncmp(err, path, strlen(path)) == 0 && strstr(err, "cannot open") != NULL,
       "  and a sentence naming the file");
}

/* Found by fuzz/fuzz_config.c: config_int() cast any real to long, so a
 * key of type number set to 1e300 was undefined behaviour. */
static void test_config_int_saturates(void) {
    struct config_block b = { .kind = "x" };
    b.value = json_pack("{s:f, s:f, s:f, s:I}", "big", 1e300, "small", -1e300, "frac", 2.9, "int", (json_int_t)42);
    is_int(config_int(&b, "big", 7), LONG_MAX, "config_int: 1e300 saturates to LONG_MAX");
    is_int(config_int(&b, "small", 7), LONG_MIN, "config_int: -1e300 saturates to LONG_MIN");
    is_int(config_int(&b, "frac", 7), 2, "config_int: a fraction is cut");
    is_int(config_int(&b, "int", 7), 42, "config_int: an integer is itself");
    is_int(config_int(&b, "absent", 7), 7, "config_int: absent gives the default");
    json_decref(b.value);
}

/* Found by fuzz/fuzz_config.c: a file that starts with ESC is a binary
 * chunk to Lua, whose refusal named no file; every error names the file. */
static void test_binary_chunk_names_file(void) {
    struct config *cfg = (struct config *)1;
    char path[PATH_MAX], err[2048], want[PATH_MAX + 8];
    int rc = load_text("binary.lua", "\x1bLuaT\n(", &cfg, path, sizeof path, err, sizeof err);
    is_int(rc, -1, "a binary chunk is refused");
    ok(cfg == NULL, "no config is handed back for a binary chunk");
    snprintf(want, sizeof want, "%s: ", path);
    if (!ok(strncmp(err, want, strlen(want)) == 0 && strstr(err, "binary chunk"),
            "the refusal of a binary chunk names the file"))
        note("error was", err);
}

/* Mira gives Aiko and Kenji each a Discord account of their own, keeps
 * the old unnamed bot, and names each statement's persona. */
static void test_identities(void) {
    const char *text =
        "persona \"aiko\" { prompt = \"You are Aiko.\" }\n"                           /* 1 */
        "persona \"kenji\" { prompt = \"You are Kenji.\" }\n"                         /* 2 */
        "discord \"aiko\" { token = \"t-aiko\", persona = \"aiko\" }\n"             /* 3 */
        "discord \"kenji\" { token = \"t-kenji\", persona = \"kenji\" }\n"          /* 4 */
        "discord { token = \"t-old\" }\n"                                           /* 5 */
        "telegram(\"aiko\", { token = \"1:t\", persona = \"aiko\" })\n";            /* 6 */
    struct config *cfg = NULL;
    char path[PATH_MAX], err[2048];
    int rc = load_text("ids.lua", text, &cfg, path, sizeof path, err, sizeof err);

    if (!is_int(rc, 0, "named accounts beside the unnamed one load")) note("error was", err);
    if (rc == 0) {
        int n = 0;
        for (struct config_block *b = config_first(cfg, "discord"); b; b = config_next(b, "discord")) n++;
        is_int(n, 3, "  three discord statements, in file order");
        struct config_block *k = config_find(cfg, "discord", "kenji");
        ok(k && !strcmp(config_str(k, "persona", ""), "kenji"), "  kenji's account speaks as kenji");
        ok(config_find(cfg, "telegram", "aiko") != NULL, "  the call form kind(\"name\", { ... }) works too");
    }
    config_free(cfg);

    expect_error("two unnamed discord statements", "ids2.lua",
                 "discord { token = \"a\" }\n"
                 "discord { token = \"b\" }\n", 2, "discord is set twice without a name (first at line 1)");
    expect_error("one name used twice", "ids3.lua",
                 "irc \"aiko\" { url = \"irc://irc.example.org:6667\", nick = \"aiko\" }\n"
                 "irc \"aiko\" { url = \"irc://irc.example.org:6667\", nick = \"aiko2\" }\n", 2,
                 "irc \"aiko\" is defined twice (first at line 1)");
    expect_error("an account bound to a persona nobody defined", "ids4.lua",
                 "mattermost \"haru\" { url = \"http://127.0.0.1:1\", token = \"t\", persona = \"haru\" }\n", 1,
                 "speaks as persona \"haru\", which is not defined");
    expect_error("a name that would clash with platform:channel", "ids5.lua",
                 "discord \"a b\" { token = \"t\" }\n", 1, "without ':' or spaces");
    expect_error("two reverse OneBot accounts on one path", "ids7.lua",
                 "onebot \"aiko\" { listen = \"/onebot/v11/ws\" }\n"
                 "onebot \"kenji\" { listen = \"/onebot/v11/ws\" }\n", 2,
                 "listen \"/onebot/v11/ws\" is already the onebot statement's at line 1");
    expect_error("two Telegram webhooks on the default path", "ids8.lua",
                 "telegram \"aiko\" { token = \"1:a\", webhook = { url = \"https://h/a\", secret = \"s1\" } }\n"
                 "telegram \"kenji\" { token = \"2:b\", webhook = { url = \"https://h/k\", secret = \"s2\" } }\n", 2,
                 "webhook.path \"/telegram/webhook\" is already the telegram statement's at line 1");
    expect_error("persona is a string", "ids6.lua",
                 "discord { token = \"t\", persona = 3 }\n", 1, "'persona' must be a string");
}

int main(void) {
    char tmpl[] = "/tmp/chorus-test-config-XXXXXX";
    modules_register();   /* every module's statements, as chorusd has them */

    if (!mkdtemp(tmpl) || !realpath(tmpl, tmpdir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_full_config();
    test_defaults();
    test_relative_path();
    test_error_kinds();
    test_duplicate_is_one_error();
    test_several_errors();
    test_endless_loop();
    test_file_and_env();
    test_apply_env();
    test_secrets_stay_secret();
    test_missing_file();
    test_binary_chunk_names_file();
    test_config_int_saturates();
    test_identities();

    for (int i = ncreated - 1; i >= 0; i--) {
        remove(created[i]);
        free(created[i]);
    }
    rmdir(tmpdir);
    return done_testing();
}
