'use strict';
// Stories of a Discord bot meeting what Discord's developer documentation
// says the server may send, beyond what our fake does by default: system
// messages, webhook posts, attachment-only messages, unknown events, every
// close code of the gateway's table, and the REST answers a bot gets when
// things go wrong (Cloudflare's HTML 502, a nested 400, a revoked token,
// a channel the bot cannot see).
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startDiscordStack, replyTo } = require('../lib/discord-stack');
const { snowflake } = require('../lib/fake-discord');
const { writePlugins } = require('../lib/plugins');
const { luaString, delay, httpGet, waitFor } = require('../lib/util');

const ANN = { id: '700000000000000001', username: 'ann', global_name: 'Ann' };
const GUILD = '200000000000000001';
const CHANNEL = '100000000000000001';

// A bot with a plugin that hears everything said in its channels, as a
// moderation or logging plugin would.
async function startHearingBot(opts = {}) {
  const dir = writePlugins({ heard: { init: 'chorus.hear(".", function(msg) msg:reply("heard: " .. msg.text) end)' } });
  return startDiscordStack({ ...opts, configExtra: `plugins_dir ${luaString(dir)}` });
}

// A MESSAGE_CREATE as the message resource documents it: D's fields over a
// plain guild message by Ann.
function message(fake, d) {
  const m = {
    id: snowflake(), channel_id: CHANNEL, guild_id: GUILD, author: ANN, content: '', mentions: [], mention_roles: [],
    mention_everyone: false, attachments: [], embeds: [], pinned: false, tts: false, type: 0,
    timestamp: new Date().toISOString(), edited_timestamp: null, flags: 0, ...d,
  };
  for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
  fake.dispatch('MESSAGE_CREATE', m);
  return m;
}

const answersTo = (fake, m) => fake.posted.filter((r) => r.message_reference && r.message_reference.message_id === m.id);
const postsIn = (fake, channel) => fake.rest.filter((r) => r.route === 'POST /channels/{id}/messages' && r.major === channel);

test('system messages (a renamed thread, a new thread, a member joining, a pin) are not taken for what Ann said', async () => {
  const { fake } = await startHearingBot();
  // Discord posts these with Ann as the author: the content of type 4 is
  // the new channel name, of type 18 the thread's name (message resource,
  // message types). None of them is something Ann said to the bot.
  const system = [
    message(fake, { type: 4, content: 'deploy friday' }),
    message(fake, { type: 18, content: 'release planning', message_reference: { channel_id: '100000000000000099', guild_id: GUILD } }),
    message(fake, { type: 7, content: '' }),
    message(fake, { type: 6, content: '', message_reference: { channel_id: CHANNEL, message_id: snowflake(), guild_id: GUILD } }),
    message(fake, { type: 8, content: '2' }),
  ];
  const said = message(fake, { content: 'good morning' });
  assert.equal((await replyTo(fake, said)).content, 'heard: good morning');
  await delay(300);
  for (const m of system) assert.equal(answersTo(fake, m).length, 0, `no answer to a type ${m.type} system message`);
  assert.equal(postsIn(fake, CHANNEL).length, 1, 'only what Ann said was answered');
});

test('a webhook post (a CI bridge) is not answered; Ann\'s own reply to it is', async () => {
  const { fake } = await startHearingBot();
  // A webhook message: webhook_id set, and an author that is the webhook's
  // id, name and avatar, not a real user (no "bot" flag is promised).
  const hook = '600000000000000042';
  const ci = message(fake, { webhook_id: hook, author: { id: hook, username: 'CI', avatar: null, discriminator: '0000' },
    content: 'build 1234 passed' });
  const said = message(fake, { content: 'nice, ship it', type: 19,
    message_reference: { channel_id: CHANNEL, message_id: ci.id, guild_id: GUILD }, referenced_message: ci });
  assert.equal((await replyTo(fake, said)).content, 'heard: nice, ship it');
  await delay(300);
  assert.equal(answersTo(fake, ci).length, 0, 'the webhook post was not answered');
});

