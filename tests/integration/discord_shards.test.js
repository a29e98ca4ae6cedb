'use strict';
// Two gateways share one bot's Discord shards through leases in Redis.
// Each runs its share; when one is killed with kill -9, the other takes
// its shards over once their leases lapse and RESUMEs the stored sessions
// (no new IDENTIFY), so the events Discord held for them are replayed and
// every user message is answered exactly once. Gateways starting together
// never IDENTIFY the same max_concurrency bucket inside one window, a
// rate limit one gateway learns (a 429) holds the other back too, a session
// Discord forgot is identified afresh, and a gateway stopped cleanly hands
// its shards over at once. Every piece of a streamed answer goes to the
// gateway that heard the question, so each answer grows in one message and
// ends as the whole text. A slash command is answered as its interaction
// (the deferred response edited once, the rest follow-ups) by the gateway
// that deferred it, or, once that one died, by the other; a gateway paused
// past its lease finds its replies handed over and sends none of them again.

const net = require('node:net');
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startScaleStack, TOKEN } = require('../lib/scale-stack');
const { waitFor, delay } = require('../lib/util');
const { startFakeOpenAI } = require('../lib/fake-openai');

const SHARDS = 4;
const LEASE_MS = 1500;
// The bot's id, which its token starts with (base64): the hash tag of its shared state.
const BOT = Buffer.from(TOKEN.split('.')[0], 'base64').toString();
const key = (what) => `scale:{discord:${BOT}}:${what}`;

// The pid of the gateway holding SHARD's lease, or null.
async function holder(s, shard) {
  const v = await s.redis.cmd('GET', key(`shard:${shard}`));
  const m = v && /-(\d+)-[0-9a-f]{4}$/.exec(v);
  return m ? Number(m[1]) : null;
}

// The shards the process list (what `chorusctl status` shows) says gateway PID runs.
async function shardsInStatus(s, pid) {
  for (const id of await s.redis.cmd('ZRANGE', 'scale:{bus}:procs', '0', '-1')) {
    const [p, shards] = await s.redis.cmd('HMGET', `scale:{bus}:proc:${id}`, 'pid', 'shards');
    if (Number(p) === pid) return ((JSON.parse(shards || '{}').discord || {}).held || []).slice().sort();
  }
  return null;
}

async function holders(s) {
  const out = [];
  for (let i = 0; i < SHARDS; i++) out.push(await holder(s, i));
  return out;
}

// A channel per shard, and one message from a user in each.
const channelOf = (shard) => String(100000000000000100n + BigInt(shard));
function talk(fake, shards, round) {
  return shards.map((shard) => fake.messageCreate({ shard, channel_id: channelOf(shard), content: `r${round} on shard ${shard}` }));
}

// Every command Redis runs from now on, as MONITOR shows it.
async function watchRedis(s) {
  const sock = net.connect({ host: '127.0.0.1', port: s.redis.port });
  let text = '';
  sock.on('data', (b) => { text += b.toString('latin1'); });
  sock.write('MONITOR\r\n');
  await waitFor(() => text.startsWith('+OK'), { timeoutMs: 5000, what: 'MONITOR to start' });
  return { lines: () => text.split('\r\n'), close: () => sock.destroy() };
}

function assertAnsweredOnce(s, sent, what) {
  for (const m of sent) {
    const answers = s.answersTo(m.id);
    assert.equal(answers.length, 1, `${what}: "${m.content}" got ${answers.length} answers`);
    assert.equal(answers[0].content, `echo: ${m.content}`);
  }
}

