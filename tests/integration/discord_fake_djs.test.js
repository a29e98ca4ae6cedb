'use strict';
// The fake Discord is only worth trusting if a real client library works
// against it: a discord.js v14 echo bot (bench/discord/djs-bot.js) comes
// online on it, answers a DM, and rides out a dropped connection, an op 7
// Reconnect and an op 9 Invalid Session the way chorusd does, answering each
// message exactly once; discord.js's REST client sees enforce_nonce and a
// 429 on a bucket behave as on Discord.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { test, after } = require('../lib/tap');
const { startFakeDiscord } = require('../lib/fake-discord');
const { delay } = require('../lib/util');

const TOKEN = 'MTk4NjIyNDgzNDcxOTI1MjQ4.fake.discord-token-for-djs';
const ROOT = path.resolve(__dirname, '..', '..');
const BOT = path.join(ROOT, 'bench', 'discord', 'djs-bot.js');

// Where discord.js may be installed: tests/node_modules (installed with the
// tests) or bench/discord's, in this tree or, under `make distcheck` (which
// unpacks the tarball inside the build tree), in a tree above it.
function nodeModules() {
  const dirs = [];
  for (const start of [ROOT, process.cwd()]) {
    for (let d = start; ; d = path.dirname(d)) {
      for (const sub of [['tests', 'node_modules'], ['bench', 'discord', 'node_modules']]) {
        const p = path.join(d, ...sub);
        if (fs.existsSync(path.join(p, 'discord.js')) && !dirs.includes(p)) dirs.push(p);
      }
      if (path.dirname(d) === d) break;
    }
  }
  if (!dirs.length) throw new Error('discord.js is not installed: run npm install in tests/');
  return dirs;
}

// Start the fake and the discord.js bot on it; resolve once it is ready.
async function startDjsBot() {
  const fake = await startFakeDiscord({ token: TOKEN, heartbeatMs: 500 });
  after(() => fake.close());
  const nodePath = nodeModules().join(path.delimiter);
  const proc = spawn(process.execPath, [BOT], {
    env: { ...process.env, DISCORD_TOKEN: TOKEN, DISCORD_API: fake.apiBase, NODE_PATH: nodePath },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  after(() => proc.kill('SIGKILL'));
  const started = Date.now();
  while (!/discord\.js ready/.test(log)) {
    if (proc.exitCode !== null) throw new Error(`discord.js exited (${proc.exitCode}):\n${log.slice(-2000)}`);
    if (Date.now() - started > 20000) throw new Error(`discord.js did not become ready:\n${log.slice(-2000)}`);
    await delay(50);
  }
  return { fake, log: () => log };
}

// The bot's answers to message M.
const answersTo = (fake, m) => fake.posted.filter((p) => p.message_reference && p.message_reference.message_id === m.id);

// Send a DM and wait for its echo.
async function dmAndEcho(fake, content) {
  const m = fake.messageCreate({ dm: true, channel_id: '110000000000000001', content });
  const reply = await fake.waitForMessage((p) => p.message_reference && p.message_reference.message_id === m.id, 10000);
  return { m, reply };
}

test('a discord.js bot identifies on the fake and answers a DM with one reply', async () => {
  const { fake } = await startDjsBot();
  const id = await fake.waitForIdentify();
  assert.equal(id.d.token, TOKEN);
  const { m, reply } = await dmAndEcho(fake, 'hello from Ann');
  assert.equal(reply.content, 'echo: hello from Ann');
  await delay(200);
  assert.equal(answersTo(fake, m).length, 1);
  assert.deepEqual(fake.violations, [], 'no gateway or REST limit was broken');
});

test('discord.js resumes after a dropped connection and answers the replayed messages once each', async () => {
  const { fake } = await startDjsBot();
  await dmAndEcho(fake, 'before');
  const t0 = Date.now();
  fake.connFor(0).drop();
  const missed = [fake.messageCreate({ dm: true, channel_id: '110000000000000001', content: 'one' }),
    fake.messageCreate({ dm: true, channel_id: '110000000000000001', content: 'two' })];
  const resume = await fake.waitForResume(20000, t0);
  assert.ok(resume.ok, 'the fake accepted the Resume');
  for (const m of missed) await fake.waitForMessage((p) => p.message_reference && p.message_reference.message_id === m.id, 10000);
  await delay(300);
  for (const m of missed) assert.equal(answersTo(fake, m).length, 1, `"${m.content}" answered exactly once`);
  assert.equal(fake.identifies.length, 1, 'resumed, not identified again');
});

test('discord.js follows op 7 with a resume and op 9 (not resumable) with a fresh identify', async () => {
  const { fake } = await startDjsBot();
  let t0 = Date.now();
  fake.connFor(0).reconnect();
  assert.ok((await fake.waitForResume(20000, t0)).ok, 'op 7 led to a Resume');
  assert.equal((await dmAndEcho(fake, 'after op 7')).reply.content, 'echo: after op 7');
  t0 = Date.now();
  fake.connFor(0).invalidSession(false);
  await fake.waitForIdentify(() => fake.identifies.length >= 2, 20000);
  await fake.waitForReady(0, 20000);
  assert.equal((await dmAndEcho(fake, 'after op 9')).reply.content, 'echo: after op 9');
});

// discord.js's own REST client (@discordjs/rest, what a discord.js bot posts with).
function djsRest(fake) {
  const dirs = nodeModules();
  const dir = dirs.find((d) => fs.existsSync(path.join(d, '@discordjs', 'rest')));
  const { REST } = require(require.resolve('@discordjs/rest', { paths: [dir] }));
  return new REST({ api: fake.apiBase, version: '10', retries: 1 }).setToken(TOKEN);
}

test('discord.js posts with enforce_nonce: a repeated nonce returns the first message; a 429 on a bucket is waited out', async () => {
  const fake = await startFakeDiscord({ token: TOKEN });
  after(() => fake.close());
  const rest = djsRest(fake);
  const channel = '110000000000000009';
  const first = await rest.post(`/channels/${channel}/messages`, { body: { content: 'once', nonce: 'a1b2c3d4e5f60718.0', enforce_nonce: true } });
  const again = await rest.post(`/channels/${channel}/messages`, { body: { content: 'once', nonce: 'a1b2c3d4e5f60718.0', enforce_nonce: true } });
  assert.equal(again.id, first.id, 'the repeat returns the message already made');
  assert.equal(fake.posted.filter((m) => m.channel_id === channel).length, 1, 'one message in the channel');
  await assert.rejects(rest.post(`/channels/${channel}/messages`, { body: { content: 'x', nonce: 'n'.repeat(26) } }),
    /25 or fewer|Invalid Form Body/, 'a nonce over 25 characters is refused');
  fake.force429.push({ route: 'POST /channels/{id}/messages', major: channel, retryAfterMs: 300, bucket: 'msgs-9' });
  const t0 = Date.now();
  const late = await rest.post(`/channels/${channel}/messages`, { body: { content: 'after the wait' } });
  assert.ok(late.id, 'posted after the 429');
  assert.equal(fake.given429.length, 1);
  assert.ok(Date.now() - t0 >= 250, 'discord.js waited out the retry_after the fake gave');
});
