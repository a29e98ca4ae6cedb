'use strict';
// Stories of a QQ bot run through a OneBot v11 implementation (NapCat,
// Lagrange): chorusd dials the implementation's websocket (forward) or the
// implementation dials chorusd (reverse). People @-mention the bot in a
// group and write to it in private; it answers each once, as a reply; it
// reads CQ-code strings as well as segment arrays, skips malformed events,
// reports failed and unanswered calls, comes back after the connection
// drops or goes silent without losing a reply, and never lets a wrong
// access token in nor writes the right one into a log line.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startOneBotStack, replyTo, TOKEN } = require('../lib/onebot-stack');
const { waitFor, delay } = require('../lib/util');

const GROUP = 20001;

test('Ann @-mentions the bot in a group and gets one reply; chatter without the mention gets none', async () => {
  const { fake } = await startOneBotStack();
  const conn = fake.conns[0];
  assert.equal(conn.path, '/', 'one Universal connection at /');
  assert.equal(conn.headers.authorization, `Bearer ${TOKEN}`, 'the access token as a Bearer header');
  const ann = fake.user({ nickname: 'Ann', card: 'Ann (reads)' });
  const chatter = fake.groupMessage(ann, GROUP, 'just talking among ourselves');
  const ev = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' what do you think?')]);
  const sent = await replyTo(fake, ev);
  assert.equal(sent.action, 'send_group_msg');
  assert.equal(sent.params.group_id, GROUP, 'to the group, as a number');
  assert.deepEqual(sent.segments, [fake.reply(ev.message_id), fake.text('echo: what do you think?')],
    'a reply segment naming her message, then the text; the @bot is not part of what the model saw');
  const bob = fake.user({ nickname: 'Bob' });
  const other = fake.groupMessage(bob, GROUP, [fake.text('hey '), fake.at(ann.user_id), fake.text(' look')]);
  const toBot = fake.groupMessage(bob, GROUP, [fake.at(fake.selfId), fake.text(' and me?')]);
  await replyTo(fake, toBot);
  assert.equal(fake.sent.filter((s) => s.replyTo === ev.message_id).length, 1, 'one reply to Ann');
  assert.ok(!fake.sent.some((s) => s.replyTo === chatter.message_id || s.replyTo === other.message_id),
    'messages not addressed to the bot are not answered');
  assert.deepEqual(fake.violations, []);
});

test('Bob writes in private and is answered in private; a reply to the bot counts as addressing it', async () => {
  const { fake, chorus } = await startOneBotStack();
  const bob = fake.user({ nickname: 'Bob' });
  const ev = fake.privateMessage(bob, 'hello there [friend] & co');
  const sent = await replyTo(fake, ev);
  assert.equal(sent.action, 'send_private_msg');
  assert.equal(sent.params.user_id, bob.user_id);
  assert.equal(sent.text, 'echo: hello there [friend] & co', 'brackets and ampersands arrive as they were typed');
  // In the group, Bob replies to one of the bot's messages without an @.
  const ask = fake.groupMessage(bob, GROUP, [fake.at(fake.selfId), fake.text(' first')]);
  const first = await replyTo(fake, ask);
  const follow = fake.groupMessage(bob, GROUP, [fake.reply(first.message_id), fake.text('and a follow-up')]);
  const second = await replyTo(fake, follow);
  assert.equal(second.text, 'echo: and a follow-up');
  await chorus.waitForLog(/onebot: logged in as QQ 10001/);
  assert.deepEqual(fake.violations, []);
});

test('an implementation that posts CQ-code strings is understood, and string sending works too', async () => {
  const { fake } = await startOneBotStack({ fakeOptions: { messageFormat: 'string' }, onebotExtra: 'send_format = "string"' });
  const ann = fake.user({ nickname: 'Ann' });
  const ev = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' is 1 < [2] & 3?'), fake.face(14)]);
  assert.equal(typeof ev.message, 'string', 'the event carries a CQ string');
  assert.match(ev.message, /^\[CQ:at,qq=10001\] is 1 < &#91;2&#93; &amp; 3\?\[CQ:face,id=14\]$/);
  const sent = await replyTo(fake, ev);
  assert.equal(typeof sent.params.message, 'string', 'sent as a CQ string');
  assert.equal(sent.params.message, `[CQ:reply,id=${ev.message_id}]echo: is 1 < &#91;2&#93; &amp; 3?&#91;face:14&#93;`,
    'the face came to the model as the text [face:14], and text is escaped on the way out');
  assert.equal(sent.text, 'echo: is 1 < [2] & 3?[face:14]', 'escapes undone by the implementation');
  assert.deepEqual(fake.violations, []);
});