test('two gateways share the shards; kill -9 one: the other RESUMEs its shards and every message is answered once', { timeout: 120000 }, async () => {
  const s = await startScaleStack({ partitions: 4, discordExtra: `shard_lease_ms = ${LEASE_MS}`, fakeOptions: { shards: SHARDS } });
  const a = await s.start('gateway');
  const b = await s.start('gateway');
  const worker = await s.start('worker');
  for (const c of [a, b, worker]) await s.waitReady(c);
  for (let i = 0; i < SHARDS; i++) await s.fake.waitForReady(i, 20000);
  // The shards settle two per gateway.
  await waitFor(async () => {
    const h = await holders(s);
    return h.filter((p) => p === a.pid).length === 2 && h.filter((p) => p === b.pid).length === 2;
  }, { timeoutMs: 20000, what: 'the four shards to settle two per gateway' });
  await waitFor(() => [0, 1, 2, 3].every((i) => s.fake.liveSession(i)), { timeoutMs: 20000, what: 'every shard live' });
  // The process list shows each gateway's shards, as the leases say.
  await waitFor(async () => {
    const h = await holders(s);
    for (const g of [a, b]) {
      const want = [0, 1, 2, 3].filter((i) => h[i] === g.pid);
      if (JSON.stringify(await shardsInStatus(s, g.pid)) !== JSON.stringify(want)) return false;
    }
    return true;
  }, { timeoutMs: 10000, what: 'the process list to show each gateway\'s shards' });

  const all = [0, 1, 2, 3];
  const sent = [...talk(s.fake, all, 1), ...talk(s.fake, all, 2)];
  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 20000, what: 'every message to be answered' });

  // The victim: the gateway holding shard 0.
  const victimPid = await holder(s, 0);
  const victim = victimPid === a.pid ? a : b;
  const survivor = victim === a ? b : a;
  const theirs = [];
  for (let i = 0; i < SHARDS; i++) if ((await holder(s, i)) === victim.pid) theirs.push(i);
  assert.ok(theirs.length >= 1 && theirs.length < SHARDS, `the victim holds some shards, not all (${theirs})`);
  // Messages keep coming while it dies: these reach it or wait at Discord.
  sent.push(...talk(s.fake, all, 3));
  await delay(50);
  const killedAt = Date.now();
  victim.kill('SIGKILL');
  const stored = {};
  for (const i of theirs) {
    const [id, seq] = await s.redis.cmd('HMGET', key(`sess:${i}`), 'id', 'seq');
    stored[i] = { id, seq: Number(seq) };
    assert.ok(id, `shard ${i}'s session is stored in Redis`);
  }
  // While nobody holds them, users keep talking on its shards: Discord keeps the events.
  sent.push(...talk(s.fake, theirs, 4));
  sent.push(...talk(s.fake, all, 5));

  // The survivor takes the leases and RESUMEs each stored session, at its stored seq.
  for (const i of theirs) {
    const r = await s.fake.waitFor('resumed', (x) => (x.shard === i && x.at >= killedAt ? x : null), 20000,
      `a Resume of shard ${i}`, () => s.fake.resumes.find((x) => x.ok && x.shard === i && x.at >= killedAt));
    assert.equal(r.session_id, stored[i].id, `shard ${i} resumed its stored session`);
    assert.equal(r.seq, stored[i].seq, `shard ${i} resumed at the stored seq`);
    assert.ok(r.replayed >= 1, `Discord replayed the events shard ${i} missed`);
  }
  await waitFor(async () => (await holders(s)).every((p) => p === survivor.pid), { timeoutMs: 10000, what: 'the survivor to hold every shard' });
  assert.deepEqual(s.fake.identifies.filter((x) => x.at >= killedAt && theirs.includes(x.shard)), [],
    'no shard of the dead gateway identified again');

  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 30000, what: 'every message to be answered after the kill' });
  await delay(500);   // a duplicate would arrive right behind
  assertAnsweredOnce(s, sent, 'after kill -9');
  // Every reply carries its nonce with enforce_nonce, so one the dead gateway
  // posted but never acknowledged is not posted again by the one that claims it.
  const posts = s.fake.rest.filter((r) => r.route === 'POST /channels/{id}/messages');
  assert.ok(posts.every((r) => r.body && r.body.enforce_nonce === true && /^[0-9a-f]{16}\.\d+$/.test(r.body.nonce)),
    'every reply post has a nonce and enforce_nonce');
  assert.deepEqual(s.fake.violations, []);
  assert.equal(await survivor.stop(), 0, 'the survivor stops cleanly');
  assert.equal(await worker.stop(), 0);
});

