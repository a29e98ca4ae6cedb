'use strict';
// chorusd on Slack as Slack's documentation describes what it may send, not
// only what our usual stories use: message events of every subtype, events
// of bots without a user, interactive payloads a Bolt app may get (a modal
// submitted, a shortcut, a message action), hello and disconnect messages
// with every field and an unknown reason, Web API answers carrying
// warnings, a failing apps.connections.open, and tokens Slack no longer
// takes. Ann is answered once for each thing she says; nothing crashes and
// nothing storms Slack.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startSlackStack } = require('../lib/slack-stack');
const { newTs } = require('../lib/fake-slack');
const { delay, httpGet, waitFor } = require('../lib/util');

const echoes = (fake, text) => fake.posts.filter((p) => p.text === `echo: ${text}`);
const readyz = async (chorus) => (await httpGet(`${chorus.url}/readyz`)).status;

test('Ann shares a file, broadcasts a thread reply and writes /me: each answered once; edits, deletions, joins and bots never', async () => {
  const { fake, chorus } = await startSlackStack();
  const dm = 'D0ANNDM';
  const at = () => newTs();
  const ev = (e) => { const ts = e.ts || at(); return fake.event({ channel: dm, channel_type: 'im', event_ts: ts, ...e, ts }); };
  // What Ann says, as Slack writes it (events/message/file_share, thread_broadcast, me_message).
  ev({ type: 'message', subtype: 'file_share', user: 'U0ANN', text: 'what is in this file?', upload: false, display_as_bot: false,
    files: [{ id: 'F0FILE', name: 'notes.txt', mimetype: 'text/plain', mode: 'hosted' }] });
  const root = fake.userMessage({ dm: true, text: 'a thread starts here' });
  const bts = at();
  fake.event({ type: 'message', subtype: 'thread_broadcast', user: 'U0ANN', text: `<@${fake.botUserId}> also to the channel`, ts: bts,
    thread_ts: root.event.ts, root: { ...root.event }, channel: 'C0BCAST', channel_type: 'channel', event_ts: bts });
  fake.event({ type: 'app_mention', user: 'U0ANN', text: `<@${fake.botUserId}> also to the channel`, ts: bts, thread_ts: root.event.ts,
    channel: 'C0BCAST', event_ts: bts });
  ev({ type: 'message', subtype: 'me_message', user: 'U0ANN', text: 'waves at the bot' });
  // What no one should answer.
  ev({ type: 'message', subtype: 'message_changed', hidden: true, ts: at(),
    message: { type: 'message', user: 'U0ANN', text: 'an edited text', ts: root.event.ts, edited: { user: 'U0ANN', ts: at() } },
    previous_message: { type: 'message', user: 'U0ANN', text: 'a thread starts here', ts: root.event.ts } });
  ev({ type: 'message', subtype: 'message_deleted', hidden: true, deleted_ts: root.event.ts,
    previous_message: { type: 'message', user: 'U0ANN', text: 'a deleted text', ts: root.event.ts } });
  ev({ type: 'message', subtype: 'bot_message', bot_id: 'B0OTHER', username: 'ci', text: 'a bot without a user', icons: {} });
  ev({ type: 'message', bot_id: 'B0OTHER', app_id: 'A0OTHER', text: 'a bot with no subtype and no user' });
  ev({ type: 'message', subtype: 'channel_join', user: 'U0BOB', text: '<@U0BOB> has joined the channel' });
  ev({ type: 'message', subtype: 'message_replied', hidden: true, message: { type: 'message', user: 'U0ANN', text: 'a replied text', ts: root.event.ts } });
  fake.userMessage({ dm: true, text: 'the last one' });
  for (const t of ['what is in this file?', 'also to the channel', 'waves at the bot', 'a thread starts here', 'the last one']) {
    await fake.waitForPost((p) => p.text === `echo: ${t}`);
  }
  await delay(300);
  for (const t of ['what is in this file?', 'also to the channel', 'waves at the bot', 'a thread starts here', 'the last one']) {
    assert.equal(echoes(fake, t).length, 1, `"${t}" answered once`);
  }
  assert.equal(fake.posts.find((p) => p.text === 'echo: also to the channel').thread_ts, root.event.ts, 'the broadcast answered in its thread');
  for (const t of ['edited text', 'deleted text', 'bot without a user', 'bot with no subtype', 'has joined', 'replied text']) {
    assert.ok(!fake.posts.some((p) => p.text.includes(t)), `"${t}" not answered`);
  }
  await waitFor(() => fake.envelopes.filter((e) => e.conn).every((e) => e.acked), { what: 'every envelope acked' });
  assert.ok(!/malformed|without user, channel, ts or text/.test(chorus.logText()), 'nothing taken for malformed');
  assert.deepEqual(fake.violations, []);
});

