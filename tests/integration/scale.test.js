'use strict';
// Scaling out: one gateway holds the Discord connection, workers run the
// skills, all over one Redis through streams. Every message is answered
// exactly once, in order per channel, even when a worker is killed in the
// middle of a slow handler; and the bench's echo config runs as gateway
// and worker with no option but --role.

const path = require('node:path');
const { spawn } = require('node:child_process');
const assert = require('node:assert/strict');
const { test, after, trackChild, onFailure } = require('../lib/tap');
const { startScaleStack, channelsCovering, TOKEN } = require('../lib/scale-stack');
const { startRedis } = require('../lib/redis');
const { startFakeDiscord } = require('../lib/fake-discord');
const { waitFor, delay, httpGet } = require('../lib/util');
const { chorusdBinary, SRCDIR } = require('../lib/chorusd');
const { execFile } = require('node:child_process');
const { tempDir } = require('../lib/util');

const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');

function chorusctl(socket, ...args) {
  return new Promise((resolve) => {
    execFile(CHORUSCTL, ['--socket', socket, ...args], { timeout: 5000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const PARTITIONS = 6;

// Send ROUNDS messages in each of CHANNELS (round-robin, so channels
// interleave); returns them in sending order.
function talk(fake, channels, rounds, text = (c, i) => `m${i} in ${c}`) {
  const sent = [];
  for (let i = 0; i < rounds; i++) {
    for (const c of channels) sent.push(fake.messageCreate({ channel_id: c, content: text(c, i) }));
  }
  return sent;
}

// Every message answered exactly once, and each channel's answers in the
// order its messages were sent.
function assertExactlyOnceInOrder(s, sent, what) {
  for (const m of sent) {
    const answers = s.answersTo(m.id);
    assert.equal(answers.length, 1, `${what}: "${m.content}" got ${answers.length} answers`);
    assert.equal(answers[0].content, `echo: ${m.content}`);
  }
  const byChannel = new Map();
  for (const m of sent) {
    if (!byChannel.has(m.channel_id)) byChannel.set(m.channel_id, []);
    byChannel.get(m.channel_id).push(m.id);
  }
  for (const [channel, ids] of byChannel) {
    const answered = s.fake.posted.filter((r) => r.channel_id === channel && r.message_reference)
      .map((r) => r.message_reference.message_id).filter((id) => ids.includes(id));
    assert.deepEqual(answered, ids, `${what}: channel ${channel} answered out of order`);
  }
}

async function heldBy(s, chorus) {
  return s.metric(chorus, 'chorus_bus_partitions_held', 'held');
}

test('one gateway and three workers answer every message once, each channel in order, and share the work', { timeout: 120000 }, async () => {
  const s = await startScaleStack({ partitions: PARTITIONS });
  const admin = tempDir('scale-admin');
  const gwSock = path.join(admin, 'gateway.sock');
  const wSock = path.join(admin, 'worker.sock');
  const gateway = await s.start('gateway', { env: { CHORUS_TEST_ADMIN: gwSock } });
  await s.fake.waitForReady(0, 30000);
  const workers = [];
  for (let i = 0; i < 3; i++) workers.push(await s.start('worker', { env: i === 0 ? { CHORUS_TEST_ADMIN: wSock } : {} }));
  for (const c of [gateway, ...workers]) await s.waitReady(c);
  // The partitions settle two to each worker.
  await waitFor(async () => {
    const held = await Promise.all(workers.map((w) => heldBy(s, w)));
    return held.every((h) => h === 2);
  }, { timeoutMs: 15000, what: 'the six partitions to settle two per worker' });

  const channels = channelsCovering(PARTITIONS);
  const sent = talk(s.fake, channels, 5);
  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 20000, what: 'every message to be answered' });
  await delay(300);   // a duplicate would arrive right behind
  assertExactlyOnceInOrder(s, sent, 'three workers');
  for (const w of workers) {
    const handled = await s.metric(w, 'chorus_messages_in_total', 'discord');
    assert.ok(handled >= 5, `worker ${w.pid} handled ${handled} messages; each should have run its channels`);
  }
  assert.equal(await s.metric(gateway, 'chorus_messages_in_total', 'discord'), 0, 'the gateway runs no skills');

  // What the operator sees: the role, what each worker holds, lag and pending counts.
  await s.waitMetrics(workers[0], /^chorus_bus_role\{role="worker"\} 1$/m);
  await s.waitMetrics(workers[0], /^chorus_bus_stream_pending\{stream="in:\{p0\}"\} 0$/m);
  await s.waitMetrics(workers[0], /^chorus_bus_stream_lag\{stream="in:\{p5\}"\} 0$/m);
  await s.waitMetrics(gateway, /^chorus_bus_role\{role="gateway"\} 1$/m);
  await s.waitMetrics(gateway, /^chorus_bus_stream_pending\{stream="out:\{gw:main\}"\} 0$/m);

  // Acknowledged entries are trimmed away (whole stream nodes of 4, MINID ~).
  await waitFor(async () => (await s.ingressLength(PARTITIONS)) < sent.length / 2,
    { timeoutMs: 5000, what: 'the ingress streams to be trimmed' });

  // chorusctl status on each process: its role, what it holds, the streams.
  const ws = JSON.parse((await chorusctl(wSock, '--json', 'status')).stdout);
  assert.equal(ws.role, 'worker');
  assert.equal(ws.bus.held.length, 2, 'the worker holds two partitions');
  assert.equal(ws.bus.workers.length, 3, 'and sees three live workers');
  assert.equal(ws.bus.streams.length, PARTITIONS);
  assert.ok(ws.bus.streams.every((p) => p.owner && p.pending === 0 && p.lag === 0), 'every partition owned, nothing waiting');
  const human = (await chorusctl(wSock, 'status')).stdout;
  assert.match(human, /^role +worker/m);
  assert.match(human, /^streams +6 partitions, ingress lag 0, pending 0/m);
  assert.match(human, /^held +\d\(reading\) \d\(reading\)$/m);
  const gs = (await chorusctl(gwSock, 'status')).stdout;
  assert.match(gs, /^role +gateway/m);
  assert.match(gs, /egress lag 0, pending 0/);
  assert.match(gs, /^platform +discord +ready/m);

  // A platform duplicate (Discord replays an event after a resume) is answered once.
  const again = s.fake.messageCreate({ channel_id: channels[0], content: 'replayed', id: sent[0].id });
  await delay(800);
  assert.equal(s.answersTo(again.id).length, 1, 'a replayed event is not answered again');
  assert.ok(await workers.reduce(async (acc, w) => (await acc) + await s.metric(w, 'chorus_bus_events_total', 'duplicate'), 0) >= 1,
    'the duplicate is counted');

  // Every process stops cleanly: workers give their leases back, the gateway closes.
  for (const w of workers) assert.equal(await w.stop('SIGTERM'), 0, `worker ${w.pid} exits 0`);
  assert.equal(await s.redis.cmd('EXISTS', 'scale:lease:{in}:p0'), 0, 'the leases were given back');
  assert.equal(await gateway.stop('SIGTERM'), 0, 'the gateway exits 0');
});

test('a worker killed in the middle of a slow handler: its work is taken over, every message still answered once, in order', { timeout: 120000 }, async () => {
  const s = await startScaleStack({ partitions: PARTITIONS, slowSeconds: 1.5 });
  const gateway = await s.start('gateway');
  await s.fake.waitForReady(0, 30000);
  const workers = [];
  for (let i = 0; i < 3; i++) workers.push(await s.start('worker'));
  for (const c of [gateway, ...workers]) await s.waitReady(c);
  await waitFor(async () => (await Promise.all(workers.map((w) => heldBy(s, w)))).every((h) => h === 2),
    { timeoutMs: 15000, what: 'the partitions to settle' });

  const channels = channelsCovering(PARTITIONS);
  // Each channel: a slow message first, then quick ones queued behind it.
  const sent = talk(s.fake, channels, 4, (c, i) => (i === 0 ? `slow ${c}` : `m${i} in ${c}`));
  // Wait until some worker is inside a slow handler, and kill it there.
  const victim = await Promise.race(workers.map((w) => w.waitForLog(/plugin echo: handling slow/, 10000).then(() => w)));
  victim.kill('SIGKILL');
  await victim.exited;
  const survivors = workers.filter((w) => w !== victim);
  // Trimming goes on while the victim's entries wait: none of them may go.
  await delay(600);
  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 30000, what: 'every message to be answered after the kill' });
  await delay(500);
  assertExactlyOnceInOrder(s, sent, 'after kill -9');
  // The victim's partitions went to the survivors, and its entries were claimed and run again.
  await waitFor(async () => (await Promise.all(survivors.map((w) => heldBy(s, w)))).reduce((a, b) => a + b, 0) === PARTITIONS,
    { timeoutMs: 10000, what: 'the survivors to hold every partition' });
  let claimed = 0, reruns = 0;
  for (const w of survivors) {
    claimed += await s.metric(w, 'chorus_bus_events_total', 'claimed');
    reruns += await s.metric(w, 'chorus_bus_events_total', 'rerun');
  }
  assert.ok(claimed >= 1, `the survivors claimed the dead worker's pending entries (claimed ${claimed})`);
  assert.ok(reruns >= 1, `the slow message the victim held was run again (${reruns} re-runs)`);
  // Nothing is left pending or undelivered.
  await waitFor(async () => {
    let total = 0;
    for (let p = 0; p < PARTITIONS; p++) total += await s.metric(survivors[0], 'chorus_bus_stream_pending', `in:{p${p}}`);
    return total === 0;
  }, { timeoutMs: 10000, what: 'no entry to stay pending' });
  for (const w of survivors) assert.equal(await w.stop('SIGTERM'), 0, `worker ${w.pid} exits 0`);
  assert.equal(await gateway.stop('SIGTERM'), 0, 'the gateway exits 0');
});

test('workers joining and leaving in the middle of the traffic: nothing lost, nothing twice, every channel in order', { timeout: 120000 }, async () => {
  const s = await startScaleStack({ partitions: PARTITIONS, slowSeconds: 0.3 });
  const gateway = await s.start('gateway');
  await s.fake.waitForReady(0, 30000);
  const first = await s.start('worker');
  await s.waitReady(first);
  await waitFor(async () => (await heldBy(s, first)) === PARTITIONS, { timeoutMs: 10000, what: 'the first worker to hold everything' });
  const channels = channelsCovering(PARTITIONS);
  const sent = [];
  const joined = [];
  for (let round = 0; round < 10; round++) {
    // Some slow messages, so partitions are handed over while work runs.
    sent.push(...talk(s.fake, channels, 1, (c) => (round % 3 === 0 ? `slow r${round} ${c}` : `r${round} in ${c}`)));
    if (round === 2 || round === 5) joined.push(await s.start('worker'));
    if (round === 8) assert.equal(await first.stop('SIGTERM'), 0, 'the first worker leaves cleanly');
    await delay(150);
  }
  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 30000, what: 'every message to be answered' });
  await delay(500);
  assertExactlyOnceInOrder(s, sent, 'joins and a leave');
  await waitFor(async () => (await Promise.all(joined.map((w) => heldBy(s, w)))).every((h) => h === PARTITIONS / 2),
    { timeoutMs: 10000, what: 'the two remaining workers to hold three partitions each' });
  for (const w of joined) assert.equal(await w.stop('SIGTERM'), 0);
  assert.equal(await gateway.stop('SIGTERM'), 0);
});

