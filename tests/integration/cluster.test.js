'use strict';
// Chorus on a Redis Cluster: three masters on loopback, built by the test
// with redis-server and redis-cli like an operator would. A gateway and two
// workers run the Discord echo bot against it; every message is answered
// once, in order per channel. Then, while users keep talking, the slot of
// the ingress streams (the busiest keys) and the slot of a channel's state
// move to another master, key by key: chorusd follows -ASK while the slot is
// half moved and -MOVED after, and still every message is answered exactly
// once.

const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startScaleStack, channelsCovering } = require('../lib/scale-stack');
const { startRedisCluster } = require('../lib/redis-cluster');
const { startStack } = require('../lib/stack');
const { waitFor, delay } = require('../lib/util');

const PARTITIONS = 4;

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

// ASKING commands a node has served (each one a client following -ASK).
async function askingCalls(node) {
  const m = /cmdstat_asking:calls=(\d+)/.exec(await node.cmd('INFO', 'commandstats'));
  return m ? Number(m[1]) : 0;
}

test('a gateway and two workers on a three-master cluster answer every message once, through two slot migrations', { timeout: 90000 }, async () => {
  const cluster = await startRedisCluster();
  const seeds = cluster.seeds.map((a) => `"${a}"`).join(', ');
  const s = await startScaleStack({ partitions: PARTITIONS, redis: cluster, redisOptions: `cluster = { ${seeds} }, cluster_retry_ms = 20` });
  const gateway = await s.start('gateway');
  await s.fake.waitForReady(0, 30000);
  const workers = [await s.start('worker'), await s.start('worker')];
  for (const c of [gateway, ...workers]) await s.waitReady(c);

  // The keys really are spread: the ingress streams on one master, the
  // gateway's egress stream and the channels' state wherever their tags hash.
  const inSlot = await cluster.keyslot('scale:in:{in}:p0');
  assert.equal(await cluster.keyslot('scale:in:{in}:p3'), inSlot, 'every ingress stream shares the {in} slot');
  assert.equal(await cluster.keyslot('scale:lease:{in}:p1'), inSlot, 'and so do the partition leases');

  const channels = channelsCovering(PARTITIONS);
  const sent = [];
  const talk = (round) => { for (const c of channels) sent.push(s.fake.messageCreate({ channel_id: c, content: `m${round} in ${c}` })); };
  for (let i = 0; i < 3; i++) talk(i);
  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 20000, what: 'the first messages to be answered' });
  assertExactlyOnceInOrder(s, sent, 'before any migration');
  await waitFor(async () => (await cluster.cmd('XLEN', 'scale:in:{in}:p0')) >= 0, { what: 'the ingress stream to exist' });

  // Move the ingress slot to another master while users talk: one round of
  // messages after every key moved.
  let round = 3;
  const from = await cluster.ownerOf(inSlot);
  const to = cluster.nodes.find((n) => n !== from);
  const askBefore = await askingCalls(to);
  const m1 = await cluster.migrateSlot(inSlot, to, { during: async () => { talk(round++); await delay(60); } });
  assert.ok(m1.moved >= PARTITIONS, `the ingress streams and leases moved (${m1.moved} keys)`);
  for (let i = 0; i < 3; i++) { talk(round++); await delay(30); }
  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 30000, what: 'every message sent during the first migration to be answered' });
  assert.ok(await askingCalls(to) > askBefore, 'chorusd followed -ASK to the importing master');
  await waitFor(() => [gateway, ...workers].some((c) => c.logs().some((l) => l.includes(`slot ${inSlot} moved to 127.0.0.1:${to.port}`))),
    { timeoutMs: 10000, what: 'a chorusd to follow -MOVED for the ingress slot' });

  // Now a channel's own state (persona, manners and flood keys share its tag):
  // the operator set its persona, which is read for every message.
  const personaKey = `scale:{discord:${channels[0]}}:persona`;
  await cluster.cmd('SET', personaKey, 'echo');
  const chanSlot = await cluster.keyslot(personaKey);
  const cFrom = await cluster.ownerOf(chanSlot);
  const cTo = cluster.nodes.find((n) => n !== cFrom);
  const m2 = await cluster.migrateSlot(chanSlot, cTo, { during: async () => { talk(round++); await delay(60); } });
  assert.ok(m2.moved >= 1, 'the channel\'s persona key moved');
  assert.equal(await cTo.cmd('GET', personaKey), 'echo', 'and is on its new master');
  for (let i = 0; i < 3; i++) { talk(round++); await delay(30); }
  await waitFor(() => sent.every((m) => s.answersTo(m.id).length > 0), { timeoutMs: 30000, what: 'every message sent during the second migration to be answered' });

  await delay(500);   // a duplicate would arrive right behind
  assertExactlyOnceInOrder(s, sent, 'through two slot migrations');
  for (const c of [gateway, ...workers]) assert.equal(await c.stop('SIGTERM'), 0, `the ${c.role} exits 0`);
});

