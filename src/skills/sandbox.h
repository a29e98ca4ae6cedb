/* sandbox.h - bounded versions of the C library functions plugins see.
 *
 * Lua's count hook never fires while a C function runs, so one call of a
 * stock library function (table.move over 1e12 slots, os.date with an 8 MB
 * format, string.rep to 40 MiB) could hold the loop for seconds. Each C
 * function of the string, table, utf8 and os tables a plugin can reach is
 * replaced by a wrapper that refuses sizes past a cap and, after the call,
 * charges its wall time to the plugin's budget (task_charge). */
#ifndef CHORUS_SANDBOX_H
#define CHORUS_SANDBOX_H
#include <lua.h>

#define SANDBOX_MAX_STRING (16u << 20)   /* string.rep result */
#define SANDBOX_MAX_MOVE 1000000         /* elements per table.move */
#define SANDBOX_MAX_SORT 200000          /* items per table.sort */
#define SANDBOX_MAX_DATE_FORMAT 256      /* bytes of an os.date format */

/* Wrap the library tables in L's globals (after luaL_openlibs and the
 * pattern functions); also removes string.dump, which the string metatable
 * would otherwise reach. */
void sandbox_install(lua_State *L);
#endif