test('two gateways starting together never IDENTIFY the same bucket inside one window', { timeout: 120000 }, async () => {
  const WINDOW = 800;
  const s = await startScaleStack({ partitions: 2, discordExtra: `shard_lease_ms = ${LEASE_MS}, identify_window_ms = ${WINDOW}`,
    fakeOptions: { shards: SHARDS, maxConcurrency: 2 } });
  const [a, b] = await Promise.all([s.start('gateway'), s.start('gateway')]);
  for (let i = 0; i < SHARDS; i++) await s.fake.waitForReady(i, 30000);
  await waitFor(async () => {
    const h = await holders(s);
    return h.every((p) => p === a.pid || p === b.pid) && h.includes(a.pid) && h.includes(b.pid);
  }, { timeoutMs: 20000, what: 'both gateways to run shards' });
  // Buckets are shard_id % max_concurrency: {0, 2} and {1, 3}. Inside each,
  // identifies reach Discord a window apart (half a window of slack for the
  // trip from the gateway to the fake on a loaded machine).
  for (const bucket of [0, 1]) {
    const times = s.fake.identifies.filter((x) => x.shard % 2 === bucket).map((x) => x.at).sort((x, y) => x - y);
    assert.ok(times.length >= 2, `bucket ${bucket} identified its shards (${times.length})`);
    for (let i = 1; i < times.length; i++) {
      assert.ok(times[i] - times[i - 1] >= WINDOW / 2,
        `bucket ${bucket}: two identifies ${times[i] - times[i - 1]} ms apart, inside the ${WINDOW} ms window`);
    }
  }
  assert.deepEqual(s.fake.violations, []);
  assert.deepEqual(await Promise.all([a.stop(), b.stop()]), [0, 0], 'both stop cleanly');
});

test('a rate limit one gateway learns holds the other back until the reset', { timeout: 120000 }, async () => {
  const RETRY_MS = 2500;
  const s = await startScaleStack({ partitions: 2, discordExtra: `shard_lease_ms = ${LEASE_MS}`, fakeOptions: { shards: 2 } });
  const a = await s.start('gateway');
  const b = await s.start('gateway');
  const worker = await s.start('worker');
  for (const c of [a, b, worker]) await s.waitReady(c);
  await waitFor(async () => {
    const h = [await holder(s, 0), await holder(s, 1)];
    return h.includes(a.pid) && h.includes(b.pid);
  }, { timeoutMs: 20000, what: 'a shard for each gateway' });
  await waitFor(() => s.fake.liveSession(0) && s.fake.liveSession(1), { timeoutMs: 20000, what: 'both shards live' });

  // Discord answers the first reply in this channel with a 429 on its bucket.
  const channel = '100000000000000777';
  s.fake.force429.push({ route: 'POST /channels/{id}/messages', major: channel, retryAfterMs: RETRY_MS, bucket: 'msgs-777' });
  const first = s.fake.messageCreate({ shard: 0, channel_id: channel, content: 'first' });
  await waitFor(() => s.fake.given429.length === 1, { timeoutMs: 20000, what: 'the 429' });
  const limited = s.fake.given429[0];
  // Whichever gateway got it, the other hears of it.
  const hit = await Promise.race([a, b].map((g) => g.waitForLog(/rate limited on POST \/channels\/\{id\}\/messages/, 10000).then(() => g)));
  const other = hit === a ? b : a;
  await other.waitForLog(/another gateway emptied the bucket of POST \/channels\/\{id\}\/messages on 100000000000000777/, 10000);
  // Users keep talking there (and elsewhere) while the bucket is empty.
  const sent = [first];
  for (let i = 0; i < 6; i++) {
    sent.push(s.fake.messageCreate({ shard: i % 2, channel_id: channel, content: `more ${i}` }));
    sent.push(s.fake.messageCreate({ shard: i % 2, channel_id: '100000000000000888', content: `elsewhere ${i}` }));
  }
  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 30000, what: 'every message to be answered' });
  await delay(300);
  assertAnsweredOnce(s, sent, 'through the 429');
  // No post reached that channel before the bucket's reset, from either gateway.
  const early = s.fake.rest.filter((r) => r.route === 'POST /channels/{id}/messages' && r.major === channel &&
    r.at > limited.at && r.at < limited.at + RETRY_MS - 100);
  assert.deepEqual(early.map((r) => r.at - limited.at), [], 'posts to the limited channel before its reset');
  // The other channel was not held back.
  const elsewhere = s.fake.rest.filter((r) => r.major === '100000000000000888' && r.status === 200);
  assert.ok(elsewhere.some((r) => r.at < limited.at + RETRY_MS - 100), 'another channel is answered during the wait');
  assert.equal(s.fake.given429.length, 1, 'one 429, and no other');
  assert.deepEqual(await Promise.all([a.stop(), b.stop(), worker.stop()]), [0, 0, 0], 'every process stops cleanly');
});

