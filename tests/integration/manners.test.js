'use strict';
// Group-chat manners end to end (docs/personas.md): the stories in
// tests/integration/manners/test.lua run under the plugin test kit, on the
// test chat platform with the scripted model and virtual time. Aiko is
// configured here with interests, a cooldown and speaking first after an
// hour of silence; channel blocks set the reply mode per room, and the
// night room's quiet hours cover the start of this run. Each run brings
// its own redis-server.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn, execFile } = require('node:child_process');
const { test, trackChild } = require('../lib/tap');
const { tempDir } = require('../lib/util');
const { startStack } = require('../lib/stack');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const KIT = process.env.CHORUS_TEST ? path.resolve(process.env.CHORUS_TEST) : path.join(SRCDIR, 'src', 'chorus-test');
const STORIES = path.join(SRCDIR, 'tests', 'integration', 'manners');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');

// "HH:MM" of the unix time T (seconds), in UTC.
function clock(t) {
  const d = new Date(t * 1000);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

function writeConfig() {
  const now = Date.now() / 1000;
  const quiet = `${clock(now - 3600)}-${clock(now + 12 * 3600)}`;
  const file = path.join(tempDir('chorus-manners'), 'chorus.conf.lua');
  fs.writeFileSync(file, `
model "default" { provider = "script" }
persona "aiko" {
  display_name = "Aiko", nickname = "Ai-chan", model = "default",
  prompt = "You are Aiko, the test persona.", apology = "Sorry, I can't answer right now.",
  interests = { "tea", "astronomy" }, reply_cooldown_ms = 600000, followup_ms = 120000,
  proactive = { after_silence_ms = 3600000, daily_cap = 2, min_gap_ms = 1 },
}
persona "kenji" {
  display_name = "Kenji", model = "default", prompt = "You are Kenji, the gardener.",
  proactive = { schedule = "0 9 * * *", daily_cap = 1 },
}
default_persona "aiko"
owners { "test:test:olga" }
channel "test:addressed" { reply = "addressed" }
channel "test:auto" { reply = "auto" }
channel "test:always" { reply = "always" }
channel "test:shy" { reply = "auto", reply_probability = 0 }
channel "test:night" { proactive = { quiet_hours = "${quiet}" } }
channel "test:twin" { proactive = { min_gap_ms = 3600000 } }
`);
  return file;
}

function runKit(args, timeoutMs = 60000) {
  return new Promise((resolve) => {
    const proc = trackChild(spawn(KIT, args, { cwd: SRCDIR, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

test('group-chat manners: reply modes, speaking first, quiet hours, the cap and the opt-out', { timeout: 90000 }, async () => {
  const res = await runKit(['--config', writeConfig(), STORIES]);
  const out = res.stdout;
  assert.doesNotMatch(out, /^not ok/m, `a story failed:\n${out}\n${res.stderr}`);
  assert.equal(res.code, 0, `chorus-test failed:\n${out}\n${res.stderr}`);
  const m = /^# (\d+) passed, 0 failed$/m.exec(out);
  assert.ok(m && Number(m[1]) >= 12, `every story ran:\n${out}`);
  for (const story of ['quiet hours', 'as before', 'addressed:', 'auto:', 'always:', 'probability 0', 'moderator sets',
                       'speaks first after an hour', 'daily_cap', 'not to speak first', 'on its schedule', 'another chorusd'])
    assert.ok(out.includes(story), `the story "${story}" ran`);
});

test('a config with bad manners is refused, naming the key', { timeout: 30000 }, async () => {
  const file = path.join(tempDir('chorus-manners'), 'bad.conf.lua');
  fs.writeFileSync(file, 'model "default" { provider = "script" }\n' +
    'persona "aiko" { prompt = "p", model = "default", reply = "sometimes" }\n');
  let res = await runKit(['--config', file, STORIES]);
  assert.notEqual(res.code, 0);
  assert.match(res.stdout + res.stderr, /reply must be "addressed", "auto" or "always"/);
  fs.writeFileSync(file, 'model "default" { provider = "script" }\n' +
    'persona "aiko" { prompt = "p", model = "default" }\nchannel "lobby" { reply = "auto" }\n');
  res = await runKit(['--config', file, STORIES]);
  assert.notEqual(res.code, 0);
  assert.match(res.stdout + res.stderr, /name it as platform:channel/);
  fs.writeFileSync(file, 'model "default" { provider = "script" }\n' +
    'persona "aiko" { prompt = "p", model = "default", proactive = { quiet_hours = "late" } }\n');
  res = await runKit(['--config', file, STORIES]);
  assert.notEqual(res.code, 0);
  assert.match(res.stdout + res.stderr, /proactive\.quiet_hours must read like "22:00-07:00"/);
});

function chorusctl(socket, ...args) {
  return new Promise((resolve) => {
    execFile(CHORUSCTL, ['--socket', socket, ...args], { timeout: 5000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('an operator sets a channel\'s manners with chorusctl', { timeout: 30000 }, async () => {
  const stack = await startStack();
  const sock = /admin_socket "([^"]+)"/.exec(stack.config)[1];
  const key = 'chorus:{discord:4242}:manners';
  let res = await chorusctl(sock, 'reply', 'auto', '--channel', 'discord:4242');
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /In discord:4242 I now answer when I am addressed or the conversation is plainly for me/);
  assert.equal(await stack.redis.cmd('HGET', key, 'reply'), 'auto');
  res = await chorusctl(sock, 'proactive', 'off', '--channel', 'discord:4242');
  assert.equal(res.code, 0, res.stderr);
  assert.equal(await stack.redis.cmd('HGET', key, 'proactive'), 'off');
  res = await chorusctl(sock, 'reply', 'default', '--channel', 'discord:4242');
  assert.equal(res.code, 0, res.stderr);
  assert.equal(await stack.redis.cmd('HGET', key, 'reply'), null);
  res = await chorusctl(sock, 'reply', 'loudly', '--channel', 'discord:4242');
  assert.notEqual(res.code, 0);
  assert.match(res.stdout + res.stderr, /Usage: reply addressed\|auto\|always\|default/);
  res = await chorusctl(sock, 'reply', 'auto');
  assert.notEqual(res.code, 0);
  assert.match(res.stdout + res.stderr, /Which channel\? Give --channel platform:channel/);
});