test('without the MESSAGE_CONTENT intent, or with only a picture, a message has no text and gets no empty answer', async () => {
  const { fake, chorus } = await startDiscordStack();
  const dm = { channel_id: '300000000000000005', guild_id: undefined, channel_type: 1 };
  const photo = message(fake, { ...dm, content: '', attachments: [{ id: snowflake(), filename: 'cat.png', size: 1024,
    url: 'https://cdn.discordapp.com/attachments/1/2/cat.png', proxy_url: 'https://media.discordapp.net/1/2/cat.png',
    content_type: 'image/png', width: 64, height: 64 }] });
  const sticker = message(fake, { ...dm, content: '', sticker_items: [{ id: snowflake(), name: 'wave', format_type: 1 }] });
  const embed = message(fake, { ...dm, content: '', embeds: [{ type: 'link', url: 'https://example.com' }] });
  const hello = message(fake, { ...dm, content: 'hello in a DM' });
  assert.equal((await replyTo(fake, hello)).content, 'echo: hello in a DM');
  await delay(300);
  for (const m of [photo, sticker, embed]) assert.equal(answersTo(fake, m).length, 0);
  assert.ok(!/Cannot send an empty message/.test(chorus.logText()), 'no empty post was ever tried');
});

test('unknown events and fields, nulls where the docs allow them, and a RESUMED are taken in stride', async () => {
  const { fake, chorus } = await startDiscordStack();
  const conn = fake.connFor(0);
  // Non-dispatch payloads carry "s": null and "t": null.
  conn.send({ op: 11, d: null, s: null, t: null });
  // Events this bot has never heard of, with fields no one documented yet.
  fake.dispatch('GUILD_SOUNDBOARD_SOUND_CREATE', { sound_id: snowflake(), guild_id: GUILD, volume: 1.0, future: { a: [1, 2] } });
  fake.dispatch('SOME_EVENT_FROM_2030', null);
  fake.dispatch('PRESENCE_UPDATE', { user: { id: ANN.id }, status: 'online', activities: [], client_status: { desktop: 'online' } });
  // A resume-looking RESUMED in the middle of a session changes nothing.
  fake.dispatch('RESUMED', {});
  const m = message(fake, { content: `<@${fake.botId}> still with me?`, mentions: [{ id: fake.botId, username: 'chorus-bot', bot: true }],
    new_field_2030: { nested: true }, author: { ...ANN, collectibles: { nameplate: {} }, primary_guild: null } });
  assert.equal((await replyTo(fake, m)).content, 'echo: still with me?');
  assert.equal(fake.identifies.length, 1, 'nothing made the bot identify again');
  assert.ok(!/not a JSON object/.test(chorus.logText()));
});

test('the resume goes to READY\'s resume_gateway_url with v=10 and encoding=json on it', async () => {
  const { fake } = await startDiscordStack();
  const t0 = Date.now();
  fake.connFor(0).reconnect();
  const resume = await fake.waitForResume(10000, t0);
  const url = new URL(resume.conn.path, 'ws://x');
  assert.equal(url.pathname, '/resume');
  assert.equal(url.searchParams.get('v'), '10');
  assert.equal(url.searchParams.get('encoding'), 'json');
});

test('every close code of the table that allows a reconnect brings the bot back; 4003, 4007 and 4009 with a new session', async () => {
  const { fake, chorus } = await startDiscordStack();
  const codes = { 4000: 'resume', 4001: 'resume', 4002: 'resume', 4003: 'identify', 4005: 'resume', 4007: 'identify',
    4008: 'resume', 4009: 'identify', 1001: 'resume', 1011: 'resume' };
  for (const [code, how] of Object.entries(codes)) {
    const t0 = Date.now();
    fake.connFor(0).close(Number(code), `scripted ${code}`);
    if (how === 'resume') await fake.waitForResume(10000, t0);
    else await fake.waitForIdentify((i) => i.at >= t0, 10000);
    await fake.waitForReady(0, 10000);
  }
  const m = fake.mentionBot({ content: 'after all of that' });
  assert.equal((await replyTo(fake, m)).content, 'echo: after all of that');
  assert.equal(fake.identifies.length, 4, 'identified only at start, after 4003, 4007 and 4009');
  assert.ok(!/stopped for good/.test(chorus.logText()));
});

