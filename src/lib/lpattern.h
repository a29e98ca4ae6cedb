/* lpattern.h - Lua 5.4 string patterns with a step budget, for plugins.
 *
 * Lua's count hook never fires while a C function runs, so a pattern such
 * as ("a-"):rep(30).."b" can stall the event loop inside the stock string
 * matcher. This module provides find, match, gmatch and gsub with the exact
 * semantics of Lua 5.4's (results and error messages), on a matcher of its
 * own that counts its work and gives up past a budget. */
#ifndef CHORUS_LPATTERN_H
#define CHORUS_LPATTERN_H

#include <stddef.h>
#include <lua.h>

/* The error message raised when a call runs out of steps. */
#define LPATTERN_BUDGET_MSG "pattern too complex (step budget exceeded)"
/* The error message raised when gsub would build a result past max_out. */
#define LPATTERN_OUTPUT_MSG "gsub result too large"

/* Replace find, match, gmatch and gsub in the table at stack index idx
 * (normally the string library table) with budgeted versions. One call of
 * find, match or gsub, or one step of a gmatch iterator, may take at most
 * max_steps matcher steps (one step: one pattern item tried at one subject
 * position, one backtrack, or one byte scanned by %b or a back-reference);
 * past it the call raises LPATTERN_BUDGET_MSG. gsub raises
 * LPATTERN_OUTPUT_MSG instead of returning a new string longer than max_out
 * bytes. The stack is left as it was. */
void lpattern_install(lua_State *L, int idx, long max_steps, size_t max_out);

#endif
