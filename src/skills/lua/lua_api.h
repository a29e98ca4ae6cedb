/* lua_api.h - the `core` table of C functions the runtime library builds
 * the plugin API from (lua/chorus/runtime.lua). Plugins never see `core`
 * itself, only what the runtime library exposes as `chorus`. */
#ifndef CHORUS_LUA_API_H
#define CHORUS_LUA_API_H
#include <stddef.h>
#include <lua.h>
#include "io/http_client.h"

struct job;

/* Push the core table. */
void lua_api_push_core(lua_State *L);
/* Push a job's message (and its persona) as the plain table handlers get. */
void lua_api_push_message(lua_State *L, const struct job *job);
/* Functions of lua_io.c: model, history, state, http. */
void lua_io_register(lua_State *L);
/* The test kit answers plugins' HTTP requests itself (t.http.mock). START
 * returns its handle and calls CB later from the loop (never inside START)
 * unless CANCEL runs first; or NULL with WHY empty to let the request go
 * out, or NULL with WHY set to fail the request with that sentence. */
struct lua_http_mock {
    void *(*start)(const struct http_request *req, http_done_fn *cb, void *data, char *why, size_t whylen);
    void (*cancel)(void *handle);
};
/* Install MOCK (NULL: requests go out again). Only chorusd --test does. */
void lua_io_set_http_mock(const struct lua_http_mock *mock);
/* core.commands() (lua_commands.c): every registered command, for help. */
int lua_commands_list(lua_State *L);
/* core.ledger_record(kind, value, currency, ref, persona) (lua_ledger.c). */
int lua_ledger_record(lua_State *L);
#endif