test('each fatal close code stops its shard with a line that says what to fix, and no reconnect storm', async () => {
  const fatal = { 1: 4010, 2: 4011, 3: 4012, 4: 4013, 5: 4014 };
  const { fake, chorus } = await startDiscordStack({
    shards: '{ ids = {0, 1, 2, 3, 4, 5}, total = 6 }', fakeOptions: { shards: 6, identifyCloseFor: fatal },
  });
  const why = { 4010: /invalid shard/, 4011: /sharding required/, 4012: /invalid API version/, 4013: /invalid intents/,
    4014: /disallowed intents.*MESSAGE_CONTENT/ };
  for (const [shard, code] of Object.entries(fatal)) {
    await chorus.waitForLog(new RegExp(`shard ${shard} stopped for good: Discord closed the gateway with ${code}: ${why[code].source}`), 10000);
  }
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'shard 0 carries on' }))).content, 'echo: shard 0 carries on');
  await delay(500);
  for (const shard of Object.keys(fatal)) {
    assert.equal(fake.identifies.filter((i) => i.shard === Number(shard)).length, 1, `shard ${shard} identified once`);
  }
});

// ---- REST -------------------------------------------------------------

test('Cloudflare answers a 502 HTML page: the reply is retried with backoff and arrives once', async () => {
  const { fake, chorus } = await startDiscordStack();
  let failures = 2;
  fake.answerWith = (rec) => {
    if (rec.route !== 'POST /channels/{id}/messages' || failures === 0) return null;
    failures--;
    return { status: 502, headers: { 'content-type': 'text/html', server: 'cloudflare' },
      raw: '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>' };
  };
  const m = fake.mentionBot({ content: 'through the storm' });
  assert.equal((await replyTo(fake, m)).content, 'echo: through the storm');
  const tries = postsIn(fake, m.channel_id);
  assert.equal(tries.length, 3, 'two 502s, then the post');
  assert.ok(tries[2].at - tries[1].at >= tries[1].at - tries[0].at - 50, 'the waits grow');
  await delay(300);
  assert.equal(answersTo(fake, m).length, 1);
  await chorus.waitForLog(/POST \/channels\/\d+\/messages failed \(server error\); retry 1/);
});

test('a 429 with a fractional retry_after, a shared scope and no bucket header is waited out', async () => {
  const { fake } = await startDiscordStack();
  let limited = false;
  fake.answerWith = (rec) => {
    if (rec.route !== 'POST /channels/{id}/messages' || limited) return null;
    limited = true;
    return { status: 429, headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1',
      'x-ratelimit-scope': 'shared' }, raw: '{"message": "You are being rate limited.", "retry_after": 0.347, "global": false}' };
  };
  const m = fake.mentionBot({ content: 'patience' });
  assert.equal((await replyTo(fake, m)).content, 'echo: patience');
  const tries = postsIn(fake, m.channel_id);
  assert.equal(tries.length, 2);
  assert.ok(tries[1].at - tries[0].at >= 300, `waited ${tries[1].at - tries[0].at} ms, the body's 0.347 s`);
});

