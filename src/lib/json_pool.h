/* json_pool.h - jansson's small allocations kept on per-thread free lists. */
#ifndef CHORUS_LIB_JSON_POOL_H
#define CHORUS_LIB_JSON_POOL_H

/* Route jansson's malloc/free through the pool. Call once, first thing in
 * main (before any jansson value exists). Blocks are ordinary malloc
 * blocks, so anything jansson returns may still be released with free(). */
void json_pool_install(void);

#endif
