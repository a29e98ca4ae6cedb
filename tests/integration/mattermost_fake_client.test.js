'use strict';
// The fake Mattermost is only worth trusting if the official client works
// against it: an echo bot on @mattermost/client (Client4 for REST,
// WebSocketClient for events; bench/mattermost/mm-bot.js) authenticates on
// it, answers a channel post, a DM and a thread reply, and rides out a
// dropped connection, a gap in `seq` and a lost replay buffer the way the
// real server makes it, answering each post exactly once.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { test, after } = require('../lib/tap');
const { startFakeMattermost } = require('../lib/fake-mattermost');
const { delay } = require('../lib/util');

const TOKEN = 'fake-mattermost-token-for-the-official-client';
const ROOT = path.resolve(__dirname, '..', '..');
const BOT = path.join(ROOT, 'bench', 'mattermost', 'mm-bot.js');

// Where @mattermost/client may be installed: tests/node_modules or
// bench/mattermost's, in this tree or (make distcheck) a tree above it.
function nodeModules() {
  const dirs = [];
  for (const start of [ROOT, process.cwd()]) {
    for (let d = start; ; d = path.dirname(d)) {
      for (const sub of [['tests', 'node_modules'], ['bench', 'mattermost', 'node_modules']]) {
        const p = path.join(d, ...sub);
        if (fs.existsSync(path.join(p, '@mattermost', 'client')) && fs.existsSync(path.join(p, 'ws')) && !dirs.includes(p)) dirs.push(p);
      }
      if (path.dirname(d) === d) break;
    }
  }
  if (!dirs.length) throw new Error('@mattermost/client is not installed: run npm install in tests/');
  return dirs;
}

// Start the fake and the official client's bot on it; resolve once it has its hello.
async function startBot() {
  const fake = await startFakeMattermost({ token: TOKEN });
  after(() => fake.close());
  const proc = spawn(process.execPath, [BOT], {
    env: { ...process.env, MATTERMOST_URL: fake.url, MATTERMOST_TOKEN: TOKEN, MM_RETRY_MS: '100', NODE_PATH: nodeModules().join(path.delimiter) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  after(() => proc.kill('SIGKILL'));
  await fake.waitForHello(20000).catch((e) => { throw new Error(`${e.message}; bot output:\n${log.slice(-2000)}`); });
  return { fake, log: () => log };
}

const echoes = (fake, text) => fake.botPosts.filter((p) => p.message === `echo: ${text}`);

// Post TEXT as Ann (OPTS as for fake.userPost) and wait for its echo.
async function postAndEcho(fake, text, opts = {}) {
  const p = fake.userPost({ message: text, ...opts });
  const reply = await fake.waitForPost((q) => q.message === `echo: ${text}`, 10000);
  return { p, reply };
}

test('the official client authenticates on the fake and answers a channel post, a DM and a thread reply once each', async () => {
  const { fake } = await startBot();
  const auth = await fake.waitForRequest((m) => m.action === 'authentication_challenge');
  assert.equal(auth.data.token, TOKEN);
  assert.equal(auth.seq, 1, 'the first request of a connection has seq 1');
  const me = fake.rest.find((r) => r.route === 'GET /users/me');
  assert.equal(fake.tokenOf(me.headers.authorization), TOKEN);
  const { p, reply } = await postAndEcho(fake, 'hello town');
  assert.equal(reply.channel_id, p.channel_id);
  const dm = await postAndEcho(fake, 'hello bot', { dm: true });
  assert.equal(dm.reply.channel_id, fake.dmWith(fake.ann).id);
  const thread = await postAndEcho(fake, 'in a thread', { root_id: p.id });
  assert.equal(thread.reply.root_id, p.id, 'the answer went into the thread');
  await delay(300);
  for (const t of ['hello town', 'hello bot', 'in a thread']) assert.equal(echoes(fake, t).length, 1, `"${t}" answered once`);
  assert.equal(fake.botPosts.length, 3, 'the bot did not answer its own posts, which came back to it');
  assert.deepEqual(fake.violations, []);
});

test('after a TCP drop the official client reconnects with connection_id and sequence_number and gets the missed posts replayed', async () => {
  const { fake } = await startBot();
  await postAndEcho(fake, 'before');
  const s = fake.liveSession();
  s.conn.drop();
  const missed = ['one', 'two', 'three'].map((m) => fake.userPost({ message: m }));
  const rec = await fake.waitForReconnect((r) => r.connection_id === s.id, 20000);
  assert.equal(rec.outcome, 'replayed', 'the client asked for the events from the drop on');
  for (const m of missed) await fake.waitForPost((q) => q.message === `echo: ${m.message}`, 10000);
  await delay(300);
  for (const m of missed) assert.equal(echoes(fake, m.message).length, 1, `"${m.message}" answered once`);
  assert.equal(fake.hellos.length, 1, 'resumed on the same connection id: no second hello');
});

test('the official client treats a seq gap as a lost event: it reconnects and the event is replayed', async () => {
  const { fake } = await startBot();
  await postAndEcho(fake, 'warm up');
  const s = fake.liveSession();
  fake.loseNext = 1;
  const lost = fake.userPost({ message: 'lost on the wire' });
  const next = fake.userPost({ message: 'the one after' });
  const rec = await fake.waitForReconnect((r) => r.connection_id === s.id, 20000);
  assert.equal(rec.outcome, 'replayed');
  for (const m of [lost, next]) await fake.waitForPost((q) => q.message === `echo: ${m.message}`, 10000);
  await delay(300);
  assert.equal(echoes(fake, lost.message).length, 1);
  assert.equal(echoes(fake, next.message).length, 1);
});

test('when the server no longer has the events, the official client gets a fresh hello with a new connection id', async () => {
  const { fake, log } = await startBot();
  const s = fake.liveSession();
  fake.forgetSessions();
  s.conn.drop();
  const rec = await fake.waitForReconnect((r) => r.connection_id === s.id, 20000);
  assert.equal(rec.outcome, 'unknown');
  const h = await fake.waitForHello(10000, rec.at);
  assert.notEqual(h.connection_id, s.id);
  assert.equal((await postAndEcho(fake, 'after the restart')).reply.message, 'echo: after the restart');
  assert.match(log(), /missed messages/, 'the client noticed that events were lost');
});
