/* test_redis_sentinel.c - unit tests for src/io/redis_sentinel.c and the
 * Sentinel form of the redis statement.
 *
 * The story: Ravi moves his chorusd onto a Redis guarded by three sentinels.
 * He writes the sentinel list (and gets it wrong a few ways first), and the
 * sentinels answer with addresses, +switch-master announcements and roles;
 * every answer is read right, and every mistake is a sentence at its line
 * that never shows his password. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tap.h"
#include "app/modules.h"
#include "conf/config.h"
#include "io/redis_sentinel.h"

static char tmpdir[PATH_MAX / 2];

/* A hand-built reply: a bulk string, nil, an error, or an array. */
static redisReply *str_reply(int type, const char *s) {
    redisReply *r = calloc(1, sizeof(*r));
    r->type = type;
    if (s) {
        r->str = strdup(s);
        r->len = strlen(s);
    }
    return r;
}

static redisReply *array_reply(size_t n, ...) {
    redisReply *r = calloc(1, sizeof(*r));
    va_list ap;
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(redisReply *));
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static void reply_free(redisReply *r) {
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

static void test_addresses(void) {
    char *host, err[256];
    int port;
    ok(redis_sentinel_parse_addr("127.0.0.1:26379", &host, &port, err, sizeof err) == 0 &&
       !strcmp(host, "127.0.0.1") && port == 26379, "an IPv4 sentinel address");
    free(host);
    ok(redis_sentinel_parse_addr("sentinel-2.internal:5000", &host, &port, err, sizeof err) == 0 &&
       !strcmp(host, "sentinel-2.internal") && port == 5000, "a host name");
    free(host);
    ok(redis_sentinel_parse_addr("[::1]:26380", &host, &port, err, sizeof err) == 0 &&
       !strcmp(host, "::1") && port == 26380, "IPv6 in brackets, brackets dropped");
    free(host);
    const char *bad[] = { "127.0.0.1", "127.0.0.1:", ":26379", "host:0", "host:70000", "host:26379x", "::1:26379", "[::1]26379", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        host = (char *)1;
        int rc = redis_sentinel_parse_addr(bad[i], &host, &port, err, sizeof err);
        ok(rc == -1 && host == NULL && strstr(err, "is not host:port"), "\"%s\" is refused with a sentence", bad[i]);
    }
}

static void test_conf(void) {
    struct redis_sentinel_conf c;
    char err[512];
    json_t *o = json_pack("{s:[s,s,s], s:s, s:s, s:s, s:i}", "sentinels", "10.0.0.1:26379", "10.0.0.2:26379",
                          "[fd00::3]:26379", "master", "mymaster", "password", "pw-master",
                          "sentinel_password", "pw-sentinel", "db", 2);
    is_int(redis_sentinel_conf_parse(o, &c, err, sizeof err), 1, "three sentinels and a master parse");
    ok(c.n == 3 && !strcmp(c.hosts[2], "fd00::3") && c.ports[1] == 26379, "  every address kept in order");
    ok(!strcmp(c.master, "mymaster") && !strcmp(c.password, "pw-master") && !strcmp(c.sentinel_password, "pw-sentinel") && c.db == 2,
       "  master, passwords and db kept");
    redis_sentinel_conf_free(&c);
    json_decref(o);

    o = json_pack("{s:s, s:s}", "sentinels", "127.0.0.1:26379", "master", "m");
    is_int(redis_sentinel_conf_parse(o, &c, err, sizeof err), 1, "one sentinel given as a plain string");
    redis_sentinel_conf_free(&c);
    json_decref(o);

    o = json_pack("{s:s}", "prefix", "x:");
    is_int(redis_sentinel_conf_parse(o, &c, err, sizeof err), 0, "no sentinels: the URL form");
    json_decref(o);
    is_int(redis_sentinel_conf_parse(NULL, &c, err, sizeof err), 0, "no options at all: the URL form");

    struct { const char *json, *needle; } bad[] = {
        { "{\"sentinels\": [], \"master\": \"m\"}", "sentinels is empty" },
        { "{\"sentinels\": {}, \"master\": \"m\"}", "sentinels is empty" },
        { "{\"sentinels\": [\"127.0.0.1:26379\"]}", "need master = \"name\"" },
        { "{\"sentinels\": [\"127.0.0.1:26379\"], \"master\": \"\"}", "need master = \"name\"" },
        { "{\"sentinels\": [\"127.0.0.1:26379\", \"nope\"], \"master\": \"m\"}", "sentinel \"nope\" is not host:port" },
        { "{\"sentinels\": [\"127.0.0.1:26379\", 5], \"master\": \"m\"}", "must be strings" },
        { "{\"sentinels\": [\"127.0.0.1:26379\"], \"master\": \"m\", \"db\": -1}", "db must be" },
        { "{\"master\": \"m\", \"password\": \"pw-master\"}", "need sentinels" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o = json_loads(bad[i].json, 0, NULL);
        err[0] = '\0';
        int rc = redis_sentinel_conf_parse(o, &c, err, sizeof err);
        if (!ok(rc == -1 && strstr(err, bad[i].needle) && !strstr(err, "pw-master"), "%s is refused: '%s'", bad[i].json, bad[i].needle))
            printf("# got %d: %s\n", rc, err);
        ok(c.n == 0 && c.hosts == NULL && c.master == NULL, "  and nothing is left allocated");
        json_decref(o);
    }
}

static void test_replies(void) {
    char host[64], err[256], role[64];
    int port = 0;
    redisReply *r = array_reply(2, str_reply(REDIS_REPLY_STRING, "10.0.0.7"), str_reply(REDIS_REPLY_STRING, "6380"));
    ok(redis_sentinel_master_reply(r, host, sizeof host, &port, err, sizeof err) == 0 && !strcmp(host, "10.0.0.7") && port == 6380,
       "get-master-addr-by-name: [ip, port]");
    reply_free(r);
    r = str_reply(REDIS_REPLY_NIL, NULL);
    ok(redis_sentinel_master_reply(r, host, sizeof host, &port, err, sizeof err) == -1 && strstr(err, "knows no master"),
       "nil: the sentinel does not know the master");
    reply_free(r);
    r = str_reply(REDIS_REPLY_ERROR, "NOAUTH Authentication required.");
    ok(redis_sentinel_master_reply(r, host, sizeof host, &port, err, sizeof err) == -1 && strstr(err, "NOAUTH"),
       "an error reply is passed on");
    reply_free(r);
    r = array_reply(2, str_reply(REDIS_REPLY_STRING, "10.0.0.7"), str_reply(REDIS_REPLY_STRING, "http"));
    ok(redis_sentinel_master_reply(r, host, sizeof host, &port, err, sizeof err) == -1 && strstr(err, "bad port"), "a bad port is refused");
    reply_free(r);
    r = array_reply(1, str_reply(REDIS_REPLY_STRING, "10.0.0.7"));
    ok(redis_sentinel_master_reply(r, host, sizeof host, &port, err, sizeof err) == -1, "a short array is refused");
    reply_free(r);

    ok(redis_sentinel_switch_message("mymaster 10.0.0.1 6379 10.0.0.2 6380", "mymaster", host, sizeof host, &port) == 0 &&
       !strcmp(host, "10.0.0.2") && port == 6380, "+switch-master: the new address");
    ok(redis_sentinel_switch_message("other 10.0.0.1 6379 10.0.0.2 6380", "mymaster", host, sizeof host, &port) == -1,
       "+switch-master of another master is ignored");
    ok(redis_sentinel_switch_message("mymasterx 10.0.0.1 6379 10.0.0.2 6380", "mymaster", host, sizeof host, &port) == -1,
       "  a name that only starts the same is another master");
    ok(redis_sentinel_switch_message("mymaster 10.0.0.1 6379 10.0.0.2", "mymaster", host, sizeof host, &port) == -1,
       "  a short payload is ignored");
    ok(redis_sentinel_switch_message("mymaster 10.0.0.1 6379 10.0.0.2 6380 extra", "mymaster", host, sizeof host, &port) == -1,
       "  a long payload is ignored");

    r = array_reply(3, str_reply(REDIS_REPLY_STRING, "master"), str_reply(REDIS_REPLY_INTEGER, NULL), array_reply(0));
    ok(redis_sentinel_role_is_master(r, role, sizeof role) == 1 && !strcmp(role, "master"), "ROLE master");
    reply_free(r);
    r = array_reply(5, str_reply(REDIS_REPLY_STRING, "slave"), str_reply(REDIS_REPLY_STRING, "10.0.0.1"),
                    str_reply(REDIS_REPLY_INTEGER, NULL), str_reply(REDIS_REPLY_STRING, "connected"), str_reply(REDIS_REPLY_INTEGER, NULL));
    ok(redis_sentinel_role_is_master(r, role, sizeof role) == 0 && !strcmp(role, "slave"), "ROLE slave: not the master");
    reply_free(r);
    r = str_reply(REDIS_REPLY_ERROR, "NOPERM this user has no permissions");
    ok(redis_sentinel_role_is_master(r, role, sizeof role) == 0, "ROLE refused: not known to be the master");
    reply_free(r);

    r = str_reply(REDIS_REPLY_ERROR, "READONLY You can't write against a read only replica.");
    ok(redis_sentinel_error_means_moved(r), "READONLY means the master moved");
    reply_free(r);
    r = str_reply(REDIS_REPLY_ERROR, "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.");
    ok(redis_sentinel_error_means_moved(r), "MASTERDOWN too");
    reply_free(r);
    r = str_reply(REDIS_REPLY_ERROR, "WRONGTYPE Operation against a key holding the wrong kind of value");
    ok(!redis_sentinel_error_means_moved(r), "WRONGTYPE does not");
    reply_free(r);
}

/* Load TEXT as a config file; the error text in ERR. */
static int load(const char *text, char *err, size_t errlen, struct config **cfg) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/chorus.lua", tmpdir);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    int rc = config_load(path, cfg, err, errlen);
    remove(path);
    return rc;
}

static void expect_config_error(const char *text, int line, const char *needle) {
    struct config *cfg = NULL;
    char err[2048], where[64];
    int rc = load(text, err, sizeof err, &cfg);
    snprintf(where, sizeof where, "chorus.lua:%d: ", line);
    if (!ok(rc == -1 && strstr(err, where) && strstr(err, needle) && !strstr(err, "pw-"), "config refused at line %d: '%s'", line, needle))
        printf("# got %d: %s\n", rc, err);
    if (rc == 0) config_free(cfg);
}

static void test_config(void) {
    struct config *cfg = NULL;
    char err[2048];
    int rc = load("listen \"127.0.0.1:0\"\n"
                  "redis { sentinels = { \"127.0.0.1:26379\", \"127.0.0.1:26380\" }, master = \"mymaster\",\n"
                  "        password = \"pw-master\", sentinel_password = \"pw-sentinel\", prefix = \"ravi:\" }\n",
                  err, sizeof err, &cfg);
    if (!is_int(rc, 0, "the Sentinel form loads")) printf("# %s\n", err);
    if (rc == 0) {
        ok(cfg->redis_opts && json_array_size(json_object_get(cfg->redis_opts, "sentinels")) == 2, "  the sentinel list is kept");
        ok(strncmp(cfg->redis_url, "redis://", 8) != 0, "  and no URL is made up");
        config_free(cfg);
    }
    expect_config_error("listen \"127.0.0.1:0\"\nredis { sentinels = {}, master = \"m\" }\n", 2, "sentinels is empty");
    expect_config_error("redis { sentinels = { \"127.0.0.1\" }, master = \"m\", password = \"pw-master\" }\n", 1,
                        "sentinel \"127.0.0.1\" is not host:port");
    expect_config_error("redis { sentinels = { \"127.0.0.1:26379\" } }\n", 1, "need master = \"name\"");
    expect_config_error("redis { sentinels = \"127.0.0.1:26379\", master = 5 }\n", 1, "'master' must be a string");
    expect_config_error("redis { prefix = \"x:\" }\n", 1, "redis needs a URL");
    expect_config_error("redis \"redis://127.0.0.1:6379/0\" { sentinels = { \"127.0.0.1:26379\" }, master = \"m\" }\n", 1,
                        "either a URL or sentinels");
    expect_config_error("redis \"redis://127.0.0.1:6379/0\" { password = \"pw-master\" }\n", 1, "password goes in the URL");
    expect_config_error("redis { sentinels = { \"127.0.0.1:26379\" }, master = \"m\", cluster = { \"127.0.0.1:7000\" } }\n", 1,
                        "either sentinels or cluster");
    expect_config_error("redis \"redis://127.0.0.1:6379/0\"\nredis { sentinels = { \"127.0.0.1:26379\" }, master = \"m\" }\n", 2,
                        "redis is set twice");
}

int main(void) {
    char tmpl[] = "/tmp/chorus-test-sentinel-XXXXXX";
    modules_register();
    if (!mkdtemp(tmpl) || !realpath(tmpl, tmpdir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_addresses();
    test_conf();
    test_replies();
    test_config();
    rmdir(tmpdir);
    return done_testing();
}
