'use strict';
// Stories of personas people keep talking to: the persona notices a
// stranger and a returning friend, hears sadness, remembers what it is
// told, keeps a rolling summary, forgets a person completely on request,
// and counts the conversation turns of each session.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startRedis } = require('../lib/redis');
const { startFakeOpenAI } = require('../lib/fake-openai');
const { startChorusd } = require('../lib/chorusd');
const { openUser, readHistory } = require('../lib/stack');
const { tempDir, luaString } = require('../lib/util');

async function startPersonas({ persona = '', extra = '', model = 'default' } = {}) {
  const redis = await startRedis();
  const fake = await startFakeOpenAI();
  fake.respond = (req) => (req.body.messages[0].content.startsWith('Summarize')
    ? { content: 'Ann told Aiko about her cat Miso.' } : undefined);
  const q = luaString;
  const config = [
    'listen "127.0.0.1:0"',
    `admin_socket ${q(path.join(tempDir('chorus-admin'), 'admin.sock'))}`,
    `redis ${q(redis.url)} { reconnect_min_ms = 20, reconnect_max_ms = 200 }`,
    `model "default" { provider = "openai", base_url = ${q(fake.baseUrl)}, model = "gpt-test" }`,
    `persona "aiko" { prompt = "You are Aiko, a warm companion.", model = ${q(model)}, apology = "Sorry!" ${persona} }`,
    extra,
  ].join('\n');
  const chorus = await startChorusd({ config });
  return { redis, fake, chorus, user: (name) => openUser(chorus.wsUrl, name) };
}

const system = (fake) => fake.requests.filter((r) => !r.body.messages[0].content.startsWith('Summarize')).at(-1).body.messages[0].content;

test('a stranger is met as a stranger, and a friend who comes back is welcomed back', async () => {
  const s = await startPersonas();
  const ann = await s.user('Ann');
  await ann.replyTo(ann.say('lobby', 'hello!'));
  assert.match(system(s.fake), /^You are Aiko, a warm companion\./, 'the persona prompt comes first, verbatim');
  assert.match(system(s.fake), /You are talking with Ann\. This is the first time you talk with them/);
  const relKey = (await s.redis.cmd('KEYS', 'chorus:user:webchat:*:rel:aiko'))[0];
  await s.redis.cmd('HSET', relKey, 'last_seen', String(Date.now() / 1000 - 3 * 3600));
  await ann.replyTo(ann.say('lobby', 'I am back'));
  assert.match(system(s.fake), /They are back after 3 hours; greet them as someone you know/);
});

test('the persona notices when someone is sad, and the channel\'s mood follows the conversation', async () => {
  const s = await startPersonas();
  const ann = await s.user('Ann');
  await ann.replyTo(ann.say('lobby', 'I feel so sad and lonely today, everything went wrong'));
  assert.match(system(s.fake), /They seem sad right now; be gentle/);
  const mood = await s.redis.cmd('HGETALL', 'chorus:{webchat:lobby}:mood:aiko');
  const m = {};
  for (let i = 0; i < mood.length; i += 2) m[mood[i]] = Number(mood[i + 1]);
  assert.ok(m.valence < 0, `the mood turned negative (${m.valence})`);
  await ann.replyTo(ann.say('lobby', 'thank you, that really helps, I feel much better and happy now!'));
  const after = Number(await s.redis.cmd('HGET', 'chorus:{webchat:lobby}:mood:aiko', 'valence'));
  assert.ok(after > m.valence, 'it lifts with a happier message');
});

test('the persona remembers what it is told, and uses it later', async () => {
  const s = await startPersonas();
  const ann = await s.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'remember that I like jazz'))).text, "I'll remember that you like jazz.");
  await ann.replyTo(ann.say('lobby', 'what music should I listen to?'));
  assert.match(system(s.fake), /What you know about them: you like jazz\./);
});

