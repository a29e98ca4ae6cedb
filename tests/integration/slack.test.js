'use strict';
// Stories of a Slack bot on Socket Mode: it signs in, keeps two connections
// open, answers the people who talk to it exactly once, and stays online
// through every disconnect Slack's docs describe.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startSlackStack, APP_TOKEN, BOT_TOKEN } = require('../lib/slack-stack');
const { delay, waitFor } = require('../lib/util');

const echoes = (fake, text) => fake.posts.filter((p) => p.text === `echo: ${text}`);

test('the bot signs in, keeps two connections and answers a DM, a mention and a thread once each', async () => {
  const { fake, chorus } = await startSlackStack();
  assert.ok(fake.calls.some((c) => c.method === 'auth.test' && c.headers.authorization === `Bearer ${BOT_TOKEN}`));
  assert.ok(fake.calls.filter((c) => c.method === 'apps.connections.open').every((c) => c.headers.authorization === `Bearer ${APP_TOKEN}`));
  const dm = fake.userMessage({ dm: true, text: 'hello <b> & you' });
  assert.equal((await fake.waitForPost((p) => p.channel === dm.event.channel)).text, 'echo: hello &lt;b&gt; &amp; you',
    'escaped for mrkdwn');
  const men = fake.mention({ text: 'ping <!channel>', channel: 'C0MENTION' });
  const reply = await fake.waitForPost((p) => p.channel === 'C0MENTION');
  assert.ok(!reply.text.includes('<!channel>'), 'no broadcast from echoed text');
  const th = fake.mention({ text: 'in thread', channel: 'C0THREAD', thread_ts: men.ts });
  assert.equal((await fake.waitForPost((p) => p.channel === 'C0THREAD')).thread_ts, men.ts, 'answered in the thread');
  await delay(300);
  assert.equal(fake.posts.filter((p) => p.channel === 'C0MENTION').length, 1, 'message + app_mention of one mention: one answer');
  assert.equal(fake.posts.filter((p) => p.channel === 'C0THREAD').length, 1);
  assert.ok(th);
  for (const rec of fake.envelopes.filter((e) => e.conn)) assert.ok(rec.acked, 'every envelope acked');
  assert.deepEqual(fake.violations, []);
  const log = chorus.logText();
  assert.ok(!log.includes(APP_TOKEN) && !log.includes(BOT_TOKEN), 'tokens never logged');
});

test('retries and duplicates of an event get no second answer, even after a restart of chorusd', async () => {
  const { fake, stack } = await startSlackStack();
  const rec = fake.userMessage({ dm: true, text: 'only once' });
  await fake.waitForPost((p) => p.text === 'echo: only once');
  fake.retry(rec);
  fake.retry(rec, 'http_timeout');
  fake.holdAcks = true;                      // acks "lost": Slack retries on its own
  const rec2 = fake.userMessage({ dm: true, channel: 'D0SECOND', text: 'retried' });
  await waitFor(() => rec2.envelopes.length >= 3, { what: 'two retries', timeoutMs: 10000 });
  fake.holdAcks = false;
  await delay(500);
  assert.equal(echoes(fake, 'only once').length, 1);
  assert.equal(echoes(fake, 'retried').length, 1);
  await stack.chorus.stop();
  const again = await startSlackStack({ redis: stack.redis, waitHello: 0 });
  await again.fake.waitForHello(1);
  again.fake.event(rec.payload.event);         // the same message delivered to the new process
  const fresh = again.fake.userMessage({ dm: true, text: 'new one' });
  await again.fake.waitForPost((p) => p.text === 'echo: new one');
  await delay(300);
  assert.equal(echoes(again.fake, 'only once').length, 0, 'remembered in Redis across the restart');
  assert.ok(fresh);
});

test('refresh_requested and warning mid-traffic: no lost answer and never a moment without a connection', async () => {
  const { fake } = await startSlackStack();
  const sent = [];
  for (let i = 0; i < 30; i++) {
    sent.push(fake.userMessage({ dm: true, channel: `D0R${i}`, text: `m${i}` }));
    if (i === 10) fake.liveConns()[0].disconnect('refresh_requested');
    if (i === 20) fake.liveConns()[0].disconnect('warning');
    await delay(20);
  }
  for (let i = 0; i < 30; i++) await fake.waitForPost((p) => p.text === `echo: m${i}`, 15000);
  await delay(300);
  for (let i = 0; i < 30; i++) assert.equal(echoes(fake, `m${i}`).length, 1, `m${i} answered once`);
  assert.equal(fake.gaps().length, 0, 'a live connection all along');
  assert.ok(fake.opens.length >= 4, 'a fresh ticket for each replacement');
  assert.deepEqual(fake.violations, []);
});

