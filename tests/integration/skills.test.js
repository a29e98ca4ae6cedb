'use strict';
// Stories of plugin authors using the skill API: commands with typed
// arguments, priorities and declining, middleware, events, state in Redis
// that no other plugin can touch, concurrency with spawn and coroutines,
// HTTP to allowed hosts only, schedules and timers that survive restarts,
// authenticated webhooks, and hot reload.
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const crypto = require('node:crypto');
const { execFile } = require('node:child_process');
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack, chorusConfig } = require('../lib/stack');
const { startChorusd } = require('../lib/chorusd');
const { openUser } = require('../lib/stack');
const { writePlugins } = require('../lib/plugins');
const { luaString, httpRequest, waitFor, delay } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');

function withPlugins(dir, more = '') {
  return startStack({ configOptions: { extra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 300, deadline_ms = 3000 }\n${more}` } });
}

function chorusctl(stack, ...args) {
  const sock = /admin_socket "([^"]+)"/.exec(stack.config)[1];
  return new Promise((resolve) => {
    execFile(CHORUSCTL, ['--socket', sock, ...args], { timeout: 10000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

test('a command gets typed arguments, and a wrong one gets its usage', async () => {
  const dir = writePlugins({
    timer: {
      init: `chorus.command("brew", { help = "brew tea", args = { { name = "minutes", type = "integer" }, { name = "what", type = "rest", optional = true } } },
        function(msg, args) msg:reply(("brewing %s for %d minutes"):format(args.what or "tea", args.minutes)) end)`,
    },
  });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', '!brew 4 green tea'))).text, 'brewing green tea for 4 minutes');
  assert.equal((await ann.replyTo(ann.say('lobby', '!brew soon'))).text,
    "'minutes' should be a whole number, not \"soon\". Usage: !brew <minutes:integer> [what]");
  assert.equal((await ann.replyTo(ann.say('lobby', '!brewing is fun'))).text, 'echo: !brewing is fun', 'not the command');
});

test('higher priority wins, a declining handler passes the message on, and matchers rank by confidence', async () => {
  const dir = writePlugins({
    a: { init: `chorus.hear("weather", { priority = 5 }, function(msg) if msg.text:find("tomorrow") then return false end msg:reply("a: sunny") end)` },
    b: { init: `chorus.hear("weather", function(msg) msg:reply("b: rain") end)` },
    c: { init: `chorus.hear(function(msg) return msg.text:find("forecast") and 0.9 or 0 end, function(msg) msg:reply("c: forecast") end)
                chorus.hear(function(msg) return msg.text:find("forecast") and 0.2 or 0 end, function(msg) msg:reply("c: weak") end)` },
  });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'weather today?'))).text, 'a: sunny');
  assert.equal((await ann.replyTo(ann.say('lobby', 'weather tomorrow?'))).text, 'b: rain', 'a declined');
  assert.equal((await ann.replyTo(ann.say('lobby', 'the forecast please'))).text, 'c: forecast', 'higher confidence first');
});

test('before-middleware can stop a message, after-middleware sees every one', async () => {
  const dir = writePlugins({
    guard: {
      manifest: { state: true },
      init: `chorus.before(function(msg) if msg.text:find("spam") then msg:reply("blocked") return false end end)
             chorus.after(function(msg) chorus.state:incr("seen") end)
             chorus.command("seen", function(msg) msg:reply("seen " .. tostring(chorus.state:get("seen"))) end)`,
    },
  });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'buy spam now'))).text, 'blocked');
  assert.equal(stack.fake.chatRequests().length, 0, 'the model never saw it');
  await ann.replyTo(ann.say('lobby', 'hello'));
  assert.equal((await ann.replyTo(ann.say('lobby', '!seen'))).text, 'seen 1');
});

test('a join event greets the guest who joined', async () => {
  const dir = writePlugins({ greeter: { init: 'chorus.on("join", function(msg) chorus.send(msg.platform, msg.channel, "welcome to #" .. msg.channel) end)' } });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  ann.join('garden');
  const hello = await ann.ws.next((m) => m.type === 'message' && m.channel === 'garden', 5000, 'a greeting');
  assert.equal(hello.text, 'welcome to #garden');
});

test('state is namespaced per plugin, channel and user: plugins cannot read each other\'s keys', async () => {
  const counter = (name) => ({
    manifest: { state: true },
    init: `chorus.command("${name}", function(msg)
      local n = chorus.state:incr("count")
      chorus.state.channel(msg):set("last", { by = msg.author.name })
      chorus.state.user(msg):push("log", "${name}")
      msg:reply("${name} " .. n)
    end)`,
  });
  const dir = writePlugins({ alpha: counter('alpha'), beta: counter('beta'), nosy: { init: 'chorus.command("peek", function(msg) local ok, err = pcall(chorus.state.get, chorus.state, "count") msg:reply(ok and "read it" or tostring(err)) end)' } });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', '!alpha'))).text, 'alpha 1');
  assert.equal((await ann.replyTo(ann.say('lobby', '!alpha'))).text, 'alpha 2');
  assert.equal((await ann.replyTo(ann.say('lobby', '!beta'))).text, 'beta 1', 'beta has its own counter');
  assert.equal(await stack.redis.cmd('GET', 'chorus:plugin:alpha:count'), '2');
  assert.equal(await stack.redis.cmd('GET', 'chorus:plugin:beta:count'), '1');
  assert.deepEqual(JSON.parse(await stack.redis.cmd('GET', 'chorus:{webchat:lobby}:plugin:beta:last')), { by: 'Ann' });
  const keys = await stack.redis.cmd('KEYS', 'chorus:user:*');
  assert.ok(keys.some((k) => /^chorus:user:webchat:guest:[0-9a-f]+:u-ann:plugin:alpha:log$/.test(k)), keys.join(' '));
  assert.match((await ann.replyTo(ann.say('lobby', '!peek'))).text, /plugin nosy may not keep state/);
});

test('spawn runs work concurrently and join returns its results; chorus calls work inside coroutine.wrap', async () => {
  const dir = writePlugins({
    par: {
      init: `chorus.command("par", function(msg)
        local t0 = chorus.now()
        local a = chorus.spawn(function(x) chorus.sleep(0.4) return x * 2 end, 21)
        local b = chorus.spawn(function() chorus.sleep(0.4) return "b" end)
        local _, x = a:join()
        local _, y = b:join()
        local gen = coroutine.wrap(function() for i = 1, 3 do chorus.sleep(0.01) coroutine.yield(i) end end)
        local sum = gen() + gen() + gen()
        msg:reply(("%d %s %d %s"):format(x, y, sum, chorus.now() - t0 < 0.75 and "parallel" or "serial"))
      end)`,
    },
  });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', '!par'))).text, '42 b 6 parallel');
});

test('a handler that spawns in a loop is stopped at 256 tasks, with an error it can catch', async () => {
  const dir = writePlugins({
    spawner: {
      init: `chorus.command("spawnloop", function(msg)
        local n = 0
        local ok, err = pcall(function() while true do chorus.spawn(function() end) n = n + 1 end end)
        msg:reply(n .. " then: " .. tostring(err))
      end)`,
    },
  });
  // A budget no load can spend first: the cap is what stops the loop.
  const stack = await startStack({ configOptions: { extra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 5000, message_cpu_ms = 10000, deadline_ms = 15000 }` } });
  const ann = await stack.user('Ann');
  const reply = await ann.replyTo(ann.say('lobby', '!spawnloop'), 15000);
  assert.match(reply.text, /^256 then: .*too many spawned tasks \(at most 256 per handler run\)/);
});

