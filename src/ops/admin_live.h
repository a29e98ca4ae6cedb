/* admin_live.h - /admin/live: the console's live conversation view, a
 * websocket. Browsers cannot set headers on a websocket, and a token in
 * the URL would reach logs, so the first frame carries it:
 * {"type":"auth","token":"..."}. Then: {"type":"hello","events":[recent]}
 * and one frame per event (see core/feed.h). A wrong token: an error
 * frame and close 1008; no token within 10 s: the socket is dropped. */
#ifndef CHORUS_ADMIN_LIVE_H
#define CHORUS_ADMIN_LIVE_H
void admin_live_routes_add(void);
#endif