test('Cloudflare\'s own 429 (an HTML page, only a Retry-After header) is waited out, and the reply still arrives once', async () => {
  const { fake } = await startDiscordStack();
  let limited = false;
  fake.answerWith = (rec) => {
    if (rec.route !== 'POST /channels/{id}/messages' || limited) return null;
    limited = true;
    return { status: 429, headers: { 'content-type': 'text/html; charset=UTF-8', 'retry-after': '1', server: 'cloudflare' },
      raw: '<!DOCTYPE html><html><head><title>Access denied | discord.com used Cloudflare to restrict access</title></head><body>Error 1015: You are being rate limited.</body></html>' };
  };
  const m = fake.mentionBot({ content: 'slowly' });
  assert.equal((await replyTo(fake, m)).content, 'echo: slowly');
  const tries = postsIn(fake, m.channel_id);
  assert.equal(tries.length, 2);
  assert.ok(tries[1].at - tries[0].at >= 900, `waited ${tries[1].at - tries[0].at} ms of the header's 1 s`);
  await delay(300);
  assert.equal(answersTo(fake, m).length, 1);
});

test('a 400 with a nested errors object is logged with the first error\'s message', async () => {
  const { fake, chorus } = await startDiscordStack();
  fake.answerWith = (rec) => (rec.route === 'POST /channels/{id}/messages' ? {
    status: 400, headers: { 'content-type': 'application/json; charset=utf-8' },
    raw: JSON.stringify({ code: 50035, message: 'Invalid Form Body', errors: { message_reference: { message_id: {
      _errors: [{ code: 'REPLIES_UNKNOWN_MESSAGE', message: 'Unknown message' }] } } } }),
  } : null);
  fake.mentionBot({ content: 'this reply will be refused' });
  await chorus.waitForLog(/Discord answered 400: Invalid Form Body \(message_reference\.message_id: Unknown message\)/, 10000);
});

test('a revoked token (401) stops the bot with one clear line, not a storm of refused requests', async () => {
  const { fake, chorus, stack } = await startDiscordStack();
  fake.answerWith = (rec) => (rec.route.startsWith('POST ') ? {
    status: 401, headers: { 'content-type': 'application/json' }, raw: '{"message": "401: Unauthorized", "code": 0}',
  } : null);
  fake.mentionBot({ content: 'one' });
  await chorus.waitForLog(/Discord refused the bot token \(HTTP 401 on POST/, 10000);
  await chorus.waitForLog(/stops taking events/, 10000);
  // The answer to "one" was tried (and dropped) after its model call: the
  // refused typing indicator can come first, and the call after it.
  await chorus.waitForLog(/401 on POST \/channels\/\d+\/messages|\/messages not sent: the bot token was refused/, 10000);
  await waitFor(async () => (await httpGet(`${chorus.url}/readyz`)).status === 503, { what: '/readyz 503' });
  const refusedAt = fake.rest.length;
  const asked = stack.fake.requests.length;
  const conn = fake.connFor(0);
  for (let i = 0; i < 10; i++) fake.mentionBot({ content: `are you there? (${i})` });
  // The gateway handles payloads in order: once the beat Discord asks for
  // after them is answered, all ten were seen.
  const beats = conn.heartbeats;
  conn.send({ op: 1, d: null });
  await waitFor(() => conn.heartbeats > beats, { what: 'the requested heartbeat' });
  await delay(500);
  assert.equal(fake.rest.length, refusedAt, 'no request went out after the 401');
  assert.equal(stack.fake.requests.length, asked, 'no model call for answers that could not be sent');
  assert.equal((chorus.logText().match(/Discord refused the bot token/g) || []).length, 1, 'said once');
});

test('a channel the bot cannot see (404 Unknown Channel) or post in (403 Missing Permissions): logged with the channel, dropped, not retried', async () => {
  const { fake, chorus } = await startDiscordStack();
  const gone = '100000000000000404';
  const locked = '100000000000000403';
  fake.answerWith = (rec) => {
    if (rec.major === gone && rec.method === 'POST') {
      return { status: 404, headers: { 'content-type': 'application/json' }, raw: '{"message": "Unknown Channel", "code": 10003}' };
    }
    if (rec.major === locked && rec.method === 'POST') {
      return { status: 403, headers: { 'content-type': 'application/json' }, raw: '{"message": "Missing Permissions", "code": 50013}' };
    }
    return null;
  };
  fake.mentionBot({ content: 'hello?', channel_id: gone });
  fake.mentionBot({ content: 'anyone?', channel_id: locked });
  await chorus.waitForLog(new RegExp(`/channels/${gone}/messages: Discord answered 404: Unknown Channel`), 10000);
  await chorus.waitForLog(new RegExp(`/channels/${locked}/messages: Discord answered 403: Missing Permissions`), 10000);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'and here?' }))).content, 'echo: and here?');
  await delay(500);
  assert.equal(postsIn(fake, gone).length, 1, 'the 404 was not retried');
  assert.equal(postsIn(fake, locked).length, 1, 'the 403 was not retried');
});

