'use strict';
// Redis goes away and comes back. The chat keeps answering (without memory,
// or with the apology), readiness follows Redis, and memory resumes on its own.

const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack, AIKO } = require('../lib/stack');
const { startRedis } = require('../lib/redis');
const { freePort, httpGet, waitFor, cpuSeconds, delay } = require('../lib/util');

const status = async (chorus, path) => (await httpGet(`${chorus.url}${path}`)).status;

function assertAnswered(reply, text) {
  assert.equal(reply.type, 'message');
  assert.equal(reply.persona, 'aiko');
  assert.ok(reply.text === `echo: ${text}` || reply.text === AIKO.apology,
    `expected an answer without memory or the apology, got ${JSON.stringify(reply.text)}`);
}

test('Redis dies mid-conversation: Ann still gets answers, /readyz says 503, and memory comes back with Redis', async () => {
  const stack = await startStack({ configOptions: { redisTimeoutMs: 500 } });
  const { chorus, redis } = stack;
  const ann = await stack.user('Ann');

  assert.equal(await status(chorus, '/readyz'), 200, 'ready while Redis is up');
  ann.say('lobby', 'my cat is called Miso', 'c1');
  await ann.replyTo('c1');
  assert.equal((await stack.history('lobby')).length, 2);

  await redis.stop();

  await waitFor(async () => (await status(chorus, '/readyz')) === 503, { timeoutMs: 5000, what: '/readyz to answer 503 while Redis is down' });
  assert.equal(await status(chorus, '/healthz'), 200, '/healthz is 200 while the process runs');

  ann.say('lobby', 'are you still there?', 'c2');
  assertAnswered(await ann.replyTo('c2', 8000), 'are you still there?');
  ann.say('lobby', 'still down?', 'c3');
  assertAnswered(await ann.replyTo('c3', 8000), 'still down?');
  assert.equal(chorus.exitInfo, null, 'chorusd must keep running without Redis');
  assert.equal(await status(chorus, '/readyz'), 503);

  await redis.restart(); // same port, empty data set
  await waitFor(async () => (await status(chorus, '/readyz')) === 200, { timeoutMs: 5000, what: '/readyz to answer 200 once Redis is back' });

  // Within a few seconds, new turns are stored again.
  await waitFor(async () => {
    const id = ann.say('lobby', 'I am back');
    await ann.replyTo(id, 8000);
    const history = await stack.history('lobby');
    return history.some((h) => h.role === 'user' && h.content === 'I am back');
  }, { timeoutMs: 5000, intervalMs: 200, what: 'a new turn to be stored in Redis after it came back' });

  // ...and used: the next question carries the remembered turn.
  ann.say('lobby', 'do you remember?', 'c9');
  await ann.replyTo('c9');
  const last = stack.fake.chatRequests().at(-1).body.messages;
  assert.ok(last.some((m) => m.role === 'user' && m.content === 'I am back'), 'the turn stored after the outage is part of the next request');
  assert.equal(last.at(-1).content, 'do you remember?');
});

test('chorusd starts without Redis, listens within 2 s, answers, and picks Redis up when it appears', async () => {
  const redisPort = await freePort();
  const stack = await startStack({ redis: false, redisUrl: `redis://127.0.0.1:${redisPort}/0` });
  const { chorus } = stack;
  assert.ok(chorus.listenedAfterMs < 2000, `the listener took ${chorus.listenedAfterMs} ms to come up`);

  assert.equal(await status(chorus, '/healthz'), 200);
  assert.equal(await status(chorus, '/readyz'), 503);

  const ann = await stack.user('Ann');
  ann.say('lobby', 'hello without redis', 'n1');
  assertAnswered(await ann.replyTo('n1', 8000), 'hello without redis');

  const redis = await startRedis({ port: redisPort });
  await waitFor(async () => (await status(chorus, '/readyz')) === 200, { timeoutMs: 5000, what: '/readyz to answer 200 once Redis is up' });

  ann.say('lobby', 'now with redis', 'n2');
  assert.equal((await ann.replyTo('n2')).text, 'echo: now with redis');
  const items = await redis.cmd('LRANGE', 'chorus:{webchat:lobby}:history:aiko', '0', '-1');
  assert.deepEqual(items.map((s) => JSON.parse(s).content).slice(-2), ['now with redis', 'echo: now with redis']);
});

test('chorusd starts within 2 s even when Redis accepts connections but never answers', async () => {
  const redis = await startRedis();
  process.kill(redis.pid, 'SIGSTOP');
  try {
    const stack = await startStack({ redis, waitReady: false, configOptions: { redisTimeoutMs: 500 } });
    assert.ok(stack.chorus.listenedAfterMs < 2000, `the listener took ${stack.chorus.listenedAfterMs} ms to come up`);
    assert.equal(await status(stack.chorus, '/healthz'), 200);
    const ann = await stack.user('Ann');
    ann.say('lobby', 'hello frozen world', 'fz1');
    assertAnswered(await ann.replyTo('fz1', 6000), 'hello frozen world');
  } finally {
    process.kill(redis.pid, 'SIGCONT');
  }
});

test('when Redis freezes (stops answering), Ann still gets an answer in good time', async () => {
  const stack = await startStack({ configOptions: { redisTimeoutMs: 500 } });
  const ann = await stack.user('Ann');
  ann.say('lobby', 'before the freeze', 'z1');
  await ann.replyTo('z1');

  process.kill(stack.redis.pid, 'SIGSTOP');
  try {
    const sentAt = Date.now();
    ann.say('lobby', 'during the freeze', 'z2');
    const reply = await ann.replyTo('z2', 6000);
    assertAnswered(reply, 'during the freeze');
    assert.ok(Date.now() - sentAt < 6000);
  } finally {
    process.kill(stack.redis.pid, 'SIGCONT');
  }
  ann.say('lobby', 'after the freeze', 'z3');
  await ann.replyTo('z3', 8000);
  assert.equal(stack.chorus.exitInfo, null);
});

test('while Redis is down, chorusd waits for it without spinning the CPU', async () => {
  const stack = await startStack({ configOptions: { reconnectMinMs: 20, reconnectMaxMs: 200 } });
  await stack.redis.stop();
  await waitFor(async () => (await status(stack.chorus, '/readyz')) === 503, { timeoutMs: 5000, what: '/readyz 503' });

  const before = cpuSeconds(stack.chorus.pid);
  await delay(2000); // a measuring window, not a wait for an event
  const used = cpuSeconds(stack.chorus.pid) - before;
  assert.ok(used < 0.2, `chorusd used ${used.toFixed(3)} s of CPU in 2 s while reconnecting to Redis`);
  assert.equal(await status(stack.chorus, '/healthz'), 200);
});
