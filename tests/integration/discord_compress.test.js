'use strict';
// Stories of a Discord bot that asks for zlib-stream transport compression:
// everything Discord sends arrives as one deflate stream per connection,
// and the bot reads it as it did plain JSON, through resumes, a corrupt
// stream and a payload that only grows too big once inflated.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startDiscordStack, replyTo, TOKEN } = require('../lib/discord-stack');
const { httpGet, delay } = require('../lib/util');

const COMPRESS = 'compress = "zlib-stream"';

// Messages the bot posted in answer to M.
const answersTo = (fake, m) => fake.posted.filter((r) => r.message_reference && r.message_reference.message_id === m.id);

test('by default the bot asks for no compression and Discord talks plain JSON', async () => {
  const { fake } = await startDiscordStack();
  const conn = fake.connFor(0);
  assert.equal(conn.query.get('compress'), null, `no compress in ${conn.path}`);
  assert.equal(conn.query.get('encoding'), 'json');
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'plain' }))).content, 'echo: plain');
});

test('with compress = "zlib-stream" the bot reads the compressed stream and answers a mention', async () => {
  const { fake, chorus } = await startDiscordStack({ discordExtra: COMPRESS });
  const conn = fake.connFor(0);
  assert.equal(conn.query.get('compress'), 'zlib-stream', `compress asked for in ${conn.path}`);
  assert.equal(conn.query.get('v'), '10');
  assert.ok(conn.compressed, 'the fake sends binary zlib frames');
  const m = fake.mentionBot({ content: 'hello, squeezed' });
  assert.equal((await replyTo(fake, m)).content, 'echo: hello, squeezed');
  // Payloads cut across two websocket messages, and those in fragments, still read whole.
  fake.splitCompressed = true;
  fake.fragmentBytes = 8;
  const big = { id: '200000000000000001', name: 'x'.repeat(100000), channels: [] };
  fake.dispatch('GUILD_CREATE', big);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'cut in two' }))).content, 'echo: cut in two');
  assert.equal(fake.identifies.length, 1, 'no reconnect on the way');
  assert.ok(!chorus.logText().includes('corrupt'));
});

test('after a dropped connection the bot resumes on a fresh stream and answers each missed message once', async () => {
  const { fake } = await startDiscordStack({ discordExtra: COMPRESS });
  const before = fake.mentionBot({ content: 'before' });
  await replyTo(fake, before);
  const first = fake.connFor(0);
  const t0 = Date.now();
  first.drop();
  const missed = [fake.mentionBot({ content: 'one' }), fake.mentionBot({ content: 'two' })];
  const resume = await fake.waitForResume(10000, t0);
  assert.ok(resume.ok);
  assert.ok(resume.conn.compressed, 'the resumed connection is compressed too');
  assert.notEqual(resume.conn, first);
  for (const m of missed) assert.equal((await replyTo(fake, m)).content, `echo: ${m.content.replace(/^<@\d+> /, '')}`);
  const after = fake.mentionBot({ content: 'after' });
  assert.equal((await replyTo(fake, after)).content, 'echo: after');
  await delay(200);
  for (const m of [before, ...missed, after]) assert.equal(answersTo(fake, m).length, 1, 'exactly one answer each');
  assert.equal(fake.identifies.length, 1, 'resumed, never identified again');
});

test('a corrupt compressed frame is logged clearly, the bot reconnects and keeps answering', async () => {
  const { fake, chorus } = await startDiscordStack({ discordExtra: COMPRESS });
  const bad = fake.connFor(0);
  const t0 = Date.now();
  bad.sendCorrupt();
  await chorus.waitForLog(/shard 0: the gateway's zlib stream is corrupt \(.+\); reconnecting/, 10000);
  await fake.waitForResume(10000, t0);
  await fake.waitForClose(bad);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'still here' }))).content, 'echo: still here');
  const metrics = (await httpGet(`${chorus.url}/metrics`)).body;
  assert.match(metrics, /chorus_platform_events_total\{event="discord_zlib_error"\} 1/);
  assert.equal(await chorus.stop('SIGTERM'), 0, 'and it still shuts down cleanly');
});

test('a payload that inflates past max_inbound_bytes is refused like an oversized frame', async () => {
  const { fake, chorus } = await startDiscordStack({ discordExtra: `${COMPRESS}, max_inbound_bytes = 300000` });
  const t0 = Date.now();
  fake.dispatch('GUILD_CREATE', { id: '200000000000000002', name: 'y'.repeat(400000), channels: [] });
  const session = fake.liveSession(0);
  session.events.pop();                 // let the resume skip it, as a real server's replay might not
  await chorus.waitForLog(/inflated past max_inbound_bytes \(300000\); reconnecting/, 10000);
  await fake.waitForResume(10000, t0);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'after huge' }))).content, 'echo: after huge');
  const metrics = (await httpGet(`${chorus.url}/metrics`)).body;
  assert.match(metrics, /chorus_platform_events_total\{event="discord_oversized"\} 1/);
});

test('compress takes "zlib-stream" or a boolean; anything else is refused at its line', async () => {
  const { checkConfig } = require('../lib/chorusd');
  const res = await checkConfig(`listen "127.0.0.1:0"\n\ndiscord { token = "${TOKEN}", compress = "gzip" }\n`);
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /:3: discord: compress must be "zlib-stream" or false/);
  assert.ok(!res.stderr.includes(TOKEN));
  for (const v of ['"zlib-stream"', 'true', 'false']) {
    const ok = await checkConfig(`discord { token = "${TOKEN}", compress = ${v} }\n`);
    assert.equal(ok.code, 0, `compress = ${v}: ${ok.stderr}`);
  }
});
