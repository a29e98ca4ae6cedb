'use strict';
// The escape suite: a hostile plugin tries every known way out of its
// sandbox. Each attempt must fail or be stopped, the user gets an answer,
// and the gateway keeps serving everyone else.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { writePlugins } = require('../lib/plugins');
const { luaString } = require('../lib/util');

const APOLOGY = "Sorry, I can't answer right now.";

// Each attempt is a Lua function body that returns a string if it got out.
const ATTEMPTS = {
  bytecode: 'local f = string.dump and string.dump(function() end) or "\\27LuaT\\0" return load(f) and "loaded bytecode"',
  load_binary_mode: 'return load("return 1", "x", "b") and load("\\27Lua", "x", "b") and "binary mode"',
  package_loadlib: 'return package and package.loadlib and "package.loadlib"',
  require_escape: 'local ok = pcall(require, "../../../../etc/passwd") return ok and "required a file outside"',
  require_c_module: 'local ok = pcall(require, "socket") return ok and "required a C module"',
  debug_lib: 'return debug and "debug library"',
  io_lib: 'return io and "io library"',
  os_getenv: 'return os.getenv and "os.getenv"',
  os_execute: 'return (os.execute or os.exit or os.remove or os.rename or os.tmpname) and "os escape"',
  dofile_loadfile: 'return (dofile or loadfile) and "dofile/loadfile"',
  collectgarbage: 'return collectgarbage and "collectgarbage"',
  string_metatable: 'local mt = getmetatable("") if mt then mt.__index = { upper = function() return "pwned" end } end return ("x"):upper() ~= "X" and "string metatable"',
  string_metatable_rawset: 'local ok = pcall(function() rawset(getmetatable(""), "__index", {}) end) return ok and "rawset on string metatable"',
  core_reachable: 'return (core or chorus.core or rawget(_G, "core")) and "core table"',
  load_env_escape: 'local f = load("return io or os.execute or debug", "x", "t", setmetatable({}, { __index = _G })) return f and f() and "load env escape"',
  gc_finalizer: 'local ok = pcall(setmetatable, {}, { __gc = function() while true do end end }) return ok and "__gc finalizer accepted"',
};

// Each bomb must stop with an error (the apology), never hang or crash.
const BOMBS = {
  infinite_loop: 'while true do end',
  loop_in_pcall: 'while true do pcall(function() while true do end end) end',
  loop_in_coroutine: 'local f = coroutine.wrap(function() while true do end end) f()',
  memory_table: 'local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(64) .. i end',
  memory_string: 'local s = ("x"):rep(2^30)',
  memory_concat: 'local t = {} for i = 1, 200 do t[i] = ("y"):rep(1e6) end local s = table.concat(t):rep(100)',
  pattern_bomb: 'local s = ("a"):rep(3e4) return s:find(("a-"):rep(30) .. "b")',
  gsub_bomb: 'local s = ("x"):rep(1e6):gsub("x", ("y"):rep(100))',
  deep_recursion: 'local function f(n) return 1 + f(n + 1) end return f(1)',
  tostring_loop: 'error(setmetatable({}, { __tostring = function() while true do end end }))',
  raw_yield: 'coroutine.yield("not a chorus call")',
};

function escapePlugin() {
  const lines = [];
  for (const [name, body] of Object.entries(ATTEMPTS)) {
    lines.push(`chorus.command(${luaString(`try_${name}`)}, function(msg)
      local ok, got = pcall(function() ${body} end)
      msg:reply(ok and got and ("ESCAPED: " .. tostring(got)) or "held")
    end)`);
  }
  for (const [name, body] of Object.entries(BOMBS)) {
    lines.push(`chorus.command(${luaString(`bomb_${name}`)}, function(msg) (function() ${body} end)() msg:reply("BOMB SURVIVED") end)`);
  }
  lines.push('chorus.command("alive", function(msg) msg:reply("alive " .. ("abc"):upper()) end)');
  return lines.join('\n');
}

async function sandboxStack() {
  const dir = writePlugins({
    hostile: { init: escapePlugin() },
    bystander: { init: 'chorus.command("bystander", function(msg) msg:reply(("ok"):upper() .. " " .. tostring(string.upper ~= nil)) end)' },
    tamper: { init: 'string.upper = function() return "tampered" end _G.chorus = nil' },
  });
  return startStack({ configOptions: { extra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 200, memory_mb = 32 }` } });
}

test('every known sandbox escape attempt is held', async () => {
  const stack = await sandboxStack();
  const ann = await stack.user('Ann');
  for (const name of Object.keys(ATTEMPTS)) {
    const reply = await ann.replyTo(ann.say('lobby', `!try_${name}`), 10000);
    assert.equal(reply.text, 'held', `attempt ${name}`);
  }
});

test('every bomb is stopped with an apology, and the gateway and the plugin keep answering', async () => {
  const stack = await sandboxStack();
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');
  for (const name of Object.keys(BOMBS)) {
    const reply = await ann.replyTo(ann.say('lobby', `!bomb_${name}`), 20000);
    assert.equal(reply.text, APOLOGY, `bomb ${name}`);
    assert.equal((await ben.replyTo(ben.say('elsewhere', `still there after ${name}?`), 10000)).text,
      `echo: still there after ${name}?`, `other conversations go on after ${name}`);
  }
  assert.equal((await ann.replyTo(ann.say('lobby', '!alive'))).text, 'alive ABC', 'the hostile plugin itself recovers');
  await stack.chorus.waitForLog(/plugin hostile: handler failed: .*CPU budget/, 1000);
  await stack.chorus.waitForLog(/plugin hostile: handler failed: .*(not enough memory|too large)/, 1000);
  await stack.chorus.waitForLog(/pattern too complex/, 1000);
});

test('one plugin tampering with its globals changes nothing for another', async () => {
  const stack = await sandboxStack();
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', '!bystander'))).text, 'OK true');
});
