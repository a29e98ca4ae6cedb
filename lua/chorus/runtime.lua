-- runtime.lua - the Lua side of a plugin's state.
--
-- chorusd loads this file into each plugin's own lua_State with
--   core    the C primitives (src/lua_api.c, src/lua_io.c, src/task.c)
--   name    the plugin's name
--   dir     its folder
--   config  its table from `plugin "name" { ... }` in the config
--   marker  the value our waits yield with (see coroutine below)
-- It builds the sandboxed environment with the `chorus` API, runs the
-- plugin's init.lua in it, and returns { invoke = ... }, which the
-- dispatcher calls (in a new coroutine) for each handler run.
-- docs/plugins.md documents everything `chorus` offers.
local core, NAME, DIR, CONFIG, MARKER = ...

local raw_coroutine = coroutine
local pack, unpack = table.pack, table.unpack

local MAX_STRING = 16 * 1024 * 1024   -- cap of string.rep and table.concat results
local MAX_CHUNK = 1024 * 1024         -- cap of a chunk given to load()

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

-- ---------------------------------------------------------------- messages

local Message = {}   -- its methods; its __index (below) also makes msg.config

-- The rich part of a reply table: { text =, embed =, buttons =, ephemeral = }.
-- core.reply checks it against the platforms' limits (core/rich.c).
local function split_reply(t)
  local rich = {}
  for k, v in pairs(t) do
    if k ~= "text" then rich[k] = v end
  end
  local text = t.text ~= nil and tostring(t.text) or ""
  local ok, err = core.rich_check(rich, text ~= "")
  if not ok then error(err, 0) end
  return text, rich
end

-- msg:reply(text) or msg:reply{ text =, embed =, buttons =, ephemeral = }
-- -> message id | nil, err
function Message:reply(text)
  if type(text) == "table" and getmetatable(text) == nil then
    local ok, body, rich = pcall(split_reply, text)
    if not ok then error("msg:reply: " .. tostring(body), 2) end
    return core.reply(body, rich)
  end
  return core.reply(tostring(text))
end

-- msg.author:mention(): how the platform mentions that user ("<@id>" on
-- Discord, "@name" on web chat, ...).
local Author = {}
-- Platform -> the metatable of its authors: the platform rides in the
-- metatable, so giving an author its methods costs no table entry.
local author_meta = {}

function Author:mention()
  local mt = getmetatable(self)
  local platform = type(mt) == "table" and rawget(mt, "platform") or ""
  return core.mention(platform, tostring(self.id or ""), tostring(self.name or ""))
end

-- Give MSG's author its methods.
local function adopt_author(msg)
  local author = msg.author
  if type(author) == "table" and getmetatable(author) == nil then
    local platform = tostring(msg.platform or "")
    local mt = author_meta[platform]
    if not mt then
      mt = { __index = Author, platform = platform }
      author_meta[platform] = mt
    end
    setmetatable(author, mt)
  end
  return msg
end

-- msg:typing(): show "typing" while the handler works.
function Message:typing()
  return core.typing()
end

-- msg:react(emoji [, message_id]): this message unless another is named
function Message:react(emoji, message_id)
  return core.react(emoji, message_id or self.id)
end

-- msg:ask(text, {timeout = seconds}) -> the same author's next message in
-- this channel | nil, "timeout". TEXT (if not nil) is sent first. That
-- message comes here and to no other handler; the channel's other
-- messages run meanwhile. The wait is bounded by the handler's deadline.
function Message:ask(text, opts)
  opts = opts or {}
  local timeout = opts.timeout or 60
  if type(timeout) ~= "number" or timeout <= 0 then error("msg:ask: timeout is a number of seconds", 2) end
  if text ~= nil then
    local id, err = self:reply(text)
    if not id then return nil, err end
  end
  local answer, err = core.ask(timeout)
  if not answer then return nil, err end
  answer = adopt_author(setmetatable(answer, Message))
  answer.config = self.config
  return answer
end

-- msg:stream(text): show a piece of the reply being written (where the
-- platform shows replies growing); the final msg:reply replaces it.
function Message:stream(text)
  return core.stream(tostring(text))
end

-- msg:edit(message_id, text): change a message the bot sent.
function Message:edit(message_id, text)
  return core.edit(message_id, tostring(text))