test('a session Discord forgot while nobody held the shard: the next gateway identifies afresh', { timeout: 120000 }, async () => {
  const s = await startScaleStack({ partitions: 2, discordExtra: `shard_lease_ms = ${LEASE_MS}`, fakeOptions: { shards: 2 } });
  const a = await s.start('gateway');
  const b = await s.start('gateway');
  const worker = await s.start('worker');
  for (const c of [a, b, worker]) await s.waitReady(c);
  await waitFor(async () => {
    const h = [await holder(s, 0), await holder(s, 1)];
    return h.includes(a.pid) && h.includes(b.pid);
  }, { timeoutMs: 20000, what: 'a shard for each gateway' });
  await waitFor(() => s.fake.liveSession(0) && s.fake.liveSession(1), { timeoutMs: 20000, what: 'both shards live' });
  // Discord keeps a lost session only briefly; here less than the lease.
  s.fake.resumeWindowMs = 100;
  const victim = (await holder(s, 0)) === a.pid ? a : b;
  const stored = await s.redis.cmd('HGET', key('sess:0'), 'id');
  const killedAt = Date.now();
  victim.kill('SIGKILL');
  // The survivor tries the stored session, is told it is gone (op 9), and identifies.
  const refused = await s.fake.waitFor('payload', () => s.fake.resumes.find((r) => r.at >= killedAt && r.shard === 0), 20000,
    'a Resume of shard 0', () => s.fake.resumes.find((r) => r.at >= killedAt && r.shard === 0));
  assert.equal(refused.session_id, stored);
  assert.equal(refused.ok, false, `Discord refused the stale session: ${JSON.stringify(s.fake.resumes.map((r) => ({ at: r.at - killedAt, shard: r.shard, ok: r.ok, stale: r.stale})))}`);
  await s.fake.waitForIdentify((x) => x.at >= killedAt && x.shard === 0, 20000);
  await waitFor(async () => (await s.redis.cmd('HGET', key('sess:0'), 'id')) === s.fake.liveSession(0)?.id,
    { timeoutMs: 20000, what: 'the new session to be stored' });
  const m = s.fake.messageCreate({ shard: 0, channel_id: channelOf(0), content: 'after the new session' });
  await waitFor(() => s.answersTo(m.id).length > 0, { timeoutMs: 20000, what: 'the answer on the new session' });
  assert.deepEqual(await Promise.all([victim === a ? b.stop() : a.stop(), worker.stop()]), [0, 0], 'the others stop cleanly');
});

test('a gateway stopped with SIGTERM hands its shards over: the other RESUMEs them and answers', { timeout: 120000 }, async () => {
  const s = await startScaleStack({ partitions: 2, discordExtra: `shard_lease_ms = ${LEASE_MS}`, fakeOptions: { shards: 2 } });
  const a = await s.start('gateway');
  const b = await s.start('gateway');
  const worker = await s.start('worker');
  for (const c of [a, b, worker]) await s.waitReady(c);
  await waitFor(async () => {
    const h = [await holder(s, 0), await holder(s, 1)];
    return h.includes(a.pid) && h.includes(b.pid);
  }, { timeoutMs: 20000, what: 'a shard for each gateway' });
  await waitFor(() => s.fake.liveSession(0) && s.fake.liveSession(1), { timeoutMs: 20000, what: 'both shards live' });
  const leaving = (await holder(s, 0)) === a.pid ? a : b;
  const staying = leaving === a ? b : a;
  const conn = s.fake.connFor(0);
  const stoppedAt = Date.now();
  assert.equal(await leaving.stop('SIGTERM'), 0, 'the leaving gateway exits cleanly');
  await s.fake.waitForClose(conn);
  assert.equal(conn.closedCode, 4900, 'it closed shard 0 keeping the session resumable (not 1000)');
  // Given back: nobody holds it, or the staying gateway took it already
  // (it may, a moment after the release); never the one that left.
  const after = await s.redis.cmd('GET', key('shard:0'));
  assert.ok(after === null || (await holder(s, 0)) === staying.pid, `and gave the lease back (${after})`);
  const m = s.fake.messageCreate({ shard: 0, channel_id: channelOf(0), content: 'while it hands over' });
  const r = await s.fake.waitFor('resumed', (x) => (x.shard === 0 && x.at >= stoppedAt ? x : null), 20000,
    'a Resume of shard 0', () => s.fake.resumes.find((x) => x.ok && x.shard === 0 && x.at >= stoppedAt));
  assert.ok(r.ok);
  assert.equal(await holder(s, 0), staying.pid);
  await waitFor(() => s.answersTo(m.id).length > 0, { timeoutMs: 20000, what: 'the answer after the hand-over' });
  assert.deepEqual(s.fake.identifies.filter((x) => x.at >= stoppedAt), [], 'no shard identified again');
  assert.deepEqual(await Promise.all([staying.stop(), worker.stop()]), [0, 0]);
});