test('forget me: nothing of Ann remains in Redis, and Ben\'s conversation is untouched', async () => {
  const s = await startPersonas();
  const ann = await s.user('Ann');
  const ben = await s.user('Ben');
  await ann.replyTo(ann.say('lobby', 'my secret word is xylophone-42'));
  await ann.replyTo(ann.say('lobby', 'remember that I live in Lyon'));
  await ben.replyTo(ben.say('lobby', 'Ben here, hello'));
  await ann.replyTo(ann.say('garden', 'the garden is lovely, xylophone-42'));
  const before = await s.redis.cmd('KEYS', '*');
  assert.ok(before.some((k) => k.includes(':facts:')), 'a fact was stored');
  const annId = JSON.parse((await s.redis.cmd('LRANGE', 'chorus:{webchat:lobby}:history:aiko', '0', '0'))[0]).user;
  const reply = await ann.replyTo(ann.say('lobby', 'forget me'));
  assert.match(reply.text, /forgotten what I knew about you/);
  for (const key of await s.redis.cmd('KEYS', '*')) {
    const type = await s.redis.cmd('TYPE', key);
    let dump = key;
    if (type === 'string') dump += await s.redis.cmd('GET', key);
    else if (type === 'list') dump += (await s.redis.cmd('LRANGE', key, '0', '-1')).join('\n');
    else if (type === 'hash') dump += (await s.redis.cmd('HGETALL', key)).join('\n');
    else if (type === 'set') dump += (await s.redis.cmd('SMEMBERS', key)).join('\n');
    else if (type === 'zset') dump += (await s.redis.cmd('ZRANGE', key, '0', '-1')).join('\n');
    else if (type === 'stream') continue;   /* the accounting stream records calls, not content */
    assert.ok(!dump.includes('xylophone-42'), `${key} still holds Ann's words`);
    assert.ok(!dump.includes('Lyon'), `${key} still holds Ann's fact`);
    assert.ok(!dump.includes(annId), `${key} still names Ann (${annId})`);
  }
  const lobby = await readHistory(s.redis, 'lobby', 'aiko');
  assert.deepEqual(lobby.filter((t) => t.role === 'user').map((t) => t.content), ['Ben here, hello'], 'Ben\'s turn stays');
});

test('a full window is folded into a rolling summary that later prompts carry', async () => {
  const s = await startPersonas({ persona: ', history_turns = 4' });
  const ann = await s.user('Ann');
  for (const t of ['I have a cat', 'her name is Miso', 'she likes boxes']) await ann.replyTo(ann.say('lobby', t));
  await s.fake.waitForRequest((r) => r.body.messages[0].content.startsWith('Summarize'), 5000);
  const summary = await waitValue(() => s.redis.cmd('GET', 'chorus:{webchat:lobby}:summary:aiko'));
  assert.equal(summary, 'Ann told Aiko about her cat Miso.');
  // The trim follows the summary's SET in the same job: wait for it to land too.
  const trimmed = await waitValue(async () => (await readHistory(s.redis, 'lobby', 'aiko')).length <= 4);
  assert.ok(trimmed, 'older turns were trimmed');
  await ann.replyTo(ann.say('lobby', 'what do you remember?'));
  assert.match(system(s.fake), /Earlier in this conversation: Ann told Aiko about her cat Miso\./);
});

test('recent turns are bounded by the persona\'s token budget', async () => {
  const s = await startPersonas({ persona: ', max_prompt_tokens = 120' });
  const ann = await s.user('Ann');
  for (let i = 0; i < 4; i++) await ann.replyTo(ann.say('lobby', `message ${i} ` + 'word '.repeat(40)));
  const msgs = s.fake.requests.at(-1).body.messages;
  assert.ok(msgs.length < 1 + 6 + 1, `older turns were left out (${msgs.length} messages)`);
  assert.deepEqual(msgs.at(-1), { role: 'user', content: 'message 3 ' + 'word '.repeat(40) });
});

test('engagement: turns and sessions per persona per day give conversation-turns per session', async () => {
  const s = await startPersonas();
  const ann = await s.user('Ann');
  const ben = await s.user('Ben');
  for (const t of ['a', 'b', 'c']) await ann.replyTo(ann.say('lobby', t));
  await ben.replyTo(ben.say('lobby', 'hi'));
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  const h = await s.redis.cmd('HGETALL', `chorus:engagement:${day}:aiko`);
  const e = {};
  for (let i = 0; i < h.length; i += 2) e[h[i]] = Number(h[i + 1]);
  assert.deepEqual(e, { turns: 4, sessions: 2 }, 'CPS = 2');
});