test('interactive payloads a Bolt app may get (a modal submitted, a shortcut, a message action, a button in a modal) are acked and answer nothing', async () => {
  const { fake, chorus } = await startSlackStack();
  const user = { id: 'U0ANN', username: 'ann', name: 'ann', team_id: fake.teamId };
  const team = { id: fake.teamId, domain: 'fake' };
  const view = { id: 'V0MODAL', type: 'modal', callback_id: 'survey', state: { values: { b: { a: { type: 'plain_text_input', value: 'fine' } } } },
    private_metadata: '', hash: '1.abc' };
  const sub = fake.envelope('interactive', { type: 'view_submission', team, user, api_app_id: fake.appId, token: 'x', trigger_id: '1.2.3', view,
    response_urls: [] }, { accepts: true });
  const closed = fake.envelope('interactive', { type: 'view_closed', team, user, api_app_id: fake.appId, view, is_cleared: false });
  const sc = fake.envelope('interactive', { type: 'shortcut', callback_id: 'open_survey', trigger_id: '1.2.4', team, user, action_ts: '1.2' });
  const ma = fake.envelope('interactive', { type: 'message_action', callback_id: 'save', trigger_id: '1.2.5', team, user,
    channel: { id: 'C0GENERAL', name: 'general' }, message: { type: 'message', user: 'U0BOB', text: 'save me', ts: newTs() },
    response_url: `${fake.baseUrl}/actions/T/1/x` });
  const inModal = fake.envelope('interactive', { type: 'block_actions', team, user, trigger_id: '1.2.6', container: { type: 'view', view_id: 'V0MODAL' },
    view, actions: [{ type: 'button', action_id: 'more', block_id: 'b2', value: 'more', action_ts: '1.3' }] });
  const other = fake.envelope('some_future_type', { anything: true });
  fake.userMessage({ dm: true, text: 'still answering' });
  await fake.waitForPost((p) => p.text === 'echo: still answering');
  for (const rec of [sub, closed, sc, ma, inModal, other]) {
    const ack = await fake.waitForAck((a) => a.envelope_id === rec.env.envelope_id);
    assert.equal(ack.payload, undefined, `${rec.payload.type || rec.type}: a plain ack (a modal closes on it)`);
  }
  await delay(300);
  assert.equal(fake.posts.length, 1, 'nothing posted but the answer to Ann');
  assert.equal(fake.responses.length, 0, 'no response_url used');
  assert.ok(!/WARN slack/.test(chorus.logText()), 'nothing in them is taken for malformed');
  assert.deepEqual(fake.violations, []);
  assert.equal(chorus.proc.exitCode, null);
});

test('hello with its connection details and a disconnect for a reason Slack may add later: the link is replaced, no moment without one, Ann answered once', async () => {
  const { fake } = await startSlackStack();
  const conn = fake.liveConns()[0];
  fake.userMessage({ dm: true, text: 'before the new reason' });
  await fake.waitForPost((p) => p.text === 'echo: before the new reason');
  const opens = fake.opens.length;
  conn.disconnect('some_reason_from_the_future');
  fake.userMessage({ dm: true, text: 'during the new reason' });
  await fake.waitForPost((p) => p.text === 'echo: during the new reason');
  await waitFor(() => fake.opens.length > opens, { what: 'a fresh ticket', timeoutMs: 5000 });
  await fake.waitForHello(2);
  fake.userMessage({ dm: true, text: 'after the new reason' });
  await fake.waitForPost((p) => p.text === 'echo: after the new reason');
  await delay(300);
  for (const t of ['before the new reason', 'during the new reason', 'after the new reason']) assert.equal(echoes(fake, t).length, 1);
  assert.equal(fake.gaps().length, 0, 'a live connection all along');
  assert.deepEqual(fake.violations, []);
});

test('too_many_websockets: the bot keeps one connection fewer instead of opening replacements Slack turns away, and answers on', async () => {
  const { fake, chorus } = await startSlackStack();
  const opens = fake.opens.length;
  const [a, b] = fake.liveConns();
  a.disconnect('too_many_websockets');
  await chorus.waitForLog(/too many websockets; keeping 1/, 5000);
  await fake.waitForClose(a);
  fake.userMessage({ dm: true, text: 'with one connection' });
  await fake.waitForPost((p) => p.text === 'echo: with one connection');
  await delay(300);
  assert.equal(fake.opens.length, opens, 'no replacement opened');
  assert.deepEqual(fake.liveConns(), [b]);
  assert.equal(await readyz(chorus), 200);
  assert.equal(echoes(fake, 'with one connection').length, 1);
});

