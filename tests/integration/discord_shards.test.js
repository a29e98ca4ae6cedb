'use strict';
// Two gateways share one bot's Discord shards through leases in Redis.
// Each runs its share; when one is killed with kill -9, the other takes
// its shards over once their leases lapse and RESUMEs the stored sessions
// (no new IDENTIFY), so the events Discord held for them are replayed and
// every user message is answered exactly once. Gateways starting together
// never IDENTIFY the same max_concurrency bucket inside one window, a
// rate limit one gateway learns (a 429) holds the other back too, a session
// Discord forgot is identified afresh, and a gateway stopped cleanly hands
// its shards over at once. A slash command is answered as its interaction
// (the deferred response edited once, the rest follow-ups) by whichever
// gateway takes the reply, even before Discord confirmed the deferral.

const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startScaleStack, TOKEN } = require('../lib/scale-stack');
const { waitFor, delay } = require('../lib/util');

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

// A slash command that answers twice, and the echo for everything else.
const ASK = `
chorus.command("ask", { help = "asks twice", args = { { name = "question" } } }, function(msg, args)
  msg:reply("first: " .. args.question)
  msg:reply("second: " .. args.question)
end)
chorus.hear(".", function(msg) msg:reply("echo: " .. msg.text) end)
`;

// Two gateways and a worker; users on every shard run /ask, and the two
// gateways split the replies between them. With DEFERMS, Discord confirms
// each deferral that late, so a reply can reach the other gateway first.
async function askAcrossGateways({ deferMs = 0 } = {}) {
  const s = await startScaleStack({ partitions: 4, discordExtra: `shard_lease_ms = ${LEASE_MS}`, fakeOptions: { shards: SHARDS }, echo: ASK });
  s.fake.callbackDelayMs = deferMs;
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

  const asked = [];
  for (let round = 1; round <= 4; round++) {
    for (const shard of [0, 1, 2, 3]) {
      asked.push(s.fake.interaction({ name: 'ask', options: [{ name: 'question', value: `q${round}.${shard}` }], channel_id: channelOf(shard), shard }));
    }
  }
  const answersOf = (it) => s.fake.followups.filter((f) => f.interaction === it.id);
  await waitFor(() => asked.every((it) => answersOf(it).length >= 2), { timeoutMs: 30000, what: 'both answers to every /ask' });
  await delay(300);   // a stray channel post or a second edit would come right behind

  for (const it of asked) {
    const q = it.data.options[0].value;
    const answers = answersOf(it);
    const originals = answers.filter((f) => f.kind === 'original');
    assert.equal(answers.length, 2, `/ask ${q} got ${answers.length} answers`);
    assert.equal(originals.length, 1, `/ask ${q}: the deferred response was edited once`);
    assert.deepEqual(answers.map((f) => f.content).sort(), [`first: ${q}`, `second: ${q}`], `/ask ${q} answered in full`);
  }
  assert.deepEqual(s.fake.posted.map((m) => m.content), [], 'no answer was posted in a channel instead');
  // The story needs replies that crossed over: at least one gateway answered
  // a slash command the other one deferred.
  const crossed = [a, b].flatMap((g) => g.logs().filter((l) => /answering interaction \d+, which another gateway deferred/.test(l)));
  assert.ok(crossed.length > 0, 'some replies were taken by the gateway that had not deferred the command');
  assert.ok([a, b].every((g) => g.logs().every((l) => !l.includes('itoken-'))), 'no interaction token in the logs');
  assert.deepEqual(s.fake.violations, []);
  for (const c of [a, b, worker]) assert.equal(await c.stop(), 0);
}

test('two gateways share the bot: every slash command is answered as its interaction, whichever gateway takes the reply', { timeout: 120000 }, async () => {
  await askAcrossGateways();
});

test('a reply that reaches the other gateway before Discord confirmed the deferral waits for it, and still answers the interaction', { timeout: 120000 }, async () => {
  await askAcrossGateways({ deferMs: 80 });
});
