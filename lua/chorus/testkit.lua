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
-- user:press(button_id [, message_id]) -> the bot's replies to a press of
-- a rich reply's button (a "button" event: chorus.button and
-- chorus.on("button") handlers run, msg.button is the id). MESSAGE_ID is
-- the message the button is on (default: the room's last bot message).
function User:press(button_id, message_id)
  if type(button_id) ~= "string" or button_id == "" then fail("press() takes a button id, got " .. repr(button_id)) end
  local before = bot_entries(self.room.name)
  if message_id == nil and before[#before] then message_id = before[#before].id end
  local id, err = kit.say { channel = self.room.name, user_id = self.id, user = self.name, event = "button",
                            text = button_id, reply_to = message_id }
  if not id then fail(err) end
  self.last_id = id
  local after = bot_entries(self.room.name)
  return texts({ table.unpack(after, #before + 1) })
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
-- ({ text, persona, reply_to, id }, and for a rich reply embed, buttons
-- (rows of { label, id | url }) and ephemeral).
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

-- The pieces of replies streamed here (stream = true, msg:stream), in
-- order; with REPLY_TO only those of the reply to that message id.
function Room:streamed(reply_to)
  local list = {}
  for _, e in ipairs(kit.transcript() or {}) do
    if e.kind == "delta" and e.channel == self.name and (not reply_to or e.reply_to == reply_to) then
      list[#list + 1] = e.text
    end
  end
  return list
end

-- Everything that happened here: { {who, text}, ... } with users by name
-- and the bot by persona; typing, reactions and edits as {"*kind*", text}.
function Room:transcript()
  local list = {}
  for _, e in ipairs(kit.transcript() or {}) do
    if e.channel == self.name then
      if e.kind == "user" then list[#list + 1] = { e.user, e.text }
      elseif e.kind == "bot" then list[#list + 1] = { e.persona, e.text }
      elseif e.kind ~= "delta" then list[#list + 1] = { "*" .. e.kind .. "*", e.text } end
    end
  end
  return list
end

-- ------------------------------------------------------------ the t object

local SKIP = "chorus-test: t.skip() was called"   -- the error t.skip raises
local skipped                              -- its reason

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

  -- t.json.decode(text), t.json.encode(value): for tool results and bodies.
  t.json = {
    encode = kit.json_encode,
    decode = function(text)
      local v, err = kit.json_decode(tostring(text))
      if err then fail("json.decode: " .. err .. " in " .. repr(text)) end
      return v
    end,
  }

  -- Requests to the daemon's own HTTP listener (webhook routes, end to end):
  -- t.http{...}. Plugins' own outbound requests: t.http.mock(...).
  local mocks, seen = {}, {}
  t.http = setmetatable({}, { __call = function(_, req)
    if type(req) ~= "table" or type(req.path) ~= "string" then fail("http() takes {method =, path =, body =, headers =}") end
    local res, err = kit.http(req)
    if not res then fail("http: " .. tostring(err)) end
    return res
  end })

  -- Does mock pattern P ("[METHOD ]url-or-pattern") take REQ?
  local function mock_matches(p, req)
    local method, rest = p:match("^(%u+)%s+(.+)$")
    if method and method ~= req.method then return false end
    rest = rest or p
    if req.url:find(rest, 1, true) then return true end
    local ok, found = pcall(string.find, req.url, rest)
    return ok and found ~= nil
  end

  -- The response a mock gives REQ: its table, or what its function returns.
  local function mock_response(m, req)
    local r = m.response
    if type(r) == "function" then r = r(req) end
    if type(r) == "string" then r = { body = r } end
    if type(r) == "number" then r = { status = r } end
    if type(r) ~= "table" then return false, "t.http.mock for " .. m.pattern .. " gave no response table" end
    local out = {}
    for k, v in pairs(r) do out[k] = v end
    out.headers = {}
    for k, v in pairs(r.headers or {}) do out.headers[k] = v end
    if type(out.body) == "table" then
      out.body = kit.json_encode(out.body)
      local typed = false
      for k in pairs(out.headers) do if k:lower() == "content-type" then typed = true end end
      if not typed then out.headers["Content-Type"] = "application/json" end
    end
    return out
  end

  -- What the daemon calls for each plugin request while this test runs.
  kit.http_mock(function(req)
    if #mocks == 0 then return nil end
    seen[#seen + 1] = req
    for _, m in ipairs(mocks) do
      if mock_matches(m.pattern, req) then return mock_response(m, req) end
    end
    return false, ("no t.http.mock matches %s %s"):format(req.method, req.url)
  end)

  -- t.http.mock(pattern, response | fn(req)): answer plugins' requests whose
  -- URL contains PATTERN (or matches it as a Lua pattern), optionally after
  -- a method: "POST api.example.com/orders". First registered, first tried.
  function t.http.mock(pattern, response)
    if type(pattern) ~= "string" or pattern == "" then fail("http.mock() takes a URL pattern and a response") end
    if response == nil then fail("http.mock(" .. repr(pattern) .. ") needs a response table or function") end
    mocks[#mocks + 1] = { pattern = pattern, response = response }
  end
  -- Every request plugins made while mocks were set: {method, url, headers, body, timeout}.
  function t.http.requests() return seen end

  -- t.http.all{ {method =, path =, body =, headers =}, ... }: requests to
  -- the daemon's listener sent at once (races between webhook calls);
  -- returns their {status, body} (or {error}) in order, once all are done.
  function t.http.all(list)
    if type(list) ~= "table" or #list == 0 then fail("http.all() takes a list of {method =, path =, ...}") end
    for i, req in ipairs(list) do
      if type(req) ~= "table" or type(req.path) ~= "string" then fail(("http.all(): request %d has no path"):format(i)) end
    end
    local res, err = kit.http_many(list)
    if not res then fail("http.all: " .. tostring(err)) end
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
  -- t.model.fail(kind, [message]): the plugin's chorus.model.chat returns
  -- nil, "model <name>: <message>", kind. A message alone is a "server" failure.
  local KINDS = { rate_limit = true, quota = true, server = true, timeout = true, connect = true,
                  context_length = true, content_filter = true, auth = true, bad_request = true,
                  malformed = true, cut = true }
  function t.model.fail(kind, message)
    if kind == nil then kind = "server" end
    if not KINDS[kind] then kind, message = "server", tostring(kind) end
    local ok, err = kit.model_fail(kind, message)
    if not ok then fail(err) end
  end
  -- t.model.tool_call(name, args): the next answer calls tool NAME; the
  -- plugin's tool loop runs it and asks the model again (queue that answer too).
  function t.model.tool_call(name, args)
    if type(name) ~= "string" then fail("model.tool_call() takes the tool's name and its arguments") end
    if args ~= nil and type(args) ~= "table" then fail("model.tool_call(): the arguments are a table") end
    kit.model_tool_call(name, args or {})
  end
  function t.model.requests() return kit.model_requests() end
  function t.model.last()
    local list = kit.model_requests()
    return list[#list]
  end

  -- t.concurrently{ {user, text [, {direct = false}]}, ... }: every message
  -- is sent before any is answered (several users at once, in one room or
  -- several); returns, for each, the bot's replies to it (by reply_to), once
  -- all are done.
  function t.concurrently(list)
    if type(list) ~= "table" or #list == 0 then fail("concurrently() takes a list of {user, text}") end
    local batch = {}
    for i, e in ipairs(list) do
      local user, text, o = e[1], e[2], e[3] or {}
      if getmetatable(user) ~= User or type(text) ~= "string" then
        fail(("concurrently(): entry %d is not {user, text}"):format(i))
      end
      batch[i] = { channel = user.room.name, user_id = user.id, user = user.name, text = text,
                   direct = o.direct ~= false, reply_to = o.reply_to }
    end
    local ids, err = kit.say_many(batch)
    if not ids then fail(err) end
    local replies = {}
    for i, id in ipairs(ids) do
      list[i][1].last_id = id
      replies[i] = {}
    end
    for _, e in ipairs(kit.transcript() or {}) do
      if e.kind == "bot" then
        for i, id in ipairs(ids) do
          if e.reply_to == id and e.channel == batch[i].channel then replies[i][#replies[i] + 1] = e.text end
        end
      end
    end
    return replies
  end

  -- t.skip(reason): stop here and report the test as skipped.
  function t.skip(reason)
    skipped = tostring(reason or "no reason given")
    error(SKIP, 0)
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

local total, failed, skip_count = 0, 0, 0

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
  last_failure, skipped = nil, nil
  local passed, msg, trace = kit.run(tc.fn, new_t(setup), tc.timeout or opts.timeout)
  if passed then
    report(true, label)
  elseif msg == SKIP and skipped then
    report(true, label .. " # SKIP " .. skipped:gsub("\n", " "))
    skip_count = skip_count + 1
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
if skip_count > 0 then
  out:write(("# %d passed, %d failed, %d skipped\n"):format(total - failed - skip_count, failed, skip_count))
else
  out:write(("# %d passed, %d failed\n"):format(total - failed, failed))
end
return failed