test('a connection that goes silent (open, but nothing answers its pings) is cut and replaced; a quiet healthy one is kept', async () => {
  const { fake, chorus } = await startSlackStack({ slackExtra: 'ping_interval_s = 1' });
  const [a, b] = fake.liveConns();
  const opens = fake.opens.length;
  a.sock.pause();                        // a dead peer: nothing read, nothing answered, no FIN
  await chorus.waitForLog(/no answer to pings/, 5000);
  await chorus.waitForLog(/connection \d+ closed \(1006: no answer to pings/, 5000);
  await waitFor(() => fake.opens.length > opens && fake.liveConns().filter((c) => c !== a).length >= 2,
    { timeoutMs: 5000, what: 'a replacement said hello' });
  await delay(3500);                     // quiet: only pings and pongs on b for over three intervals
  assert.ok(!b.closed && b.live, 'the healthy connection is kept');
  assert.equal((chorus.logText().match(/cutting the connection/g) || []).length, 1, 'only the silent one was cut');
  fake.userMessage({ dm: true, text: 'after the silent one' });
  await fake.waitForPost((p) => p.text === 'echo: after the silent one');
});

test('Web API answers with warnings are successes: Ann is answered, a streamed reply updates the posted ts', async () => {
  const { writePlugins, storyPlugin } = require('../lib/plugins');
  const { luaString } = require('../lib/util');
  const dir = writePlugins({ story: storyPlugin });
  const { fake, chorus } = await startSlackStack({ timeScale: 0.2, fakeOptions: { warnAnswers: true },
    configExtra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 300, deadline_ms = 5000 }` });
  fake.mention({ text: 'hello with warnings', channel: 'C0WARN' });
  const reply = await fake.waitForPost((p) => p.channel === 'C0WARN');
  assert.equal(reply.text, 'echo: hello with warnings', 'the mention taken off: auth.test was read despite its warning');
  fake.mention({ text: '!story', channel: 'C0STORY' });
  const told = await fake.waitForPost((p) => p.channel === 'C0STORY');
  await waitFor(() => fake.updates.some((u) => u.ts === told.ts && u.text.endsWith(' THE END')), { timeoutMs: 10000, what: 'the final text' });
  assert.ok(!/could not be posted|failed/.test(chorus.logText()), 'no answer taken for a failure');
});

test('apps.connections.open failing with ok:false is retried with backoff; the bot comes up and answers', async () => {
  const { fake, chorus } = await startSlackStack({ fakeOptions: { openErrors: ['internal_error', 'service_unavailable'] } });
  assert.equal(fake.opens.filter((o) => !o.ok).length, 2, 'two opens refused');
  assert.match(chorus.logText(), /apps\.connections\.open failed: internal_error/);
  fake.userMessage({ dm: true, text: 'after the failed opens' });
  await fake.waitForPost((p) => p.text === 'echo: after the failed opens');
});

for (const error of ['invalid_auth', 'token_revoked', 'account_inactive']) {
  test(`the bot token refused at sign-in (auth.test: ${error}): one clear line, not ready, no Socket Mode, no retries`, async () => {
    const { fake, chorus } = await startSlackStack({ waitHello: 0, fakeOptions: { revoked: true, revokedError: error } });
    await chorus.waitForLog(new RegExp(`ERROR slack: Slack refused the bot_token \\(auth\\.test: ${error}\\)`), 5000);
    const calls = fake.calls.length;
    await delay(800);
    assert.equal(fake.calls.length, calls, 'no call after the refusal');
    assert.equal(calls, 1, 'auth.test only: no Socket Mode');
    assert.equal(await readyz(chorus), 503);
  });
}

test('the bot token revoked while the bot runs: the next refused call stops the adapter with one clear line, closes Socket Mode, and calls no more', async () => {
  const { fake, chorus } = await startSlackStack();
  fake.userMessage({ dm: true, text: 'before the revocation' });
  await fake.waitForPost((p) => p.text === 'echo: before the revocation');
  await waitFor(async () => (await readyz(chorus)) === 200, { timeoutMs: 5000, what: '/readyz 200' });
  fake.revoked = true;
  fake.revokedError = 'token_revoked';
  fake.userMessage({ dm: true, text: 'after the revocation' });
  await chorus.waitForLog(/ERROR slack: Slack refused the bot_token \(chat\.postMessage: token_revoked\); the Slack adapter stays down/, 5000);
  await waitFor(() => fake.liveConns().length === 0, { timeoutMs: 5000, what: 'Socket Mode closed' });
  const calls = fake.calls.length;
  await delay(800);
  assert.equal(fake.calls.length, calls, 'no call after the refusal');
  assert.equal((chorus.logText().match(/ERROR slack: .*token_revoked/g) || []).length, 1, 'said once');
  assert.equal(await readyz(chorus), 503);
});