test('two gateways, many streamed answers at once: each grows in one Discord message and ends as the whole text', { timeout: 120000 }, async () => {
  // The model streams every part of a story word by word; the worker
  // forwards the pieces as they gather, then the whole answer.
  const model = await startFakeOpenAI();
  model.respond = (req) => {
    const asked = req.body.messages[req.body.messages.length - 1].content;
    return { content: `${asked}: once upon a time a bot told a story slowly word by word`, chunkDelayMs: 15 };
  };
  const s = await startScaleStack({ partitions: 4, discordExtra: `shard_lease_ms = ${LEASE_MS}`, fakeOptions: { shards: 2 },
    story: true, scaleExtra: ', delta_ms = 30', modelBaseUrl: model.baseUrl });
  const a = await s.start('gateway');
  const b = await s.start('gateway');
  const w1 = await s.start('worker');
  const w2 = await s.start('worker');
  for (const c of [a, b, w1, w2]) await s.waitReady(c);
  await waitFor(async () => {
    const h = [await holder(s, 0), await holder(s, 1)];
    return h.includes(a.pid) && h.includes(b.pid);
  }, { timeoutMs: 20000, what: 'a shard for each gateway' });
  await waitFor(() => s.fake.liveSession(0) && s.fake.liveSession(1), { timeoutMs: 20000, what: 'both shards live' });

  const monitor = await watchRedis(s);
  // Users in twelve channels, six on each gateway's shard, each ask for a story twice.
  const channels = [];
  for (let i = 0; i < 12; i++) channels.push({ shard: i % 2, id: String(100000000000000300n + BigInt(i)) });
  const asked = [];
  for (let round = 0; round < 2; round++) {
    for (const c of channels) asked.push(s.fake.messageCreate({ shard: c.shard, channel_id: c.id, content: '!story' }));
  }
  const whole = ['tell part 1', 'tell part 2', 'tell part 3']
    .map((p) => `${p}: once upon a time a bot told a story slowly word by word`).join(' ') + ' THE END';
  await waitFor(() => asked.every((m) => s.answersTo(m.id).some((r) => r.content === whole)),
    { timeoutMs: 60000, what: 'every story to be told to its end' });
  await delay(500);   // a late piece or a second message would come right behind

  let grown = 0;
  for (const m of asked) {
    const answers = s.answersTo(m.id);
    assert.equal(answers.length, 1, `one Discord message for the story asked in ${m.channel_id}, not ${answers.length}: ` +
      JSON.stringify(answers.map((r) => r.content)));
    assert.equal(answers[0].content, whole, 'it ends as the whole story');
    const edits = s.fake.edits.filter((e) => e.message_id === answers[0].id);
    if (edits.length >= 1 && answers[0].content !== edits[0].content) grown++;
    assert.equal(edits.length ? edits[edits.length - 1].content : answers[0].content, whole, 'the last edit is the whole story');
  }
  assert.ok(grown >= asked.length / 2, `the answers grew in their message as the model spoke (${grown} of ${asked.length})`);
  assert.equal(s.fake.posted.length, asked.length, 'no other message was posted');
  // Each answer went out through the gateway that heard the question, which
  // knew it was no slash command: nobody asked Redis about interactions.
  const asks = monitor.lines().filter((l) => /"HGETALL" "[^"]*:ix:/.test(l));
  monitor.close();
  assert.deepEqual(asks, [], 'no gateway asked Redis whether a channel answer was a slash command');
  assert.deepEqual(s.fake.violations, []);
  for (const c of [a, b, w1, w2]) assert.equal(await c.stop(), 0);
});