test('malformed frames, events and segments are logged and skipped, and the next message is answered', async () => {
  const { fake, chorus } = await startOneBotStack();
  const conn = fake.conns[0];
  const ann = fake.user({ nickname: 'Ann' });
  conn.sendRaw('this is not json');
  conn.sendRaw('[1,2,3]');
  conn.sendJson({ post_type: 'message', message_type: 'group', self_id: fake.selfId, time: 1 });
  conn.sendJson({ post_type: 'message', message_type: 'private', user_id: 'nobody', message_id: 1, message: 'x' });
  conn.sendJson({ post_type: 'message', message_type: 'private', user_id: ann.user_id, message_id: 7, message: 42 });
  conn.sendJson({ echo: 'chorus-999999', status: 'ok', retcode: 0, data: {} });
  conn.sendJson({ post_type: 'notice', notice_type: 'group_increase', group_id: GROUP, user_id: 5 });
  conn.sendJson({ post_type: 'meta_event', meta_event_type: 'heartbeat', interval: 'soon', status: null });
  const broken = fake.privateMessage(ann, [42, { type: 'text' }, { type: 'at', data: {} }, fake.text('still readable')]);
  const good = fake.privateMessage(ann, 'are you still there?');
  const sent = await replyTo(fake, good);
  assert.equal(sent.text, 'echo: are you still there?');
  const partial = await replyTo(fake, broken);
  assert.equal(partial.text, 'echo: still readable', 'the readable part of a message with broken segments');
  await chorus.waitForLog(/onebot: a frame that is not a JSON object/);
  await chorus.waitForLog(/onebot: a message event without/);
  await chorus.waitForLog(/onebot: 3 malformed segments in message -?\d+ were skipped/);
  assert.equal(chorus.proc.exitCode, null, 'chorusd is still running');
});

test('a failed send (retcode) and an unanswered one are reported, and the next one goes through', async () => {
  const { fake, chorus } = await startOneBotStack();
  const ann = fake.user({ nickname: 'Ann' });
  fake.failNext.push({ action: 'send_private_msg', retcode: 100, wording: 'the user is not your friend' });
  const ev1 = fake.privateMessage(ann, 'first');
  await chorus.waitForLog(/onebot: send_private_msg failed: retcode 100: the user is not your friend/);
  fake.holdNext.push({ action: 'send_private_msg', ms: Infinity });
  const ev2 = fake.privateMessage(ann, 'second');
  await chorus.waitForLog(/onebot: send_private_msg got no answer within 1500 ms/);
  const ev3 = fake.privateMessage(ann, 'third');
  const sent = await replyTo(fake, ev3);
  assert.equal(sent.text, 'echo: third');
  assert.ok(!fake.sent.some((s) => s.replyTo === ev1.message_id), 'the refused message was not sent');
  assert.equal(fake.sent.filter((s) => s.replyTo === ev2.message_id).length, 1,
    'the unanswered one (sent, its answer lost) is not sent twice');
  const calls = fake.actions.filter((a) => a.action === 'send_private_msg');
  assert.equal(new Set(calls.map((a) => a.echo)).size, calls.length, 'every call has its own echo');
});

test('the implementation drops the connection mid-call; chorusd reconnects and the reply still arrives once', async () => {
  const { fake, chorus } = await startOneBotStack();
  const ann = fake.user({ nickname: 'Ann' });
  fake.dropOnNext.push({ action: 'send_group_msg' });
  const ev = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' are you there?')]);
  await chorus.waitForLog(/onebot: (the OneBot implementation closed the connection|the connection went away)/);
  const second = await fake.waitForConnection((c) => c.id === 2);
  const sent = await replyTo(fake, ev);
  assert.equal(sent.text, 'echo: are you there?');
  await delay(100);
  assert.equal(fake.sent.filter((s) => s.replyTo === ev.message_id).length, 1, 'sent once');
  // The implementation restarts: every connection cut; chorusd comes back.
  second.drop();
  await fake.waitForConnection((c) => c.id === 3);
  const ev2 = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' and now?')]);
  assert.equal((await replyTo(fake, ev2)).text, 'echo: and now?');
  assert.deepEqual(fake.violations, []);
});

