/* admin_http.h - the admin page's JSON API (/admin/api/status, /ledger). */
#ifndef CHORUS_ADMIN_HTTP_H
#define CHORUS_ADMIN_HTTP_H
void admin_http_routes_add(void);
#endif