test('HTTP requests reach hosts the manifest allows, and no others', async () => {
  const server = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`hello ${req.method} ${req.url}`); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const dir = writePlugins({
    fetcher: { manifest: { http: ['127.0.0.1'] }, init: `chorus.command("fetch", function(msg) local r, err = chorus.http.request{ url = "http://127.0.0.1:${port}/x?y=1" } msg:reply(r and (r.status .. " " .. r.body) or err) end)` },
    sneaky: { init: `chorus.command("sneak", function(msg) local r, err = chorus.http.request{ url = "http://127.0.0.1:${port}/" } msg:reply(r and "got in" or err) end)` },
  });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  try {
    assert.equal((await ann.replyTo(ann.say('lobby', '!fetch'))).text, '200 hello GET /x?y=1');
    assert.match((await ann.replyTo(ann.say('lobby', '!sneak'))).text, /plugin sneaky may not call 127\.0\.0\.1/);
  } finally {
    server.close();
  }
});

test('an every-schedule runs on time, and lives in Redis', async () => {
  const dir = writePlugins({ clock: { manifest: { state: true }, init: 'chorus.every("tick", "1s", function(ev) chorus.send("webchat", "clock", "tick " .. ev.name) end)' } });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  ann.join('clock');
  const tick = await ann.ws.next((m) => m.type === 'message' && m.channel === 'clock', 5000, 'a tick');
  assert.equal(tick.text, 'tick tick');
  // The next tick is written to Redis as the tick fires; the tick itself may
  // reach the browser first, so wait for it.
  const next = async () => (await stack.redis.cmd('ZRANGE', 'chorus:timers', '0', '-1')).some((m) => JSON.parse(m).name === 'tick');
  await waitFor(next, { timeoutMs: 5000, what: 'the next tick in the timers set' });
});

