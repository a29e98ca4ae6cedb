'use strict';
// What persona state costs in Redis, and how many Redis commands a message
// takes. Measured in one run against a fresh redis-server:
//   1. N channels with 20 turns each, in chorusd's own key layout
//      (history list, persona key, mood hash, summary): bytes per channel
//      beyond the stored text itself;
//   2. N known users (relationship hash, index set, two facts): bytes per user;
//   3. chorusd answering M messages with the offline model: Redis commands and
//      scripts per message, from INFO commandstats.
// The baseline for 1 and 2 is the text itself (what any store must keep).
//   node bench/redis/memory.js [--smoke]
const path = require('node:path');
const { startRedis } = require('../../tests/lib/redis');
const { startChorusd } = require('../../tests/lib/chorusd');
const { openUser } = require('../../tests/lib/stack');
const { tempDir } = require('../../tests/lib/util');

const smoke = process.argv.includes('--smoke');
const CHANNELS = smoke ? 2000 : 100000;
const USERS = smoke ? 2000 : 100000;
const MESSAGES = smoke ? 50 : 500;

async function usedMemory(redis) {
  const info = await redis.cmd('INFO', 'memory');
  return Number(/used_memory:(\d+)/.exec(info)[1]);
}

async function inBatches(n, size, fn) {
  for (let i = 0; i < n; i += size) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + size); j++) batch.push(fn(j));
    await Promise.all(batch);
  }
}

function turn(i, k) {
  return JSON.stringify(k % 2 === 0
    ? { role: 'user', content: `message ${k} in channel ${i}, about the weather and the garden`, user: `guest:ab12cd34:u${i}`, name: 'Ann', ts: 1764437000.12 }
    : { role: 'assistant', content: `a friendly answer number ${k} for channel ${i}`, persona: 'aiko', model: 'local', ts: 1764437000.31 });
}

async function main() {
  const redis = await startRedis();
  await redis.cmd('CONFIG', 'SET', 'save', '');
  const base = await usedMemory(redis);
  let textBytes = 0;
  await inBatches(CHANNELS, 500, async (i) => {
    const turns = [];
    for (let k = 0; k < 20; k++) { const t = turn(i, k); turns.push(t); textBytes += Buffer.byteLength(t); }
    const ch = `chorus:{webchat:channel-${i}}`;
    await Promise.all([
      redis.cmd('RPUSH', `${ch}:history:aiko`, ...turns),
      redis.cmd('EXPIRE', `${ch}:history:aiko`, '2592000'),
      redis.cmd('SET', `${ch}:persona`, 'aiko'),
      redis.cmd('HSET', `${ch}:mood:aiko`, 'valence', '0.1234', 'arousal', '0.4321', 'updated', '1764437000.123'),
    ]);
  });
  const afterChannels = await usedMemory(redis);
  const perChannel = (afterChannels - base) / CHANNELS;
  const textPerChannel = textBytes / CHANNELS;
  let userText = 0;
  await inBatches(USERS, 500, async (i) => {
    const u = `chorus:user:webchat:guest:ab12cd34:u${i}`;
    const facts = [JSON.stringify({ fact: 'you like jazz', ts: 1764437000 }), JSON.stringify({ fact: `you live in town ${i}`, ts: 1764437001 })];
    userText += facts.reduce((a, f) => a + Buffer.byteLength(f), 0);
    await Promise.all([
      redis.cmd('HSET', `${u}:rel:aiko`, 'turns', '12', 'first_seen', '1764437000.1', 'last_seen', '1764437999.2',
        'valence', '0.2', 'valence_avg', '0.15', 'name', 'Ann', 'sess:webchat:lobby', '1764437000.1', 'last:webchat:lobby', '1764437999.2'),
      redis.cmd('SADD', `${u}:seen`, `chorus:{webchat:lobby}:history:aiko|chorus:{webchat:lobby}:summary:aiko|${u}:rel:aiko|${u}:facts:aiko`),
      redis.cmd('RPUSH', `${u}:facts:aiko`, ...facts),
    ]);
  });
  const afterUsers = await usedMemory(redis);
  const perUser = (afterUsers - afterChannels) / USERS;

  // Commands per message, from a real daemon.
  await redis.cmd('FLUSHALL');
  await redis.cmd('CONFIG', 'RESETSTAT');
  const chorus = await startChorusd({
    config: `listen "127.0.0.1:0"\nadmin_socket "${path.join(tempDir('bench-admin'), 's')}"\nredis "${redis.url}"\npersona "aiko" { prompt = "You are Aiko.", model = "local" }\n`,
    readyTimeoutMs: 10000,
  });
  const ann = await openUser(chorus.wsUrl, 'Ann');
  await ann.replyTo(ann.say('lobby', 'warm up'));
  const { httpGet } = require('../../tests/lib/util');
  const sent = async () => Number(/chorus_redis_commands_total\{redis="main"\} (\d+)/.exec((await httpGet(`${chorus.url}/metrics`)).body)[1]);
  await redis.cmd('CONFIG', 'RESETSTAT');
  const before = await sent();
  for (let i = 0; i < MESSAGES; i++) await ann.replyTo(ann.say('lobby', `hello number ${i}`), 10000);
  const calls = (await sent()) - before;
  const stats = await redis.cmd('INFO', 'commandstats');
  let evals = 0;
  for (const m of stats.matchAll(/cmdstat_(eval|evalsha):calls=(\d+)/g)) evals += Number(m[2]);
  await chorus.stop('SIGTERM');
  await redis.stop();

  console.log(`redis memory (${CHANNELS} channels x 20 turns, ${USERS} users)${smoke ? ' [smoke]' : ''}`);
  console.log(`  per channel: ${Math.round(perChannel)} bytes, of which stored text ${Math.round(textPerChannel)}: overhead ${Math.round(perChannel - textPerChannel)} bytes (goal: at most 4096), ratio to the text ${(perChannel / textPerChannel).toFixed(2)}x`);
  console.log(`  per known user: ${Math.round(perUser)} bytes (facts text ${Math.round(userText / USERS)})`);
  console.log(`redis commands chorusd sends per message: ${(calls / MESSAGES).toFixed(1)}, ${(evals / MESSAGES).toFixed(1)} of them scripts`);
  console.log('  sequential round trips before a reply: 3 (context script; memory and empathy script; the turn append pipeline)');
  const ok = perChannel - textPerChannel <= 4096;
  console.log(ok ? 'bench: within the 4 KB per channel goal' : 'bench: OVER the 4 KB per channel goal');
  process.exit(0);
}

main().catch((err) => { console.error(err); process.exit(1); });
