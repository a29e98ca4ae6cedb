'use strict';
// The fake OneBot implementation is only worth trusting if a real client
// works against it: an echo bot on the NapCat SDK (node-napcat-ts, the
// bench's peer bench/onebot/napcat-bot.js) connects with its access token,
// hears the lifecycle event, answers group and private messages (segment
// arrays and CQ-code strings) with a reply segment, gets the failure of a
// refused call as the SDK reports it, and comes back after a dropped
// connection; a wrong token is refused before it hears anything.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { test, after, trackChild } = require('../lib/tap');
const { startFakeOneBot } = require('../lib/fake-onebot');
const { replyTo } = require('../lib/onebot-stack');
const { waitFor } = require('../lib/util');

const TOKEN = 'ob-napcat-peer-token-31f0';
const ROOT = path.resolve(__dirname, '..', '..');
const BOT = path.join(ROOT, 'bench', 'onebot', 'napcat-bot.js');
const GROUP = 30003;

// Where node-napcat-ts may be installed: tests/node_modules or
// bench/onebot's, in this tree or (under make distcheck) in a tree above it.
function nodeModules() {
  const dirs = [];
  for (const start of [ROOT, process.cwd()]) {
    for (let d = start; ; d = path.dirname(d)) {
      for (const sub of [['tests', 'node_modules'], ['bench', 'onebot', 'node_modules']]) {
        const p = path.join(d, ...sub);
        if (fs.existsSync(path.join(p, 'node-napcat-ts')) && !dirs.includes(p)) dirs.push(p);
      }
      if (path.dirname(d) === d) break;
    }
  }
  if (!dirs.length) throw new Error('node-napcat-ts is not installed: run npm install in tests/ or bench/onebot/');
  return dirs;
}

// Start the SDK bot on FAKE with TOKEN; resolve { proc, output() } once it is ready (or at once when WAIT is false).
async function startBot(fake, { token = TOKEN, wait = true } = {}) {
  const proc = spawn(process.execPath, [BOT], {
    env: { ...process.env, ONEBOT_URL: fake.wsUrl.replace(/\/$/, ''), ONEBOT_ACCESS_TOKEN: token, RECONNECT_MS: '100',
      NODE_PATH: nodeModules().join(path.delimiter) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(proc);
  after(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); });
  let out = '';
  proc.stderr.on('data', (d) => { out += d; });
  proc.stdout.on('data', (d) => { out += d; });
  const bot = { proc, output: () => out };
  if (wait) await waitFor(() => out.includes('napcat-sdk ready'), { timeoutMs: 10000, what: `the SDK bot to be ready; output:\n${out}` });
  return bot;
}

test('the NapCat SDK bot connects with its token and answers group and private messages with a reply', async () => {
  const fake = await startFakeOneBot({ token: TOKEN });
  after(() => fake.close());
  await startBot(fake);
  const conn = fake.conns[0];
  assert.equal(conn.path, '/');
  assert.equal(conn.query.get('access_token'), TOKEN, 'the SDK sends its token as ?access_token=');
  const ann = fake.user({ nickname: 'Ann', card: 'Annie' });
  const g = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' hello from the group')]);
  const r1 = await replyTo(fake, g);
  assert.equal(r1.action, 'send_group_msg');
  assert.equal(r1.params.group_id, GROUP);
  assert.deepEqual(r1.segments, [fake.reply(g.message_id), fake.text('echo: hello from the group')]);
  const p = fake.privateMessage(ann, 'hello in private');
  const r2 = await replyTo(fake, p);
  assert.equal(r2.action, 'send_private_msg');
  assert.equal(r2.params.user_id, ann.user_id);
  // The bot's own message came back as message_sent; the SDK does not answer it.
  assert.equal(fake.sent.length, 2);
  assert.deepEqual(fake.violations, []);
});

test('CQ-code strings from the implementation are decoded by the SDK the same way', async () => {
  const fake = await startFakeOneBot({ token: TOKEN, messageFormat: 'string' });
  after(() => fake.close());
  await startBot(fake);
  const ann = fake.user({ nickname: 'Ann' });
  const ev = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' [x] & y, z')]);
  assert.equal(typeof ev.message, 'string');
  const r = await replyTo(fake, ev);
  assert.equal(r.text, 'echo: [x] & y, z', 'the SDK undid the CQ escapes the fake made');
  assert.deepEqual(fake.violations, []);
});

test('a refused call reaches the SDK as a failure with its retcode; a dropped connection is dialed again', async () => {
  const fake = await startFakeOneBot({ token: TOKEN });
  after(() => fake.close());
  const bot = await startBot(fake);
  const ann = fake.user({ nickname: 'Ann' });
  fake.failNext.push({ action: 'send_private_msg', retcode: 1400, wording: 'bad request' });
  fake.privateMessage(ann, 'first');
  await waitFor(() => /send failed: retcode 1400/.test(bot.output()), { what: 'the SDK to report the failure' });
  fake.conns[0].drop();
  await fake.waitForConnection((c) => c.id === 2);
  const ev = fake.privateMessage(ann, 'after the drop');
  assert.equal((await replyTo(fake, ev)).text, 'echo: after the drop');
});

test('a wrong token is refused at the upgrade and the SDK hears nothing', async () => {
  const fake = await startFakeOneBot({ token: TOKEN });
  after(() => fake.close());
  const bot = await startBot(fake, { token: 'ob-not-the-token', wait: false });
  assert.equal(await fake.waitForRefused(), 403);
  assert.equal(fake.conns.length, 0);
  assert.ok(!bot.output().includes('napcat-sdk ready'));
});
