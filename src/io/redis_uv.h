/* redis_uv.h - our libuv adapter for hiredis 0.14 async contexts.
 *
 * The stock adapters/libuv.h ignores poll errors, so a refused connection
 * can hang forever. This one passes every error on to hiredis. */
#ifndef CHORUS_REDIS_UV_H
#define CHORUS_REDIS_UV_H
#include <hiredis/async.h>
#include <uv.h>

/* Attach AC to LOOP. Returns 0, or -1 (the caller frees AC). */
int redis_uv_attach(uv_loop_t *loop, redisAsyncContext *ac);
/* Write the commands every connection has waiting now, rather than when
 * the loop next polls: before a frame goes to a client at once, so someone
 * who got the frame and then asks Redis finds what this turn wrote. */
void redis_uv_flush(void);
#endif