test('a dropped TCP connection is replaced and nothing is lost', async () => {
  const { fake } = await startSlackStack();
  const before = fake.opens.length;
  fake.liveConns()[0].drop();
  const m = fake.userMessage({ dm: true, text: 'after the drop' });
  await fake.waitForPost((p) => p.text === 'echo: after the drop');
  await fake.waitForHello(2);
  assert.ok(fake.opens.length > before);
  assert.equal(fake.gaps().length, 0);
  assert.ok(m);
});

test('link_disabled stops the adapter with a clear log line, not-ready, and no reconnect storm', async () => {
  const { fake, chorus } = await startSlackStack();
  fake.liveConns()[0].disconnect('link_disabled');
  await waitFor(() => /link_disabled/.test(chorus.logText()), { what: 'the log line', timeoutMs: 5000 });
  const opens = fake.opens.length;
  await delay(500);
  assert.equal(fake.opens.length, opens, 'no apps.connections.open after link_disabled');
  assert.match(chorus.logText(), /ERROR slack: Slack disabled the Socket Mode link/);
});

test('429s on chat.postMessage are waited out per Retry-After and the answer still comes once', async () => {
  const { fake } = await startSlackStack();
  fake.force429.push({ method: 'chat.postMessage', retryAfter: 1 });
  const t0 = Date.now();
  fake.userMessage({ dm: true, text: 'slow down' });
  const post = await fake.waitForPost((p) => p.text === 'echo: slow down');
  assert.ok(post.at - t0 >= 900, 'waited the Retry-After second');
  assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage' && c.status === 429).length, 1);
  await delay(200);
  assert.equal(echoes(fake, 'slow down').length, 1);
});

test('malformed envelopes are logged and skipped; the connection is kept', async () => {
  const { fake, chorus } = await startSlackStack();
  const conn = fake.liveConns()[0];
  fake.deliverTo = conn;
  conn.sendRaw('this is not json');
  conn.sendRaw(JSON.stringify({ type: 'events_api', payload: {} }));
  conn.sendRaw(JSON.stringify({ envelope_id: 'e-1', type: 'events_api', payload: 'nope' }));
  conn.sendRaw(JSON.stringify({ envelope_id: 'e-2', type: 'events_api', payload: { event: { type: 'message' } } }));
  fake.userMessage({ dm: true, text: 'still here' });
  await fake.waitForPost((p) => p.text === 'echo: still here');
  assert.ok(!conn.closed, 'the same connection carries on');
  assert.match(chorus.logText(), /not a JSON object/);
  assert.match(chorus.logText(), /without an envelope_id/);
  assert.ok(fake.acks.some((a) => a.envelope_id === 'e-1'), 'a bad envelope with an id is still acked');
});

test('a bot\'s message is acked and dropped before it is read; a broken one is still logged and not acked', async () => {
  const { fake, chorus } = await startSlackStack();
  const conn = fake.liveConns()[0];
  fake.deliverTo = conn;
  const ev = { bot_id: 'B0OTHERBOT', type: 'message', text: 'from a bot', user: 'U0OTHERBOT', ts: '1700000000.000100',
    channel: 'C0GENERAL', channel_type: 'channel' };
  const rec = fake.event(ev);
  const whole = JSON.stringify({ envelope_id: 'e-bot-cut', payload: { type: 'event_callback', event: ev }, type: 'events_api',
    accepts_response_payload: false, retry_attempt: 0, retry_reason: '' });
  conn.sendRaw(whole.slice(0, -30));
  fake.userMessage({ dm: true, text: 'after the bots' });
  await fake.waitForPost((p) => p.text === 'echo: after the bots');
  await waitFor(() => rec.envelopes[0].acked, { timeoutMs: 2000, what: 'the ack of the bot\'s message' });
  assert.equal(rec.envelopes[0].ackedAt > 0 && fake.acks.find((a) => a.envelope_id === rec.envelopes[0].env.envelope_id).conn, conn,
    'acked on its own connection');
  assert.ok(!fake.acks.some((a) => a.envelope_id === 'e-bot-cut'), 'a broken envelope is not acked');
  assert.match(chorus.logText(), /not a JSON object/);
  assert.ok(!fake.posts.some((p) => p.text.includes('from a bot')), 'a bot is not answered');
  assert.deepEqual(fake.violations, []);
});

