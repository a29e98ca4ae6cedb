'use strict';
// An operator runs one gateway and two workers over one Redis and wants
// to see the whole: `chorusctl status` on any process lists all three, with
// what each holds; a worker killed with -9 drops off the list once its
// heartbeat expires and the survivor holds every partition. Streamed
// answers grow in one Discord message even though the model runs in a
// worker; and a reply whose egress entry is delivered again is not sent
// twice.

const path = require('node:path');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test } = require('../lib/tap');
const { startScaleStack, channelsCovering } = require('../lib/scale-stack');
const { waitFor, delay, httpGet, tempDir } = require('../lib/util');
const { SRCDIR } = require('../lib/chorusd');
const { startFakeOpenAI } = require('../lib/fake-openai');

const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');
const PARTITIONS = 4;
const LEASE_MS = 1500;

function chorusctl(socket, ...args) {
  return new Promise((resolve) => {
    execFile(CHORUSCTL, ['--socket', socket, ...args], { timeout: 5000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function statusOf(socket) {
  const r = await chorusctl(socket, '--json', 'status');
  assert.equal(r.code, 0, `chorusctl status: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const sorted = (a) => [...a].sort((x, y) => x - y);

test('chorusctl status lists every process; a killed worker drops off and the survivor takes its partitions', { timeout: 120000 }, async () => {
  // The model streams its answers word by word over server-sent events.
  const model = await startFakeOpenAI();
  model.respond = (req) => ({ content: `part ${req.body.messages.length} of a story told slowly word by word`, chunkDelayMs: 25 });
  const s = await startScaleStack({ partitions: PARTITIONS, leaseMs: LEASE_MS, story: true, scaleExtra: ', delta_ms = 40',
    modelBaseUrl: model.baseUrl });
  const admin = tempDir('scale-status');
  const sock = { gw: path.join(admin, 'gw.sock'), w1: path.join(admin, 'w1.sock'), w2: path.join(admin, 'w2.sock') };
  const gateway = await s.start('gateway', { env: { CHORUS_TEST_ADMIN: sock.gw } });
  await s.fake.waitForReady(0, 30000);
  const w1 = await s.start('worker', { env: { CHORUS_TEST_ADMIN: sock.w1 } });
  const w2 = await s.start('worker', { env: { CHORUS_TEST_ADMIN: sock.w2 } });
  for (const c of [gateway, w1, w2]) await s.waitReady(c);

  // /readyz per role: each says ready once it holds what its role needs.
  for (const c of [gateway, w1, w2]) {
    const r = await httpGet(`${c.url}/readyz`);
    assert.equal(r.status, 200, `${c.role} pid ${c.pid} is ready: ${r.body}`);
  }

  // Every process is listed on every process, with its role and what it holds.
  let st;
  await waitFor(async () => {
    st = await statusOf(sock.gw);
    const procs = st.bus.processes || [];
    const workers = procs.filter((p) => p.role === 'worker');
    return procs.length === 3 && workers.every((p) => p.partitions.length === PARTITIONS / 2);
  }, { timeoutMs: 15000, what: 'status to list a gateway and two workers holding two partitions each' });
  const procs = st.bus.processes;
  assert.deepEqual(procs.map((p) => p.role), ['gateway', 'worker', 'worker'], 'the gateway first, then the workers');
  assert.deepEqual(sorted(procs.map((p) => p.pid)), sorted([gateway.pid, w1.pid, w2.pid]), 'each process by its pid');
  const gwProc = procs[0];
  assert.ok(gwProc.platforms.includes('discord'), `the gateway holds the Discord connection (${gwProc.platforms})`);
  assert.equal(gwProc.self, true, 'and is the one answering');
  const held = procs.filter((p) => p.role === 'worker').flatMap((p) => p.partitions);
  assert.deepEqual(sorted(held), [0, 1, 2, 3], 'every partition is held by exactly one worker');
  for (const p of procs) {
    assert.ok(p.host && p.id, 'a host and an id');
    assert.ok(p.heartbeat_age_ms < LEASE_MS, `a fresh heartbeat (${p.heartbeat_age_ms} ms)`);
    assert.equal(typeof p.lag, 'number');
    assert.equal(typeof p.pending, 'number');
  }
  // The same list from a worker, and in words.
  assert.equal((await statusOf(sock.w1)).bus.processes.length, 3, 'a worker sees the same three');
  const human = (await chorusctl(sock.gw, 'status')).stdout;
  assert.match(human, /^processes +3$/m);
  // The gateway runs Discord's one shard (reported through the shard leases).
  assert.match(human, /^ +gateway .* discord shards 0 of 1 +lag \d+ +pending \d+ +heartbeat [0-9.]+s ago$/m);
  assert.equal((human.match(/^ +worker .* partitions \d \d +lag/mg) || []).length, 2, human);

  // /metrics of each process: stream lag and pending counts.
  await s.waitMetrics(gateway, /^chorus_bus_stream_pending\{stream="out:\{gw:main\}"\} 0$/m);
  await s.waitMetrics(gateway, /^chorus_bus_stream_lag\{stream="out:\{gw:main\}"\} 0$/m);
  await s.waitMetrics(w1, /^chorus_bus_stream_lag\{stream="in:\{p0\}"\} 0$/m);
  await s.waitMetrics(w2, /^chorus_bus_stream_pending\{stream="in:\{p3\}"\} 0$/m);

  // A streamed answer from a worker grows in one message on Discord.
  const [channel, other] = channelsCovering(PARTITIONS);
  const story = s.fake.messageCreate({ channel_id: channel, content: '!story' });
  const first = await s.fake.waitForMessage((m) => m.message_reference && m.message_reference.message_id === story.id, 20000);
  await waitFor(() => first.content.endsWith(' THE END'), { timeoutMs: 20000, what: 'the story to end' });
  await delay(300);
  assert.equal(s.answersTo(story.id).length, 1, 'one message for the whole answer');
  const edits = s.fake.edits.filter((e) => e.message_id === first.id);
  assert.ok(edits.length >= 2, `the message grew by edits (${edits.length}): ${first.content}`);
  assert.ok(edits[edits.length - 1].content.endsWith(' THE END'), 'the last edit is the final text');
  assert.ok(edits[0].content.length < first.content.length, 'it started shorter than it ended');
  let pieces = 0;
  for (const w of [w1, w2]) pieces += await s.metric(w, 'chorus_bus_events_total', 'delta');
  assert.ok(pieces >= 2, `the worker forwarded gathered pieces (${pieces})`);
  assert.ok(model.requests.filter((r) => r.body && r.body.stream === true).length >= 3, 'the model was asked to stream');

  // A reply's egress entry delivered again (a gateway that died after
  // sending, before its XACK; or the entry written twice) is not sent twice.
  const hello = s.fake.messageCreate({ channel_id: other, content: 'hello there' });
  const answer = await s.fake.waitForMessage((m) => m.message_reference && m.message_reference.message_id === hello.id, 20000);
  const ev = `discord:${other}:msg:${hello.id}:${hello.author.id}`;
  const sid = `bus:${ev}:0`;
  await waitFor(async () => (await s.redis.cmd('GET', `scale:sent:{gw:main}:${sid}`)) === `sent ${answer.id}`,
    { timeoutMs: 5000, what: 'the gateway to record the reply as sent' });
  const again = ['t', 'send', 'platform', 'discord', 'channel', other, 'sid', sid, 'text', 'echo: hello there',
    'reply_to', hello.id, 'persona', 'echo'];
  await s.redis.cmd('XADD', 'scale:out:{gw:main}', '*', ...again);
  await waitFor(async () => (await s.metric(gateway, 'chorus_bus_events_total', 'egress_already_sent')) >= 1,
    { timeoutMs: 5000, what: 'the gateway to skip the entry delivered again' });
  await delay(300);
  assert.equal(s.answersTo(hello.id).length, 1, 'the reply was sent once');
  // What is left: a send cut off in the middle (recorded as started, never
  // as done) goes out again, at least once, and is counted.
  const cut = `bus:discord:${other}:msg:999:x:0`;
  await s.redis.cmd('SET', `scale:sent:{gw:main}:${cut}`, 'pending main-deadhost-1-0000', 'EX', '60');
  await s.redis.cmd('XADD', 'scale:out:{gw:main}', '*', 't', 'send', 'platform', 'discord', 'channel', other, 'sid', cut,
    'text', 'the reply cut off');
  await s.fake.waitForMessage((m) => m.content === 'the reply cut off', 5000);
  assert.equal(await s.metric(gateway, 'chorus_bus_events_total', 'egress_resent'), 1, 'counted as sent again');

  // kill -9 a worker: after its heartbeat TTL it is gone from every list,
  // and the other holds all four partitions.
  const victim = procs.find((p) => p.pid === w2.pid);
  w2.kill('SIGKILL');
  await w2.exited;
  await waitFor(async () => {
    st = await statusOf(sock.gw);
    const ws = st.bus.processes.filter((p) => p.role === 'worker');
    return st.bus.processes.length === 2 && ws.length === 1 && ws[0].pid === w1.pid && ws[0].partitions.length === PARTITIONS;
  }, { timeoutMs: LEASE_MS * 6, what: 'the killed worker to drop off and the survivor to hold every partition' });
  assert.equal(await s.redis.cmd('EXISTS', `scale:{bus}:proc:${victim.id}`), 0, 'its record expired');
  assert.equal(await s.redis.cmd('ZSCORE', 'scale:{bus}:procs', victim.id), null, 'and left the index');
  // The survivor answers in every channel.
  const after = s.fake.messageCreate({ channel_id: channel, content: 'still there?' });
  await s.fake.waitForMessage((m) => m.message_reference && m.message_reference.message_id === after.id, 20000);

  // A worker that joins shows up; one stopping cleanly leaves the list at
  // once, without waiting for the TTL.
  const w3 = await s.start('worker');
  let w3id;
  await waitFor(async () => {
    const p = (await statusOf(sock.gw)).bus.processes.find((x) => x.pid === w3.pid);
    w3id = p && p.id;
    return !!p;
  }, { timeoutMs: 10000, what: 'the new worker to be listed' });
  assert.equal(await w3.stop('SIGTERM'), 0);
  assert.equal(await s.redis.cmd('EXISTS', `scale:{bus}:proc:${w3id}`), 0, 'its record went with it');
  assert.equal(await s.redis.cmd('ZSCORE', 'scale:{bus}:procs', w3id), null, 'and its index entry');
  await waitFor(async () => !(await statusOf(sock.gw)).bus.processes.some((p) => p.pid === w3.pid),
    { timeoutMs: 5000, what: 'the stopped worker to leave the list' });

  // Redis gone: each role says it is not ready, and why.
  await s.redis.stop();
  for (const c of [gateway, w1]) {
    await waitFor(async () => (await httpGet(`${c.url}/readyz`)).status === 503,
      { timeoutMs: 10000, what: `the ${c.role} to be not ready without Redis` });
    assert.match((await httpGet(`${c.url}/readyz`)).body, /^not ready: /);
  }
  w1.kill('SIGKILL');
  gateway.kill('SIGKILL');
});
