'use strict';
// The attack suite: a hostile plugin does what issue 12 found could crash,
// freeze or starve chorusd. For every attack the daemon lives, the attacker
// gets a clear error (or the apology), and a guest in another channel is
// answered within a second while the attack runs.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { writePlugins } = require('../lib/plugins');
const { luaString, delay, cpuSeconds } = require('../lib/util');

const APOLOGY = "Sorry, I can't answer right now.";

// Each attack is a handler body; it replies with what it saw (or fails).
const ATTACKS = {
  // 1. Waits that cannot yield: inside C-called Lua callbacks.
  sleep_in_sort: 'local ok, err = pcall(table.sort, {3, 2, 1}, function(a, b) chorus.sleep(0.2) return a < b end) msg:reply("caught: " .. tostring(err))',
  sleep_in_gsub: 'local ok, err = pcall(string.gsub, "abc", "%w", function(c) chorus.sleep(0.2) return c end) msg:reply("caught: " .. tostring(err))',
  state_in_gsub: 'local ok, err = pcall(string.gsub, "abc", "%w", function(c) chorus.state:get("k") return c end) msg:reply("caught: " .. tostring(err))',
  sleep_in_tostring: 'local ok, err = pcall(tostring, setmetatable({}, { __tostring = function() chorus.sleep(0.2) return "x" end })) msg:reply("caught: " .. tostring(err))',
  sleep_in_sort_uncaught: 'table.sort({3, 2, 1}, function(a, b) chorus.sleep(0.2) return a < b end) msg:reply("SURVIVED")',
  sleep_in_coroutine_in_sort: 'local ok, err = pcall(table.sort, {2, 1}, function(a, b) coroutine.wrap(function() chorus.sleep(0.2) end)() return a < b end) msg:reply("caught: " .. tostring(err))',
  sleep_then_return: 'pcall(table.sort, {3, 2, 1}, function(a, b) chorus.sleep(0.2) return a < b end) pcall(tostring, setmetatable({}, { __tostring = function() chorus.state:get("k") return "x" end })) msg:reply("caught: done")',
  // 2. One C call that never ends.
  table_move: 'table.move({}, 1, 1e12, 2) msg:reply("SURVIVED")',
  // 3. Spawning to reset the budget.
  spawn_loop: 'local ok, err = pcall(function() while true do chorus.spawn(function() end) end end) msg:reply("caught: " .. tostring(err))',
  spawn_budget: 'while true do pcall(chorus.spawn, function() for i = 1, 1e4 do end end) end',
  spawn_many: 'local ok, err = pcall(function() for i = 1, 100000 do chorus.spawn(function() chorus.sleep(5) end) end end) msg:reply("caught: " .. tostring(err))',
  // 5. Long single C calls in a loop.
  find_bomb_loop: 'local s = ("a"):rep(3e4) local bomb = ("a-"):rep(30) .. "b" while true do pcall(("").find, s, bomb) end',
  rep_loop: 'while true do local s = ("").rep("x", 15e6) end',
  rep_method_40mib: 'local ok, err = pcall(function() return ("x"):rep(40 * 2^20) end) msg:reply("caught: " .. tostring(err))',
  // Just over the sort limit (200,000), built in small slices so a sanitized
  // build on a busy machine stays inside the message's budget before the sort.
  sort_2m: 'local t = {} for i = 1, 205000 do t[i] = 205000 - i if i % 5000 == 0 then chorus.sleep(0) end end table.sort(t) msg:reply("SURVIVED")',
  date_bomb: 'local ok, err = pcall(os.date, string.rep("%%", 1e6)) msg:reply("caught: " .. tostring(err))',
  gmatch_bomb_loop: 'local s = ("a"):rep(3e4) for x in s:gmatch(("a-"):rep(30) .. "b") do end while true do end',
  gsub_fn_bomb: 'local s = ("a"):rep(3e4) while true do pcall(string.gsub, s, ("a-"):rep(30) .. "b", "") end',
  unpack_loop: 'local t = {} for i = 1, 1e5 do t[i] = i end while true do table.unpack(t) end',
  load_huge: 'local f, err = load("return " .. ("1+"):rep(6e5) .. "1") msg:reply("caught: " .. tostring(err))',
  concat_loop: 'local t = {} for i = 1, 1e5 do t[i] = "xxxxxxxx" end while true do table.concat(t) end',
  // Also: load() honours its mode; string.dump is not in the string metatable.
  load_mode: 'local f, err = load("return 1", "x", "b") msg:reply("caught: " .. tostring(err))',
  dump_via_metatable: 'local ok, err = pcall(function() return ("").dump(function() end) end) msg:reply("caught: " .. tostring(err))',
};

