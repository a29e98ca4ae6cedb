'use strict';
// The daemon's life: command line, health endpoints, a graceful stop that
// still delivers what is in flight, and a quiet idle.

const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { runChorusd } = require('../lib/chorusd');
const { startStack } = require('../lib/stack');
const { httpGet, cpuSeconds, delay } = require('../lib/util');

function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

test('chorusd --version prints its name and version and exits 0', async () => {
  const r = await runChorusd(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /^chorusd \d+\.\d+\.\d+\s*$/m);
});

test('chorusd --help explains the options and exits 0', async () => {
  const r = await runChorusd(['--help']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout + r.stderr;
  assert.match(out, /--config/);
  assert.match(out, /--check-config/);
  assert.match(out, /--version/);
});

test('with Redis up, /healthz and /readyz both answer 200', async () => {
  const stack = await startStack();
  assert.equal((await httpGet(`${stack.chorus.url}/healthz`)).status, 200);
  assert.equal((await httpGet(`${stack.chorus.url}/readyz`)).status, 200);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal} while Aiko is still thinking: the answer is delivered, the socket closes with 1001, exit 0`, async () => {
    const stack = await startStack();
    stack.fake.respond = () => ({ delayMs: 300 });
    const ann = await stack.user('Ann');
    const ben = await stack.user('Ben');
    ben.join('lobby');
    await ben.ws.ping();

    ann.say('lobby', 'good night', 'g1');
    await stack.fake.waitForRequest(() => true, 5000);
    stack.chorus.kill(signal);

    const reply = await ann.replyTo('g1', 5000);
    assert.equal(reply.text, 'echo: good night');
    assert.equal((await ben.replyTo('g1', 5000)).text, 'echo: good night', 'others in the channel get it too');

    const closed = await within(ann.ws.closed, 5000, 'a close frame for Ann');
    assert.equal(closed.code, 1001, `close code should be 1001 (going away), got ${closed.code}`);
    assert.equal((await within(ben.ws.closed, 5000, 'a close frame for Ben')).code, 1001);
    assert.ok(ann.ws.all.indexOf(reply) >= 0, 'the reply arrived before the close frame');

    const exit = await within(stack.chorus.exited, 7000, 'chorusd to exit');
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
  });
}

test('an idle daemon stops at once on SIGTERM with exit code 0', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  const t0 = Date.now();
  stack.chorus.kill('SIGTERM');
  assert.equal((await within(ann.ws.closed, 3000, 'the close frame')).code, 1001);
  const exit = await within(stack.chorus.exited, 3000, 'chorusd to exit');
  assert.equal(exit.code, 0);
  assert.ok(Date.now() - t0 < 3000);
});

test('a model that never answers does not keep the daemon alive past shutdown_timeout_ms', async () => {
  const stack = await startStack({ configOptions: { shutdownTimeoutMs: 1000, modelTimeoutMs: 30000 } });
  stack.fake.respond = () => ({ delayMs: 60000 });
  const ann = await stack.user('Ann');
  ann.say('lobby', 'a question forever', 'h1');
  await stack.fake.waitForRequest(() => true, 5000);

  const t0 = Date.now();
  stack.chorus.kill('SIGTERM');
  await within(stack.chorus.exited, 4000, 'chorusd to give up on the hung request and exit');
  const took = Date.now() - t0;
  assert.ok(took >= 800, `it exited after ${took} ms, without waiting for the in-flight reply at all`);
  assert.ok(ann.answersTo('h1').length <= 1);
});

test('an idle daemon uses next to no CPU (nothing polls while idle)', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  ann.say('lobby', 'one message to warm up', 'i1');
  await ann.replyTo('i1');
  await delay(300); // let any post-reply work finish before measuring

  const before = cpuSeconds(stack.chorus.pid);
  await delay(2000); // the measuring window: no traffic at all
  const used = cpuSeconds(stack.chorus.pid) - before;
  assert.ok(used < 0.05, `chorusd used ${used.toFixed(3)} s of CPU in 2 idle seconds`);

  // And it is still awake.
  ann.say('lobby', 'still there?', 'i2');
  await ann.replyTo('i2');
});
