'use strict';
// chorusd as a Mattermost bot on the fake Mattermost: Ann talks to it in a
// channel, a DM and a thread; the connection drops, loses an event on the
// wire, meets a rate limit and malformed events; every post is answered
// exactly once, and a streamed answer grows in one post by patches.
const assert = require('node:assert/strict');
const { test, after } = require('../lib/tap');
const { startFakeMattermost } = require('../lib/fake-mattermost');
const { startStack } = require('../lib/stack');
const { writePlugins, storyPlugin } = require('../lib/plugins');
const { delay, luaString, waitFor } = require('../lib/util');

const TOKEN = 'fake-mattermost-token-for-chorusd';

const PLUGINS = {
  echo: {
    init: `chorus.hear("^[^!]", function(msg)
  if msg.text:match("^where am i") then
    msg:reply(msg.thread and ("in thread " .. msg.thread .. " of " .. msg.thread_parent) or ("in channel " .. msg.channel) .. (msg.direct and " (to me)" or ""))
  end
  msg:reply("echo: " .. msg.text)
end)`,
  },
  like: {
    init: `chorus.command("like", { help = "react to this message" }, function(msg)
  msg:typing()
  msg:react("❤️")
  msg:react(":tada:")
  msg:reply("liked")
end)`,
  },
  story: storyPlugin,
};