test('personas from a folder, a per-platform default, and a persona limited to some skills', async () => {
  const dir = tempDir('chorus-personas');
  fs.writeFileSync(path.join(dir, 'kenji.lua'), 'return { name = "kenji", prompt = "You are Kenji.", model = "default", default_for = { "webchat" }, skills = { "ping" } }\n');
  fs.writeFileSync(path.join(dir, 'bad.lua'), 'return { name = "bad", prompt = 42 }\n');
  const redis = await startRedis();
  const { checkConfig } = require('../lib/chorusd');
  const bad = await checkConfig(`personas_dir ${luaString(dir)}\n`);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /bad\.lua:1: persona "bad": 'prompt' must be a string/);
  fs.unlinkSync(path.join(dir, 'bad.lua'));
  const s = await startPersonas({ extra: `personas_dir ${luaString(dir)}` });
  const ann = await s.user('Ann');
  const r = await ann.replyTo(ann.say('lobby', '!ping'));
  assert.deepEqual([r.persona, r.text], ['kenji', 'pong'], 'kenji speaks on the web chat and may use ping');
  const other = await ann.replyTo(ann.say('lobby', 'hello'));
  assert.equal(other.text, "Sorry, I can't answer right now. Please try again in a moment.", 'but not the chat skill: nothing answers, so its apology');
  await redis.stop();
});

test('with the offline model, a returning friend is welcomed back by name', async () => {
  const s = await startPersonas({ model: 'local' });
  const ann = await s.user('Ann');
  await ann.replyTo(ann.say('lobby', 'hello, my name is Ann'));
  const relKey = (await s.redis.cmd('KEYS', 'chorus:user:webchat:*:rel:aiko'))[0];
  await s.redis.cmd('HSET', relKey, 'last_seen', String(Date.now() / 1000 - 2 * 86400));
  const back = await ann.replyTo(ann.say('lobby', 'hi again'));
  assert.match(back.text, /^Welcome back, Ann!/);
});

test('CPS on a scripted conversation with an idle gap: mean and median per persona and channel', async () => {
  const s = await startPersonas();
  const ann = await s.user('Ann');
  const ben = await s.user('Ben');
  for (const t of ['a', 'b', 'c']) await ann.replyTo(ann.say('lobby', t));
  const relKey = (await s.redis.cmd('KEYS', 'chorus:user:webchat:*u-ann:rel:aiko'))[0];
  await s.redis.cmd('HSET', relKey, 'last:webchat:lobby', String(Date.now() / 1000 - 31 * 60));   // 31 idle minutes
  for (const t of ['d', 'e']) await ann.replyTo(ann.say('lobby', t));
  await ben.replyTo(ben.say('lobby', 'hi'));
  const { execFile } = require('node:child_process');
  const CHORUSCTL = process.env.CHORUSCTL || path.join(process.env.CHORUS_SRCDIR || path.resolve(__dirname, '..', '..'), 'src', 'chorusctl');
  const sock = /admin_socket "([^"]+)"/.exec(fs.readFileSync(s.chorus.configFile, 'utf8'))[1];
  const today = new Date().toISOString().slice(0, 10);
  const out = await new Promise((resolve) => execFile(CHORUSCTL, ['--socket', sock, '--json', 'ledger', '--persona', 'aiko', '--from', today, '--to', today],
    (err, stdout) => resolve(stdout)));
  const row = JSON.parse(out).rows[0];
  assert.equal(row.conversations, 3, 'three sessions: Ann twice (split by the gap), Ben once');
  assert.equal(row.turns, 6);
  assert.equal(row.cps, 2);
  assert.equal(row.cps_median, 2, 'sessions of 3, 2 and 1 turns');
  assert.deepEqual(row.channels['webchat:lobby'], { sessions: 3, turns: 6, cps_mean: 2, cps_median: 2 });
});

test('facts survive a restart of chorusd', async () => {
  const s = await startPersonas();
  const ann = await s.user('Ann');
  await ann.replyTo(ann.say('lobby', 'remember that I play the cello'));
  assert.equal(await s.chorus.stop('SIGTERM'), 0);
  const again = await startChorusd({ config: fs.readFileSync(s.chorus.configFile, 'utf8') });
  const ann2 = await openUser(again.wsUrl, 'Ann');
  // A new connection is a new guest session: the fact belongs to the first one.
  const key = (await s.redis.cmd('KEYS', 'chorus:user:webchat:*:facts:aiko'))[0];
  assert.match((await s.redis.cmd('LRANGE', key, '0', '-1'))[0], /you play the cello/);
  await ann2.replyTo(ann2.say('lobby', 'hello again'));
  assert.ok(key, 'the fact is still there after the restart');
});

async function waitValue(fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