test('a gateway killed and started again sends the replies the workers wrote while it was gone', { timeout: 120000 }, async () => {
  const s = await startScaleStack({ partitions: PARTITIONS, slowSeconds: 1.5 });
  let gateway = await s.start('gateway');
  await s.fake.waitForReady(0, 30000);
  const worker = await s.start('worker');
  await s.waitReady(worker);
  await waitFor(async () => (await heldBy(s, worker)) === PARTITIONS, { timeoutMs: 10000, what: 'the worker to hold everything' });
  const channels = channelsCovering(3);
  const sent = talk(s.fake, channels, 2, (c, i) => `slow ${i} in ${c}`);
  // The messages are on their way to the worker; the gateway dies before any answer.
  await worker.waitForLog(/plugin echo: handling slow/, 20000);
  // Every message is on an ingress stream (a gateway killed before that
  // loses what Discord would replay on a resume: another story).
  await waitFor(async () => (await s.ingressLength(PARTITIONS)) >= sent.length,
    { timeoutMs: 20000, what: 'every message to reach the ingress streams' });
  gateway.kill('SIGKILL');
  await gateway.exited;
  assert.equal(sent.filter((m) => s.answersTo(m.id).length > 0).length, 0, 'nothing was answered before the kill');
  // The worker finishes and writes every reply to the dead gateway's egress
  // stream (or, once it has been silent for a lease and no gateway is
  // live, to the shared one).
  const waiting = async () => {
    let n = 0;
    for (const k of await s.redis.cmd('KEYS', 'scale:out:{gw:main}*')) n += Number(await s.redis.cmd('XLEN', k));
    return n;
  };
  await waitFor(async () => (await waiting()) >= sent.length, { timeoutMs: 30000, what: 'the replies to wait on the egress streams' });
  gateway = await s.start('gateway');
  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 30000, what: 'the restarted gateway to send every reply' });
  await delay(300);
  assertExactlyOnceInOrder(s, sent, 'gateway restart');
  assert.equal(await worker.stop('SIGTERM'), 0);
  assert.equal(await gateway.stop('SIGTERM'), 0);
});