test('a wrong access token is refused; chorusd says so plainly and no token reaches the log', async () => {
  const { fake, chorus } = await startOneBotStack({ chorusToken: 'ob-wrong-token-5518', waitConnected: false, logLevel: 'debug' });
  const status = await fake.waitForRefused();
  assert.equal(status, 403, 'the implementation refuses a wrong token with 403');
  await chorus.waitForLog(/onebot: the OneBot implementation refused the access token \(HTTP 403\)/);
  await waitFor(() => fake.refused.length >= 2, { what: 'a second try after a backoff' });
  assert.equal(fake.conns.length, 0, 'never connected');
  const logs = chorus.logText();
  assert.ok(!logs.includes('ob-wrong-token-5518'), 'the token chorusd holds is not in the log');
  assert.ok(!logs.includes(TOKEN), 'nor the real one');
});

test('without a token where one is needed the upgrade is refused with 401', async () => {
  const { fake, chorus } = await startOneBotStack({ chorusToken: '', waitConnected: false });
  assert.equal(await fake.waitForRefused(), 401);
  await chorus.waitForLog(/refused the access token \(HTTP 401\)/);
});

test('the implementation stops beating; chorusd counts the connection dead, dials again and answers', async () => {
  const { fake, chorus } = await startOneBotStack({ fakeOptions: { heartbeatMs: 200 }, onebotExtra: 'heartbeat_misses = 3' });
  const first = fake.conns[0];
  const ann = fake.user({ nickname: 'Ann' });
  assert.equal((await replyTo(fake, fake.privateMessage(ann, 'one'))).text, 'echo: one');
  await waitFor(() => first.beats >= 2, { what: 'two heartbeats' });
  first.stopHeartbeat();   // hung: the socket stays open, nothing comes
  await chorus.waitForLog(/onebot: no heartbeat for \d+ ms \(every 200 ms expected\); the connection is dead/);
  const second = await fake.waitForConnection((c) => c.id === 2);
  await fake.waitForClosed(first);
  assert.ok(second, 'a new connection');
  assert.equal((await replyTo(fake, fake.privateMessage(ann, 'two'))).text, 'echo: two');
});

test('reverse: the implementation dials chorusd; wrong or missing credentials are refused, the right ones answered', async () => {
  const { fake, chorus, reverseUrl } = await startOneBotStack({ reverse: true });
  const noSelf = await fake.connectReverse(reverseUrl, { selfId: null });
  assert.equal(noSelf.status, 400, 'no X-Self-ID: 400');
  const badRole = await fake.connectReverse(reverseUrl, { role: 'Watcher' });
  assert.equal(badRole.status, 400, 'an unknown X-Client-Role: 400');
  const noToken = await fake.connectReverse(reverseUrl, { token: '' });
  assert.equal(noToken.status, 401, 'no token: 401');
  const wrong = await fake.connectReverse(reverseUrl, { token: 'ob-guess-0000' });
  assert.equal(wrong.status, 403, 'a wrong token: 403');
  await chorus.waitForLog(/onebot: refused a reverse connection from QQ 10001: wrong access token/);
  const conn = await fake.connectReverse(reverseUrl);
  assert.equal(conn.status, 101);
  await fake.waitForAction((a) => a.action === 'get_login_info');
  const ann = fake.user({ nickname: 'Ann' });
  const ev = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' hello from the other side')]);
  const sent = await replyTo(fake, ev);
  assert.equal(sent.text, 'echo: hello from the other side');
  assert.equal(sent.action, 'send_group_msg');
  const logs = chorus.logText();
  assert.ok(!logs.includes(TOKEN) && !logs.includes('ob-guess-0000'), 'no token in the log');
  assert.deepEqual(fake.violations, []);
});