// The fake, chorusd with a `mattermost { ... }` statement pointing at it, and the plugins above.
async function startMattermost({ extra = '', fakeOptions = {} } = {}) {
  const fake = await startFakeMattermost({ token: TOKEN, ...fakeOptions });
  after(() => fake.close());
  const dir = writePlugins(PLUGINS);
  const keys = ['url = env("MATTERMOST_URL")', 'token = env("MATTERMOST_TOKEN")', 'ping_interval_ms = 300',
    'reconnect_min_ms = 50', 'reconnect_max_ms = 400', 'edit_interval_ms = 200', 'retry_ms = 50'];
  if (extra) keys.push(extra);
  const stack = await startStack({
    configOptions: { extra: `mattermost { ${keys.join(', ')} }\nplugins_dir ${luaString(dir)}\nskills { cpu_ms = 300, deadline_ms = 5000 }` },
    env: { MATTERMOST_URL: fake.url, MATTERMOST_TOKEN: TOKEN },
    waitReady: false,
  });
  await fake.waitForHello(10000);
  await stack.chorus.waitForLog(/mattermost: connected \(session /, 10000);   // it has read the hello
  return { fake, chorus: stack.chorus };
}

const echoes = (fake, text) => fake.botPosts.filter((p) => p.message === `echo: ${text}`);
const echoOf = (fake, text, ms = 10000) => fake.waitForPost((p) => p.message === `echo: ${text}`, ms);

test('Ann talks to the bot in a channel, a DM and a thread; it answers each once and never itself', async () => {
  const { fake, chorus } = await startMattermost();
  const me = await fake.waitForRest((r) => r.route === 'GET /users/me');
  assert.equal(fake.tokenOf(me.headers.authorization), TOKEN);
  assert.equal(fake.tokenOf(fake.conns[0].headers.authorization), TOKEN, 'the token goes in the upgrade header');
  const p = fake.userPost({ message: 'good morning' });
  const reply = await echoOf(fake, 'good morning');
  assert.equal(reply.channel_id, fake.townSquare.id);
  assert.equal(reply.root_id, '', 'a channel post is answered in the channel');
  fake.userPost({ message: 'where am i', dm: true });
  const dm = await fake.waitForPost((q) => q.message.startsWith('in channel'));
  assert.equal(dm.message, `in channel ${fake.dmWith(fake.ann).id} (to me)`, 'a DM is addressed to the bot');
  fake.mentionBot({ message: 'where am i' });
  assert.match((await fake.waitForPost((q) => q.message.startsWith('in channel') && q.channel_id === fake.townSquare.id)).message, /\(to me\)$/,
    'a mention is addressed to the bot, and the mention is taken off the text');
  fake.userPost({ message: 'where am i, in the thread', root_id: p.id });
  const t = await fake.waitForPost((q) => q.message.startsWith('in thread'));
  assert.equal(t.message, `in thread ${p.id} of ${fake.townSquare.id}`);
  assert.equal(t.root_id, p.id, 'the answer goes into the thread');
  const echoInThread = await echoOf(fake, 'where am i, in the thread');
  assert.equal(echoInThread.root_id, p.id);
  await delay(300);
  assert.equal(echoes(fake, 'good morning').length, 1);
  assert.equal(fake.botPosts.filter((q) => q.message.startsWith('echo: echo:')).length, 0, 'its own posts came back and were ignored');
  assert.ok(!chorus.logs().includes(TOKEN), 'the token is never logged');
  assert.deepEqual(fake.violations, []);
});

test('a dropped connection mid-traffic is resumed with connection_id and sequence_number: nothing lost, nothing twice', async () => {
  const { fake, chorus } = await startMattermost();
  const texts = [];
  for (let i = 0; i < 5; i++) { texts.push(`before ${i}`); fake.userPost({ message: `before ${i}` }); }
  const s = fake.liveSession();
  s.conn.drop();
  for (let i = 0; i < 5; i++) { texts.push(`during ${i}`); fake.userPost({ message: `during ${i}` }); }
  const rec = await fake.waitForReconnect((r) => r.connection_id === s.id, 10000);
  assert.equal(rec.outcome === 'replayed' || rec.outcome === 'lossless', true, `resumed (${rec.outcome})`);
  for (let i = 0; i < 5; i++) { texts.push(`after ${i}`); fake.userPost({ message: `after ${i}` }); }
  for (const t of texts) await echoOf(fake, t);
  await delay(400);
  for (const t of texts) assert.equal(echoes(fake, t).length, 1, `"${t}" answered exactly once`);
  assert.equal(fake.hellos.length, 1, 'one session throughout');
  await chorus.waitForLog(/asking for the events from seq \d+ on/, 2000);
});

test('an event lost on the wire shows as a seq gap: the bot reconnects and the server replays it', async () => {
  const { fake, chorus } = await startMattermost();
  fake.userPost({ message: 'warm up' });
  await echoOf(fake, 'warm up');
  const s = fake.liveSession();
  fake.loseNext = 1;
  fake.userPost({ message: 'lost on the wire' });
  fake.userPost({ message: 'the one after' });
  await chorus.waitForLog(/never arrived; reconnecting/, 5000);
  const rec = await fake.waitForReconnect((r) => r.connection_id === s.id, 10000);
  assert.equal(rec.outcome, 'replayed');
  await echoOf(fake, 'lost on the wire');
  await echoOf(fake, 'the one after');
  await delay(300);
  assert.equal(echoes(fake, 'lost on the wire').length, 1);
  assert.equal(echoes(fake, 'the one after').length, 1);
  assert.equal(fake.conns[fake.conns.length - 2].closedCode, 4001, 'the gap closed the old connection with 4001');
});

test('when the server cannot replay, a fresh hello is taken and the loss logged; a dead connection is replaced', async () => {
  const { fake, chorus } = await startMattermost();
  const s = fake.liveSession();
  fake.forgetSessions();
  s.conn.drop();
  const h = await fake.waitForHello(10000, Date.now());
  assert.notEqual(h.connection_id, s.id);
  await chorus.waitForLog(/started a new session/, 5000);
  fake.userPost({ message: 'after the restart' });
  await echoOf(fake, 'after the restart');
  const live = fake.liveSession();
  live.conn.zombie = true;
  await chorus.waitForLog(/no answer to the last ping/, 5000);
  const rec = await fake.waitForReconnect((r) => r.connection_id === live.id, 5000);
  assert.notEqual(rec.outcome, 'unknown');
  fake.userPost({ message: 'after the zombie' });
  await echoOf(fake, 'after the zombie');
  assert.ok(live.conn.pings >= 1, 'the bot pinged');
});

test('a 429 holds the send queue for Retry-After; the reply then goes out once', async () => {
  const { fake, chorus } = await startMattermost();
  fake.force429.push({ route: 'POST /posts', retryAfterS: 1 });
  const t0 = Date.now();
  fake.userPost({ message: 'limited' });
  const reply = await echoOf(fake, 'limited');
  assert.ok(reply.at - t0 >= 900, 'it waited for Retry-After');
  await chorus.waitForLog(/rate limited \(429\)/, 2000);
  fake.rateLimit = { perSecond: 20, burst: 2 };
  for (let i = 0; i < 8; i++) fake.userPost({ message: `burst ${i}` });
  for (let i = 0; i < 8; i++) await echoOf(fake, `burst ${i}`, 15000);
  await delay(300);
  for (let i = 0; i < 8; i++) assert.equal(echoes(fake, `burst ${i}`).length, 1);
  assert.equal(echoes(fake, 'limited').length, 1);
});

test('malformed events are logged and skipped; the connection stays up', async () => {
  const { fake, chorus } = await startMattermost();
  const s = fake.liveSession();
  s.conn.sendRaw('this is not JSON');
  s.conn.sendRaw('{"event": "posted"}');
  fake.broadcast('posted', { post: '{"id": broken' }, { channel_id: fake.townSquare.id });
  fake.broadcast('posted', { channel_type: 'O' }, { channel_id: fake.townSquare.id });
  fake.userPost({ message: 'still here?' });
  await echoOf(fake, 'still here?');
  await chorus.waitForLog(/not a JSON object/, 2000);
  await chorus.waitForLog(/without a readable post/, 2000);
  assert.equal(fake.liveSession(), s, 'the same connection');
  assert.equal(fake.conns.length, 1, 'no reconnect');
});

test('the bot\'s own posts are dropped before they are read, yet counted: a malformed one is still logged, a gap before one still resumes', async () => {
  const { fake, chorus } = await startMattermost();
  const own = (post) => fake.broadcast('posted', { channel_type: 'O', post: JSON.stringify(post), sender_name: `@${fake.bot.username}`,
    team_id: fake.team.id }, { channel_id: fake.townSquare.id });
  own({ user_id: fake.bot.id, channel_id: fake.townSquare.id, message: 'no id' });
  own({ id: '', user_id: fake.bot.id, channel_id: fake.townSquare.id, message: 'an empty id' });
  // Both are logged; the second line may come a moment after the first.
  const logged = () => (chorus.logText().match(/without a readable post/g) || []).length;
  await waitFor(() => logged() >= 2, { timeoutMs: 5000, what: 'each malformed own post logged' });
  assert.equal(logged(), 2, 'each malformed own post is logged, once');
  const conn0 = fake.liveSession().conn;
  fake.loseNext = 1;
  fake.broadcast('typing', { parent_id: '' }, { channel_id: fake.townSquare.id });    // lost on the wire
  own({ id: 'ownpost1', user_id: fake.bot.id, channel_id: fake.townSquare.id, message: 'echo: after a gap', props: { from_bot: 'true' } });
  await fake.waitForReconnect((r) => r.outcome === 'replayed', 5000);
  await chorus.waitForLog(/never arrived/, 2000);
  fake.userPost({ message: 'after the own posts' });
  await echoOf(fake, 'after the own posts');
  assert.notEqual(fake.liveSession().conn, conn0, 'the gap before an own post was seen: resumed on a new connection');
  assert.equal(fake.botPosts.filter((q) => q.message.startsWith('echo: echo:')).length, 0, 'no own post was answered');
});

test('a streamed answer is one post, patched as it grows, ending in the final text', async () => {
  const { fake } = await startMattermost();
  fake.mentionBot({ message: '!story' });
  const first = await fake.waitForPost(() => true, 10000);
  await waitFor(() => first.message.endsWith(' THE END'), { timeoutMs: 10000, what: `the final text (posts: ${JSON.stringify(fake.botPosts.map((q) => q.message))})` });
  await delay(400);
  assert.equal(fake.botPosts.length, 1, `one POST (got ${fake.botPosts.map((q) => JSON.stringify(q.message)).join(', ')})`);
  const patches = fake.patches.filter((x) => x.post_id === first.id);
  assert.ok(patches.length >= 2, `the post grew by patches (${patches.length})`);
  assert.ok(patches[patches.length - 1].message.endsWith(' THE END'));
  const times = [first.at, ...patches.map((x) => x.at)];
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 150, `patches spaced by the throttle (${times.join(', ')})`);
});