test('a web chat conversation on the cluster keeps its history, the channel\'s mood and the day\'s counters, and forgets a user on request', { timeout: 60000 }, async () => {
  const cluster = await startRedisCluster();
  const seeds = cluster.seeds.map((a) => `"${a}"`).join(', ');
  const s = await startStack({ redis: cluster, configOptions: { redisExtra: `cluster = { ${seeds} }`, redisTimeoutMs: 3000 } });
  const ann = await s.user('Ann');
  for (const text of ['hello there', 'I am so sad today']) {
    const id = ann.say('lobby', text);
    const reply = await ann.replyTo(id);
    assert.ok(reply.text && reply.text.length > 0, `Aiko answers "${text}"`);
  }
  // The channel's keys (one tag) and the user's and the day's (other slots) were all written.
  const turns = await s.history('lobby');
  assert.equal(turns.filter((t) => t.role === 'user').length, 2, 'both user turns are in the history');
  assert.ok(Number(await cluster.cmd('HGET', 'chorus:{webchat:lobby}:mood:aiko', 'valence')) < 0, 'the channel\'s mood turned sad');
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  assert.equal(await cluster.cmd('HGET', `chorus:engagement:${day}:aiko`, 'turns'), '2', 'the day\'s engagement counted two turns');
  assert.equal(await cluster.cmd('PFCOUNT', `chorus:active:${day}:aiko`), 1, 'one active user today');

  // Ann tells a secret in two rooms and a fact, then asks to be forgotten:
  // her keys are spread over the masters, and nothing of her remains on any.
  await ann.replyTo(ann.say('lobby', 'my secret word is xylophone-42'));
  await ann.replyTo(ann.say('lobby', 'remember that I live in Lyon'));
  await ann.replyTo(ann.say('garden', 'the garden is lovely, xylophone-42'));
  const annId = JSON.parse((await cluster.cmd('LRANGE', 'chorus:{webchat:lobby}:history:aiko', '0', '0'))[0]).user;
  let facts = 0;
  for (const node of cluster.nodes) facts += (await node.cmd('KEYS', '*:facts:*')).length;
  assert.equal(facts, 1, 'a fact was stored');
  const reply = await ann.replyTo(ann.say('lobby', 'forget me'));
  assert.match(reply.text, /forgotten what I knew about you/);
  for (const node of cluster.nodes) {
    for (const key of await node.cmd('KEYS', '*')) {
      const type = await node.cmd('TYPE', key);
      let dump = key;
      if (type === 'string') dump += await node.cmd('GET', key);
      else if (type === 'list') dump += (await node.cmd('LRANGE', key, '0', '-1')).join('\n');
      else if (type === 'hash') dump += (await node.cmd('HGETALL', key)).join('\n');
      else if (type === 'set') dump += (await node.cmd('SMEMBERS', key)).join('\n');
      else continue;
      assert.ok(!dump.includes('xylophone-42'), `${key} still holds Ann's words`);
      assert.ok(!dump.includes('Lyon'), `${key} still holds Ann's fact`);
      assert.ok(!dump.includes(annId), `${key} still names Ann (${annId})`);
    }
  }
  assert.equal(await s.chorus.stop('SIGTERM'), 0, 'chorusd exits 0 (its cluster connections closed cleanly)');
});

test('budgets on the cluster: a call over one budget is refused and the other budget\'s reservation is taken back; a live limit lets it pass', { timeout: 60000 }, async () => {
  const cluster = await startRedisCluster();
  const seeds = cluster.seeds.map((a) => `"${a}"`).join(', ');
  const budgets = [
    'budget "daily" { scope = "user", period = "day", tokens = 1, message = "No more tokens today." }',
    'budget "room" { scope = "channel", concurrent = 5 }',
  ].join('\n');
  const s = await startStack({ redis: cluster, configOptions: { redisExtra: `cluster = { ${seeds} }`, redisTimeoutMs: 3000, extra: budgets } });
  // The user's counter, the channel's slot counter and the live limits hash to different slots.
  const slots = new Set();
  for (const k of ['chorus:budget:daily:webchat%3Au1:x:tokens', 'chorus:inflight:room:webchat%3Alobby', 'chorus:budget-limit:daily']) slots.add(await cluster.keyslot(k));
  assert.ok(slots.size > 1, 'the budget keys span slots');
  const ann = await s.user('Ann');
  const refused = await ann.replyTo(ann.say('lobby', 'tell me a story'));
  assert.equal(refused.text, 'No more tokens today.', 'one token a day is not enough for a model call');
  assert.equal(s.fake.requests.length, 0, 'the model was never called');
  let inflight = 0;
  for (const node of cluster.nodes) {
    for (const key of await node.cmd('KEYS', 'chorus:inflight:room:*')) inflight += Number(await node.cmd('GET', key));
  }
  assert.equal(inflight, 0, 'the channel\'s concurrency slot was given back');
  // The operator raises the limit live (what `quota set` writes): the next call passes.
  await cluster.cmd('HSET', 'chorus:budget-limit:daily', 'tokens', '1000000');
  const answered = await ann.replyTo(ann.say('lobby', 'tell me a story now'));
  assert.notEqual(answered.text, 'No more tokens today.', 'the live limit lets the call through');
  assert.equal(s.fake.requests.length, 1, 'and the model answered it');
  assert.equal(await s.chorus.stop('SIGTERM'), 0, 'chorusd exits 0');
});
