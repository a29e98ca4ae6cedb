/* webchat.h - the built-in web chat platform (JSON frames on /ws).
 *
 * Protocol (docs/webchat.md):
 *   client: {"type":"message","id","channel","user":{"id","name"},"text"}
 *           {"type":"join","channel"}
 *   server: {"type":"typing","channel"}
 *           {"type":"message","channel","persona","text","reply_to"}
 *           {"type":"error","error":"bad_json|missing_field|too_long|bad_utf8|unsupported","reply_to"}
 * It serves the /ws route of the web server; it is the first user of platform.h. */
#ifndef CHORUS_WEBCHAT_H
#define CHORUS_WEBCHAT_H
#include <stddef.h>

struct platform_ops;

#define WEBCHAT_MAX_TEXT_CP 4000        /* code points in a message's text */
#define WEBCHAT_MAX_FRAME (64 * 1024)   /* bytes in one reassembled frame */

/* The adapter, for the module table (app/modules.c). */
extern const struct platform_ops webchat_platform;
#endif