// A slash command that answers twice (after a pause for a question that
// starts with "slow", saying so in the log), and the echo for everything else.
const ASK = `
chorus.command("ask", { help = "asks twice", args = { { name = "question" } } }, function(msg, args)
  if args.question:find("^slow") then
    chorus.log.info("handling /ask " .. args.question)
    chorus.sleep(tonumber(chorus.config.slow_s or "1"))
  end
  msg:reply("first: " .. args.question)
  msg:reply("second: " .. args.question)
end)
chorus.hear(".", function(msg) msg:reply("echo: " .. msg.text) end)
`;

// Two gateways and a worker with the four shards settled two per gateway.
async function twoGatewaysAsking(opts = {}) {
  const s = await startScaleStack({ partitions: 4, discordExtra: `shard_lease_ms = ${LEASE_MS}`, fakeOptions: { shards: SHARDS }, echo: ASK, ...opts });
  const a = await s.start('gateway');
  const b = await s.start('gateway');
  const worker = await s.start('worker');
  for (const c of [a, b, worker]) await s.waitReady(c);
  await waitFor(async () => {
    const h = await holders(s);
    return h.filter((p) => p === a.pid).length === 2 && h.filter((p) => p === b.pid).length === 2;
  }, { timeoutMs: 20000, what: 'the four shards to settle two per gateway' });
  await waitFor(() => [0, 1, 2, 3].every((i) => s.fake.liveSession(i)), { timeoutMs: 20000, what: 'every shard live' });
  await waitFor(() => s.fake.commands.some((c) => c.name === 'ask'), { timeoutMs: 10000, what: '/ask to be registered' });
  return { s, a, b, worker };
}

function ask(s, question, shard) {
  return s.fake.interaction({ name: 'ask', options: [{ name: 'question', value: question }], channel_id: channelOf(shard), shard });
}

// Each /ask answered as its interaction: the deferred response edited once, the second answer a follow-up.
function assertAnsweredAsInteractions(s, asked) {
  for (const it of asked) {
    const q = it.data.options[0].value;
    const answers = s.fake.followups.filter((f) => f.interaction === it.id);
    assert.equal(answers.length, 2, `/ask ${q} got ${answers.length} answers`);
    assert.equal(answers.filter((f) => f.kind === 'original').length, 1, `/ask ${q}: the deferred response was edited once`);
    assert.deepEqual(answers.map((f) => f.content).sort(), [`first: ${q}`, `second: ${q}`], `/ask ${q} answered in full`);
  }
  assert.deepEqual(s.fake.posted.map((m) => m.content), [], 'no answer was posted in a channel instead');
}

const adopted = (g) => g.logs().filter((l) => /answering interaction \d+, which another gateway deferred/.test(l));

// The ingress entry of interaction IT is on its stream (the gateway that deferred it published it).
async function published(s, it) {
  for (let p = 0; p < 4; p++) {
    for (const [, fields] of await s.redis.cmd('XRANGE', `scale:in:{in}:p${p}`, '-', '+')) {
      if (fields.some((f) => f.includes(it.id))) return true;
    }
  }
  return false;
}