test('reverse: a silent implementation is cut off, and when it dials again it is answered', async () => {
  const { fake, chorus, reverseUrl } = await startOneBotStack({ reverse: true, fakeOptions: { heartbeatMs: 200 }, onebotExtra: 'heartbeat_misses = 3' });
  const conn = await fake.connectReverse(reverseUrl);
  const ann = fake.user({ nickname: 'Ann' });
  assert.equal((await replyTo(fake, fake.privateMessage(ann, 'one'))).text, 'echo: one');
  await waitFor(() => conn.beats >= 2, { what: 'two heartbeats' });
  conn.stopHeartbeat();
  await chorus.waitForLog(/onebot: no heartbeat for \d+ ms/);
  await fake.waitForClosed(conn);
  await fake.connectReverse(reverseUrl);
  assert.equal((await replyTo(fake, fake.privateMessage(ann, 'two'))).text, 'echo: two');
});

test('what the model sees: other people\'s @names, faces and images as text; the bot\'s own messages are not heard', async () => {
  const { fake, stack } = await startOneBotStack();
  const ann = fake.user({ nickname: 'Ann' });
  const ev = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' ask '), { type: 'at', data: { qq: '3999', name: 'Bob' } },
    fake.text(' about '), fake.image('https://example.invalid/cat.png'), fake.face(178)]);
  const sent = await replyTo(fake, ev);
  assert.equal(sent.text, 'echo: ask @Bob about [image: https://example.invalid/cat.png][face:178]');
  // The implementation reports the bot's sends back (message_sent) and,
  // like older ones, as a plain message from the bot's own QQ number.
  fake.groupMessage({ user_id: fake.selfId, nickname: 'Chorus Bot', card: '', role: 'member' }, GROUP, [fake.at(fake.selfId), fake.text(' talking to myself')]);
  const after = fake.privateMessage(ann, 'last');
  await replyTo(fake, after);
  assert.ok(!stack.fake.requests.some((r) => JSON.stringify(r.body).includes('talking to myself')), 'its own message never reaches the model');
  assert.equal(fake.sent.length, 2);
});

test('reverse: go-cqhttp style, events and API calls on two connections (X-Client-Role Event and API)', async () => {
  const { fake, reverseUrl } = await startOneBotStack({ reverse: true, onebotExtra: 'self_id = "10001"' });
  const other = await fake.connectReverse(reverseUrl, { selfId: 777, role: 'Universal' });
  assert.equal(other.status, 403, 'another QQ account than self_id is refused');
  const events = await fake.connectReverse(reverseUrl, { role: 'Event' });
  const api = await fake.connectReverse(reverseUrl, { role: 'API' });
  assert.equal(events.status, 101);
  assert.equal(api.status, 101);
  const ann = fake.user({ nickname: 'Ann' });
  const ev = fake.privateMessage(ann, 'split roles');
  const sent = await replyTo(fake, ev);
  assert.equal(sent.text, 'echo: split roles');
  assert.deepEqual(events.received, [], 'nothing is called on the Event connection');
  assert.ok(api.received.some((m) => m.action === 'send_private_msg'), 'calls go on the API connection');
  assert.deepEqual(fake.violations, []);
});

test('stopping: chorusd closes the websocket cleanly, and a late answer to a timed-out call is harmless', async () => {
  const { fake, chorus } = await startOneBotStack({ logLevel: 'debug' });
  const conn = fake.conns[0];
  const ann = fake.user({ nickname: 'Ann' });
  fake.holdNext.push({ action: 'send_private_msg', ms: 2500 });
  fake.privateMessage(ann, 'slow one');
  await chorus.waitForLog(/send_private_msg got no answer within 1500 ms/);
  await chorus.waitForLog(/onebot: an answer to a call no longer waiting/);
  assert.equal((await replyTo(fake, fake.privateMessage(ann, 'quick one'))).text, 'echo: quick one');
  assert.equal(await chorus.stop('SIGTERM'), 0, 'a clean exit');
  await fake.waitForClosed(conn);
  assert.equal(conn.closedCode, 1000, 'a close frame with 1000');
  assert.ok(!chorus.logText().includes(TOKEN), 'no token in a debug log either');
});

