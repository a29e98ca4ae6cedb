/* webchat.h - the built-in web chat platform (JSON frames on /ws).
 *
 * Protocol (docs/webchat.md):
 *   client: {"type":"message","id","channel","user":{"id","name"},"text"}
 *           {"type":"join","channel"}
 *   server: {"type":"typing","channel"}
 *           {"type":"message","channel","persona","text","reply_to"}
 *           {"type":"error","error":"bad_json|missing_field|too_long|bad_utf8|unsupported","reply_to"}
 * web.c hands it websocket events; it is the first user of platform.h. */
#ifndef CHORUS_WEBCHAT_H
#define CHORUS_WEBCHAT_H
#include <stddef.h>

struct lws;
struct ws_conn;

#define WEBCHAT_MAX_TEXT_CP 4000        /* code points in a message's text */
#define WEBCHAT_MAX_FRAME (64 * 1024)   /* bytes in one reassembled frame */

void webchat_register(void);
struct ws_conn *webchat_open(struct lws *wsi);
/* A fragment of a frame arrived; FINAL marks its last fragment. */
void webchat_receive(struct ws_conn *c, const char *data, size_t len, int final, int binary);
/* The socket can take a frame. Returns -1 to close it. */
int webchat_writable(struct ws_conn *c);
void webchat_closed(struct ws_conn *c);
#endif