test('Discord cannot start a session twice in a row (op 9, d=false): each time the bot identifies afresh 1 to 5 s later', { timeout: 60000 }, async () => {
  // Real time (time_scale 1): the docs ask for a random wait of 1 to 5 s
  // before the new Identify, not a backoff that keeps growing.
  const { fake } = await startDiscordStack({ timeScale: 1, discordExtra: 'identify_window_ms = 1', waitReady: false,
    fakeOptions: { invalidOnIdentify: 2 } });
  await fake.waitForReady(0, 30000);
  const at = fake.identifies.map((i) => i.at);
  assert.equal(at.length, 3, 'two refused Identifies, then the one that worked');
  for (let i = 1; i < at.length; i++) {
    const gap = at[i] - at[i - 1];
    assert.ok(gap >= 900 && gap <= 5500, `identify ${i + 1} came ${gap} ms after the op 9 (1 to 5 s)`);
  }
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'finally' }))).content, 'echo: finally');
});

test('a big server\'s GUILD_CREATE of several MB (members, channels, roles) is taken whole under the default limit', async () => {
  const { fake, chorus } = await startDiscordStack();
  const members = [];
  for (let i = 0; i < 20000; i++) {
    members.push({ user: { id: String(710000000000000000n + BigInt(i)), username: `member${i}`, global_name: `Member ${i}`,
      avatar: null, discriminator: '0', public_flags: 0 }, roles: ['400000000000000001'], joined_at: '2024-01-01T00:00:00.000000+00:00',
      deaf: false, mute: false, flags: 0, nick: null, avatar: null, premium_since: null, pending: false });
  }
  const channels = [];
  for (let i = 0; i < 500; i++) channels.push({ id: String(110000000000000000n + BigInt(i)), type: 0, name: `channel-${i}`, position: i, permission_overwrites: [] });
  const guild = { id: '200000000000000077', name: 'Big Server', unavailable: false, member_count: members.length, large: true,
    joined_at: '2024-01-01T00:00:00.000000+00:00', roles: [{ id: '400000000000000001', name: '@everyone', permissions: '0' }],
    channels, threads: [], members, presences: [], voice_states: [], emojis: [], stickers: [], features: ['COMMUNITY'] };
  const bytes = Buffer.byteLength(JSON.stringify({ op: 0, s: 1, t: 'GUILD_CREATE', d: guild }));
  assert.ok(bytes > 4 * 1024 * 1024 && bytes < 8 * 1024 * 1024, `${bytes} bytes: several MB, under 8 MiB`);
  fake.dispatch('GUILD_CREATE', guild);
  const m = fake.mentionBot({ content: 'hello big server', guild_id: guild.id, channel_id: channels[42].id });
  assert.equal((await replyTo(fake, m)).content, 'echo: hello big server');
  assert.equal(fake.identifies.length, 1, 'no reconnect');
  assert.ok(!/max_inbound_bytes/.test(chorus.logText()));
});

