/* redis_url.h - parse redis://[user:pass@]host:port/db and unix:///path. */
#ifndef CHORUS_REDIS_URL_H
#define CHORUS_REDIS_URL_H
#include <stddef.h>

struct redis_url {
    char *host;        /* NULL for a unix socket */
    int port;
    char *unix_path;   /* NULL for TCP */
    char *user;        /* NULL when absent */
    char *password;    /* NULL when absent */
    int db;
};

/* Returns 0, or -1 with a plain sentence in err. rediss:// is refused. */
int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen);
void redis_url_free(struct redis_url *u);
#endif
