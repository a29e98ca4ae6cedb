/* test_redis_url.c - unit tests for src/redis_url.c.
 *
 * The story: an operator points chorusd at Redis in every way the docs
 * allow - a plain host, a password with an '@' in it, IPv6, a unix socket -
 * and in a few ways they do not. Refusals are sentences, and a password
 * never shows up in one. */
#include <stdio.h>
#include <string.h>
#include "tap.h"
#include "lib/redis_url.h"

/* Parse URL expecting success; the result lands in *u. */
static int parse_ok(const char *url, struct redis_url *u) {
    char err[256] = "";
    int rc = redis_url_parse(url, u, err, sizeof err);

    if (!is_int(rc, 0, "%s parses", url)) printf("# error: %s\n", err);
    return rc == 0;
}

/* Parse URL expecting a refusal whose sentence contains NEEDLE and never
 * the text SECRET (when given). */
static void parse_refused(const char *url, const char *needle, const char *secret) {
    struct redis_url u;
    char err[256] = "";
    int rc = redis_url_parse(url, &u, err, sizeof err);

    is_int(rc, -1, "%s is refused", url);
    if (!ok(strlen(err) > 10 && strstr(err, needle) != NULL, "  with a sentence mentioning '%s'", needle))
        printf("# error: %s\n", err);
    if (secret && !ok(strstr(err, secret) == NULL, "  and the password is not in it"))
        printf("# error: %s\n", err);
    ok(u.host == NULL && u.user == NULL && u.password == NULL && u.unix_path == NULL,
       "  and nothing is left allocated");
    if (rc == 0) redis_url_free(&u);
}

static void test_tcp(void) {
    struct redis_url u;

    if (parse_ok("redis://cache.example.com:6380/4", &u)) {
        is_str(u.host, "cache.example.com", "  host");
        is_int(u.port, 6380, "  port");
        is_int(u.db, 4, "  db");
        ok(u.unix_path == NULL && u.user == NULL && u.password == NULL, "  no socket and no credentials");
        redis_url_free(&u);
    }
    if (parse_ok("redis://localhost", &u)) {
        is_str(u.host, "localhost", "  host");
        is_int(u.port, 6379, "  the default port is 6379");
        is_int(u.db, 0, "  the default db is 0");
        redis_url_free(&u);
    }
    if (parse_ok("redis://10.0.0.7/2", &u)) {
        is_int(u.port, 6379, "  default port with a db");
        is_int(u.db, 2, "  db 2");
        redis_url_free(&u);
    }
    if (parse_ok("redis://127.0.0.1:6379/", &u)) {
        is_int(u.db, 0, "  a trailing slash means db 0");
        redis_url_free(&u);
    }
    ok(u.host == NULL && u.password == NULL, "redis_url_free clears the struct");
}

static void test_credentials(void) {
    struct redis_url u;

    if (parse_ok("redis://chorus:s3cret@db.local:6379/1", &u)) {
        is_str(u.user, "chorus", "  user");
        is_str(u.password, "s3cret", "  password");
        is_str(u.host, "db.local", "  host");
        is_int(u.db, 1, "  db");
        redis_url_free(&u);
    }
    if (parse_ok("redis://:only-pass@db.local:6379/0", &u)) {
        ok(u.user == NULL, "  :pass@ has no user");
        is_str(u.password, "only-pass", "  and the password");
        redis_url_free(&u);
    }
    if (parse_ok("redis://:p%40ss%3Aword@db.local/0", &u)) {
        is_str(u.password, "p@ss:word", "  %%40 and %%3A are unescaped in the password");
        is_str(u.host, "db.local", "  host after the escaped password");
        redis_url_free(&u);
    }
    if (parse_ok("redis://me%40home:pa%40ss@db.local:6390/3", &u)) {
        is_str(u.user, "me@home", "  %%40 in the user");
        is_str(u.password, "pa@ss", "  %%40 in the password");
        is_int(u.port, 6390, "  port");
        redis_url_free(&u);
    }
    if (parse_ok("redis://legacy-pass@db.local:6379/0", &u)) {
        ok(u.user == NULL, "  pass@ (no colon) has no user");
        is_str(u.password, "legacy-pass", "  and is the password");
        redis_url_free(&u);
    }
}

static void test_ipv6(void) {
    struct redis_url u;

    if (parse_ok("redis://[::1]:6380", &u)) {
        is_str(u.host, "::1", "  IPv6 host without brackets");
        is_int(u.port, 6380, "  port 6380");
        redis_url_free(&u);
    }
    if (parse_ok("redis://:pw@[fe80::1:2]:6381/5", &u)) {
        is_str(u.host, "fe80::1:2", "  IPv6 host after a password");
        is_int(u.port, 6381, "  port");
        is_int(u.db, 5, "  db");
        redis_url_free(&u);
    }
    if (parse_ok("redis://[::1]/1", &u)) {
        is_str(u.host, "::1", "  IPv6 host without a port");
        is_int(u.port, 6379, "  gets the default port");
        redis_url_free(&u);
    }
}

static void test_unix(void) {
    struct redis_url u;

    if (parse_ok("unix:///run/redis/redis.sock", &u)) {
        is_str(u.unix_path, "/run/redis/redis.sock", "  socket path");
        ok(u.host == NULL, "  no host");
        is_int(u.db, 0, "  db 0");
        redis_url_free(&u);
    }
    if (parse_ok("unix:///run/redis/redis.sock?db=2", &u)) {
        is_str(u.unix_path, "/run/redis/redis.sock", "  socket path without the query");
        is_int(u.db, 2, "  db from ?db=2");
        redis_url_free(&u);
    }
    parse_refused("unix://run/redis.sock", "absolute path", NULL);
}

static void test_refused(void) {
    parse_refused("rediss://cache.example.com:6380/0", "TLS", NULL);
    parse_refused("rediss://:tls-secret-pw@cache.example.com:6380/0", "TLS", "tls-secret-pw");
    parse_refused("localhost:6379", "redis://", NULL);
    parse_refused("", "redis://", NULL);
    parse_refused("http://example.com/", "redis://", NULL);
    parse_refused("redis://localhost:99999/0", "port", NULL);
    parse_refused("redis://localhost:0/0", "port", NULL);
    parse_refused("redis://localhost:http/0", "port", NULL);
    parse_refused("redis://localhost:/0", "port", NULL);
    parse_refused("redis://localhost:6379/zero", "database", NULL);
    parse_refused("redis://:Pa55-word-123@localhost:99999/0", "port", "Pa55-word-123");
    parse_refused("redis://admin:Pa55-word-123@localhost:6379/x", "database", "Pa55-word-123");
    parse_refused("http://admin:Pa55-word-123@localhost:6379/0", "redis://", "Pa55-word-123");
    parse_refused("Redis://:Pa55-word-123@localhost:6379/0", "redis://", "Pa55-word-123");
}

int main(void) {
    test_tcp();
    test_credentials();
    test_ipv6();
    test_unix();
    test_refused();
    return done_testing();
}