test('a worker started while Redis is down is not ready, then joins and answers once Redis is back', { timeout: 120000 }, async () => {
  const s = await startScaleStack({ partitions: PARTITIONS });
  const gateway = await s.start('gateway');
  await s.fake.waitForReady(0, 30000);
  await s.redis.stop();
  const worker = await s.start('worker');
  const r = await httpGet(`${worker.url}/readyz`);
  assert.equal(r.status, 503);
  assert.match(r.body, /not ready: .*Redis/i, 'it says why');
  await s.redis.restart();
  await s.redis.cmd('CONFIG', 'SET', 'stream-node-max-entries', '4');
  await s.waitReady(worker, 30000);
  await s.waitReady(gateway, 30000);
  await waitFor(async () => (await heldBy(s, worker)) === PARTITIONS, { timeoutMs: 15000, what: 'the worker to take every partition' });
  const sent = talk(s.fake, channelsCovering(PARTITIONS), 2);
  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 30000, what: 'every message to be answered' });
  assertExactlyOnceInOrder(s, sent, 'after Redis came back');
  assert.equal(await worker.stop('SIGTERM'), 0);
  assert.equal(await gateway.stop('SIGTERM'), 0);
});

// Start chorusd exactly as an operator would: only --role and --config.
function runRole(role, env) {
  const conf = path.join(SRCDIR, 'bench', 'discord-echo.conf.lua');
  const proc = spawn(chorusdBinary(), ['--role', role, '--config', conf], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  trackChild(proc);
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => proc.once('close', resolve));
  after(async () => { if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGKILL'); await exited; } });
  onFailure(() => `chorusd --role ${role} stderr:\n${err.split('\n').slice(-20).join('\n')}`);
  return proc;
}

test('the bench echo config runs as a gateway and a worker against one Redis with no other option', { timeout: 60000 }, async () => {
  const redis = await startRedis();
  const fake = await startFakeDiscord({ token: TOKEN });
  after(() => fake.close());
  const env = { DISCORD_TOKEN: TOKEN, DISCORD_API_BASE: fake.apiBase, CHORUS_REDIS_URL: redis.url };
  delete env.CHORUS_LISTEN;
  runRole('gateway', env);
  runRole('worker', env);
  await fake.waitForReady(0, 30000);
  const m = fake.messageCreate({ channel_id: '100000000000000042', content: 'are you there?' });
  const reply = await fake.waitForMessage((r) => r.message_reference && r.message_reference.message_id === m.id, 40000);
  assert.equal(reply.content, 'echo: are you there?');
  assert.equal(fake.posted.filter((r) => r.message_reference && r.message_reference.message_id === m.id).length, 1);
  const streams = await redis.cmd('KEYS', 'bench:in:*');
  assert.ok(streams.length >= 1, 'the message went through an ingress stream');
});
