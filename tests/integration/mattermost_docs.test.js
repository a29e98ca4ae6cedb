'use strict';
// chorusd against Mattermost servers that differ from the newest one in
// ways the API documentation allows: an older server whose hello names no
// connection_id and cannot resume, one that does not number its events, one
// that signs the websocket in only by the authentication_challenge, a token
// refused with 401 on REST or at the upgrade, a 429 whose
// X-Ratelimit-Reset is a Unix time, and posted events as other servers and
// integrations write them. Ann is answered once each time; nothing storms.
const assert = require('node:assert/strict');
const { test, after } = require('../lib/tap');
const { startFakeMattermost } = require('../lib/fake-mattermost');
const { startStack } = require('../lib/stack');
const { delay, httpGet, waitFor } = require('../lib/util');

const TOKEN = 'fake-mattermost-token-for-the-docs-stories';

// The fake (FAKEOPTIONS, then SETUP(fake) before chorusd starts) and
// chorusd signed in on it with TOKEN.
async function startMattermost({ token = TOKEN, setup = null, waitHello = true } = {}) {
  const fake = await startFakeMattermost({ token: TOKEN });
  after(() => fake.close());
  if (setup) setup(fake);
  const keys = ['url = env("MATTERMOST_URL")', 'token = env("MATTERMOST_TOKEN")', 'ping_interval_ms = 300',
    'reconnect_min_ms = 50', 'reconnect_max_ms = 400', 'edit_interval_ms = 200', 'retry_ms = 50'];
  const stack = await startStack({
    configOptions: { extra: `mattermost { ${keys.join(', ')} }` },
    env: { MATTERMOST_URL: fake.url, MATTERMOST_TOKEN: token },
    waitReady: false,
  });
  if (waitHello) {
    await fake.waitForHello(10000);
    await stack.chorus.waitForLog(/mattermost: connected/, 10000);
  }
  return { fake, chorus: stack.chorus };
}

const echoes = (fake, text) => fake.botPosts.filter((p) => p.message === `echo: ${text}`);
const echoOf = (fake, text, ms = 10000) => fake.waitForPost((p) => p.message === `echo: ${text}`, ms);
const readyz = async (chorus) => (await httpGet(`${chorus.url}/readyz`)).status;

test('an older server names no connection_id in its hello and cannot resume: after a drop the bot counts anew and answers Ann', async () => {
  const { fake, chorus } = await startMattermost({ setup: (f) => { f.legacy = true; } });
  for (let i = 0; i < 4; i++) fake.userPost({ message: `before ${i}`, dm: true });
  for (let i = 0; i < 4; i++) await echoOf(fake, `before ${i}`);
  const hellos = fake.hellos.length;
  fake.liveSession().conn.drop();
  await waitFor(() => fake.hellos.length > hellos, { timeoutMs: 10000, what: 'a fresh hello after the drop' });
  await waitFor(async () => (await readyz(chorus)) === 200, { timeoutMs: 5000, what: '/readyz 200 after the fresh hello' });
  fake.userPost({ message: 'after the drop', dm: true });
  await echoOf(fake, 'after the drop');
  await delay(300);
  for (const t of ['before 0', 'before 3', 'after the drop']) assert.equal(echoes(fake, t).length, 1, `"${t}" answered once`);
  assert.deepEqual(fake.violations, []);
});

test('a server that does not number its events (no seq): each of Ann\'s posts is answered once', async () => {
  const { fake, chorus } = await startMattermost({ setup: (f) => { f.noSeq = true; } });
  fake.userPost({ message: 'unnumbered one', dm: true });
  fake.mentionBot({ message: 'unnumbered two' });
  await echoOf(fake, 'unnumbered one');
  await echoOf(fake, 'unnumbered two');
  await delay(300);
  assert.equal(echoes(fake, 'unnumbered one').length, 1);
  assert.equal(echoes(fake, 'unnumbered two').length, 1);
  assert.equal(fake.conns.length, 1, 'no reconnect for want of a seq');
  assert.ok(!/malformed|without a name or a seq/.test(chorus.logText()));
});