end

-- The plugin's config for the message's channel: the plugin's table, the
-- speaking persona's plugin_config for this plugin over it, then
-- channels["platform:channel"] over both.
local function channel_config(msg)
  local merged = copy(CONFIG)
  merged.channels = nil
  local own = msg.persona and msg.persona.plugin_config
  if type(own) == "table" then
    for k, v in pairs(own) do merged[k] = v end
  end
  local per = CONFIG.channels and CONFIG.channels[msg.platform .. ":" .. msg.channel]
  if type(per) == "table" then
    for k, v in pairs(per) do merged[k] = v end
  end
  return merged
end

-- A message's methods, and msg.config, made on first use: most handlers
-- never read it, and it is a fresh table per message.
Message.__index = function(msg, key)
  local method = Message[key]
  if method ~= nil or key ~= "config" then return method end
  local config = channel_config(msg)
  rawset(msg, "config", config)
  return config
end

-- ---------------------------------------------------------------- commands

local commands = {}   -- fn -> spec, for parsing arguments
local subcommands = {}  -- "quiz" -> { spec of "quiz start", ... }
local defined = {}      -- command names this plugin registered
local cooldowns = {}    -- command name -> { ["platform:user"] = when it may run again }

-- The operator code's roles, lowest first (ops/operator.c).
local ROLE_RANK = { user = 0, moderator = 1, admin = 2, owner = 3 }

local DURATION = { s = 1, m = 60, h = 3600, d = 86400, w = 604800 }
local MAX_DURATION = 31557600 * 1000000   -- a million years, in seconds

-- "10m", "1h30m", "45s", "2d" -> seconds, or nil
local function parse_duration(s)
  if not s or s == "" then return nil end
  local total, rest = 0, s
  while rest ~= "" do
    local n, unit, tail = rest:match("^(%d+)([smhdw])(.*)$")
    if not n or #n > 12 then return nil end
    total = total + tonumber(n) * DURATION[unit]
    -- Past a million years the integers would wrap (found by fuzz_command_args).
    if total > MAX_DURATION then return nil end
    rest = tail
  end
  return total
end

-- Split off the next word (or "quoted phrase") of TEXT.
local function next_word(text)
  text = text:gsub("^%s+", "")
  if text == "" then return nil, text end
  local q, rest = text:match('^"([^"]*)"(.*)$')
  if q then return q, rest end
  return text:match("^(%S+)(.*)$")
end

