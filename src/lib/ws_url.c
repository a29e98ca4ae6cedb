/* ws_url.c - websocket URLs (ws_url.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/ws_url.h"

int ws_url_parse(const char *url, struct ws_url *u) {
    static const struct { const char *scheme; int tls, port; } schemes[] = {
        { "wss://", 1, 443 }, { "ws://", 0, 80 }, { "https://", 1, 443 }, { "http://", 0, 80 }, { NULL, 0, 0 }
    };
    const char *p = NULL;
    memset(u, 0, sizeof(*u));
    for (int i = 0; schemes[i].scheme; i++) {
        size_t n = strlen(schemes[i].scheme);
        if (!strncmp(url, schemes[i].scheme, n)) {
            u->tls = schemes[i].tls;
            u->port = schemes[i].port;
            p = url + n;
            break;
        }
    }
    if (!p) return -1;
    size_t hl;
    if (*p == '[') {                     /* [v6 address] */
        const char *e = strchr(p, ']');
        if (!e) return -1;
        hl = (size_t)(e - p - 1);
        if (hl == 0 || hl >= sizeof(u->host)) return -1;
        memcpy(u->host, p + 1, hl);
        p = e + 1;
    } else {
        hl = strcspn(p, ":/?#");
        if (hl == 0 || hl >= sizeof(u->host)) return -1;
        memcpy(u->host, p, hl);
        p += hl;
    }
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v <= 0 || v > 65535) return -1;
        u->port = (int)v;
        p = end;
    }
    if (*p && *p != '/' && *p != '?') return -1;
    size_t pl = strcspn(p, "#");
    int n = snprintf(u->path, sizeof(u->path), "%s%.*s", *p == '/' ? "" : "/", (int)pl, p);
    return n < 0 || (size_t)n >= sizeof(u->path) ? -1 : 0;
}