test('a slash command is acked with a response at once and answered through its response_url', async () => {
  const { fake } = await startSlackStack();
  const env = fake.slashCommand({ command: '/ask', text: 'what time is it' });
  const ack = await fake.waitForAck((a) => a.envelope_id === env.env.envelope_id);
  assert.equal(ack.payload.response_type, 'ephemeral');
  assert.ok(ack.payload.text, 'acked with a response');
  const res = await fake.waitForResponse();
  assert.equal(res.body.text, 'echo: what time is it');
  assert.equal(res.body.response_type, 'in_channel');
  const press = fake.buttonPress({ value: 'yes please' });
  assert.ok(await fake.waitForAck((a) => a.envelope_id === press.env.envelope_id));
  assert.equal((await fake.waitForResponse((r) => r.body.text === 'echo: yes please')).body.text, 'echo: yes please');
});

// Envelopes and Web API answers as another server (a proxy, a Slack-like
// server) may write them: with whitespace and the keys in another order.
// The bot's own posts come back as message events (as in Slack) and
// mention pizza, which a hear handler answers: a loop would show.
for (const [name, jsonStyle] of [['pretty-printed', { pretty: true }], ['with ": " separators and keys in reverse order', { spaced: true, reorder: true }],
  ['pretty-printed with keys in reverse order', { pretty: true, reorder: true }]]) {
  test(`Socket Mode and Web API JSON ${name}: each person answered once, the bot's own posts never, streamed updates go to the posted ts`, async () => {
    const { writePlugins, storyPlugin } = require('../lib/plugins');
    const { luaString } = require('../lib/util');
    const dir = writePlugins({
      pizza: { init: 'chorus.hear("pizza", function(msg) msg:reply("I love pizza too, " .. msg.author.name) end)' },
      story: storyPlugin,
    });
    const { fake, chorus } = await startSlackStack({ timeScale: 0.2, fakeOptions: { jsonStyle },
      configExtra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 300, deadline_ms = 5000 }` });
    const dm = fake.userMessage({ dm: true, text: 'hello in private' });
    await fake.waitForPost((p) => p.text === 'echo: hello in private');
    const men = fake.mention({ text: 'hello <b> & you', channel: 'C0MENTION' });
    await fake.waitForPost((p) => p.channel === 'C0MENTION' && /^echo: /.test(p.text));
    const chatter = fake.userMessage({ text: 'pizza for lunch', channel: 'C0LUNCH', user: 'U0BOB' });
    await fake.waitForPost((p) => p.text === 'I love pizza too, U0BOB');
    const pizzaDm = fake.userMessage({ dm: true, text: 'pizza tonight?' });
    await fake.waitForPost((p) => p.text === 'I love pizza too, U0ANN');
    const story = fake.mention({ text: '!story', channel: 'C0STORY' });
    const told = await fake.waitForPost((p) => p.channel === 'C0STORY');
    await waitFor(() => fake.updates.some((u) => u.ts === told.ts && u.text.endsWith(' THE END')), { timeoutMs: 10000, what: 'the final text' });
    assert.ok(fake.updates.filter((u) => u.channel === 'C0STORY').every((u) => u.ts === told.ts), 'every chat.update went to the ts the post answer named');
    assert.ok(!fake.calls.some((c) => c.method === 'chat.update' && c.error), 'no update refused');
    // Answers in a channel come in order: once this one is, the echoes
    // of the bot's posts before it have been read.
    for (const channel of ['C0MENTION', 'C0LUNCH']) {
      fake.mention({ text: `last in ${channel}`, channel });
      await fake.waitForPost((p) => p.text === `echo: last in ${channel}`);
    }
    fake.userMessage({ dm: true, text: 'last in private' });
    await fake.waitForPost((p) => p.text === 'echo: last in private');
    assert.equal(fake.posts.filter((p) => /^I love pizza too, /.test(p.text)).length, 2, 'the hear handler answered the two people, never the bot');
    for (const t of ['hello in private', 'hello &lt;b&gt; &amp; you', 'last in C0MENTION']) assert.equal(echoes(fake, t).length, 1, `"${t}" answered by the model once`);
    assert.ok(dm && men && chatter && pizzaDm && story);
    await waitFor(() => fake.envelopes.filter((e) => e.conn).every((e) => e.acked), { what: 'every envelope acked' });
    assert.deepEqual(fake.violations, []);
    assert.equal(chorus.proc.exitCode, null);
  });
}