test('a skill reacts (unicode and :name: emoji become Mattermost names) and shows typing on the websocket', async () => {
  const { fake } = await startMattermost();
  const p = fake.mentionBot({ message: '!like' });
  await fake.waitForPost((q) => q.message === 'liked', 10000);
  await waitFor(() => fake.reactions.length >= 2, { timeoutMs: 5000, what: 'two reactions' });
  assert.deepEqual(fake.reactions.map((r) => r.emoji_name).sort(), ['heart', 'tada']);
  assert.ok(fake.reactions.every((r) => r.post_id === p.id && r.user_id === fake.bot.id), 'on her post, as the bot');
  const typing = await waitFor(() => fake.typing.find((t) => t.channel_id === p.channel_id), { timeoutMs: 5000, what: 'typing' });
  assert.equal(typing.via, 'websocket', 'typing costs no REST call');
});

// Events (and the post inside them) and REST answers as another server
// (a proxy, a Mattermost-compatible one) may write them: with whitespace
// and the keys in another order, so "seq" is not last and the post's
// user_id is not where the compact text has it.
for (const [name, jsonStyle] of [['pretty-printed', { pretty: true }], ['with ": " separators and keys in reverse order', { spaced: true, reorder: true }],
  ['pretty-printed with keys in reverse order', { pretty: true, reorder: true }]]) {
  test(`events and REST JSON ${name}: each post answered once, the bot's own never, a streamed answer patches its own post`, async () => {
    const { fake, chorus } = await startMattermost({ fakeOptions: { jsonStyle } });
    const p = fake.userPost({ message: 'good morning' });
    assert.equal((await echoOf(fake, 'good morning')).channel_id, fake.townSquare.id);
    fake.userPost({ message: 'where am i', dm: true });
    assert.equal((await fake.waitForPost((q) => q.message.startsWith('in channel'))).message, `in channel ${fake.dmWith(fake.ann).id} (to me)`);
    fake.userPost({ message: 'in the thread', root_id: p.id });
    assert.equal((await echoOf(fake, 'in the thread')).root_id, p.id);
    const like = fake.userPost({ message: '!like' });
    await fake.waitForPost((q) => q.message === 'liked');
    assert.ok(fake.reactions.length >= 1 && fake.reactions.every((r) => r.post_id === like.id), 'reactions on the person\'s post');
    const before = fake.botPosts.length;
    fake.mentionBot({ message: '!story' });
    const told = await fake.waitForPost((q) => fake.botPosts.indexOf(q) >= before, 10000);
    await waitFor(() => told.message.endsWith(' THE END'), { timeoutMs: 10000, what: 'the final text' });
    const patches = fake.patches.filter((x) => x.at >= told.at);
    assert.ok(patches.length >= 1 && patches.every((x) => x.post_id === told.id), 'every patch went to the post the POST answer named');
    assert.ok(!fake.rest.some((r) => r.route && r.route.startsWith('PUT /posts') && r.status >= 400), 'no patch refused');
    // Events come in order: once this is answered, the bot's own posts
    // before it have come back and been read.
    fake.userPost({ message: 'last one' });
    await echoOf(fake, 'last one');
    for (const t of ['good morning', 'in the thread', 'last one']) assert.equal(echoes(fake, t).length, 1, `"${t}" answered once`);
    assert.equal(fake.botPosts.filter((q) => q.message.startsWith('echo: echo:') || q.message.startsWith('echo: liked')).length, 0,
      'its own posts came back and were ignored');
    assert.ok(!/seq gap|never arrived|malformed/.test(chorus.logText()), 'no event taken for missing or malformed');
    assert.deepEqual(fake.violations, []);
  });
}