test('bench/onebot-echo.conf.lua: configured from the environment alone, it dials the implementation and echoes', async () => {
  const { startFakeOneBot } = require('../lib/fake-onebot');
  const { startRedis } = require('../lib/redis');
  const { chorusdBinary, SRCDIR } = require('../lib/chorusd');
  const { trackChild, after } = require('../lib/tap');
  const { spawn } = require('node:child_process');
  const path = require('node:path');
  const redis = await startRedis();
  const fake = await startFakeOneBot({ token: TOKEN });
  after(() => fake.close());
  const proc = spawn(chorusdBinary(), ['--config', path.join(SRCDIR, 'bench', 'onebot-echo.conf.lua')], {
    env: { ...process.env, ONEBOT_URL: fake.wsUrl.replace(/\/$/, ''), ONEBOT_ACCESS_TOKEN: TOKEN, CHORUS_REDIS_URL: redis.url, CHORUS_DATA_DIR: SRCDIR },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  trackChild(proc);
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  after(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); });
  await fake.waitForConnection();
  const ann = fake.user({ nickname: 'Ann' });
  const inGroup = fake.groupMessage(ann, GROUP, 'no mention needed here');
  assert.equal((await replyTo(fake, inGroup)).text, 'echo: no mention needed here');
  const dm = fake.privateMessage(ann, 'and in private');
  assert.equal((await replyTo(fake, dm)).text, 'echo: and in private');
  assert.equal(fake.conns[0].path, '/', 'a URL without a path dials /');
  proc.kill('SIGTERM');
  const code = await new Promise((r) => proc.once('exit', (c) => r(c)));
  assert.equal(code, 0, `a clean exit; stderr:\n${stderr}`);
  assert.ok(!stderr.includes(TOKEN));
});

test('config mistakes are refused at --check-config with a line that says what to do', async () => {
  const { checkConfig } = require('../lib/chorusd');
  const cases = [
    ['onebot { }', /onebot: set url \(forward websocket/],
    ['onebot { url = "ws://127.0.0.1:3001", listen = "/ob" }', /cannot both be set/],
    ['onebot { url = "http://127.0.0.1:3001" }', /url must start with ws:\/\/ or wss:\/\//],
    ['onebot { listen = "ob" }', /listen is a path on chorusd's listener/],
    ['listen "off"\nonebot { listen = "/onebot/v11/ws" }', /needs chorusd's listener, but it is off/],
    ['onebot { url = "ws://127.0.0.1:3001", self_id = "bot" }', /self_id must be the bot's QQ number/],
    ['onebot { url = "ws://127.0.0.1:3001", call_timeout_ms = 0 }', /call_timeout_ms must be above 0/],
    ['onebot { url = "ws://127.0.0.1:3001", send_format = "cq" }', /send_format must be "array" or "string"/],
  ];
  const results = await Promise.all(cases.map(([text]) => checkConfig(`${text}\n`)));
  cases.forEach(([text, expected], i) => {
    assert.notEqual(results[i].code, 0, `refused: ${text}`);
    assert.match(results[i].stderr, expected, text);
  });
  const good = await checkConfig(`onebot { url = "ws://127.0.0.1:3001", access_token = "ob-config-secret-99" }\n`);
  assert.equal(good.code, 0, good.stderr);
  assert.ok(!good.stderr.includes('ob-config-secret-99'));
});

test('with send_action = "send_msg" every reply goes out as send_msg, to the right group or person, and a refusal is logged', async () => {
  const { fake, chorus } = await startOneBotStack({ onebotExtra: 'send_action = "send_msg"' });
  const ann = fake.user({ nickname: 'Ann' });
  const bob = fake.user({ nickname: 'Bob' });
  // Ann's answer is held back while Bob's comes at once: each answer is
  // taken by its echo, not by the order of the calls.
  fake.holdNext.push({ action: 'send_msg', ms: 300 });
  const inGroup = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' in the group')]);
  await fake.waitForAction((a) => a.action === 'send_msg');
  const inPrivate = fake.privateMessage(bob, 'in private');
  const toBob = await replyTo(fake, inPrivate);
  const toAnn = await replyTo(fake, inGroup);
  assert.equal(toAnn.action, 'send_msg');
  assert.equal(toAnn.params.message_type, 'group');
  assert.equal(toAnn.params.group_id, GROUP);
  assert.equal(toAnn.params.user_id, undefined, 'a group message names no user');
  assert.equal(toAnn.text, 'echo: in the group');
  assert.equal(toBob.action, 'send_msg');
  assert.equal(toBob.params.message_type, 'private');
  assert.equal(toBob.params.user_id, bob.user_id);
  assert.equal(toBob.params.group_id, undefined, 'a private message names no group');
  assert.equal(toBob.text, 'echo: in private');
  assert.ok(!fake.actions.some((a) => /^send_(group|private)_msg$/.test(a.action)), 'no send_group_msg or send_private_msg');
  const calls = fake.actions.filter((a) => a.action === 'send_msg');
  assert.equal(new Set(calls.map((a) => a.echo)).size, calls.length, 'every call has its own echo');
  // Both answers were read for their message ids: a reply to the bot's
  // message, without an @, addresses the bot.
  const annEcho = calls.find((a) => a.params.message_type === 'group').echo;
  await waitFor(() => fake.answered.some((a) => a.echo === annEcho), { what: 'the held answer' });
  const again = fake.groupMessage(bob, GROUP, [fake.reply(toAnn.message_id), fake.text('about that')]);
  assert.equal((await replyTo(fake, again)).text, 'echo: about that');
  // A refused send_msg is logged with its retcode, and the next goes out.
  fake.failNext.push({ action: 'send_msg', retcode: 100, wording: 'the group is muted' });
  const muted = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' while muted')]);
  await chorus.waitForLog(/onebot: send_msg failed: retcode 100: the group is muted/);
  const after = fake.privateMessage(ann, 'after the mute');
  assert.equal((await replyTo(fake, after)).params.message_type, 'private');
  assert.ok(!fake.sent.some((s) => s.replyTo === muted.message_id), 'the refused reply was not sent');
  assert.equal(fake.sent.length, 4);
  assert.deepEqual(fake.violations, []);
});

