'use strict';
// The fake Telegram is only worth trusting if the official client library
// works against it: a grammY echo bot (bench/telegram/grammy-bot.js, pinned
// in bench/telegram/package.json) starts on it, answers a private message as
// a reply, comes back after a restart without answering anything twice or
// missing what came while it was down, and waits out a 429 on getUpdates and
// on sendMessage the way the docs say (parameters.retry_after).
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { test, after } = require('../lib/tap');
const { startFakeTelegram } = require('../lib/fake-telegram');
const { delay } = require('../lib/util');

const TOKEN = '7098765432:AAG-fake_token_for_the_grammY_peer_xyz';
const ROOT = path.resolve(__dirname, '..', '..');
const BOT = path.join(ROOT, 'bench', 'telegram', 'grammy-bot.js');


// Where grammY may be installed: tests/node_modules or bench/telegram's, in
// this tree or (under make distcheck) in a tree above it.
function nodeModules() {
  const dirs = [];
  for (const start of [ROOT, process.cwd()]) {
    for (let d = start; ; d = path.dirname(d)) {
      for (const sub of [['tests', 'node_modules'], ['bench', 'telegram', 'node_modules']]) {
        const p = path.join(d, ...sub);
        if (fs.existsSync(path.join(p, 'grammy')) && fs.existsSync(path.join(p, '@grammyjs', 'auto-retry')) && !dirs.includes(p)) dirs.push(p);
      }
      if (path.dirname(d) === d) break;
    }
  }
  if (!dirs.length) throw new Error('grammY is not installed: run npm install in bench/telegram/');
  return dirs;
}

// Start the grammY bot on FAKE; resolve once it polls.
async function startGrammy(fake) {
  const proc = spawn(process.execPath, [BOT], {
    env: { ...process.env, TELEGRAM_TOKEN: TOKEN, TELEGRAM_API_URL: fake.apiRoot, NODE_PATH: nodeModules().join(path.delimiter) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  after(() => proc.kill('SIGKILL'));
  const started = Date.now();
  while (!/grammY ready/.test(log)) {
    if (proc.exitCode !== null) throw new Error(`grammY exited (${proc.exitCode}):\n${log.slice(-2000)}`);
    if (Date.now() - started > 20000) throw new Error(`grammY did not start:\n${log.slice(-2000)}`);
    await delay(50);
  }
  return { proc, log: () => log };
}

async function fakeTelegram() {
  const fake = await startFakeTelegram({ token: TOKEN });
  after(() => fake.close());
  return fake;
}

const answersTo = (fake, m) => fake.sent.filter((s) => s.chat_id === m.chat.id && s.reply_to === m.message_id);

test('a grammY bot starts on the fake and answers a private message with one reply', async () => {
  const fake = await fakeTelegram();
  await startGrammy(fake);
  assert.ok(fake.calls.some((c) => c.method === 'getMe' && c.status === 200), 'getMe answered');
  assert.ok(fake.calls.some((c) => c.method === 'deleteWebhook' && c.status === 200), 'grammY drops any webhook first');
  await fake.waitForCall((c) => c.method === 'getUpdates');
  const ann = fake.user({ first_name: 'Ann' });
  const m = fake.userSays(ann, fake.privateChat(ann), 'hello from Ann');
  const reply = await fake.waitForSent((s) => s.reply_to === m.message_id);
  assert.equal(reply.text, 'echo: hello from Ann');
  assert.equal(reply.reply_to_message.text, 'hello from Ann', 'the reply quotes the message it answers');
  await delay(200);
  assert.equal(answersTo(fake, m).length, 1);
  assert.equal(fake.timesDelivered(m), 1);
  assert.deepEqual(fake.violations, [], 'no flood limit was broken');
});

test('after grammY restarts, what came while it was down is answered once and nothing twice', async () => {
  const fake = await fakeTelegram();
  const first = await startGrammy(fake);
  const ann = fake.user({ first_name: 'Ann' });
  const bob = fake.user({ first_name: 'Bob' });
  const before = fake.userSays(ann, fake.privateChat(ann), 'before');
  await fake.waitForSent((s) => s.reply_to === before.message_id);
  // grammY confirms an update by its next getUpdates (offset past it); killed
  // before that, it would get the update again, as from Telegram.
  await fake.waitFor('confirmation', () => fake.updates.length === 0 && fake.forgotten >= 1);
  first.proc.kill('SIGKILL');
  await new Promise((r) => first.proc.once('exit', r));
  const missed = [fake.userSays(ann, fake.privateChat(ann), 'while down'), fake.userSays(bob, fake.privateChat(bob), 'me too')];
  await startGrammy(fake);
  for (const m of missed) await fake.waitForSent((s) => s.chat_id === m.chat.id && s.reply_to === m.message_id);
  await delay(1200);
  assert.equal(answersTo(fake, before).length, 1, 'the message answered before the restart is not answered again');
  for (const m of missed) assert.equal(answersTo(fake, m).length, 1, `"${m.text}" answered once`);
});

test('grammY waits retry_after on a 429 from getUpdates and from sendMessage, then carries on', async () => {
  const fake = await fakeTelegram();
  await startGrammy(fake);
  await fake.waitForCall((c) => c.method === 'getUpdates');
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  fake.force429.push({ method: 'sendMessage', retryAfter: 1 });
  const m = fake.userSays(ann, dm, 'first');
  const reply = await fake.waitForSent((s) => s.reply_to === m.message_id);
  const refused = fake.calls.find((c) => c.method === 'sendMessage' && c.status === 429);
  assert.ok(refused, 'the first sendMessage got 429');
  const retried = fake.calls.find((c) => c.method === 'sendMessage' && c.status === 200);
  assert.ok(retried.at - refused.at >= 900, `sent again after retry_after (${retried.at - refused.at} ms)`);
  assert.equal(reply.text, 'echo: first');
  fake.force429.push({ method: 'getUpdates', retryAfter: 1 });
  fake.dropConnections();           // the long poll in flight fails; the next one gets the 429
  const m2 = fake.userSays(ann, dm, 'second');
  await fake.waitForSent((s) => s.reply_to === m2.message_id, 15000);
  assert.ok(fake.calls.some((c) => c.method === 'getUpdates' && c.status === 429), 'getUpdates got 429');
  assert.equal(answersTo(fake, m2).length, 1);
});