test('the bot heartbeats on the interval HELLO gave, the first beat jittered inside it, each with the last sequence', async () => {
  // HELLO says 20 s (100 ms at time_scale 0.005), not the usual 41.25 s.
  const { fake } = await startDiscordStack({ fakeOptions: { heartbeatMs: 20000 } });
  const conn = fake.connFor(0);
  const beats = () => conn.received.map((msg, i) => ({ msg, at: conn.sendTimes[i] })).filter((b) => b.msg.op === 1);
  await replyTo(fake, fake.mentionBot({ content: 'count me' }));
  await waitFor(() => beats().length >= 6, { timeoutMs: 10000, what: 'six heartbeats' });
  const b = beats();
  const identify = fake.identifies[0];
  assert.ok(b[0].at - identify.at <= 150, `the first beat ${b[0].at - identify.at} ms after the Identify: within the interval`);
  for (let i = 1; i < b.length; i++) {
    const gap = b[i].at - b[i - 1].at;
    assert.ok(gap >= 70 && gap <= 400, `beat ${i + 1} came ${gap} ms after the one before (interval 100 ms)`);
  }
  const session = fake.liveSession(0);
  assert.equal(b[b.length - 1].msg.d, session.seq, 'the last sequence number seen');
  assert.equal(fake.connFor(0), conn, 'every beat was acknowledged: no reconnect');
});

test('a Resume refused with 4003 ("this session has been invalidated") makes the bot identify afresh, not resume again', async () => {
  const { fake } = await startDiscordStack();
  fake.resumeClose = 4003;
  const t0 = Date.now();
  fake.connFor(0).drop();
  await fake.waitForIdentify((i) => i.at >= t0, 10000);
  await fake.waitForReady(0, 10000);
  assert.equal(fake.resumeCloses, 1, 'one Resume, then a fresh session');
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'new session' }))).content, 'echo: new session');
});

test('a server that closes every Resume (4000) gets two tries, then a fresh Identify, never an endless resume loop', async () => {
  const { fake, chorus } = await startDiscordStack();
  fake.resumeClose = 4000;
  const t0 = Date.now();
  fake.connFor(0).drop();
  await fake.waitForIdentify((i) => i.at >= t0, 15000);
  await fake.waitForReady(0, 10000);
  assert.equal(fake.resumeCloses, 2);
  await chorus.waitForLog(/2 resumes in a row ended without RESUMED/);
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'back again' }))).content, 'echo: back again');
});

test('a server that answers every Resume with op 9 d=true gets two tries, then a fresh Identify', async () => {
  const { fake } = await startDiscordStack();
  fake.resumeInvalid = true;
  const t0 = Date.now();
  fake.connFor(0).drop();
  await fake.waitForIdentify((i) => i.at >= t0, 20000);
  await fake.waitForReady(0, 10000);
  assert.equal(fake.resumeInvalids, 2, 'two Resumes, then a fresh session');
  assert.equal((await replyTo(fake, fake.mentionBot({ content: 'hello again' }))).content, 'echo: hello again');
});

test('Discord took a slash command\'s deferral but Cloudflare answered 502: the retry\'s 40060 "already acknowledged" counts as deferred, and the answer is the follow-up', async () => {
  const { fake } = await startDiscordStack();
  let failed = false;
  fake.answerWith = (rec) => {
    if (!rec.route.startsWith('POST /interactions/') || failed) return null;
    failed = true;
    const id = rec.path.split('/')[2];
    const it = fake.interactions.get(id);
    it.answered = 5;                      // Discord did take it; only the answer was lost
    fake.callbacks.push({ at: Date.now(), id, token: it.token, type: 5, late: Date.now() - it.at });
    return { status: 502, headers: { 'content-type': 'text/html' }, raw: '<html><body><h1>502 Bad Gateway</h1>cloudflare</body></html>' };
  };
  const it = fake.interaction({ name: 'ping' });
  const answer = await fake.waitForFollowup((f) => f.interaction === it.id, 10000);
  assert.equal(answer.kind, 'original', 'the answer replaced "thinking..."');
  const retry = fake.rest.find((r) => r.route === 'POST /interactions/{id}/{token}/callback' && r.status === 400);
  assert.ok(retry, 'the retried deferral was told it was acknowledged already');
  assert.equal(fake.posted.length, 0, 'nothing went to the channel instead');
});
