'use strict';
// Stories of a Discord bot's gateway connection: it comes online, answers
// the people who talk to it, and stays online through every fault Discord's
// docs describe, without losing or repeating an event.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startDiscordStack, replyTo, TOKEN } = require('../lib/discord-stack');
const { httpGet, waitFor, delay } = require('../lib/util');

test('the bot comes online, identifies with its intents and answers a mention in a guild', async () => {
  const { fake, chorus } = await startDiscordStack();
  const id = await fake.waitForIdentify();
  assert.equal(id.intents, 33281);
  assert.deepEqual(id.d.shard, [0, 1]);
  assert.equal(id.d.token, TOKEN);
  const m = fake.mentionBot({ content: 'hello there' });
  const reply = await replyTo(fake, m);
  assert.equal(reply.content, 'echo: hello there');
  assert.deepEqual(reply.allowed_mentions, { parse: [] });
  await waitFor(async () => (await httpGet(`${chorus.url}/readyz`)).status === 200, { what: '/readyz 200' });
  assert.ok(!chorus.logText().includes(TOKEN), 'the token never appears in the log');
});

// Messages the bot posted in answer to M.
const answersTo = (fake, m) => fake.posted.filter((r) => r.message_reference && r.message_reference.message_id === m.id);

test('after a dropped TCP connection the bot resumes, gets the missed messages replayed and answers each once', async () => {
  const { fake } = await startDiscordStack();
  const first = fake.connFor(0);
  const t0 = Date.now();
  first.drop();
  const missed = [fake.mentionBot({ content: 'one' }), fake.mentionBot({ content: 'two' })];
  const resume = await fake.waitForResume(10000, t0);
  assert.ok(resume.ok);
  for (const m of missed) assert.equal((await replyTo(fake, m)).content, `echo: ${m.content.replace(/^<@\d+> /, '')}`);
  await delay(200);
  for (const m of missed) assert.equal(answersTo(fake, m).length, 1, 'exactly one answer each');
  assert.equal(fake.identifies.length, 1, 'resumed, never identified again');
});

test('the bot survives a zombie connection and resumes without a duplicate reply', async () => {
  const { fake } = await startDiscordStack();
  fake.replayOverlap = 3;                 // the server replays events the bot already had
  const before = fake.mentionBot({ content: 'before' });
  await replyTo(fake, before);
  const zombie = fake.connFor(0);
  zombie.zombie = true;                   // no more ACKs, no more events on this socket
  const t0 = Date.now();
  const during = fake.mentionBot({ content: 'during' });
  await fake.waitForResume(10000, t0);
  await replyTo(fake, during);
  await fake.waitForClose(zombie);
  assert.notEqual(zombie.closedCode, 1000, 'closed with a code that keeps the session');
  assert.notEqual(zombie.closedCode, 1001);
  await delay(300);
  assert.equal(answersTo(fake, before).length, 1, 'the replayed message was not answered twice');
  assert.equal(answersTo(fake, during).length, 1);
  assert.equal(fake.identifies.length, 1);
});

test('op 7 Reconnect: the bot moves to a new connection, resumes and keeps answering', async () => {
  const { fake } = await startDiscordStack();
  const t0 = Date.now();
  fake.connFor(0).reconnect();
  await fake.waitForResume(10000, t0);
  const m = fake.mentionBot({ content: 'after op 7' });
  assert.equal((await replyTo(fake, m)).content, 'echo: after op 7');
  assert.equal(fake.identifies.length, 1);
});

test('op 9 with d=true resumes; op 9 with d=false identifies again; the bot answers after each', async () => {
  const { fake } = await startDiscordStack();
  let t0 = Date.now();
  fake.connFor(0).invalidSession(true);
  await fake.waitForResume(10000, t0);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'a' }))).content, 'echo: a');
  t0 = Date.now();
  fake.connFor(0).invalidSession(false);
  await fake.waitForIdentify((i) => i.at >= t0, 10000);
  await fake.waitForReady(0, 10000);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'b' }))).content, 'echo: b');
  assert.equal(fake.identifies.length, 2);
});

test('close codes: 4000 resumes, 4009 (session timed out) identifies afresh', async () => {
  const { fake } = await startDiscordStack();
  let t0 = Date.now();
  fake.connFor(0).close(4000, 'Unknown error.');
  await fake.waitForResume(10000, t0);
  await fake.waitForReady(0);
  t0 = Date.now();
  fake.connFor(0).close(4009, 'Session timed out.');
  await fake.waitForIdentify((i) => i.at >= t0, 10000);
  await fake.waitForReady(0, 10000);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'still here' }))).content, 'echo: still here');
});

test('a fatal 4004 stops that shard, /readyz says not ready, the web chat still answers', async () => {
  const { fake, stack, chorus } = await startDiscordStack({
    shards: '{ ids = {0, 1}, total = 2 }', fakeOptions: { shards: 2, identifyCloseFor: { 1: 4004 } },
  });
  await chorus.waitForLog(/shard 1 stopped for good: .*4004.*authentication failed/, 10000);
  await waitFor(async () => (await httpGet(`${chorus.url}/readyz`)).status === 503, { what: '/readyz 503' });
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'hi from the web'))).text, 'echo: hi from the web');
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'shard 0 lives' }))).content, 'echo: shard 0 lives');
  await delay(500);
  assert.equal(fake.identifies.filter((i) => i.shard === 1).length, 1, 'no reconnect storm after a fatal close');
  const metrics = (await httpGet(`${chorus.url}/metrics`)).body;
  assert.match(metrics, /chorus_platform_events_total\{event="discord_fatal_close"\} 1/);
});

