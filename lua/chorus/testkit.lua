-- testkit.lua - the runner of `chorus-test` and the `t` API tests use.
--
-- chorusd --test loads this file into the kit's own Lua state with
--   kit   the primitives of src/testkit_lua.c (say, advance, redis, ...)
--   dirs  the plugin folders named on the command line
--   opts  { timeout = seconds, filter = text or nil }
-- and runs it as a coroutine: kit calls that wait suspend it while the
-- daemon works on the same loop. Each test runs in a coroutine of its own,
-- against a fresh set of plugin states and an empty Redis database.
-- It prints TAP and returns the number of failures.
-- docs/testing-plugins.md documents the API.
local kit, dirs, opts = ...

local out = io.stdout
out:setvbuf("line")

-- ------------------------------------------------------------ formatting

local function repr(v, depth)
  depth = depth or 0
  if type(v) == "string" then return ("%q"):format(v):gsub("\\\n", "\\n") end
  if type(v) ~= "table" then return tostring(v) end
  if depth > 4 then return "{...}" end
  local parts, n = {}, #v
  for i = 1, n do parts[#parts + 1] = repr(v[i], depth + 1) end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or ("[" .. repr(k) .. "]")
    parts[#parts + 1] = key .. " = " .. repr(v[k], depth + 1)
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local function deep_eq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not deep_eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- "10m", "1h30m", "45s", 90 -> seconds
local UNITS = { s = 1, m = 60, h = 3600, d = 86400, w = 604800 }
local function seconds(d)
  if type(d) == "number" then return d end
  if type(d) ~= "string" or d == "" then return nil end
  local total, rest = 0, d
  while rest ~= "" do
    local n, unit, tail = rest:match("^(%d+%.?%d*)([smhdw])(.*)$")
    if not n then return nil end
    total, rest = total + tonumber(n) * UNITS[unit], tail
  end
  return total
end

-- ------------------------------------------------------------ failures

local current_source     -- "@path" of the test file that is running
local last_failure       -- the message of the last assertion that failed

-- "file:line: " of the innermost frame in the test file, so a failure
-- points at the test's line even from inside a helper of the kit.
local function where()
  for level = 2, 60 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source == current_source and info.currentline > 0 then
      return info.source:sub(2) .. ":" .. info.currentline .. ": "
    end
  end
  return ""
end

local function fail(msg)
  last_failure = where() .. msg
  error(last_failure, 0)
end

-- The traceback lines that are in test files: what the author wrote.
local function test_frames(trace)
  local lines = {}
  for line in (trace or ""):gmatch("[^\n]+") do
    if current_source and line:find(current_source:sub(2), 1, true) then lines[#lines + 1] = line:gsub("^%s+", "") end
  end
  return lines
end

-- ------------------------------------------------------------ rooms and users

local function bot_entries(channel)
  local list = {}
  for _, e in ipairs(kit.transcript() or {}) do
    if e.kind == "bot" and e.channel == channel then list[#list + 1] = e end
  end
  return list
end

local function texts(entries)
  local list = {}
  for i, e in ipairs(entries) do list[i] = e.text end
  return list
end

local User = {}
User.__index = User

-- user:say(text [, {direct = false, reply_to = id}]) -> the bot's replies
-- in this room to it (and to whatever it set off), once all is done.
function User:say(text, o)
  if type(text) ~= "string" then fail("say() takes the message text, got " .. repr(text)) end
  o = o or {}
  local before = #bot_entries(self.room.name)
  local id, err = kit.say { channel = self.room.name, user_id = self.id, user = self.name, text = text,
                            direct = o.direct ~= false, reply_to = o.reply_to }
  if not id then fail(err) end
  self.last_id = id
  local after = bot_entries(self.room.name)
  return texts({ table.unpack(after, before + 1) })
end

-- user:join(), user:leave(), user:react(emoji [, message_id]): events.
local function event(user, name, reaction, reply_to)
  local id, err = kit.say { channel = user.room.name, user_id = user.id, user = user.name, event = name,
                            reaction = reaction, reply_to = reply_to }
  if not id then fail(err) end
end
function User:join() event(self, "join") end
function User:leave() event(self, "leave") end
function User:react(emoji, message_id) event(self, "reaction", emoji, message_id) end

local Room = {}
Room.__index = Room

-- room:user(name, {id =, role = "moderator"}): role is granted the way
-- `chorusctl op` grants it (in Redis), so msg.author.role and commands
-- with { role = ... } see it.
function Room:user(name, o)
  o = o or {}
  local user = setmetatable({ room = self, name = name, id = o.id or ("test:" .. name:lower()) }, User)
  if o.role ~= nil then
    if o.role ~= "moderator" and o.role ~= "admin" and o.role ~= "owner" then
      fail("user(): role is \"moderator\", \"admin\" or \"owner\", got " .. repr(o.role))
    end
    local ok, err = kit.redis("HSET", "chorus-test:roles:test:" .. user.id, "*", o.role)
    if not ok then fail("user(): cannot grant the role: " .. tostring(err)) end
  end
  return user
end

-- What the bot said here, in order: texts, or whole entries
-- ({ text, persona, reply_to, id }).
function Room:replies() return texts(bot_entries(self.name)) end
function Room:messages() return bot_entries(self.name) end
function Room:last()
  local list = bot_entries(self.name)
  return list[#list] and list[#list].text
end
function Room:last_message()
  local list = bot_entries(self.name)
  return list[#list]
end

-- Everything that happened here: { {who, text}, ... } with users by name
-- and the bot by persona; typing, reactions and edits as {"*kind*", text}.
function Room:transcript()
  local list = {}
  for _, e in ipairs(kit.transcript() or {}) do
    if e.channel == self.name then
      if e.kind == "user" then list[#list + 1] = { e.user, e.text }
      elseif e.kind == "bot" then list[#list + 1] = { e.persona, e.text }
      else list[#list + 1] = { "*" .. e.kind .. "*", e.text } end
    end
  end
  return list
end

-- ------------------------------------------------------------ the t object

local function new_t(setup)
  local t = { model = {} }

  function t.room(name)
    if type(name) ~= "string" or name == "" then fail("room() takes a channel name") end
    return setmetatable({ name = name }, Room)
  end

  -- Move virtual time forward; timers and schedules now due run to the end.
  function t.advance(d)
    local s = seconds(d)
    if not s then fail("advance() takes seconds or a duration like \"10m\", got " .. repr(d)) end
    local ok, err = kit.advance(s)
    if not ok then fail(err) end
  end

  -- Wait until the daemon has nothing left to do.
  function t.settle()
    local ok, err = kit.settle()
    if not ok then fail(err) end
  end

  -- Stop and start the plugins (fresh Lua states); Redis keeps its data.
  function t.restart()
    kit.drain()
    local ok, err = kit.build(setup.set, setup.configs)
    if not ok then fail("restart: " .. setup.fix(err)) end
    t.settle()
  end

  function t.redis(...)
    local r, err = kit.redis(...)
    if r == nil and err then fail("redis: " .. err) end
    return r
  end

  t.now = kit.now

  -- Requests to the daemon's own HTTP listener (webhook routes, end to end).
  function t.http(req)
    if type(req) ~= "table" or type(req.path) ~= "string" then fail("http() takes {method =, path =, body =, headers =}") end
    local res, err = kit.http(req)
    if not res then fail("http: " .. tostring(err)) end
    return res
  end
  function t.post(path, body, headers)
    return t.http { method = "POST", path = path, body = body, headers = headers }
  end
  -- The headers a sender signs BODY with for an { hmac = SECRET } route.
  function t.sign(secret, body, timestamp)
    timestamp = tostring(timestamp or math.floor(kit.now()))
    return { ["X-Chorus-Timestamp"] = timestamp, ["X-Chorus-Signature"] = kit.hmac(secret, timestamp, body) }
  end

  -- The scripted model: queue answers, read back what was asked.
  function t.model.reply(text)
    if type(text) ~= "string" then fail("model.reply() takes the answer's text") end
    kit.model_push(text)
  end
  function t.model.fail(err) kit.model_push("", tostring(err or "the scripted model failed")) end
  function t.model.requests() return kit.model_requests() end
  function t.model.last()
    local list = kit.model_requests()
    return list[#list]
  end

  -- Assertions: each failure names the line of the test that made it.
  function t.eq(got, want, msg)
    if not deep_eq(got, want) then
      fail((msg and (msg .. ": ") or "") .. "expected " .. repr(want) .. ", got " .. repr(got))
    end
  end
  function t.ne(got, unwanted, msg)
    if deep_eq(got, unwanted) then fail((msg and (msg .. ": ") or "") .. "did not expect " .. repr(got)) end
  end
  function t.ok(v, msg)
    if not v then fail(msg or ("expected a true value, got " .. repr(v))) end
    return v
  end
  function t.match(s, pattern, msg)
    if type(s) ~= "string" or not s:find(pattern) then
      fail((msg and (msg .. ": ") or "") .. repr(s) .. " does not match the pattern " .. repr(pattern))
    end
  end
  function t.contains(s, part, msg)
    if type(s) ~= "string" or not s:find(part, 1, true) then
      fail((msg and (msg .. ": ") or "") .. repr(s) .. " does not contain " .. repr(part))
    end
  end
  function t.fail(msg) fail(msg or "failed") end

  return t
end

-- ------------------------------------------------------------ the runner

local total, failed = 0, 0

local function report(ok, label, detail)
  total = total + 1
  if not ok then failed = failed + 1 end
  out:write(("%sok %d - %s\n"):format(ok and "" or "not ", total, (label:gsub("\n", " "))))
  if detail then
    for line in tostring(detail):gmatch("[^\n]+") do out:write("#   ", line, "\n") end
  end
end

-- Empty the database the daemon uses, waiting for Redis to come up.
local function flush()
  local deadline = os.time() + 5
  while true do
    local r, err = kit.redis("FLUSHDB")
    if r then return true end
    if os.time() > deadline then return nil, "cannot reach Redis: " .. tostring(err) end
    kit.sleep(0.05)
  end
end

local function run_test(setup, tc, label)
  kit.drain()
  local ok, err = flush()
  if ok then
    kit.clear()
    local configs = setup.configs
    if tc.config then
      configs = {}
      for k, v in pairs(setup.configs) do configs[k] = v end
      configs[setup.plugin.name] = tc.config
    end
    ok, err = kit.build(setup.set, configs)
    if ok then ok, err = kit.settle() end
  end
  if not ok then
    report(false, label, "setup failed: " .. setup.fix(err))
    return
  end
  last_failure = nil
  local passed, msg, trace = kit.run(tc.fn, new_t(setup), tc.timeout or opts.timeout)
  if passed then
    report(true, label)
  elseif msg == last_failure then
    report(false, label, msg)
  else
    local lines = test_frames(trace)
    local detail = msg
    if #lines > 0 then detail = detail .. "\nstack:\n  " .. table.concat(lines, "\n  ") end
    report(false, label, detail)
  end
end

-- Run FILE's top level with a CPU limit: it only declares tests.
local function load_tests(file, env)
  local chunk, err = loadfile(file, "t", env)
  if not chunk then return nil, err end
  local limit = os.clock() + 5
  debug.sethook(function()
    if os.clock() > limit then error(file .. ": the top level of the file ran for 5 s (tests go inside test())", 0) end
  end, "", 10000)
  local ok, run_err = pcall(chunk)
  debug.sethook()
  if not ok then return nil, tostring(run_err) end
  return true
end

local function run_file(plugin, file)
  local setup = { plugin = plugin, set = { { name = plugin.name, dir = plugin.dir } }, configs = {}, tests = {} }
  local names = { [plugin.name] = plugin.dir }
  function setup.fix(err)
    err = tostring(err)
    for name, dir in pairs(names) do
      local tmp = kit.tmp .. "/plugins/" .. name
      local i, j = err:find(tmp, 1, true)
      while i do
        err = err:sub(1, i - 1) .. dir .. err:sub(j + 1)
        i, j = err:find(tmp, i + #dir, true)
      end
    end
    return err
  end
  local env = setmetatable({}, { __index = _G })
  -- test(name, [{timeout = s, config = {...}}], fn)
  function env.test(name, o, fn)
    if fn == nil then o, fn = {}, o end
    if type(name) ~= "string" or type(fn) ~= "function" or type(o) ~= "table" then
      error("test() takes a name, optional options and a function", 2)
    end
    setup.tests[#setup.tests + 1] = { name = name, fn = fn, timeout = o.timeout, config = o.config }
  end
  -- plugins { "ping", "../elsewhere/foo" }: load these next to the plugin under test
  function env.plugins(list)
    for _, p in ipairs(list) do
      local path = p:find("/", 1, true) and (plugin.dir .. "/" .. p) or (plugin.dir .. "/../" .. p)
      local dir, err = kit.realpath(path)
      if not dir then error(("plugins(): cannot find %s (%s): %s"):format(p, path, err), 2) end
      local name = dir:match("([^/]+)$")
      if names[name] then error("plugins(): two plugins are named " .. name, 2) end
      names[name] = dir
      setup.set[#setup.set + 1] = { name = name, dir = dir }
    end
  end
  -- config { ... } for the plugin under test, config("name", { ... }) for another
  function env.config(a, b)
    if b == nil then a, b = plugin.name, a end
    if type(a) ~= "string" or type(b) ~= "table" then error("config() takes [a plugin name and] a table", 2) end
    setup.configs[a] = b
  end
  local ok, err = load_tests(file, env)
  if not ok then
    report(false, file, err)
    return
  end
  if #setup.tests == 0 then report(false, file, "the file declares no test(...)") end
  current_source = "@" .. file
  for _, tc in ipairs(setup.tests) do
    if not opts.filter or tc.name:find(opts.filter, 1, true) then
      run_test(setup, tc, plugin.name .. ": " .. tc.name)
    end
  end
end

for _, arg in ipairs(dirs) do
  arg = arg:gsub("/+$", "")
  local dir, err = kit.realpath(arg)
  local init = dir and io.open(dir .. "/init.lua")
  if not dir then
    report(false, arg, "cannot open the plugin folder: " .. err)
  elseif not init then
    report(false, arg, "not a plugin folder: there is no " .. arg .. "/init.lua")
  else
    init:close()
    out:write("# ", arg, "\n")
    local files = kit.test_files(arg)
    if #files == 0 then report(false, arg, "no tests: add " .. arg .. "/test.lua (see docs/testing-plugins.md)") end
    for _, file in ipairs(files) do run_file({ name = dir:match("([^/]+)$"), dir = dir }, file) end
  end
end
kit.drain()
out:write(("1..%d\n"):format(total))
out:write(("# %d passed, %d failed\n"):format(total - failed, failed))
return failed