local function usage(name, spec, prefix)
  local parts = { prefix .. name }
  for _, a in ipairs(spec.args or {}) do
    local label = a.name .. (a.type and a.type ~= "string" and a.type ~= "rest" and (":" .. a.type) or "")
    parts[#parts + 1] = a.optional and ("[" .. label .. "]") or ("<" .. label .. ">")
  end
  return table.concat(parts, " ")
end

-- Parse a command's arguments by its spec; returns args or nil, error.
local function parse_args(spec, text, prefix)
  local rest = text:sub(#prefix + #spec.name + 1)
  local args = {}
  for _, a in ipairs(spec.args or {}) do
    local value
    if a.type == "rest" then
      value = rest:gsub("^%s+", ""):gsub("%s+$", "")
      if value == "" then value = nil end
      rest = ""
    else
      local word
      word, rest = next_word(rest)
      value = word
      if word and (a.type == "number" or a.type == "integer") then
        value = tonumber(word)
        if not value or (a.type == "integer" and math.type(value) ~= "integer") then
          return nil, ("'%s' should be %s, not %q"):format(a.name, a.type == "integer" and "a whole number" or "a number", word)
        end
      elseif word and a.type == "duration" then
        value = parse_duration(word)
        if not value then
          return nil, ("'%s' should be a duration like 10m, 2h or 1h30m, not %q"):format(a.name, word)
        end
      end
    end
    if value == nil and not a.optional then
      return nil, ("missing '%s'"):format(a.name)
    end
    args[a.name] = value
    args[#args + 1] = value
  end
  return args
end

-- ---------------------------------------------------------------- coroutines
-- A skill's own coroutines: our waits yield MARKER; when one comes out of
-- the skill's coroutine, pass it up to the task, then hand the answer back
-- down. This keeps chorus calls working inside coroutine.wrap and friends.

local function pass_through(co, ...)
  local res = pack(...)
  while res[1] and raw_coroutine.status(co) == "suspended" and res[2] == MARKER do
    if not raw_coroutine.isyieldable() then
      -- Resumed from a C-called function (a sort comparator, a gsub function):
      -- the wait cannot pass up, so it is cancelled and the caller told.
      core.abandon()
      error("chorus calls that wait cannot wait here (inside a table.sort comparator, a string.gsub function, a metamethod or another C-called function)", 2)
    end
    local answer = pack(raw_coroutine.yield(MARKER))
    res = pack(raw_coroutine.resume(co, unpack(answer, 1, answer.n)))
  end
  return unpack(res, 1, res.n)
end

local sandbox_coroutine = {
  create = raw_coroutine.create,
  status = raw_coroutine.status,
  running = raw_coroutine.running,
  isyieldable = raw_coroutine.isyieldable,
  close = raw_coroutine.close,
  yield = raw_coroutine.yield,
}

function sandbox_coroutine.resume(co, ...)
  return pass_through(co, raw_coroutine.resume(co, ...))
end

function sandbox_coroutine.wrap(fn)
  local co = raw_coroutine.create(fn)
  return function(...)
    local res = pack(sandbox_coroutine.resume(co, ...))
    if not res[1] then error(res[2], 2) end
    return unpack(res, 2, res.n)
  end
end

-- ---------------------------------------------------------------- state

local Scope = {}
Scope.__index = Scope

local function scope(kind, a, b)
  return setmetatable({ kind = kind, a = a or "", b = b or "" }, Scope)
end

-- Strings and lists, hashes (hset hget hgetall hincrby hdel) and sorted
-- sets (zadd zincrby zrange zrank zscore zrem), with Redis's argument
-- order. During a Redis outage each returns nil, "redis unavailable".
for _, op in ipairs({ "get", "set", "del", "incr", "expire", "push", "range", "trim", "len",
                      "hset", "hget", "hgetall", "hincrby", "hdel",
                      "zadd", "zincrby", "zrange", "zrank", "zscore", "zrem" }) do
  Scope[op] = function(self, key, ...)
    if type(key) ~= "string" or key == "" then error("a state key must be a non-empty string", 2) end
    return core.state(self.kind, self.a, self.b, key, op, ...)
  end
end

-- ---------------------------------------------------------------- the API

local function new_api()
  local chorus = { plugin = NAME, config = CONFIG }

  local function handler(kind, spec, fn, matcher)
    if type(fn) ~= "function" then error(kind .. ": the handler must be a function", 3) end
    core.register(kind, spec, fn, matcher)
  end

  -- chorus.command(name, [spec], fn): "!name args"; spec.args = {{name=, type=, optional=}},
  -- spec.role = "moderator" (at least that role), spec.aliases = {...},
  -- spec.cooldown = "10s" (per user). "quiz start" is a subcommand of quiz.
  function chorus.command(name, spec, fn)
    if fn == nil then spec, fn = {}, spec end
    if type(name) ~= "string" or not (name:match("^[%w_%-]+$") or name:match("^[%w_%-]+ [%w_%-]+$")) then
      error("a command name is letters, digits, '_' and '-' (a subcommand: two such words, like \"quiz start\")", 2)
    end
    if type(spec) ~= "table" or type(fn) ~= "function" then error("chorus.command(name, [spec], fn)", 2) end
    if spec.role ~= nil and not ROLE_RANK[spec.role] then
      error("role must be \"user\", \"moderator\", \"admin\" or \"owner\", not " .. tostring(spec.role), 2)
    end
    if spec.cooldown ~= nil then
      local secs = type(spec.cooldown) == "number" and spec.cooldown or parse_duration(tostring(spec.cooldown))
      if not secs or secs <= 0 then error("cooldown is a duration like \"10s\" or \"2m\", not " .. tostring(spec.cooldown), 2) end
    end
    if spec.aliases ~= nil and type(spec.aliases) ~= "table" then error("aliases is a list of names", 2) end
    spec = copy(spec)
    spec.name = name
    commands[fn] = spec
    handler("command", spec, fn)
    local parent = name:match("^(%S+) ")
    if parent then subcommands[parent] = subcommands[parent] or {}; table.insert(subcommands[parent], spec) end
    defined[name] = true
    -- An alias is the same command under another name: its own entry, so
    -- its arguments are parsed after the alias, sharing the cooldown.
    for _, alias in ipairs(spec.aliases or {}) do
      if type(alias) ~= "string" or not (alias:match("^[%w_%-]+$") or alias:match("^[%w_%-]+ [%w_%-]+$")) then
        error("an alias is a command name, not " .. tostring(alias), 2)
      end
      local a = copy(spec)
      a.name, a.alias_of, a.aliases = alias, name, nil
      local wrapper = function(msg, args) return fn(msg, args) end
      commands[wrapper] = a
      handler("command", a, wrapper)
      defined[alias] = true
    end
  end

  -- chorus.hear(pattern | matcher, [opts], fn): any message
  function chorus.hear(pattern, opts, fn)
    if fn == nil then opts, fn = {}, opts end
    local spec = copy(opts)
    if type(pattern) == "function" then
      handler("hear", spec, fn, pattern)
    else
      spec.pattern = pattern
      handler("hear", spec, fn)
    end
  end

  -- chorus.respond([pattern], [opts], fn): messages addressed to the persona
  function chorus.respond(pattern, opts, fn)
    if type(pattern) == "function" and opts == nil then pattern, opts, fn = nil, {}, pattern
    elseif type(pattern) == "table" then pattern, opts, fn = nil, pattern, opts
    elseif fn == nil then opts, fn = {}, opts end
    local spec = copy(opts)
    spec.pattern = pattern
    handler("respond", spec, fn)
  end

  -- chorus.fallback([opts], fn): when nothing else took the message
  function chorus.fallback(opts, fn)
    if fn == nil then opts, fn = {}, opts end
    handler("fallback", copy(opts), fn)
  end

  -- chorus.on(event, fn): "join", "leave", "reaction", "edit", "button"
  function chorus.on(event, fn)
    handler("event", { name = event }, fn)
  end

  -- chorus.button(id, fn): a press of the button whose id is ID (or whose
  -- id starts with ID when it ends in "*"); fn(msg) where msg.button is the id.
  function chorus.button(id, fn)
    if type(id) ~= "string" or id == "" then error("chorus.button: the first argument is a button id", 2) end
    local prefix = id:sub(-1) == "*" and id:sub(1, -2) or nil
    handler("event", { name = "button" }, function(msg)
      local pressed = msg.button or msg.text
      if pressed == id or (prefix and pressed:sub(1, #prefix) == prefix) then return fn(msg) end
    end)
  end

  -- chorus.before(fn) / chorus.after(fn): middleware around every message;
  -- a before returning false stops the message there.
  function chorus.before(opts, fn)
    if fn == nil then opts, fn = {}, opts end
    handler("before", copy(opts), fn)
  end

  function chorus.after(opts, fn)
    if fn == nil then opts, fn = {}, opts end
    handler("after", copy(opts), fn)
  end

  -- chorus.every(name, "5m", fn) and chorus.cron(name, "0 9 * * 1-5", fn)
  function chorus.every(name, interval, fn)
    if type(interval) == "number" then interval = math.tointeger(interval) and (interval .. "s") or interval end
    handler("schedule", { name = name, schedule = "every " .. tostring(interval) }, fn)
  end

  function chorus.cron(name, expr, fn)
    handler("schedule", { name = name, schedule = expr }, fn)
  end

  -- chorus.on_timer(name, fn) and chorus.timer_in(seconds, name, payload)
  function chorus.on_timer(name, fn)
    handler("timer", { name = name }, fn)
  end

  function chorus.timer_in(seconds, name, payload)
    return core.timer_at(core.now() + seconds, name, payload)
  end

  function chorus.timer_at(when, name, payload)
    return core.timer_at(when, name, payload)
  end

  -- chorus.timer_cancel(id) -> true if the timer was pending and is gone,
  -- false if it already fired or was never set (id from timer_in/timer_at)
  function chorus.timer_cancel(id)
    if type(id) ~= "string" then error("timer_cancel takes the id timer_in or timer_at returned", 2) end
    return core.timer_cancel(id)
  end

  -- chorus.tool(name, {description=, parameters=}, fn(args, ctx)): offered
  -- to models; ctx.msg, ctx.persona, ctx.channel are the asking message's
  function chorus.tool(name, spec, fn)
    spec = copy(spec)
    spec.name = name
    handler("tool", spec, fn)
  end

  -- chorus.route(method, path, {secret= | hmac=, window=}, fn): a webhook
  -- at /hooks/<plugin><path>; fn(req) returns status, body
  function chorus.route(method, path, auth, fn)
    if type(auth) ~= "table" or not (auth.secret or auth.hmac) then
      error("every route needs { secret = ... } or { hmac = ... }", 2)
    end
    if type(path) ~= "string" or path:sub(1, 1) ~= "/" then error("a route path starts with '/'", 2) end
    local spec = copy(auth)
    spec.name = "/hooks/" .. NAME .. path
    spec.method = method:upper()
    handler("route", spec, fn)
  end

  -- chorus.commands() -> { {name=, plugin=, help=, args=, usage=, ...}, ... }
  -- every command of every plugin, by name (for a help command)
  function chorus.commands()
    local prefix, all = core.commands()
    local list = {}
    for _, c in ipairs(all) do
      if not c.alias_of then
        c.usage = usage(c.name, c, prefix)
        list[#list + 1] = c
      end
    end
    return list, prefix
  end

  chorus.model = {}
  -- chorus.model.chat{route= | model=, messages=, tools=, max_tokens=, stream=, max_steps=}
  --   -> {text=, model=, usage=, cost=, decision=, ...} | nil, err, kind
  -- tools = "auto" offers every registered chorus.tool to the model and runs
  -- the tool loop (at most max_steps rounds, default 4). Tool results go back
  -- to the model as data; only registered tools can ever be called.
  function chorus.model.chat(req)
    if type(req) ~= "table" or type(req.messages) ~= "table" then
      error("chorus.model.chat needs {route = name, messages = {...}}", 2)
    end
    local route = req.route or req.model or "default"
    local tools = req.tools
    if tools == "auto" then tools = core.tools() end
    if type(tools) == "table" and #tools == 0 then tools = nil end
    local opts = { tools = tools, max_tokens = req.max_tokens, stream = req.stream }
    if not tools then return core.model_chat(route, req.messages, opts) end
    local messages = {}
    for i, m in ipairs(req.messages) do messages[i] = m end
    for _ = 1, req.max_steps or 4 do
      local answer, err, kind = core.model_chat(route, messages, opts)
      if not answer then return nil, err, kind end
      if not answer.tool_calls or #answer.tool_calls == 0 then return answer end
      local calls = {}
      for i, c in ipairs(answer.tool_calls) do
        calls[i] = { id = c.id, type = "function", ["function"] = { name = c.name, arguments = c.arguments } }
      end
      messages[#messages + 1] = { role = "assistant", content = answer.text or "", tool_calls = calls }
      for _, c in ipairs(answer.tool_calls) do
        messages[#messages + 1] = { role = "tool", tool_call_id = c.id, content = core.tool_call(c.name, c.arguments) }
      end
    end
    return nil, "the model kept calling tools past the step limit", "tool_steps"
  end

  chorus.history = {}
  function chorus.history.load(msg)
    return core.history_load(msg.persona.name)
  end
  function chorus.history.append(msg, turns)
    return core.history_append(msg.persona.name, turns)
  end

  function chorus.history.trim(msg, keep)
    return core.history_trim(keep)
  end

  -- What the persona knows and feels (docs/personas.md).
  chorus.empathy = {}
  -- chorus.empathy.observe(msg) -> { sentiment = {valence, arousal, label},
  --   mood = {valence, arousal, label}, user = {new, returning, away_s, turns} }
  function chorus.empathy.observe(msg) return core.observe() end
  chorus.sentiment = core.sentiment

  chorus.memory = {}
  function chorus.memory.facts(msg) return core.facts() end
  function chorus.memory.remember(msg, fact) return core.remember(fact) end
  function chorus.memory.forget(msg) return core.forget() end
  function chorus.memory.summary(msg) return core.summary() end
  function chorus.memory.set_summary(msg, text) return core.summary(text) end
  -- Long-term recall (docs/personas.md): the past turns of this channel most
  -- like TEXT (default: the message), skipping the newest `exclude` (those
  -- already in the prompt). -> { {role, name, content, score}, ... }, record, err.
  -- Without an embedding_model, or when the embedding server fails: {}.
  function chorus.memory.recall(msg, opts)
    opts = opts or {}
    return core.recall(opts.text or msg.text or "", opts.exclude or 0)
  end
  -- Store turns with their embeddings; `record` (from recall) is turn `at`'s.
  function chorus.memory.index(msg, turns, record, at) return core.recall_index(turns, record, at) end

  chorus.prompt = {}
  -- chorus.prompt.build(msg, {turns=, summary=, facts=, observation=, recalled=}) -> messages
  function chorus.prompt.build(msg, ctx) return core.prompt_build(ctx or {}) end
  -- chorus.prompt.greeting(msg) -> the card's first_mes the first time the
  -- persona speaks in this channel (once: Redis remembers), else nil
  function chorus.prompt.greeting(msg) return core.greet() end

  -- chorus.ledger.record{kind=, value=, currency=, ref=}: value a persona created
  -- (a sale, a booking, a coupon redeemed) for the ledger's revenue share.
  chorus.ledger = {}
  function chorus.ledger.record(o)
    if type(o) ~= "table" or type(o.kind) ~= "string" then error("ledger.record needs { kind = ..., value = ... }", 2) end
    return core.ledger_record(o.kind, o.value or 0, o.currency or "USD", o.ref and tostring(o.ref) or "", o.persona)
  end

  chorus.state = scope("plugin")
  function chorus.state.channel(msg) return scope("channel", msg.platform, msg.channel) end
  function chorus.state.user(msg) return scope("user", msg.platform, msg.author.id) end

  chorus.http = {}
  -- chorus.http.request{url=, method=, headers=, body=, query=, timeout=}
  --   -> {status=, headers=, body=} | nil, err. timeout is in seconds (30).
  function chorus.http.request(req)
    if type(req) == "string" then req = { url = req } end
    if type(req) ~= "table" then error("chorus.http.request takes a URL or {url = ..., ...}", 2) end
    if req.query ~= nil then
      if type(req.query) ~= "table" then error("http.request: query must be a table", 2) end
      local q = chorus.http.query(req.query)
      if q ~= "" then
        req = copy(req)
        req.url = tostring(req.url) .. (tostring(req.url):find("?", 1, true) and "&" or "?") .. q
      end
    end
    return core.http_request(req)
  end

  -- chorus.http.urlencode(s): percent-encode all but RFC 3986's unreserved
  -- characters (a space becomes %20), for one query value or path segment.
  function chorus.http.urlencode(s)
    if type(s) == "number" or type(s) == "boolean" then s = tostring(s) end
    if type(s) ~= "string" then error("urlencode takes a string", 2) end
    return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
  end

  -- chorus.http.query{ q = "Paris", units = "metric", tag = {"a", "b"} }
  --   -> "q=Paris&tag=a&tag=b&units=metric" (keys sorted; lists repeat the key)
  function chorus.http.query(t)
    if type(t) ~= "table" then error("query takes a table of names and values", 2) end
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" then error("query: names must be strings", 2) end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    local parts, enc = {}, chorus.http.urlencode
    for _, k in ipairs(keys) do
      local v = t[k]
      if type(v) == "table" then
        for _, item in ipairs(v) do parts[#parts + 1] = enc(k) .. "=" .. enc(item) end
      else
        parts[#parts + 1] = enc(k) .. "=" .. enc(v)
      end
    end
    return table.concat(parts, "&")
  end

  chorus.log = {}
  for _, level in ipairs({ "debug", "info", "warn", "error" }) do
    chorus.log[level] = function(...)
      local parts = pack(...)
      for i = 1, parts.n do parts[i] = tostring(parts[i]) end
      core.log(level, table.concat(parts, " ", 1, parts.n))
    end
  end

  -- chorus.send(platform, channel, text): to any channel, e.g. from a timer
  -- chorus.send(platform, channel, text or { text =, embed =, buttons = } [, persona])
  chorus.send = function(platform, channel, text, persona)
    if type(text) == "table" and getmetatable(text) == nil then
      local ok, body, rich = pcall(split_reply, text)
      if not ok then error("chorus.send: " .. tostring(body), 2) end
      return core.send(platform, channel, body, persona, rich)
    end
    return core.send(platform, channel, text, persona)
  end
  chorus.json = { encode = core.json_encode, decode = core.json_decode }
  chorus.now = core.now
  chorus.sleep = core.sleep

  -- chorus.spawn(fn, ...) -> handle; handle:join() -> ok, results...
  local Spawned = {}
  Spawned.__index = Spawned
  function Spawned:join() return core.join(self.id) end
  function chorus.spawn(fn, ...)
    return setmetatable({ id = core.spawn(fn, ...) }, Spawned)
  end
  function chorus.join(handle) return core.join(handle.id) end

  return chorus
end

-- ---------------------------------------------------------------- sandbox

local function new_env()
  local env = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, tonumber = tonumber, tostring = tostring,
    type = type, xpcall = xpcall, rawequal = rawequal, rawlen = rawlen,
    rawget = rawget, rawset = rawset, getmetatable = getmetatable,
    string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8),
    os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime },
    coroutine = sandbox_coroutine,
  }
  env.string.dump = nil
  local rep, concat = string.rep, table.concat
  -- C functions run without the count hook: cap the big producers.
  env.string.rep = function(s, n, sep)
    local len = #tostring(s) + (sep and #tostring(sep) or 0)
    if type(n) == "number" and n > 0 and len * n > MAX_STRING then
      error("string.rep result too large", 2)
    end
    return rep(s, n, sep)
  end
  env.table.concat = function(t, sep, i, j)
    local total, sl = 0, sep and #tostring(sep) or 0
    for k = i or 1, j or #t do
      local v = t[k]
      total = total + (type(v) == "string" and #v or 24) + sl
      if total > MAX_STRING then error("table.concat result too large", 2) end
    end
    return concat(t, sep, i, j)
  end
  -- Finalizers run at unpredictable times (even at shutdown): refused.
  env.setmetatable = function(t, mt)
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
      error("__gc finalizers are not allowed in plugins", 2)
    end
    return setmetatable(t, mt)
  end
  env._G = env
  env.chorus = new_api()
  env.print = function(...) env.chorus.log.info(...) end
  env.load = function(chunk, chunkname, mode, chunk_env)
    if type(chunk) == "string" and chunk:byte(1) == 27 then return nil, "binary chunks are not allowed" end
    if type(chunk) ~= "string" then return nil, "load takes a string in plugins" end
    -- The compiler is one C call: a chunk's size bounds its time.
    if #chunk > MAX_CHUNK then return nil, ("load: chunk too large (at most %d bytes)"):format(MAX_CHUNK) end
    mode = mode or "bt"
    if type(mode) ~= "string" or not mode:find("t", 1, true) then
      return nil, ("attempt to load a text chunk (mode is '%s')"):format(tostring(mode))
    end
    return load(chunk, chunkname, "t", chunk_env or env)
  end
  local loaded = {}
  env.require = function(name)
    if loaded[name] ~= nil then return loaded[name] end
    if type(name) ~= "string" or not name:match("^[%w_]+[%w_%.]*$") or name:find("%.%.") then
      error("require: bad module name '" .. tostring(name) .. "'", 2)
    end
    local path = DIR .. "/" .. name:gsub("%.", "/") .. ".lua"
    local src, err = core.read_file(path)
    if not src then error("require: " .. err, 2) end
    local fn, lerr = load(src, "@" .. path, "t", env)
    if not fn then error(lerr, 2) end
    local value = fn(name)
    if value == nil then value = true end
    loaded[name] = value
    return value
  end
  return env
end

local env = new_env()
do
  local path = DIR .. "/init.lua"
  local src, err = core.read_file(path)
  if not src then error(err, 0) end
  local fn, lerr = load(src, "@" .. path, "t", env)
  if not fn then error(lerr, 0) end
  fn()
  -- "quiz start" and "quiz top" without a "quiz" of their own: "!quiz"
  -- alone lists them.
  for parent, subs in pairs(subcommands) do
    if not defined[parent] then
      table.sort(subs, function(a, b) return a.name < b.name end)
      local names = {}
      for i, s in ipairs(subs) do names[i] = s.name:match(" (.*)$") end
      local function list_subs(msg)
        local prefix = core.commands()
        local lines = { ("%s%s needs one of: %s"):format(prefix, parent, table.concat(names, ", ")) }
        for _, s in ipairs(subs) do
          lines[#lines + 1] = usage(s.name, s, prefix) .. (s.help and (" - " .. s.help) or "")
        end
        msg:reply(table.concat(lines, "\n"))
        return true
      end
      local spec = { name = parent, help = "subcommands: " .. table.concat(names, ", "), subcommands = names }
      commands[list_subs] = spec
      core.register("command", spec, list_subs)
    end
  end
end

-- ---------------------------------------------------------------- invoke

-- "1m 5s" for a wait of SECS seconds (rounded up).
local function say_wait(secs)
  secs = math.ceil(secs)
  if secs < 60 then return secs .. "s" end
  local m, s = secs // 60, secs % 60
  if m < 60 then return s > 0 and (m .. "m " .. s .. "s") or (m .. "m") end
  return (m // 60) .. "h " .. (m % 60) .. "m"
end

-- A per-user cooldown: nil if the command may run now (and the clock
-- starts), else how long to wait. Aliases share their command's clock.
local function cooldown_take(spec, msg)
  local name = spec.alias_of or spec.name
  local secs = type(spec.cooldown) == "number" and spec.cooldown or parse_duration(tostring(spec.cooldown))
  local per = cooldowns[name]
  if not per then per = { n = 0 }; cooldowns[name] = per end
  local who, now = msg.platform .. ":" .. tostring(msg.author.id), core.now()
  local until_ = per[who]
  if until_ and until_ > now then return say_wait(until_ - now) end
  if not until_ then per.n = per.n + 1 end
  per[who] = now + secs
  -- Forget expired entries now and then, so the table stays small.
  if per.n > 1000 then
    per.n = 0
    for k, v in pairs(per) do
      if k ~= "n" then
        if v <= now then per[k] = nil else per.n = per.n + 1 end
      end
    end
  end
  return nil
end

local M = {}

local MESSAGE_KINDS = { command = true, hear = true, respond = true, fallback = true,
                        event = true, before = true, after = true }

-- A tool's second argument: the message whose handler asked the model,
-- so a tool reads the right conversation (chorus.history.load(ctx.msg)).
-- Without one (a model called from a timer) only ctx.plugin is set.
function M.tool_context(message)
  local ctx = { plugin = NAME }
  if type(message) == "table" then
    local msg = adopt_author(setmetatable(message, Message))
    ctx.msg, ctx.persona, ctx.channel, ctx.platform, ctx.author =
      msg, msg.persona, msg.channel, msg.platform, msg.author
  end
  return ctx
end

-- Run one handler. For message kinds PAYLOAD is the message; a command's
-- arguments are parsed here, and a bad one gets its usage as the reply.
function M.invoke(fn, kind, payload, prefix, message)
  if kind == "tool" then
    return fn(payload, M.tool_context(message))
  end
  if not MESSAGE_KINDS[kind] then
    return fn(payload)
  end
  local msg = adopt_author(setmetatable(payload, Message))
  if kind == "command" then
    local spec = commands[fn]
    local role = msg.author.role or "user"
    if spec.role and (ROLE_RANK[role] or 0) < ROLE_RANK[spec.role] then
      msg:reply(("Sorry, %s%s needs the %s role; you are %s."):format(prefix, spec.name, spec.role, role))
      return true
    end
    local args, err = parse_args(spec, msg.text, prefix)
    if not args then
      msg:reply(("%s. Usage: %s"):format(err, usage(spec.name, spec, prefix)))
      return true
    end
    if spec.cooldown then
      local wait = cooldown_take(spec, msg)
      if wait then
        msg:reply(("Slow down: %s%s can be used again in %s."):format(prefix, spec.alias_of or spec.name, wait))
        return true
      end
    end
    return fn(msg, args)
  end
  return fn(msg)
end

return M
