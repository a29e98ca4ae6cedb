-- runtime.lua - the Lua side of the skill host.
--
-- chorusd loads this file once per config generation and passes it `core`,
-- the C primitives (skills.c), and the data folder. It returns the module
-- the host calls: load_plugin(name, dir, config) and dispatch(message).
-- Plugins never see `core`; each gets its own sandboxed environment with a
-- `chorus` table built here (docs/plugins.md documents it).
local core, data_dir = ...

local M = {}

-- Handlers of every plugin, in one dispatch table (like Eggdrop's binds).
local handlers = {}
local sequence = 0

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

local function add_handler(plugin, kind, pattern, opts, fn)
  if type(fn) ~= "function" then error("a handler must be a function", 3) end
  sequence = sequence + 1
  handlers[#handlers + 1] = {
    plugin = plugin, kind = kind, pattern = pattern, fn = fn,
    priority = (opts and opts.priority) or (kind == "fallback" and -1000 or 0),
    seq = sequence,
  }
  table.sort(handlers, function(a, b)
    if a.priority ~= b.priority then return a.priority > b.priority end
    return a.seq < b.seq
  end)
end

-- Methods of the message object skills receive.
local Message = {}
Message.__index = Message

function Message:reply(text)
  if type(text) ~= "string" then text = tostring(text) end
  return core.reply(text)
end

function Message:typing()
  return core.typing()
end

-- Build a plugin's `chorus` table.
local function new_api(plugin, config)
  local chorus = { config = config, plugin = plugin }

  -- chorus.hear(pattern, [opts], fn): any message whose text matches.
  function chorus.hear(pattern, opts, fn)
    if fn == nil then opts, fn = nil, opts end
    if type(pattern) ~= "string" then error("hear needs a Lua pattern string", 2) end
    add_handler(plugin, "hear", pattern, opts, fn)
  end

  -- chorus.respond([pattern], [opts], fn): messages addressed to the persona.
  function chorus.respond(pattern, opts, fn)
    if type(pattern) == "function" then pattern, opts, fn = nil, nil, pattern
    elseif fn == nil then
      if type(pattern) == "table" then pattern, opts, fn = nil, pattern, opts
      else opts, fn = nil, opts end
    end
    add_handler(plugin, "respond", pattern, opts, fn)
  end

  -- chorus.fallback(fn): runs when no other handler took the message.
  function chorus.fallback(opts, fn)
    if fn == nil then opts, fn = nil, opts end
    add_handler(plugin, "fallback", nil, opts, fn)
  end

  chorus.model = {}
  -- chorus.model.chat{model=, messages=} -> {text=, usage=, model=} | nil, err
  function chorus.model.chat(req)
    if type(req) ~= "table" or type(req.messages) ~= "table" then
      error("chorus.model.chat needs {model = name, messages = {...}}", 2)
    end
    return core.model_chat(req.model or "default", req.messages)
  end

  chorus.history = {}
  -- chorus.history.load(msg) -> turns (oldest first) | nil, err
  function chorus.history.load(msg)
    return core.history_load(msg.persona.name)
  end
  -- chorus.history.append(msg, turns) -> true | nil, err
  function chorus.history.append(msg, turns)
    return core.history_append(msg.persona.name, turns)
  end

  chorus.log = {}
  for _, level in ipairs({ "debug", "info", "warn", "error" }) do
    chorus.log[level] = function(...)
      local parts = table.pack(...)
      for i = 1, parts.n do parts[i] = tostring(parts[i]) end
      core.log(level, plugin, table.concat(parts, " ", 1, parts.n))
    end
  end

  chorus.json = { encode = core.json_encode, decode = core.json_decode }
  chorus.now = core.now
  chorus.sleep = core.sleep
  return chorus
end

-- The plugin's environment: an allow-list, never the real globals.
local function new_env(plugin, dir, config)
  local env = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, tonumber = tonumber, tostring = tostring,
    type = type, xpcall = xpcall, rawequal = rawequal, rawlen = rawlen,
    setmetatable = setmetatable, getmetatable = getmetatable,
    string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8),
    os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime },
  }
  env.string.dump = nil
  env._G = env
  env.chorus = new_api(plugin, config)
  env.print = function(...) env.chorus.log.info(...) end
  -- load: text chunks only, in this plugin's environment.
  env.load = function(chunk, name, mode, chunk_env)
    if type(chunk) == "string" and chunk:byte(1) == 27 then return nil, "binary chunks are not allowed" end
    return load(chunk, name, "t", chunk_env or env)
  end
  -- require: the plugin's own modules, from its folder.
  local loaded = {}
  env.require = function(name)
    if loaded[name] ~= nil then return loaded[name] end
    if type(name) ~= "string" or not name:match("^[%w_]+[%w_%.]*$") or name:find("%.%.") then
      error("require: bad module name '" .. tostring(name) .. "'", 2)
    end
    local path = dir .. "/" .. name:gsub("%.", "/") .. ".lua"
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

function M.load_plugin(name, dir, config)
  local path = dir .. "/init.lua"
  local src, err = core.read_file(path)
  if not src then error(err, 0) end
  local env = new_env(name, dir, config)
  local fn, lerr = load(src, "@" .. path, "t", env)
  if not fn then error(lerr, 0) end
  fn()
end

-- Does handler H take message MSG? Returns the captures for patterns.
local function matches(h, msg)
  if h.kind == "fallback" then return true end
  if h.kind == "respond" and not msg.direct then return false end
  if h.pattern then return string.find(msg.text, h.pattern) ~= nil end
  return true
end

-- Run handlers by priority until one takes the message. A handler that
-- returns false declines and passes the message on.
function M.dispatch(fields)
  local msg = setmetatable(fields, Message)
  for _, h in ipairs(handlers) do
    if matches(h, msg) then
      local ok, result = xpcall(h.fn, debug.traceback, msg)
      if not ok then
        core.log("error", h.plugin, "handler failed: " .. tostring(result))
        return
      end
      if result ~= false then return end
    end
  end
end

return M
