/* admin_http.h - the admin console's JSON API under /admin/api/ (status,
 * ledger, series, feed, command) and its live websocket (/admin/live). */
#ifndef CHORUS_ADMIN_HTTP_H
#define CHORUS_ADMIN_HTTP_H
void admin_http_routes_add(void);
/* The configured admin_token, or NULL when the console is off. */
const char *admin_http_token(void);
/* Does GIVEN match the admin token (constant time)? */
int admin_http_token_ok(const char *given);
#endif