test('a timer set before a restart fires after it', async () => {
  const dir = writePlugins({
    later: { manifest: { state: true }, init: `chorus.command("later", function(msg) chorus.timer_in(1.5, "ring", { channel = msg.channel }) msg:reply("ok") end)
      chorus.on_timer("ring", function(ev) chorus.send("webchat", ev.payload.channel, "ring ring") end)` },
  });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('porch', '!later'))).text, 'ok');
  assert.equal(await stack.chorus.stop('SIGTERM'), 0);
  const again = await startChorusd({ config: stack.config });
  const ben = await openUser(again.wsUrl, 'Ben');
  ben.join('porch');
  const ring = await ben.ws.next((m) => m.type === 'message' && m.channel === 'porch', 6000, 'the ring after the restart');
  assert.equal(ring.text, 'ring ring');
  assert.equal((await stack.redis.cmd('ZRANGE', 'chorus:timers', '0', '-1')).length, 0, 'it fired once and is gone');
});

test('webhooks: no secret or a wrong one gets 401 and never reaches the plugin; HMAC signatures are checked', async () => {
  const dir = writePlugins({
    hook: {
      manifest: { state: true },
      init: `chorus.route("POST", "/deploy", { secret = "s3cret-token" }, function(req) chorus.state:incr("hits") return 200, "deployed " .. req.body end)
             chorus.route("POST", "/signed", { hmac = "hmac-key", window = 300 }, function(req) chorus.state:incr("hits") return 202, { ok = true } end)`,
    },
  });
  const stack = await withPlugins(dir);
  const base = `${stack.chorus.url}/hooks/hook`;
  const post = (p, body, headers = {}) => httpRequest(`${base}${p}`, { method: 'POST', body, headers });
  assert.equal((await post('/deploy', 'v1')).status, 401);
  assert.equal((await post('/deploy', 'v1', { 'x-chorus-secret': 'nope' })).status, 401);
  const ok = await post('/deploy', 'v1', { authorization: 'Bearer s3cret-token' });
  assert.deepEqual([ok.status, ok.body], [200, 'deployed v1']);
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = (body, t = ts, key = 'hmac-key') => 'sha256=' + crypto.createHmac('sha256', key).update(`${t}.${body}`).digest('hex');
  assert.equal((await post('/signed', '{"a":1}', { 'x-chorus-timestamp': ts, 'x-chorus-signature': sig('{"a":2}') })).status, 401);
  const stale = String(Math.floor(Date.now() / 1000) - 3600);
  assert.equal((await post('/signed', 'x', { 'x-chorus-timestamp': stale, 'x-chorus-signature': sig('x', stale) })).status, 401);
  const good = await post('/signed', '{"a":1}', { 'x-chorus-timestamp': ts, 'x-chorus-signature': sig('{"a":1}') });
  assert.deepEqual([good.status, JSON.parse(good.body)], [202, { ok: true }]);
  assert.equal(await stack.redis.cmd('GET', 'chorus:plugin:hook:hits'), '2', 'only the two authenticated requests ran');
  assert.equal((await post('/nowhere', 'x')).status, 404);
  const chunked = await post('/deploy', 'v1', { authorization: 'Bearer s3cret-token', 'transfer-encoding': 'chunked' });
  assert.deepEqual([chunked.status, chunked.body], [200, 'deployed v1'], 'a chunked body (as a proxy may forward it) is read, not refused or left hanging');
  assert.equal(await stack.redis.cmd('GET', 'chorus:plugin:hook:hits'), '3');
});

test('a route without a secret is refused when the plugin loads', async () => {
  const dir = writePlugins({ open: { init: 'chorus.route("POST", "/x", {}, function() return 200 end)' } });
  const { runWithConfig } = require('../lib/chorusd');
  const res = await runWithConfig(chorusConfig({ redisUrl: 'redis://127.0.0.1:1/0', modelBaseUrl: 'http://127.0.0.1:1/v1', extra: `plugins_dir ${luaString(dir)}` }));
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /plugin open failed to load: .*every route needs \{ secret = \.\.\. \} or \{ hmac = \.\.\. \}/);
});

