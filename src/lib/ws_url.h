/* ws_url.h - the parts of a websocket URL a client connects with.
 * ws:// and wss://, and http:// and https:// for servers whose websocket
 * lives under their web address (Mattermost), are accepted. */
#ifndef CHORUS_WS_URL_H
#define CHORUS_WS_URL_H

struct ws_url {
    int tls;
    char host[256];      /* a name or an address; IPv6 without its brackets */
    int port;
    char path[2048];     /* from the first '/', with the query; "/" when none */
};

/* Split URL into U. Returns 0, or -1 when it is not one of the schemes
 * above, has no host, a bad port, or parts too long. */
int ws_url_parse(const char *url, struct ws_url *u);
#endif