// Frames as an implementation other than NapCat may write them: with
// spaces or newlines and the keys in another order.
for (const [name, jsonStyle] of [['pretty-printed', { pretty: true }], ['with ": " separators and keys in reverse order', { spaced: true, reorder: true }],
  ['pretty-printed with keys in reverse order', { pretty: true, reorder: true }]]) {
  test(`frames ${name}: each person is answered once, the bot's own messages never, and answers are read`, async () => {
    const { fake, chorus, stack } = await startOneBotStack({ fakeOptions: { jsonStyle } });
    await chorus.waitForLog(/onebot: logged in as QQ 10001/);
    const ann = fake.user({ nickname: 'Ann' });
    const bob = fake.user({ nickname: 'Bob' });
    const first = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' one')]);
    const toAnn = await replyTo(fake, first);
    assert.equal(toAnn.text, 'echo: one');
    // The answer to send_group_msg was read for its message id: Bob's reply
    // to the bot's message addresses it.
    const follow = fake.groupMessage(bob, GROUP, [fake.reply(toAnn.message_id), fake.text('and two')]);
    assert.equal((await replyTo(fake, follow)).text, 'echo: and two');
    // The bot's message coming back as a plain message from its own QQ
    // number (message_sent ones came after every send above).
    fake.groupMessage({ user_id: fake.selfId, nickname: 'Chorus Bot', card: '', role: 'member' }, GROUP, [fake.at(fake.selfId), fake.text(' my own words')]);
    const dm = fake.privateMessage(bob, 'three');
    assert.equal((await replyTo(fake, dm)).text, 'echo: three');
    // A refusal written the same way is read too.
    fake.failNext.push({ action: 'send_private_msg', retcode: 100, wording: 'not a friend' });
    fake.privateMessage(ann, 'four');
    await chorus.waitForLog(/onebot: send_private_msg failed: retcode 100: not a friend/);
    assert.equal((await replyTo(fake, fake.privateMessage(ann, 'five'))).text, 'echo: five');
    for (const ev of [first, follow, dm]) assert.equal(fake.sent.filter((s) => s.replyTo === ev.message_id).length, 1, 'answered once');
    assert.equal(fake.sent.length, 4, 'no reply to the bot\'s own messages');
    assert.ok(!stack.fake.requests.some((r) => JSON.stringify(r.body).includes('my own words')), 'its own message never reaches the model');
    assert.deepEqual(fake.violations, []);
  });
}