// The clear error each attack must surface (in its reply or in the log).
const EXPECT = {
  sleep_in_sort: /caught: .*cannot wait here/,
  sleep_in_gsub: /caught: .*cannot wait here/,
  state_in_gsub: /caught: .*cannot wait here/,
  sleep_in_tostring: /caught: .*cannot wait here/,
  sleep_in_sort_uncaught: APOLOGY,
  sleep_in_coroutine_in_sort: /caught: .*cannot wait here/,
  sleep_then_return: 'caught: done',
  table_move: APOLOGY,
  // The spawn cap stops these, or in a slow build (a sanitizer's) the CPU
  // budget may come first: both leave the daemon well. The cap itself
  // is told in skills.test.js, with a budget no load can spend.
  spawn_loop: new RegExp(`caught: .*too many spawned tasks|^${APOLOGY.replace(/[.?]/g, '\\$&')}$`),
  spawn_budget: APOLOGY,
  spawn_many: new RegExp(`caught: .*too many spawned tasks|^${APOLOGY.replace(/[.?]/g, '\\$&')}$`),
  find_bomb_loop: APOLOGY,
  rep_loop: APOLOGY,
  rep_method_40mib: /caught: .*too large/,
  sort_2m: APOLOGY,
  date_bomb: /caught: .*format too long/,
  gmatch_bomb_loop: APOLOGY,
  gsub_fn_bomb: APOLOGY,
  unpack_loop: APOLOGY,
  load_huge: /caught: .*too large/,
  concat_loop: APOLOGY,
  load_mode: /caught: .*attempt to load a text chunk \(mode is 'b'\)/,
  dump_via_metatable: /caught: .*(nil value|dump)/,
};

const LOG_EXPECT = {
  table_move: /table\.move: too many elements/,
  sort_2m: /table\.sort: too many items/,
};

function hostilePlugin() {
  const lines = [];
  for (const [name, body] of Object.entries(ATTACKS)) {
    lines.push(`chorus.command(${luaString(`attack_${name}`)}, function(msg) ${body} end)`);
  }
  lines.push('chorus.command("alive", function(msg) msg:reply("alive") end)');
  return lines.join('\n');
}

async function attackStack(extra = '') {
  const dir = writePlugins({ hostile: { init: hostilePlugin(), manifest: { state: true } } });
  return startStack({ configOptions: { extra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 100 }\n${extra}` } });
}

test('no sandbox attack crashes, freezes or starves the daemon', async () => {
  const stack = await attackStack();
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');
  for (const name of Object.keys(ATTACKS)) {
    const id = ann.say('lobby', `!attack_${name}`);
    // While the attack runs, another channel is still answered: within a second
    // on an idle machine; the wait allows 3 s for a sanitized build on a busy
    // one (the unfixed daemon took 7 s to forever).
    const other = await ben.replyTo(ben.say(`elsewhere-${name}`, `still there during ${name}?`), 3000);
    assert.equal(other.text, `echo: still there during ${name}?`, `another channel during ${name}`);
    const reply = await ann.replyTo(id, 20000);
    if (EXPECT[name] instanceof RegExp) assert.match(reply.text, EXPECT[name], `attack ${name}: ${reply.text}`);
    else assert.equal(reply.text, EXPECT[name], `attack ${name}`);
    if (LOG_EXPECT[name]) await stack.chorus.waitForLog(LOG_EXPECT[name], 1000);
    // Whatever the attack armed has had time to fire: the daemon must live.
    await delay(300);
    assert.equal((await ann.replyTo(ann.say('lobby', '!alive'), 5000)).text, 'alive', `alive after ${name}`);
  }
  assert.equal(stack.chorus.proc.exitCode, null, 'chorusd is still running');
});

test('many matchers share one CPU budget per message', async () => {
  const greedy = [];
  for (let i = 0; i < 20; i++) {
    greedy.push(`chorus.hear(function(msg) if msg.text:find("^burn") then local t = os.clock() while os.clock() - t < 0.15 do end end return false end, function(msg) end)`);
  }
  const dir = writePlugins({ greedy: { init: greedy.join('\n') } });
  const stack = await startStack({ configOptions: { extra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 200 }` } });
  const ann = await stack.user('Ann');
  const before = cpuSeconds(stack.chorus.proc.pid);
  const reply = await ann.replyTo(ann.say('lobby', 'burn please'), 20000);
  assert.equal(reply.text, 'echo: burn please', 'the message is still answered');
  const used = cpuSeconds(stack.chorus.proc.pid) - before;
  assert.ok(used < 1.5, `one message cost ${used.toFixed(2)} s of CPU across 20 greedy matchers (3 s before the fix)`);
  await stack.chorus.waitForLog(/message .* used its CPU budget/, 1000);
});