test('chorusctl plugins reload loads a new version; a broken one is refused and the old keeps answering', async () => {
  const dir = writePlugins({ hello: { init: 'chorus.command("hi", function(msg) msg:reply("v1") end)' } });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', '!hi'))).text, 'v1');
  fs.writeFileSync(path.join(dir, 'hello', 'init.lua'), 'chorus.command("hi", function(msg) msg:reply("v2") end)');
  const ok = await chorusctl(stack, 'plugins', 'reload', 'hello');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await ann.replyTo(ann.say('lobby', '!hi'))).text, 'v2');
  fs.writeFileSync(path.join(dir, 'hello', 'init.lua'), 'chorus.command("hi", function(msg) msg:reply("v3") end');
  const bad = await chorusctl(stack, 'plugins', 'reload', 'hello');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /plugin hello failed to load: .*init\.lua:1:/);
  assert.equal((await ann.replyTo(ann.say('lobby', '!hi'))).text, 'v2', 'the old version still answers');
  const list = JSON.parse((await chorusctl(stack, '--json', 'plugins', 'list')).stdout);
  assert.ok(list.plugins.some((p) => p.name === 'hello' && p.memory_bytes > 0));
  assert.equal((await chorusctl(stack, 'plugins', 'reload', 'nosuch')).code, 1);
});

test('in watch mode, saving a plugin file reloads it', async () => {
  const dir = writePlugins({ live: { init: 'chorus.command("v", function(msg) msg:reply("one") end)' } });
  const stack = await startStack({ configOptions: { extra: `plugins_dir ${luaString(dir)}\nskills { watch = true }` } });
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', '!v'))).text, 'one');
  fs.writeFileSync(path.join(dir, 'live', 'init.lua'), 'chorus.command("v", function(msg) msg:reply("two") end)');
  await stack.chorus.waitForLog(/plugin live reloaded/, 5000);
  assert.equal((await ann.replyTo(ann.say('lobby', '!v'))).text, 'two');
});

test('per-channel plugin config overrides the plugin\'s own', async () => {
  const dir = writePlugins({ greet: { init: 'chorus.command("greet", function(msg) msg:reply(msg.config.greeting) end)' } });
  const stack = await withPlugins(dir, 'plugin "greet" { greeting = "hello", channels = { ["webchat:paris"] = { greeting = "bonjour" } } }');
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', '!greet'))).text, 'hello');
  assert.equal((await ann.replyTo(ann.say('paris', '!greet'))).text, 'bonjour');
});

test('a handler paused by a busy machine is charged only for the CPU it used', async () => {
  // The handler works in one stretch. Some way into it, the machine stops
  // chorusd for four seconds (as a loaded host deschedules a process),
  // longer than the three seconds of CPU the handler may use. It used a few
  // milliseconds of them, so it must finish and answer, not get the apology.
  const dir = writePlugins({
    patient: {
      init: `chorus.command("work", function(msg)
        local warm = chorus.now()
        while chorus.now() - warm < 0.02 do end
        local started, last = chorus.now(), chorus.now()
        chorus.log.info("work started")
        while true do
          local now = chorus.now()
          if now - last > 2 then break end
          if now - started > 2.5 then msg:reply("never paused") return end
          last = now
        end
        local sum = 0
        for i = 1, 20000 do sum = sum + i end
        msg:reply("worked " .. sum)
      end)`,
    },
  });
  const stack = await startStack({ configOptions: { extra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 3000, message_cpu_ms = 6000, instructions = 1000000000, deadline_ms = 30000 }` } });
  const ann = await stack.user('Ann');
  const reply = ann.replyTo(ann.say('lobby', '!work'), 20000);
  await stack.chorus.waitForLog(/work started/, 10000);
  process.kill(stack.chorus.pid, 'SIGSTOP');
  await delay(4000);
  process.kill(stack.chorus.pid, 'SIGCONT');
  assert.equal((await reply).text, 'worked 200010000');
});

test('a handler that waits past its deadline is stopped and the user gets the apology', async () => {
  const dir = writePlugins({ sleepy: { init: 'chorus.command("nap", function(msg) chorus.sleep(60) msg:reply("woke") end)' } });
  const stack = await withPlugins(dir);
  const ann = await stack.user('Ann');
  const reply = await ann.replyTo(ann.say('lobby', '!nap'), 10000);
  assert.equal(reply.text, "Sorry, I can't answer right now.");
  await stack.chorus.waitForLog(/deadline/, 2000);
});
