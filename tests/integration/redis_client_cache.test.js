'use strict';
// Stories of a channel whose context chorusd keeps in memory (Redis
// client-side caching, io/redis_tracking.c): Ann talks in a garden channel,
// and every message after the first is answered without reading the
// channel's context from Redis again. Someone else (another chorusd, an
// operator with redis-cli) changes the channel's persona, mutes it, turns a
// plugin off: the next message already sees it. Redis restarts, or only the
// connection that hears invalidations is cut: nothing stale is used.
const fs = require('node:fs');
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack, personaKey } = require('../lib/stack');
const { writePlugins } = require('../lib/plugins');
const { startRedis } = require('../lib/redis');
const { luaString, waitFor } = require('../lib/util');

async function echoStack() {
  const dir = writePlugins({ echo: { init: 'chorus.hear(".", function(msg) msg:reply("echo: " .. msg.text) end)' } });
  return startStack({ configOptions: { extra: `plugins_dir ${luaString(dir)}\nplugin "chat" { enabled = false }` } });
}

// How many context reads (the EVAL of io/store.c) Redis has run so far.
async function contextReads(redis) {
  const m = /cmdstat_eval:calls=(\d+)/.exec(await redis.cmd('INFO', 'commandstats'));
  return m ? Number(m[1]) : 0;
}

// The invalidation connection is subscribed (again).
async function subscribed(redis) {
  const r = await redis.cmd('PUBSUB', 'NUMSUB', '__redis__:invalidate');
  return Number(r[1]) === 1;
}

test('a persona set by another client is used at the very next message; the context is read once, not per message', async () => {
  const stack = await echoStack();
  const ann = await stack.user('Ann');
  await waitFor(() => subscribed(stack.redis), { what: 'the invalidation connection to subscribe' });
  assert.equal((await ann.replyTo(ann.say('garden', 'hello'))).persona, 'aiko');
  const before = await contextReads(stack.redis);
  for (let i = 0; i < 5; i++) assert.equal((await ann.replyTo(ann.say('garden', `hello ${i}`))).text, `echo: hello ${i}`);
  assert.equal(await contextReads(stack.redis), before, 'five more messages, no more context reads: the cache answered');

  await stack.redis.cmd('SET', personaKey('garden'), 'kenji');          // another client
  assert.equal((await ann.replyTo(ann.say('garden', 'who is there?'))).persona, 'kenji');
  assert.equal((await ann.replyTo(ann.say('garden', 'still you?'))).persona, 'kenji');
  await stack.redis.cmd('DEL', personaKey('garden'));
  assert.equal((await ann.replyTo(ann.say('garden', 'and now?'))).persona, 'aiko', 'the key gone: the default again');

  // A plugin turned off in this channel by someone else: the echo stops answering.
  await stack.redis.cmd('SADD', 'chorus:disabled:webchat:garden', 'echo');
  const quiet = ann.say('garden', 'anyone?');
  const lobby = await ann.replyTo(ann.say('lobby', 'hello lobby'));
  assert.equal(lobby.text, 'echo: hello lobby', 'other channels still answer');
  assert.ok(!ann.answersTo(quiet).some((m) => m.text === 'echo: anyone?'), 'the disabled plugin did not answer in the garden');
  await stack.redis.cmd('SREM', 'chorus:disabled:webchat:garden', 'echo');
  assert.equal((await ann.replyTo(ann.say('garden', 'back?'))).text, 'echo: back?');
});

test('a Redis restart drops the cache: a persona from before is not used after', async () => {
  const stack = await echoStack();
  const ann = await stack.user('Ann');
  await waitFor(() => subscribed(stack.redis), { what: 'the invalidation connection to subscribe' });
  await stack.redis.cmd('SET', personaKey('garden'), 'kenji');
  assert.equal((await ann.replyTo(ann.say('garden', 'hello'))).persona, 'kenji');
  assert.equal((await ann.replyTo(ann.say('garden', 'again'))).persona, 'kenji', 'from the cache');

  await stack.redis.restart();                                         // same port, no data: no persona set
  await waitFor(() => subscribed(stack.redis), { timeoutMs: 10000, what: 'chorusd to reconnect and subscribe again' });
  // Until the main connection is back, messages are answered without memory;
  // once it is, the first message must read its context from the new Redis.
  await waitFor(async () => {
    await ann.replyTo(ann.say('garden', 'ping'));
    return (await contextReads(stack.redis)) > 0;
  }, { timeoutMs: 10000, what: 'a context read from the restarted Redis' });
  assert.equal((await ann.replyTo(ann.say('garden', 'who now?'))).persona, 'aiko', 'nothing cached before the restart is used');
});

test('when only the invalidation connection is cut, a change made meanwhile is still seen', async () => {
  const stack = await echoStack();
  const ann = await stack.user('Ann');
  await waitFor(() => subscribed(stack.redis), { what: 'the invalidation connection to subscribe' });
  assert.equal((await ann.replyTo(ann.say('garden', 'hello'))).persona, 'aiko');
  assert.equal((await ann.replyTo(ann.say('garden', 'again'))).persona, 'aiko');

  await stack.redis.cmd('CLIENT', 'KILL', 'TYPE', 'pubsub');           // no one hears invalidations now
  await stack.redis.cmd('SET', personaKey('garden'), 'kenji');          // a change nobody is told of
  await waitFor(() => subscribed(stack.redis), { timeoutMs: 10000, what: 'the invalidation connection to come back' });
  assert.equal((await ann.replyTo(ann.say('garden', 'who is there?'))).persona, 'kenji');
  assert.match(stack.chorus.logText(), /redis: .*(lost|reconnecting)/, 'the connection really was cut');
});

test('a reload that moves chorusd to another Redis drops what it cached from the first', async () => {
  const stack = await echoStack();
  const ann = await stack.user('Ann');
  await waitFor(() => subscribed(stack.redis), { what: 'the invalidation connection to subscribe' });
  await stack.redis.cmd('SET', personaKey('garden'), 'kenji');
  assert.equal((await ann.replyTo(ann.say('garden', 'hello'))).persona, 'kenji');
  assert.equal((await ann.replyTo(ann.say('garden', 'again'))).persona, 'kenji');

  const other = await startRedis();                                    // no persona set there
  const config = stack.config.replace(stack.redis.url, other.url);
  assert.notEqual(config, stack.config);
  fs.writeFileSync(stack.chorus.configFile, config);
  stack.chorus.proc.kill('SIGHUP');
  await stack.chorus.waitForLog(/reload: config and plugins reloaded/, 5000);
  await waitFor(() => subscribed(other), { timeoutMs: 10000, what: 'the new Redis to hear from chorusd' });
  assert.equal((await ann.replyTo(ann.say('garden', 'who now?'))).persona, 'aiko');
  await other.cmd('SET', personaKey('garden'), 'kenji');               // and the new cache is kept true too
  assert.equal((await ann.replyTo(ann.say('garden', 'and now?'))).persona, 'kenji');
});
