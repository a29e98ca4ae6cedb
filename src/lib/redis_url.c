/* redis_url.c - the Redis URL forms chorusd accepts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/redis_url.h"
#include "lib/xalloc.h"

/* Decode %XX escapes in a userinfo part, so passwords may hold '@' or ':'. */
static char *url_unescape(const char *s, size_t len) {
    char *out = xmalloc(len + 1);
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len) {
            char hex[3] = { s[i + 1], s[i + 2], 0 };
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end == '\0') {
                out[j++] = (char)v;
                i += 2;
                continue;
            }
        }
        out[j++] = s[i];
    }
    out[j] = '\0';
    return out;
}

/* Parse a TCP URL after "redis://". */
static int parse_tcp(const char *rest, struct redis_url *u, char *err, size_t errlen) {
    const char *at = strrchr(rest, '@');
    const char *hostpart = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (colon) {
            if (colon > rest) u->user = url_unescape(rest, (size_t)(colon - rest));
            u->password = url_unescape(colon + 1, (size_t)(at - colon - 1));
        } else {
            u->password = url_unescape(rest, (size_t)(at - rest));
        }
        hostpart = at + 1;
    }
    const char *slash = strchr(hostpart, '/');
    size_t hlen = slash ? (size_t)(slash - hostpart) : strlen(hostpart);
    char *hp = xstrndup(hostpart, hlen);
    char *bracket = strchr(hp, ']');
    char *colon = strrchr(bracket ? bracket : hp, ':');
    u->port = 6379;
    if (colon) {
        char *end;
        errno = 0;
        long p = strtol(colon + 1, &end, 10);
        if (errno || *end || p <= 0 || p > 65535) {
            snprintf(err, errlen, "the Redis URL has a bad port");
            free(hp);
            return -1;
        }
        u->port = (int)p;
        *colon = '\0';
    }
    if (hp[0] == '[') {
        size_t n = strlen(hp);
        memmove(hp, hp + 1, n);
        if (n >= 2 && hp[n - 2] == ']') hp[n - 2] = '\0';
    }
    if (hp[0] == '\0') {
        free(hp);
        hp = xstrdup("127.0.0.1");
    }
    u->host = hp;
    if (slash && slash[1]) {
        char *end;
        errno = 0;
        long db = strtol(slash + 1, &end, 10);
        if (errno || (*end && *end != '?') || db < 0 || db > 1000000) {
            snprintf(err, errlen, "the Redis URL's database \"%s\" is not a number", slash + 1);
            return -1;
        }
        u->db = (int)db;
    }
    return 0;
}

int redis_url_parse(const char *url, struct redis_url *u, char *err, size_t errlen) {
    memset(u, 0, sizeof(*u));
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen, "rediss:// (Redis over TLS) is not supported: hiredis 0.14 has no TLS; "
                 "use redis:// on a trusted network or a local TLS tunnel such as stunnel");
        return -1;
    }
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        if (path[0] != '/') {
            snprintf(err, errlen, "a unix:// Redis URL needs an absolute path, like unix:///run/redis/redis.sock");
            return -1;
        }
        const char *q = strstr(path, "?db=");
        u->unix_path = q ? xstrndup(path, (size_t)(q - path)) : xstrdup(path);
        if (q) u->db = atoi(q + 4);
        return 0;
    }
    if (strncmp(url, "redis://", 8) == 0) {
        if (parse_tcp(url + 8, u, err, errlen) < 0) {
            redis_url_free(u);
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen, "the Redis URL must start with redis:// or unix:// (got \"%.40s\")",
             strchr(url, '@') ? "a URL with credentials" : url);
    return -1;
}

void redis_url_free(struct redis_url *u) {
    free(u->host);
    free(u->unix_path);
    free(u->user);
    free(u->password);
    memset(u, 0, sizeof(*u));
}
