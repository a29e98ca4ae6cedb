/* lua_api.c - core functions: registration, replies, time, logs, JSON.
 *
 * Functions that wait (reply on platforms that need it, sleep) yield their
 * task through task_wait(); see task.h. The I/O functions (models, Redis
 * state, HTTP) are in lua_io.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "skills/ask.h"
#include "skills/dispatch.h"
#include "core/job.h"
#include "lib/log.h"
#include "skills/lua/lua_api.h"
#include "lib/lua_json.h"
#include "core/message.h"
#include "persona/persona.h"
#include "core/platform.h"
#include "core/rich.h"
#include "persona/persona_state.h"
#include "skills/plugin.h"
#include "core/runtime.h"
#include "persona/ledger.h"
#include "skills/scheduler.h"
#include "core/server.h"
#include "skills/task.h"
#include "lib/vclock.h"
#include "lib/xalloc.h"

static long handler_seq;

/* Map a kind name to its enum; -1 if unknown. */
static int kind_of(const char *name) {
    static const char *const names[] = {
        "command", "hear", "respond", "fallback", "event", "before", "after",
        "schedule", "timer", "tool", "route", NULL
    };
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

/* A string field of the spec table at IDX, copied, or NULL. */
static char *spec_string(lua_State *L, int idx, const char *key) {
    char *out = NULL;
    if (lua_getfield(L, idx, key) == LUA_TSTRING) out = xstrdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return out;
}

/* core.register(kind, spec, fn [, matcher]): add a handler while loading. */
static int core_register(lua_State *L) {
    struct plugin *p = plugin_of(L);
    int kind = kind_of(luaL_checkstring(L, 1));
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    if (kind < 0) return luaL_error(L, "unknown handler kind '%s'", lua_tostring(L, 1));
    if (p->running) return luaL_error(L, "handlers are registered when the plugin loads, not from a handler");
    struct handler *hd = xcalloc(1, sizeof(*hd));
    hd->kind = (enum handler_kind)kind;
    hd->plugin = p;
    hd->fn_ref = LUA_NOREF;
    hd->matcher_ref = LUA_NOREF;
    hd->name = spec_string(L, 2, "name");
    hd->pattern = spec_string(L, 2, "pattern");
    hd->help = spec_string(L, 2, "help");
    lua_getfield(L, 2, "priority");
    hd->priority = (int)luaL_optinteger(L, -1, kind == HANDLER_FALLBACK ? -1000 : 0);
    lua_pop(L, 1);
    hd->spec = lua_json_from(L, 2);
    if (kind == HANDLER_SCHEDULE) {
        char err[256];
        const char *spec = json_string_value(json_object_get(hd->spec, "schedule"));
        if (!spec || scheduler_check_spec(spec, err, sizeof(err)) < 0) {
            handler_free(hd);
            return luaL_error(L, "schedule: %s", spec ? err : "missing");
        }
    }
    if ((kind == HANDLER_COMMAND || kind == HANDLER_SCHEDULE || kind == HANDLER_TIMER || kind == HANDLER_TOOL ||
         kind == HANDLER_ROUTE || kind == HANDLER_EVENT) && !hd->name) {
        handler_free(hd);
        return luaL_error(L, "this handler needs a name");
    }
    hd->seq = ++handler_seq;
    lua_pushvalue(L, 3);
    hd->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    hd->matcher_ref = LUA_NOREF;
    if (lua_isfunction(L, 4)) {
        lua_pushvalue(L, 4);
        hd->matcher_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    /* Append, so handlers of one plugin keep their order. */
    struct handler **tail = &p->pending;
    while (*tail) tail = &(*tail)->next;
    *tail = hd;
    return 0;
}

/* Send outcome shared by reply() and send(): direct return or a wait. */
struct send_op {
    struct task *task;      /* NULL: the send finished inside the call */
    int done;
    int cancelled;          /* the task stopped waiting: the late completion frees it */
    char *id;
    char *error;
};

static void send_op_free(struct send_op *op) {
    free(op->id);
    free(op->error);
    free(op);
}

/* Push id or nil, err. */
static int push_sent(lua_State *L, const char *id, const char *err) {
    if (err) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushstring(L, id ? id : "");
    return 1;
}

static void on_sent(const char *id, const char *err, void *data) {
    struct send_op *op = data;
    if (op->cancelled) {
        send_op_free(op);
        return;
    }
    if (!op->task) {          /* finished before we yielded */
        op->done = 1;
        op->id = id ? xstrdup(id) : NULL;
        op->error = err ? xstrdup(err) : NULL;
        return;
    }
    struct task *t = op->task;
    send_op_free(op);
    task_resume(t, push_sent(task_stack(t), id, err));
}

static void cancel_send(void *data) {
    struct send_op *op = data;
    op->task = NULL;
    op->cancelled = 1;   /* the late completion frees it */
}

/* Wait for OP unless it already finished. */
static int finish_send(lua_State *L, struct task *t, struct send_op *op, int rc) {
    if (rc < 0) {
        send_op_free(op);
        lua_pushnil(L);
        lua_pushstring(L, "the platform could not send it");
        return 2;
    }
    if (op->done) {
        int n = push_sent(L, op->id, op->error);
        send_op_free(op);
        return n;
    }
    op->task = t;
    return task_wait(L, t, op, cancel_send);
}

/* The job of the running task, or an error for handlers without one. */
static struct job *need_job(lua_State *L, struct task *t) {
    struct job *job = task_job(t);
    if (!job) luaL_error(L, "this handler has no message to answer (use chorus.send)");
    return job;
}

/* The rich part of a reply at IDX (embed, buttons, ephemeral), checked,
 * or NULL when there is none; a bad one is a Lua error saying what. */
static json_t *rich_arg(lua_State *L, int idx, size_t text_len) {
    if (lua_isnoneornil(L, idx)) return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    json_t *in = lua_json_from(L, idx);
    char err[256];
    json_t *rich = in ? rich_check(in, err, sizeof(err)) : NULL;
    json_decref(in);
    if (!rich) luaL_error(L, "msg:reply: %s", in ? err : "the reply cannot be read as JSON");
    if (text_len == 0 && !rich_has_content(rich)) {
        json_decref(rich);
        luaL_error(L, "msg:reply: give it text, an embed or buttons");
    }
    return rich;
}

/* core.rich_check(rich, has_text) -> true | nil, err: what msg:reply would refuse. */
static int core_rich_check(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    json_t *in = lua_json_from(L, 1);
    char err[256];
    json_t *rich = in ? rich_check(in, err, sizeof(err)) : NULL;
    json_decref(in);
    if (!rich) {
        lua_pushnil(L);
        lua_pushstring(L, in ? err : "the reply cannot be read as JSON");
        return 2;
    }
    int empty = !lua_toboolean(L, 2) && !rich_has_content(rich);
    json_decref(rich);
    if (empty) {
        lua_pushnil(L);
        lua_pushstring(L, "give it text, an embed or buttons");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.reply(text [, rich]) -> message id | nil, err */
static int core_reply(lua_State *L) {
    struct task *t = task_check(L);
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    struct job *job = need_job(L, t);
    json_t *rich = rich_arg(L, 2, len);
    struct send_op *op = xcalloc(1, sizeof(*op));
    int rc = job_reply_rich(job, text, len, rich, on_sent, op);
    json_decref(rich);
    return finish_send(L, t, op, rc);
}

/* core.mention(platform, user_id, name) -> the platform's mention of that
 * user: the one the message's author arrived with, else the adapter's. */
static int core_mention(lua_State *L) {
    const char *platform = luaL_checkstring(L, 1);
    const char *id = luaL_checkstring(L, 2);
    const char *name = luaL_optstring(L, 3, "");
    struct job *job = task_job(task_check(L));
    const struct chat_user *a = job ? &job->msg->author : NULL;
    if (a && a->mention && a->id && !strcmp(a->id, id) && !strcmp(job->msg->platform, platform)) {
        lua_pushstring(L, a->mention);
        return 1;
    }
    char *m = platform_mention(platform_find(platform), id, name);
    lua_pushstring(L, m);
    free(m);
    return 1;
}

/* core.send(platform, channel, text [, persona]) -> message id | nil, err */
static int core_send(lua_State *L) {
    struct task *t = task_check(L);
    const char *platform = luaL_checkstring(L, 1);
    const char *channel = luaL_checkstring(L, 2);
    size_t len;
    const char *text = luaL_checklstring(L, 3, &len);
    const char *persona = luaL_optstring(L, 4, NULL);
    struct job *job = task_job(t);
    int chosen = persona != NULL;
    if (!persona) persona = job ? job->persona->name : server.rt->personas->fallback->name;
    /* "discord:aiko" names a bot account; from a message's handler its own
     * platform means the account that heard it; else the speaker's account. */
    struct platform *pf = strchr(platform, ':') ? platform_find(platform)
                        : job && !chosen && !strcmp(platform, job->msg->platform) ? job->platform
                        : platform_speaking_as(platform, persona);
    json_t *rich = rich_arg(L, 5, len);
    if (!pf) {
        json_decref(rich);
        lua_pushnil(L);
        lua_pushfstring(L, "no platform named \"%s\"", platform);
        return 2;
    }
    struct send_op *op = xcalloc(1, sizeof(*op));
    int rc = platform_send_rich(pf, channel, text, len, NULL, persona, rich, on_sent, op);
    json_decref(rich);
    return finish_send(L, t, op, rc);
}

static int core_typing(lua_State *L) {
    struct task *t = task_check(L);
    lua_pushboolean(L, job_typing(need_job(L, t)) == 0);
    return 1;
}

/* core.react(emoji [, message_id]) -> true | nil, err */
static int core_react(lua_State *L) {
    struct task *t = task_check(L);
    const char *emoji = luaL_checkstring(L, 1);
    struct job *job = need_job(L, t);
    const char *target = luaL_optstring(L, 2, job->msg->id);
    struct platform *pf = job->platform;
    if (!pf->ops->react) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s has no reactions", pf->ops->name);
        return 2;
    }
    int rc = pf->ops->react(pf, job->msg->channel, target, emoji);
    if (rc == 0) job->handled = 1;   /* a reaction is an answer: no apology */
    lua_pushboolean(L, rc == 0);
    return 1;
}

/* core.stream(text): a piece of a reply still being written, shown where
 * the platform lets replies grow (web chat); the final msg:reply replaces it. */
static int core_stream(lua_State *L) {
    struct task *t = task_check(L);
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    job_stream_delta(need_job(L, t), text, len);
    return 0;
}

/* core.edit(message_id, text) -> true | nil, err */
static int core_edit(lua_State *L) {
    struct task *t = task_check(L);
    const char *id = luaL_checkstring(L, 1);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    struct job *job = need_job(L, t);
    struct platform *pf = job->platform;
    if (!pf->ops->edit) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s cannot edit messages", pf->ops->name);
        return 2;
    }
    int rc = pf->ops->edit(pf, job->msg->channel, id, text, len);
    lua_pushboolean(L, rc == 0);
    return 1;
}

/* ---- chorus.sleep(seconds) ---- */

struct sleep_op {
    uv_timer_t timer;
    struct task *task;
};

static void on_sleep_closed(uv_handle_t *h) {
    free(h->data);
}

static void on_sleep(uv_timer_t *timer) {
    struct sleep_op *op = timer->data;
    struct task *t = op->task;
    uv_close((uv_handle_t *)timer, on_sleep_closed);
    task_resume(t, 0);
}

static void cancel_sleep(void *data) {
    struct sleep_op *op = data;
    uv_timer_stop(&op->timer);
    uv_close((uv_handle_t *)&op->timer, on_sleep_closed);
}

static int core_sleep(lua_State *L) {
    struct task *t = task_check(L);
    lua_Number secs = luaL_checknumber(L, 1);
    long ms = secs > 0 ? (long)(secs * 1000) : 0;
    if (ms > task_remaining_ms(t)) ms = task_remaining_ms(t);
    struct sleep_op *op = xcalloc(1, sizeof(*op));
    op->task = t;
    uv_timer_init(server.loop, &op->timer);
    op->timer.data = op;
    uv_timer_start(&op->timer, on_sleep, (uint64_t)ms, 0);
    return task_wait(L, t, op, cancel_sleep);
}

/* ---- utilities ---- */

static int core_log(lua_State *L) {
    const char *level = luaL_checkstring(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    struct plugin *p = plugin_of(L);
    if (!strcmp(level, "debug")) log_debug("plugin %s: %s", p->name, msg);
    else if (!strcmp(level, "warn")) log_warn("plugin %s: %s", p->name, msg);
    else if (!strcmp(level, "error")) log_error("plugin %s: %s", p->name, msg);
    else log_info("plugin %s: %s", p->name, msg);
    return 0;
}

static int core_now(lua_State *L) {
    lua_pushnumber(L, vclock_now());
    return 1;
}

static int core_json_encode(lua_State *L) {
    luaL_checkany(L, 1);
    json_t *v = lua_json_from(L, 1);
    if (!v) {
        lua_pushnil(L);
        lua_pushstring(L, "the value cannot be encoded as JSON (a function, or nested too deep?)");
        return 2;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    lua_pushstring(L, s ? s : "null");
    free(s);
    return 1;
}

static int core_json_decode(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    json_error_t err;
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY, &err);
    if (!v) {
        lua_pushnil(L);
        lua_pushfstring(L, "invalid JSON at position %d: %s", err.position, err.text);
        return 2;
    }
    lua_json_push(L, v);
    json_decref(v);
    return 1;
}

/* Read a file of the plugin's own folder (the runtime library checks names). */
static int core_read_file(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    struct plugin *p = plugin_of(L);
    size_t n = strlen(p->dir);
    if (strncmp(path, p->dir, n) != 0 || path[n] != '/' || strstr(path, "/../")) {
        lua_pushnil(L);
        lua_pushstring(L, "only files of the plugin's own folder can be read");
        return 2;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot read %s: %s", path, strerror(errno));
        return 2;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0) luaL_addlstring(&b, buf, got);
    fclose(f);
    luaL_pushresult(&b);
    return 1;
}

void lua_api_push_message(lua_State *co, const struct job *job) {
    const struct chat_message *m = job->msg;
    const struct persona *p = job->persona;
    lua_createtable(co, 0, 14);
    lua_pushstring(co, m->text ? m->text : "");
    lua_setfield(co, -2, "text");
    lua_pushstring(co, m->platform);
    lua_setfield(co, -2, "platform");
    lua_pushstring(co, m->channel);
    lua_setfield(co, -2, "channel");
    if (m->id) {
        lua_pushstring(co, m->id);
        lua_setfield(co, -2, "id");
    }
    if (m->reply_to) {
        lua_pushstring(co, m->reply_to);
        lua_setfield(co, -2, "reply_to");
    }
    if (m->event) {
        lua_pushstring(co, m->event);
        lua_setfield(co, -2, "event");
    }
    if (m->event && !strcmp(m->event, "button")) {
        lua_pushstring(co, m->text ? m->text : "");
        lua_setfield(co, -2, "button");
    }
    if (m->reaction) {
        lua_pushstring(co, m->reaction);
        lua_setfield(co, -2, "reaction");
    }
    if (m->identity) {
        lua_pushstring(co, m->identity);
        lua_setfield(co, -2, "identity");
    }
    if (m->thread) {
        lua_pushstring(co, m->thread);
        lua_setfield(co, -2, "thread");
        lua_pushstring(co, m->thread_parent ? m->thread_parent : "");
        lua_setfield(co, -2, "thread_parent");
    }
    lua_pushboolean(co, m->direct);
    lua_setfield(co, -2, "direct");
    lua_createtable(co, 0, 4);
    lua_pushstring(co, m->author.id ? m->author.id : "");
    lua_setfield(co, -2, "id");
    lua_pushstring(co, m->author.name ? m->author.name : "");
    lua_setfield(co, -2, "name");
    lua_pushboolean(co, m->author.guest);
    lua_setfield(co, -2, "guest");
    lua_pushstring(co, job_role_name(job->role));
    lua_setfield(co, -2, "role");
    lua_setfield(co, -2, "author");
    lua_createtable(co, m->nmentions, 0);
    for (int i = 0; i < m->nmentions; i++) {
        lua_pushstring(co, m->mentions[i]);
        lua_rawseti(co, -2, i + 1);
    }
    lua_setfield(co, -2, "mentions");
    lua_createtable(co, 0, 6);
    lua_pushstring(co, p->name);
    lua_setfield(co, -2, "name");
    lua_pushstring(co, p->display_name);
    lua_setfield(co, -2, "display_name");
    lua_pushstring(co, p->prompt);
    lua_setfield(co, -2, "prompt");
    lua_pushstring(co, p->model);
    lua_setfield(co, -2, "model");
    lua_pushstring(co, p->apology);
    lua_setfield(co, -2, "apology");
    lua_pushinteger(co, p->history_turns);
    lua_setfield(co, -2, "history_turns");
    lua_pushstring(co, p->summary_model);
    lua_setfield(co, -2, "summary_model");
    lua_pushboolean(co, p->embedding_model != NULL);
    lua_setfield(co, -2, "recall");
    if (json_object_get(p->def, "pacing")) {
        lua_json_push(co, json_object_get(p->def, "pacing"));
        lua_setfield(co, -2, "pacing");
    }
    /* This plugin's share of the persona's plugin_config, and nobody else's. */
    json_t *own = json_object_get(json_object_get(p->def, "plugin_config"), plugin_of(co)->name);
    if (json_is_object(own)) {
        lua_json_push(co, own);
        lua_setfield(co, -2, "plugin_config");
    }
    lua_setfield(co, -2, "persona");
}

void lua_api_push_core(lua_State *L) {
    static const luaL_Reg core[] = {
        { "register", core_register },
        { "reply", core_reply },
        { "mention", core_mention },
        { "rich_check", core_rich_check },
        { "send", core_send },
        { "typing", core_typing },
        { "react", core_react },
        { "edit", core_edit },
        { "stream", core_stream },
        { "sleep", core_sleep },
        { "spawn", task_lua_spawn },
        { "join", task_lua_join },
        { "abandon", task_lua_abandon },
        { "log", core_log },
        { "now", core_now },
        { "json_encode", core_json_encode },
        { "json_decode", core_json_decode },
        { "read_file", core_read_file },
        { "timer_at", scheduler_lua_timer_at },
        { "timer_cancel", scheduler_lua_timer_cancel },
        { "ask", ask_lua_wait },
        { "ledger_record", lua_ledger_record },
        { "commands", lua_commands_list },
        { NULL, NULL }
    };
    luaL_newlib(L, core);
    lua_io_register(L);
    persona_state_register(L);
    recall_lua_register(L);
}
