'use strict';
// The plugin test kit as a plugin author meets it: `chorus-test DIR...`
// runs every shipped plugin's tests green, reports a failing test with
// the file and line that failed, stops tests that hang, and refuses bad
// input with a clear message. Each run brings its own redis-server.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { test, trackChild } = require('../lib/tap');
const { startRedis } = require('../lib/redis');
const { tempDir } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const KIT = process.env.CHORUS_TEST ? path.resolve(process.env.CHORUS_TEST) : path.join(SRCDIR, 'src', 'chorus-test');
const SHIPPED = ['chat', 'coupon', 'help', 'ping', 'remind', 'trivia', 'webhook'];

// Run chorus-test; resolves {code, stdout, stderr}.
function runKit(args, { timeoutMs = 60000, cwd = SRCDIR } = {}) {
  return new Promise((resolve) => {
    const proc = trackChild(spawn(KIT, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

function writePlugin(files) {
  const dir = path.join(tempDir('chorus-kit'), 'shaky');
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

test('every shipped plugin passes its own tests under chorus-test', { timeout: 90000 }, async () => {
  const folders = fs.readdirSync(path.join(SRCDIR, 'plugins')).filter((d) => fs.existsSync(path.join(SRCDIR, 'plugins', d, 'init.lua')));
  assert.deepEqual(folders.sort(), SHIPPED, 'every folder of plugins/ is in this list, so none ships untested');
  const res = await runKit(SHIPPED.map((p) => `plugins/${p}`));
  assert.equal(res.code, 0, `chorus-test failed:\n${res.stdout}\n${res.stderr}`);
  assert.doesNotMatch(res.stdout, /^not ok/m);
  for (const p of SHIPPED) assert.match(res.stdout, new RegExp(`^ok \\d+ - ${p}: `, 'm'), `${p} ran tests`);
  const m = /^# (\d+) passed, 0 failed$/m.exec(res.stdout);
  assert.ok(m && Number(m[1]) >= 20, `a summary with the count: ${res.stdout}`);
  assert.match(res.stdout, new RegExp(`^1\\.\\.${m[1]}$`, 'm'), 'a TAP plan');
});

test('a failing example is reported with its file and line, and exits 1', { timeout: 60000 }, async () => {
  const dir = writePlugin({
    'init.lua': [
      'chorus.command("ping", function(msg) msg:reply("pong") end)',
      'chorus.command("hang", function(msg) chorus.sleep(100) msg:reply("late") end)',
    ].join('\n') + '\n',
    'test.lua': [
      'test("expects the wrong answer", function(t)',
      '  t.eq(t.room("lobby"):user("Ann"):say("!ping"), { "pang" })',
      'end)',
      'test("throws", function(t)',
      '  local x',
      '  return x.y',
      'end)',
      'test("waits for a handler that never ends", { timeout = 1 }, function(t)',
      '  t.room("lobby"):user("Ann"):say("!hang")',
      'end)',
      'test("loops forever", { timeout = 1 }, function(t)',
      '  while true do pcall(function() while true do end end) end',
      'end)',
      'test("still runs after all that", function(t)',
      '  t.eq(t.room("lobby"):user("Ann"):say("!ping"), { "pong" })',
      'end)',
    ].join('\n') + '\n',
    'test/syntax.lua': 'test("x", function(t)\n  t.eq(1, 1\nend)\n',
  });
  const t0 = Date.now();
  const res = await runKit([dir]);
  const out = res.stdout;
  assert.equal(res.code, 1, `exit code 1:\n${out}\n${res.stderr}`);
  assert.match(out, /^not ok 1 - shaky: expects the wrong answer\n#   \S*shaky\/test\.lua:2: expected \{ "pang" \}, got \{ "pong" \}$/m);
  assert.match(out, /^not ok 2 - shaky: throws\n#   \S*shaky\/test\.lua:6: attempt to index a nil value/m);
  assert.match(out, /^not ok 3 - shaky: waits for a handler that never ends\n#   \S*shaky\/test\.lua:9: timed out after 1 s waiting for the handlers of message "!hang" in lobby/m);
  assert.match(out, /^not ok 4 - shaky: loops forever\n#   .*timed out after 1 s \(busy in Lua/m);
  assert.match(out, /^ok 5 - shaky: still runs after all that$/m);
  assert.match(out, /^not ok 6 - \S*shaky\/test\/syntax\.lua\n#   \S*syntax\.lua:3: '\)' expected/m);
  assert.match(out, /^# 1 passed, 5 failed$/m);
  assert.ok(Date.now() - t0 < 30000, 'the hanging tests were cut off at their timeout');
});

test('--redis uses a given server, and each test starts from an empty database', { timeout: 60000 }, async () => {
  const redis = await startRedis();
  await redis.cmd('SET', 'left-over', 'x');
  const dir = writePlugin({
    'init.lua': 'chorus.command("count", function(msg)\n  msg:reply(tostring(chorus.state:incr("n")))\nend)\n',
    'manifest.lua': 'return { name = "shaky", permissions = { state = true } }\n',
    'test.lua': [
      'for i = 1, 2 do',
      '  test("counting from one, run " .. i, function(t)',
      '    t.eq(t.redis("EXISTS", "left-over"), 0)',
      '    t.eq(t.room("lobby"):user("Ann"):say("!count"), { "1" })',
      '  end)',
      'end',
    ].join('\n') + '\n',
  });
  const res = await runKit(['--redis', redis.url, dir]);
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assert.match(res.stdout, /^# 2 passed, 0 failed$/m);
});

test('bad input gets a clear message', async () => {
  const none = await runKit([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Usage: chorus-test/);
  const empty = tempDir('chorus-kit-empty');
  const notPlugin = await runKit([empty]);
  assert.equal(notPlugin.code, 1);
  assert.match(notPlugin.stdout, /^not ok 1 - .*\n#   not a plugin folder: there is no .*init\.lua$/m);
  const untested = writePlugin({ 'init.lua': '-- nothing\n' });
  const res = await runKit([untested]);
  assert.equal(res.code, 1);
  assert.match(res.stdout, /#   no tests: add .*shaky\/test\.lua/);
  const broken = writePlugin({ 'init.lua': 'chorus.command("x", function(msg)\n', 'test.lua': 'test("x", function(t) end)\n' });
  const loadErr = await runKit([broken]);
  assert.equal(loadErr.code, 1);
  assert.match(loadErr.stdout, /setup failed: plugin shaky failed to load: \S*shaky\/init\.lua:2:/);
});