test('two gateways share the bot: each slash command is answered as its interaction by the gateway that deferred it, or by the other once that one died', { timeout: 120000 }, async () => {
  const { s, a, b, worker } = await twoGatewaysAsking();
  const asked = [];
  for (let round = 1; round <= 4; round++) {
    for (const shard of [0, 1, 2, 3]) asked.push(ask(s, `q${round}.${shard}`, shard));
  }
  const answersOf = (it) => s.fake.followups.filter((f) => f.interaction === it.id);
  await waitFor(() => asked.every((it) => answersOf(it).length >= 2), { timeoutMs: 30000, what: 'both answers to every /ask' });
  await delay(300);   // a stray channel post or a second edit would come right behind
  assertAnsweredAsInteractions(s, asked);
  assert.deepEqual([...adopted(a), ...adopted(b)], [], 'each answer went out through the gateway that deferred the command');

  // The worker stops; users keep asking on the shards of one gateway, which
  // defers every command and publishes it, then dies before any answer is written.
  assert.equal(await worker.stop(), 0);
  const victim = (await holder(s, 0)) === a.pid ? a : b;
  const survivor = victim === a ? b : a;
  const theirs = [];
  for (let i = 0; i < SHARDS; i++) if ((await holder(s, i)) === victim.pid) theirs.push(i);
  const orphans = [];
  for (let round = 1; round <= 3; round++) for (const shard of theirs) orphans.push(ask(s, `late${round}.${shard}`, shard));
  await waitFor(async () => {
    for (const it of orphans) {
      if ((await s.redis.cmd('HGET', key(`ix:${it.id}`), 'ack')) !== '1' || !(await published(s, it))) return false;
    }
    return true;
  }, { timeoutMs: 20000, what: 'every late /ask to be deferred and published' });
  // Its shards' stored seq covers the commands, so Discord does not replay
  // them to the survivor: that one learns from Redis that they are commands.
  await waitFor(async () => {
    for (const i of theirs) if (Number(await s.redis.cmd('HGET', key(`sess:${i}`), 'seq')) !== s.fake.liveSession(i).seq) return false;
    return true;
  }, { timeoutMs: 10000, what: 'the seq of the dying gateway\'s shards to be stored' });
  victim.kill('SIGKILL');
  await victim.exited;
  // A worker answers them; the survivor takes the dead gateway's replies and
  // answers each as the interaction the dead one deferred.
  const again = await s.start('worker');
  await waitFor(() => orphans.every((it) => answersOf(it).length >= 2), { timeoutMs: 30000, what: 'both answers to every late /ask' });
  await delay(300);
  assertAnsweredAsInteractions(s, [...asked, ...orphans]);
  await survivor.waitForLog(/replies of gateways that are gone were handed to a live one/, 1000);
  assert.ok(adopted(survivor).length >= orphans.length, `the survivor answered the dead gateway's commands (${adopted(survivor).length})`);
  assert.ok([a, b].every((g) => g.logs().every((l) => !l.includes('itoken-'))), 'no interaction token in the logs');
  assert.deepEqual(s.fake.violations, []);
  for (const c of [survivor, again]) assert.equal(await c.stop(), 0);
});

test('a gateway paused past its lease: the other answers the slash commands it deferred, and once it wakes it sends none of them again', { timeout: 120000 }, async () => {
  // A lease long enough that the replies reach the paused gateway's stream
  // first, and blocking reads that outlast the pause.
  const { s, a, b, worker } = await twoGatewaysAsking({ leaseMs: 4000, blockMs: 20000, slowSeconds: 1 });
  const paused = (await holder(s, 0)) === a.pid ? a : b;
  const other = paused === a ? b : a;
  const theirs = [];
  for (let i = 0; i < SHARDS; i++) if ((await holder(s, i)) === paused.pid) theirs.push(i);
  const asked = theirs.flatMap((shard) => [ask(s, `slow1.${shard}`, shard), ask(s, `slow2.${shard}`, shard)]);
  // Each is deferred (Discord confirmed it) and being handled by the worker.
  await waitFor(async () => {
    for (const it of asked) if ((await s.redis.cmd('HGET', key(`ix:${it.id}`), 'ack')) !== '1') return false;
    return true;
  }, { timeoutMs: 20000, what: 'every /ask to be deferred' });
  await worker.waitForLog(new RegExp(`handling /ask slow1\\.${theirs[0]}`), 20000);
  paused.proc.kill('SIGSTOP');
  try {
    const answersOf = (it) => s.fake.followups.filter((f) => f.interaction === it.id);
    await waitFor(() => asked.every((it) => answersOf(it).length >= 2), { timeoutMs: 30000, what: 'both answers to every /ask' });
  } finally {
    paused.proc.kill('SIGCONT');
  }
  // The handover is made by whoever notices first: the other gateway's
  // heartbeat, or the worker writing a reply.
  const handed = /replies of gateways that are gone were handed to a live one/;
  await Promise.any([other.waitForLog(handed, 1000), worker.waitForLog(handed, 1000)]);
  // Awake, it finds what it had been given handed over, and sends none of it.
  await paused.waitForLog(/went to another gateway while this one seemed gone; that one sends it/, 20000);
  await delay(500);
  assertAnsweredAsInteractions(s, asked);
  assert.deepEqual(await Promise.all([a.stop(), b.stop(), worker.stop()]), [0, 0, 0], 'every process stops cleanly');
});
