'use strict';
// Stories of an operator: chorusctl reports what runs, a reload (SIGHUP or
// chorusctl) changes personas without dropping anyone, and a broken config
// on reload keeps the running one.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test } = require('../lib/tap');
const { startStack, chorusConfig } = require('../lib/stack');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');

function chorusctl(socket, ...args) {
  return new Promise((resolve) => {
    execFile(CHORUSCTL, ['--socket', socket, ...args], { timeout: 5000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

function adminSocket(stack) {
  return /admin_socket "([^"]+)"/.exec(stack.config)[1];
}

test('chorusctl status shows Redis, the web chat and the personas; --json is machine-readable', async () => {
  const stack = await startStack();
  const sock = adminSocket(stack);
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600, 'the admin socket is private to its user');
  const human = await chorusctl(sock, 'status');
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /redis\s+connected/);
  assert.match(human.stdout, /platform\s+webchat\s+ready/);
  assert.match(human.stdout, /aiko/);
  const json = await chorusctl(sock, '--json', 'status');
  const st = JSON.parse(json.stdout);
  assert.equal(st.ok, true);
  assert.equal(st.redis.connected, true);
  assert.deepEqual(st.personas, ['aiko', 'kenji']);
  assert.equal(st.default_persona, 'aiko');
  assert.ok(st.models.includes('local') && st.models.includes('default'));
  assert.match(st.plugins, /chat/);
});

test('chorusctl says clearly when no daemon answers, and refuses unknown commands', async () => {
  const missing = await chorusctl('/nonexistent/chorus.sock', 'status');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot connect to \/nonexistent\/chorus\.sock/);
  const unknown = await chorusctl('/nonexistent/chorus.sock', 'dance');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'dance'/);
});

test('SIGHUP reloads a changed prompt without dropping the websocket', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  await ann.replyTo(ann.say('lobby', 'before'));
  const newConfig = stack.config.replace('You are Aiko, a cheerful companion.', 'You are Aiko, now speaking in haiku.');
  assert.notEqual(newConfig, stack.config);
  fs.writeFileSync(stack.chorus.configFile, newConfig);
  stack.chorus.proc.kill('SIGHUP');
  await stack.chorus.waitForLog(/reload: config and plugins reloaded/, 5000);
  const reply = await ann.replyTo(ann.say('lobby', 'after'));
  assert.equal(reply.text, 'echo: after', 'the same socket still works');
  const last = stack.fake.chatRequests().at(-1);
  assert.ok(last.body.messages[0].content.startsWith('You are Aiko, now speaking in haiku.'), 'the new prompt comes first');
});

test('a reload with a broken config is refused with its line, and the running config stays', async () => {
  const stack = await startStack();
  const sock = adminSocket(stack);
  fs.writeFileSync(stack.chorus.configFile, stack.config + 'persona "bad" { promt = "x" }\n');
  const res = await chorusctl(sock, 'reload');
  assert.equal(res.code, 1);
  assert.match(res.stderr, /chorusd\.lua:\d+: persona "bad" has an unknown key 'promt'/);
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'still fine?'))).text, 'echo: still fine?');
  fs.writeFileSync(stack.chorus.configFile, stack.config.replace('default_persona "aiko"', 'default_persona "kenji"'));
  const ok = await chorusctl(sock, 'reload');
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /reloaded/);
  const reply = await ann.replyTo(ann.say('hall', 'who is here?'));
  assert.equal(reply.persona, 'kenji');
});

test('/metrics counts messages in and out in the Prometheus text format', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  await ann.replyTo(ann.say('lobby', 'count me'));
  const { httpGet } = require('../lib/util');
  const res = await httpGet(`${stack.chorus.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.body, /# TYPE chorus_messages_in_total counter/);
  assert.match(res.body, /chorus_messages_in_total\{platform="webchat"\} 1\n/);
  assert.match(res.body, /chorus_messages_out_total\{platform="webchat"\} 1\n/);
  assert.match(res.body, /chorus_model_calls_total\{model="default"\} 1\n/);
});
