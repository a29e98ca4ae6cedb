/* The URLs a bot is given for its websocket: Discord's gateway, Slack's
 * ticket, a Mattermost server's web address, a OneBot implementation on a
 * LAN address, and the ones that cannot be dialed. */
#include "lib/ws_url.h"
#include "tap.h"

int main(void) {
    struct ws_url u;
    is_int(ws_url_parse("wss://gateway.discord.gg/?v=10&encoding=json", &u), 0, "Discord's gateway URL");
    is_int(u.tls, 1, "wss is TLS");
    is_str(u.host, "gateway.discord.gg", "its host");
    is_int(u.port, 443, "on 443");
    is_str(u.path, "/?v=10&encoding=json", "the query kept with the path");

    is_int(ws_url_parse("wss://wss-primary.slack.com/link/?ticket=abc&app_id=A1", &u), 0, "a Slack ticket URL");
    is_str(u.path, "/link/?ticket=abc&app_id=A1", "the ticket stays in the path");

    is_int(ws_url_parse("https://chat.example.com/team/api/v4/websocket", &u), 0, "an https:// address");
    is_int(u.tls, 1, "https is TLS too");
    is_str(u.path, "/team/api/v4/websocket", "with its prefix");

    is_int(ws_url_parse("ws://192.168.1.20:3001", &u), 0, "a LAN address with a port and no path");
    is_int(u.tls, 0, "plain");
    is_int(u.port, 3001, "the port");
    is_str(u.path, "/", "the path is /");

    is_int(ws_url_parse("ws://[::1]:8080/x?y#frag", &u), 0, "an IPv6 address");
    is_str(u.host, "::1", "without brackets");
    is_int(u.port, 8080, "its port");
    is_str(u.path, "/x?y", "the fragment dropped");

    is_int(ws_url_parse("ws://h?only=query", &u), 0, "a query without a path");
    is_str(u.path, "/?only=query", "gets a /");

    const char *bad[] = { "ftp://x/", "ws://", "ws://:80/", "ws://h:0/", "ws://h:99999/", "ws://h:12ab/", "ws://[::1/", "gateway.discord.gg", NULL };
    for (int i = 0; bad[i]; i++) is_int(ws_url_parse(bad[i], &u), -1, "%s is refused", bad[i]);
    return done_testing();
}