test('a server that signs the websocket in only by the authentication_challenge: the bot sends it, gets its hello and answers', async () => {
  const { fake, chorus } = await startMattermost({ setup: (f) => { f.headerAuth = false; } });
  const challenge = await fake.waitForRequest((m) => m.action === 'authentication_challenge');
  assert.equal(challenge.data.token, TOKEN);
  assert.equal(challenge.seq, 1, 'the first request of the connection');
  fake.userPost({ message: 'challenge accepted', dm: true });
  await echoOf(fake, 'challenge accepted');
  assert.ok(!chorus.logText().includes(TOKEN), 'the token is never logged');
  assert.ok(!/refused request/.test(chorus.logText()), 'every request of the bot was accepted');
  assert.deepEqual(fake.violations, []);
});

for (const [how, pingAction] of [['ignores it', 'ignore'], ['answers it with an error', 'fail']]) {
  test(`a server that ${how} when the bot sends the ping action (it is not in the API docs): one connection kept, Ann answered, the log not flooded`, async () => {
    const { fake, chorus } = await startMattermost({ setup: (f) => { f.pingAction = pingAction; } });
    await waitFor(() => fake.conns[0].pings >= 5, { timeoutMs: 10000, what: 'five ping intervals' });
    fake.userPost({ message: 'after many pings', dm: true });
    await echoOf(fake, 'after many pings');
    assert.equal(fake.conns.length, 1, 'never reconnected');
    assert.ok(!/no answer to the last ping/.test(chorus.logText()));
    assert.ok((chorus.logText().match(/refused request/g) || []).length <= 1, 'a refused ping said once at most');
  });
}

test('a silent dead connection to a server that answers no ping requests is still noticed by websocket pings and resumed', async () => {
  const { fake, chorus } = await startMattermost({ setup: (f) => { f.pingAction = 'ignore'; } });
  const first = fake.conns[0];
  first.sock.pause();                    // nothing read, nothing answered, no FIN: a silent, dead peer
  first.zombie = true;
  fake.userPost({ message: 'while it was dead', dm: true });
  await chorus.waitForLog(/no answer to pings/, 5000);
  await waitFor(() => fake.conns.length > 1 && fake.liveSession() && fake.liveSession().conn !== first,
    { timeoutMs: 5000, what: 'a new connection' });
  await echoOf(fake, 'while it was dead');
  fake.userPost({ message: 'after the dead one', dm: true });
  await echoOf(fake, 'after the dead one');
  assert.equal(echoes(fake, 'while it was dead').length, 1, 'replayed once on the resumed session');
});

test('a refused token (401 on GET /users/me) stops the adapter with one clear line, not ready, and no retries', async () => {
  const { fake, chorus } = await startMattermost({ token: 'a-wrong-token', waitHello: false });
  await chorus.waitForLog(/ERROR mattermost: the server refused the token/, 5000);
  const calls = fake.rest.length;
  await delay(1200);                     // three times reconnect_max_ms
  assert.equal(fake.rest.length, calls, 'no call after the refusal');
  assert.equal(fake.conns.length + fake.upgrades.length, 0, 'no websocket opened');
  assert.equal((chorus.logText().match(/refused the token/g) || []).length, 1, 'said once');
  assert.equal(await readyz(chorus), 503);
});

test('the token revoked while the bot runs: its next call gets 401, the adapter stops with one clear line, closes its websocket and calls no more', async () => {
  const { fake, chorus } = await startMattermost();
  fake.userPost({ message: 'before the revocation', dm: true });
  await echoOf(fake, 'before the revocation');
  await waitFor(async () => (await readyz(chorus)) === 200, { timeoutMs: 5000, what: '/readyz 200' });
  fake.token = 'a-token-the-bot-does-not-have';
  fake.userPost({ message: 'after the revocation', dm: true });
  await chorus.waitForLog(/ERROR mattermost: the server refused the token \(HTTP 401 on \/posts\)/, 5000);
  await waitFor(() => fake.liveSession() === null, { timeoutMs: 5000, what: 'the websocket closed' });
  const calls = fake.rest.length;
  const upgrades = fake.upgrades.length;
  fake.userPost({ message: 'nobody listens now', dm: true });
  await delay(1200);
  assert.equal(fake.rest.length, calls, 'no call after the refusal');
  assert.equal(fake.upgrades.length, upgrades, 'no reconnect');
  assert.equal((chorus.logText().match(/refused the token/g) || []).length, 1, 'said once');
  assert.equal(await readyz(chorus), 503);
});