test('two shards on one process: "auto" starts both and each answers its own guilds', async () => {
  const { fake } = await startDiscordStack({ fakeOptions: { shards: 2, maxConcurrency: 1 } });
  await fake.waitForReady(1, 10000);
  const ids = fake.identifies.map((i) => i.d.shard).sort();
  assert.deepEqual(ids, [[0, 2], [1, 2]]);
  const a = fake.mentionBot({ content: 'on shard 0', shard: 0 });
  const b = fake.mentionBot({ content: 'on shard 1', shard: 1, channel_id: '100000000000000002' });
  assert.equal((await replyTo(fake, a)).content, 'echo: on shard 0');
  assert.equal((await replyTo(fake, b)).content, 'echo: on shard 1');
  const gap = Math.abs(fake.identifies[1].at - fake.identifies[0].at);
  assert.ok(gap >= 15, `identifies of one max_concurrency bucket are paced (${gap} ms apart, 25 ms scaled)`);
});

test('a big GUILD_CREATE in fragments is reassembled; one over max_inbound_bytes makes the bot reconnect and carry on', async () => {
  const { fake, chorus } = await startDiscordStack({ discordExtra: 'max_inbound_bytes = 300000' });
  fake.fragmentBytes = 16384;
  const big = { id: '200000000000000001', name: 'x'.repeat(200000), channels: [] };
  fake.dispatch('GUILD_CREATE', big);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'after big' }))).content, 'echo: after big');
  const t0 = Date.now();
  fake.dispatch('GUILD_CREATE', { id: '200000000000000002', name: 'y'.repeat(400000), channels: [] });
  const session = fake.liveSession(0);
  session.events.pop();                 // let the resume skip it, as a real server's replay might not
  await chorus.waitForLog(/larger than max_inbound_bytes/, 10000);
  await fake.waitForResume(10000, t0);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'after huge' }))).content, 'echo: after huge');
});

test('a malformed gateway payload is ignored and the bot keeps answering', async () => {
  const { fake, chorus } = await startDiscordStack();
  fake.connFor(0).sendRaw('{"op": 0, "t": "MESSAGE_CREATE", ');
  await chorus.waitForLog(/not a JSON object/, 5000);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'fine' }))).content, 'echo: fine');
  assert.equal(fake.identifies.length, 1);
});

test('Discord asks for 150 heartbeats at once: the bot sends them all, yet never more than 120 in a minute', async () => {
  const { fake } = await startDiscordStack();
  // time_scale 0.005 makes the bot's minute 300 ms; the fake counts a
  // slightly shorter one, so a bot that paced nothing is caught.
  fake.sendWindowMs = 250;
  const conn = fake.connFor(0);
  const before = conn.heartbeats;
  for (let i = 0; i < 150; i++) conn.send({ op: 1, d: null });
  await waitFor(() => conn.heartbeats - before >= 150, { timeoutMs: 10000, what: '150 heartbeats' });
  assert.deepEqual(fake.violations, [], 'the send limit held');
  assert.equal(fake.connFor(0), conn, 'on the same connection: a beat held back is not taken for a zombie');
  const m = fake.mentionBot({ content: 'still there?' });
  assert.equal((await replyTo(fake, m)).content, 'echo: still there?');
});

test('a DM needs no mention, other guild chatter is left alone, and the bot never answers itself', async () => {
  const { fake } = await startDiscordStack();
  fake.echoToGateway = true;            // the bot's own posts come back as MESSAGE_CREATE
  const dm = fake.messageCreate({ dm: true, channel_id: '300000000000000001', content: 'psst' });
  assert.equal((await replyTo(fake, dm)).content, 'echo: psst');
  const chatter = fake.messageCreate({ content: 'not for the bot' });
  await delay(300);
  assert.equal(answersTo(fake, chatter).length, 0);
  assert.equal(fake.posted.length, 1, 'one post: no loop on its own message');
});

test('SIGTERM closes the gateway with 1000 and chorusd exits cleanly', async () => {
  const { fake, chorus } = await startDiscordStack();
  const conn = fake.connFor(0);
  assert.equal(await chorus.stop('SIGTERM'), 0);
  await fake.waitForClose(conn);
  assert.equal(conn.closedCode, 1000);
});

test('a discord statement with bad shards is refused at its line; the token is never echoed', async () => {
  const { checkConfig } = require('../lib/chorusd');
  const res = await checkConfig(`listen "127.0.0.1:0"\n\ndiscord { token = "${TOKEN}", shards = { ids = {0, 5}, total = 2 } }\n`);
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /:3: discord: shard ids must be whole numbers from 0 to total - 1/);
  assert.ok(!res.stderr.includes(TOKEN));
  const ok = await checkConfig(`discord { token = "${TOKEN}", shards = "auto", intents = 513, time_scale = 0.5 }\n`);
  assert.equal(ok.code, 0, ok.stderr);
});
