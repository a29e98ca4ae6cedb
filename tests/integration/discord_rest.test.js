'use strict';
// Stories of the bot's replies on Discord's REST API: long answers are split
// cleanly, nobody gets pinged by accident, "typing" shows while the model
// thinks, and rate limits are respected without ever earning an avoidable 429.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startDiscordStack, replyTo } = require('../lib/discord-stack');
const { delay, waitFor } = require('../lib/util');

const cp = (s) => [...s].length;

test('a 5000-character answer is split in three at code point boundaries', async () => {
  const { fake, stack } = await startDiscordStack();
  // Astral characters (4 UTF-8 bytes, 2 UTF-16 units) sit right on the 2000 and 4000 boundaries.
  const answer = 'a'.repeat(1999) + '😀' + '🎉' + 'é'.repeat(1997) + '語' + '🦊' + 'z'.repeat(1000);
  assert.equal(cp(answer), 5000);
  stack.fake.respond = () => ({ content: answer });
  const m = fake.mentionBot({ content: 'tell me a long story' });
  await replyTo(fake, m);
  const parts = await waitFor(() => {
    const p = fake.posted.filter((r) => r.channel_id === m.channel_id);
    return p.length === 3 ? p : null;
  }, { what: 'three parts' });
  assert.deepEqual(parts.map((p) => cp(p.content)), [2000, 2000, 1000]);
  assert.equal(parts.map((p) => p.content).join(''), answer, 'nothing lost or mangled');
  assert.ok(parts[0].content.endsWith('😀') && parts[1].content.startsWith('🎉'));
  assert.ok(parts[0].message_reference && parts[0].message_reference.message_id === m.id, 'the first part answers the message');
  assert.ok(!parts[1].message_reference && !parts[2].message_reference);
});

test('@everyone in a model answer never pings', async () => {
  const { fake, stack } = await startDiscordStack();
  stack.fake.respond = () => ({ content: '@everyone @here <@700000000000000001> <@&5> look at this' });
  const reply = await replyTo(fake, fake.mentionBot({ content: 'say something loud' }));
  assert.equal(reply.content, '@everyone @here <@700000000000000001> <@&5> look at this');
  assert.deepEqual(reply.allowed_mentions, { parse: [] }, 'no mention is parsed');
});

test('"typing" is renewed while a slow model answers and stops once the reply is sent', async () => {
  const { fake, stack } = await startDiscordStack({ timeScale: 0.01 });   // renew every 80 ms
  stack.fake.respond = () => ({ delayMs: 600, content: 'done thinking' });
  const m = fake.mentionBot({ content: 'think hard' });
  await replyTo(fake, m);
  const typing = () => fake.rest.filter((r) => r.route === 'POST /channels/{id}/typing' && r.major === m.channel_id).length;
  assert.ok(typing() >= 3, `typing was renewed (${typing()} typing calls)`);
  const after = typing();
  await delay(400);
  const late = fake.rest.filter((r) => r.route === 'POST /channels/{id}/typing').map((r) => r.at - fake.posted[0].at);
  assert.ok(typing() <= after + 1, `typing stopped after the reply (typing at ${late.join(', ')} ms from the reply)`);
});

test('a 429 on a bucket and a global 429 are waited out, and each reply still arrives once', async () => {
  const { fake, chorus } = await startDiscordStack();
  fake.force429.push({ route: 'POST /channels/{id}/messages', retryAfterMs: 300 });
  const a = fake.mentionBot({ content: 'first' });
  const t0 = Date.now();
  assert.equal((await replyTo(fake, a)).content, 'echo: first');
  assert.ok(Date.now() - t0 >= 250, 'waited retry_after');
  fake.force429.push({ route: 'POST /channels/{id}/messages', retryAfterMs: 300, global: true });
  const b = fake.mentionBot({ content: 'second' });
  assert.equal((await replyTo(fake, b)).content, 'echo: second');
  await chorus.waitForLog(/global rate limit hit/, 2000);
  await delay(100);
  assert.equal(fake.posted.filter((r) => r.message_reference && [a.id, b.id].includes(r.message_reference.message_id)).length, 2);
});

test('a burst of 300 replies never earns a 429 and keeps per-channel order', { timeout: 90000 }, async () => {
  // One author sends all 300: above the default 100 jobs per user (docs/security.md).
  const { fake } = await startDiscordStack({ globalRate: 50, configExtra: 'limits { jobs_per_user = 1000 }' });
  fake.routeLimits['POST /channels/{id}/messages'] = { limit: 5, windowMs: 250, bucket: 'msgbucket' };
  fake.globalLimit = { perSecond: 50 };
  // Six channels, fifty messages each.
  const channels = [11, 12, 13, 14, 15, 16].map((n) => `1000000000000000${n}`);
  const sent = [];
  for (let i = 0; i < 300; i++) {
    sent.push(fake.mentionBot({ content: `n${i}`, channel_id: channels[i % channels.length] }));
  }
  await waitFor(() => fake.posted.length >= 300, { timeoutMs: 80000, intervalMs: 200, what: '300 replies' });
  const tooMany = fake.rest.filter((r) => r.status === 429);
  assert.equal(tooMany.length, 0, `no 429s (got ${tooMany.length}; violations: ${JSON.stringify(fake.violations.slice(0, 3))})`);
  for (const ch of channels) {
    const order = fake.posted.filter((p) => p.channel_id === ch).map((p) => p.content);
    const expected = sent.filter((m) => m.channel_id === ch).map((m) => `echo: ${m.content.replace(/^<@\d+> /, '')}`);
    assert.deepEqual(order, expected, `channel ${ch} in order`);
  }
});

test('a 403 on a send is logged, not fatal: the next message is answered', async () => {
  const { fake, chorus } = await startDiscordStack();
  fake.forbidChannels = new Set(['100000000000000066']);
  const m = fake.mentionBot({ content: 'you cannot answer here', channel_id: '100000000000000066' });
  await fake.waitForRest((r) => r.route === 'POST /channels/{id}/messages' && r.major === m.channel_id && r.status === 403);
  await chorus.waitForLog(/Discord answered 403/, 5000);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'but here' }))).content, 'echo: but here');
});