test('a 401 at the websocket upgrade stops the adapter with one clear line, not ready, and no reconnect storm', async () => {
  const { fake, chorus } = await startMattermost({ waitHello: false, setup: (f) => { f.refuseUpgrade = 401; } });
  await chorus.waitForLog(/ERROR mattermost: the server refused the token at the websocket upgrade/, 5000);
  const upgrades = fake.upgrades.length;
  await delay(1200);
  assert.equal(fake.upgrades.length, upgrades, 'no upgrade after the refusal');
  assert.equal(upgrades, 1);
  assert.equal(await readyz(chorus), 503);
});

test('a 429 whose X-Ratelimit-Reset is a Unix time and no Retry-After holds the queue until then; the answer goes out once', async () => {
  const { fake } = await startMattermost();
  fake.force429.push({ route: 'POST /posts', retryAfterS: 2, resetEpoch: true, retryAfter: false });
  const t0 = Date.now();
  fake.userPost({ message: 'held until the reset', dm: true });
  const reply = await echoOf(fake, 'held until the reset');
  assert.ok(reply.at - t0 >= 900, `waited for the reset (${reply.at - t0} ms)`);
  assert.ok(reply.at - t0 < 5000, 'not for an epoch of seconds');
  await delay(300);
  assert.equal(echoes(fake, 'held until the reset').length, 1);
});

test('posted events as servers and integrations write them: people answered once, bots, webhooks and system messages never', async () => {
  const { fake, chorus } = await startMattermost();
  const ch = fake.townSquare;
  const event = (post, data = {}) => fake.broadcast('posted', {
    channel_display_name: 'Town Square', channel_name: ch.name, channel_type: 'O', sender_name: '@ann', set_online: true, team_id: fake.team.id,
    post: JSON.stringify({ id: post.id || `p${Math.random().toString(36).slice(2, 12)}`, create_at: Date.now(), update_at: Date.now(), delete_at: 0,
      user_id: fake.ann.id, channel_id: ch.id, root_id: '', message: '', type: '', props: {}, ...post }),
    ...data,
  }, { channel_id: ch.id });
  // What people wrote: a mention listed as an array, a group message, a private channel, a /me post.
  event({ message: `@${fake.bot.username} mentions as a list` }, { mentions: [fake.bot.id] });
  event({ message: 'in a group message' }, { channel_type: 'G', mentions: JSON.stringify([fake.bot.id]) });
  event({ message: `@${fake.bot.username} in a private channel` }, { channel_type: 'P', mentions: JSON.stringify([fake.bot.id]) });
  event({ message: 'waves at the bot', type: 'me' }, { channel_type: 'D' });
  // What no one should answer: system messages, another bot, a webhook, an edit, typing.
  event({ message: 'ann joined the channel.', type: 'system_join_channel' }, { channel_type: 'D' });
  event({ message: 'ann added bob', type: 'system_add_to_channel', props: { addedUsername: 'bob' } }, { channel_type: 'D' });
  event({ message: 'beep from a bot', props: { from_bot: true } }, { channel_type: 'D' });
  event({ message: 'build passed', props: { from_webhook: 'true', override_username: 'ci' } }, { channel_type: 'D' });
  fake.broadcast('post_edited', { post: JSON.stringify({ id: 'edited1', user_id: fake.ann.id, channel_id: ch.id, message: 'edited text' }) }, { channel_id: ch.id });
  fake.broadcast('typing', { parent_id: '', user_id: fake.ann.id }, { channel_id: ch.id });
  fake.userPost({ message: 'the last one', dm: true });
  await echoOf(fake, 'the last one');
  for (const t of ['mentions as a list', 'in a group message', 'in a private channel', 'waves at the bot']) {
    await echoOf(fake, t);
  }
  await delay(300);
  for (const t of ['mentions as a list', 'in a group message', 'in a private channel', 'waves at the bot', 'the last one']) {
    assert.equal(echoes(fake, t).length, 1, `"${t}" answered once`);
  }
  for (const t of ['ann joined the channel.', 'ann added bob', 'beep from a bot', 'build passed', 'edited text']) {
    assert.equal(fake.botPosts.filter((p) => p.message.includes(t)).length, 0, `"${t}" not answered`);
  }
  assert.ok(!/malformed|readable post/.test(chorus.logText()));
});
