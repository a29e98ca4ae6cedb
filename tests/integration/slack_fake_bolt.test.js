'use strict';
// The fake Slack is only worth trusting if Slack's own framework works
// against it: an @slack/bolt (Socket Mode) echo bot (bench/slack/bolt-bot.js)
// calls auth.test and apps.connections.open on it, says hello, answers a
// message in a channel and one in a thread, acks every envelope on the
// socket it came on, and comes back after a refresh_requested disconnect and
// after a dropped TCP connection.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { test, after } = require('../lib/tap');
const { startFakeSlack } = require('../lib/fake-slack');
const { delay } = require('../lib/util');

const ROOT = path.resolve(__dirname, '..', '..');
const BOT = path.join(ROOT, 'bench', 'slack', 'bolt-bot.js');

// Where @slack/bolt may be installed: tests/node_modules or bench/slack's,
// in this tree or (under `make distcheck`) in a tree above it.
function nodeModules() {
  const dirs = [];
  for (const start of [ROOT, process.cwd()]) {
    for (let d = start; ; d = path.dirname(d)) {
      for (const sub of [['tests', 'node_modules'], ['bench', 'slack', 'node_modules']]) {
        const p = path.join(d, ...sub);
        if (fs.existsSync(path.join(p, '@slack', 'bolt')) && !dirs.includes(p)) dirs.push(p);
      }
      if (path.dirname(d) === d) break;
    }
  }
  if (!dirs.length) throw new Error('@slack/bolt is not installed: run npm install in tests/');
  return dirs;
}

// Start the fake and the Bolt bot on it; resolve once it said hello.
async function startBoltBot() {
  const fake = await startFakeSlack({ ackTimeoutMs: 1500, pingMs: 1000 });
  after(() => fake.close());
  const proc = spawn(process.execPath, [BOT], {
    env: { ...process.env, SLACK_APP_TOKEN: fake.appToken, SLACK_BOT_TOKEN: fake.botToken, SLACK_API_URL: fake.apiUrl,
      NODE_PATH: nodeModules().join(path.delimiter), SLACK_CLIENT_PING_TIMEOUT: '300' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  after(() => proc.kill('SIGKILL'));
  const started = Date.now();
  while (!/bolt ready/.test(log)) {
    if (proc.exitCode !== null) throw new Error(`bolt exited (${proc.exitCode}):\n${log.slice(-2000)}`);
    if (Date.now() - started > 20000) throw new Error(`bolt did not become ready:\n${log.slice(-2000)}`);
    await delay(50);
  }
  await fake.waitForHello(1);
  return { fake, log: () => log };
}

// Send a message as Ann and wait for its echo.
async function sayAndEcho(fake, text, opts = {}) {
  const rec = fake.userMessage({ text, ...opts });
  const reply = await fake.waitForPost((p) => p.text === `echo: ${text}`, 10000);
  return { rec, reply };
}

test('a Bolt bot authenticates on the fake, acks its envelopes and answers in the channel and in a thread', async () => {
  const { fake } = await startBoltBot();
  assert.ok(fake.calls.some((c) => c.method === 'auth.test' && c.headers.authorization === `Bearer ${fake.botToken}`));
  assert.ok(fake.calls.some((c) => c.method === 'apps.connections.open' && c.headers.authorization === `Bearer ${fake.appToken}`));
  const { rec, reply } = await sayAndEcho(fake, 'hello from Ann');
  assert.equal(reply.channel, 'C0GENERAL');
  const threaded = await sayAndEcho(fake, 'in a thread', { thread_ts: rec.event.ts });
  assert.equal(threaded.reply.thread_ts, rec.event.ts);
  await fake.waitForAck((a) => a.envelope_id === rec.envelopes[0].env.envelope_id);
  await delay(300);
  assert.equal(fake.posts.filter((p) => p.text === 'echo: hello from Ann').length, 1, 'one answer, not one per echo of its own post');
  assert.deepEqual(fake.violations, [], 'acks on the right socket, in time; no limit broken');
});

test('Bolt reconnects after refresh_requested with a new ticket and after a TCP drop, and answers again', async () => {
  const { fake } = await startBoltBot();
  const opensBefore = fake.opens.length;
  fake.liveConns()[0].disconnect('refresh_requested');
  await fake.waitFor('live', () => true, 10000, 'a new connection');
  assert.ok(fake.opens.length > opensBefore, 'a new apps.connections.open for the new connection');
  assert.equal((await sayAndEcho(fake, 'after refresh')).reply.text, 'echo: after refresh');
  fake.liveConns()[0].drop();
  assert.equal((await sayAndEcho(fake, 'after drop')).reply.text, 'echo: after drop');
  assert.ok(fake.gaps().length >= 1, 'Bolt closes before it reopens: the fake saw time with no connection');
  assert.deepEqual(fake.violations, []);
});
