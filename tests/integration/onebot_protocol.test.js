'use strict';
// Stories of a QQ bot meeting what the OneBot v11 documents allow but a
// friendly implementation rarely sends: QQ numbers past 2^53 (int64 ids
// that JavaScript would round), CQ-code strings full of escapes, a group's
// system notices and anonymous posts, lifecycle enable/disable and an
// offline heartbeat, calls refused with retcode 100/102/1400 and only a
// "msg", an implementation that serves events and API calls on separate
// /event and /api websockets (also spelled "/api/"), a Universal websocket
// behind a proxy at a path that merely ends in /api (dialed as given), and
// a reverse connection that brings its token as ?access_token= or in
// lower-case headers.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startOneBotStack, replyTo, TOKEN } = require('../lib/onebot-stack');
const { waitFor, delay, luaString } = require('../lib/util');
const { writePlugins } = require('../lib/plugins');

const GROUP = 20001;

// The frame the bot wrote for ACTION, as text.
async function frameOf(fake, action) {
  let text;
  await waitFor(() => {
    for (const c of fake.conns) for (const t of c.texts) if (t.includes(`"action":"${action}"`)) text = t;
    return text;
  }, { what: `a ${action} frame` });
  return text;
}

test('Ann and the bot have QQ numbers past 2^53: every id comes back to the implementation exactly as it came', async () => {
  const { fake } = await startOneBotStack();
  const conn = fake.conns[0];
  const self = '9007199254740993';       // 2^53 + 1: a JavaScript number would say ...992
  const ann = '9007199254740995';
  const group = '9223372036854775807';   // the largest int64
  conn.sendRaw(`{"time":1700000000,"self_id":${self},"post_type":"message","message_type":"group","sub_type":"normal",` +
    `"message_id":-2147483000,"group_id":${group},"user_id":${ann},"anonymous":null,` +
    `"message":[{"type":"at","data":{"qq":${self}}},{"type":"text","data":{"text":" big numbers?"}}],` +
    `"raw_message":"[CQ:at,qq=${self}] big numbers?","font":0,"sender":{"user_id":${ann},"nickname":"Ann","card":""}}`);
  const sent = await fake.waitForSent((s) => s.action === 'send_group_msg');
  assert.equal(sent.text, 'echo: big numbers?', 'the at-the-bot is recognised with the int64 self_id');
  const text = await frameOf(fake, 'send_group_msg');
  assert.ok(text.includes(`"group_id":${group}`), `group_id exact in ${text}`);
  assert.ok(text.includes('"id":"-2147483000"') || text.includes('"id":-2147483000'), 'the negative message id is replied to');
  conn.sendRaw(`{"time":1700000001,"self_id":${self},"post_type":"message","message_type":"private","sub_type":"friend",` +
    `"message_id":77,"user_id":${ann},"message":"just us","raw_message":"just us","font":0,"sender":{"user_id":${ann},"nickname":"Ann"}}`);
  await fake.waitForSent((s) => s.action === 'send_private_msg');
  assert.ok((await frameOf(fake, 'send_private_msg')).includes(`"user_id":${ann}`), 'user_id exact');
  assert.deepEqual(fake.violations, []);
});

test('a CQ-code string with &amp; &#91; &#93; and &#44; is read as the person wrote it, and the answer is escaped again', async () => {
  const { fake } = await startOneBotStack({ fakeOptions: { messageFormat: 'string' }, onebotExtra: 'send_format = "string"' });
  const ann = fake.user({ nickname: 'Ann' });
  const conn = fake.conns[0];
  conn.sendJson({ time: 1, self_id: fake.selfId, post_type: 'message', message_type: 'private', sub_type: 'friend', message_id: 4242,
    user_id: ann.user_id, message_format: 'string', font: 0, sender: { user_id: ann.user_id, nickname: 'Ann' },
    message: 'fish &amp; chips &#91;2&#93;, a&#44;b [CQ:image,file=x.jpg,url=https://img.example/a?b=1&amp;c=2&#44;3]',
    raw_message: '' });
  const sent = await fake.waitForSent((s) => s.replyTo === 4242);
  assert.equal(sent.text, 'echo: fish & chips [2], a&#44;b [image: https://img.example/a?b=1&c=2,3]');
  const frame = JSON.parse(await frameOf(fake, 'send_private_msg'));
  assert.equal(typeof frame.params.message, 'string', 'sent as a CQ string');
  assert.ok(frame.params.message.includes('fish &amp; chips &#91;2&#93;, a&amp;#44;b'), `escaped again: ${frame.params.message}`);
});

test('a group\'s system notice (sub_type notice) is not answered; an anonymous post (by its alias) and a temporary session are', async () => {
  const dir = writePlugins({ names: { init: 'chorus.hear("^who am I", function(msg) msg:reply("you are " .. msg.author.name) end)' } });
  const { fake, chorus } = await startOneBotStack({ configExtra: `plugins_dir ${luaString(dir)}` });
  const conn = fake.conns[0];
  const base = { time: 1, self_id: fake.selfId, post_type: 'message', font: 0, raw_message: '' };
  const at = { type: 'at', data: { qq: String(fake.selfId) } };
  conn.sendJson({ ...base, message_type: 'group', sub_type: 'notice', message_id: 501, group_id: GROUP, user_id: 80000000,
    message: [at, { type: 'text', data: { text: ' 管理员已禁止群内匿名聊天' } }], sender: { user_id: 80000000, nickname: '' } });
  conn.sendJson({ ...base, message_type: 'group', sub_type: 'anonymous', message_id: 502, group_id: GROUP, user_id: 80000000,
    anonymous: { id: 123456, name: '大力鬼王', flag: 'abc|123456' }, message: [at, { type: 'text', data: { text: ' who am I?' } }],
    sender: { user_id: 80000000, nickname: '匿名消息' } });
  conn.sendJson({ ...base, message_type: 'private', sub_type: 'group', message_id: 503, user_id: 3333, temp_source: 0,
    message: [{ type: 'text', data: { text: 'from a group chat' } }], sender: { user_id: 3333, nickname: 'Cy', group_id: GROUP } });
  const anon = await fake.waitForSent((s) => s.replyTo === 502);
  assert.equal(anon.text, 'you are 大力鬼王', 'an anonymous poster goes by the alias QQ gave them');
  const temp = await fake.waitForSent((s) => s.replyTo === 503);
  assert.equal(temp.action, 'send_private_msg');
  await delay(200);
  assert.equal(fake.sent.filter((s) => s.replyTo === 501).length, 0, 'the system notice is not answered');
  await chorus.waitForLog(/onebot: a system notice in group:20001 was skipped/);
});

test('lifecycle disable, enable and an offline heartbeat are logged; the bot answers once the implementation is back', async () => {
  const { fake, chorus } = await startOneBotStack();
  const conn = fake.conns[0];
  const meta = (extra) => conn.sendJson({ time: 1, self_id: fake.selfId, post_type: 'meta_event', ...extra });
  meta({ meta_event_type: 'lifecycle', sub_type: 'disable' });
  await chorus.waitForLog(/onebot: lifecycle disable/);
  meta({ meta_event_type: 'heartbeat', interval: 5000, status: { online: false, good: false, app_initialized: true } });
  await chorus.waitForLog(/the implementation reports the bot offline/);
  meta({ meta_event_type: 'lifecycle', sub_type: 'enable' });
  meta({ meta_event_type: 'heartbeat', interval: 5000, status: { online: true, good: true } });
  await chorus.waitForLog(/onebot: lifecycle enable/);
  const ann = fake.user({ nickname: 'Ann' });
  assert.equal((await replyTo(fake, fake.privateMessage(ann, 'are you back?'))).text, 'echo: are you back?');
});

test('calls refused with retcode 100, 102 and 1400 and only a "msg" are reported with it; the next reply goes through', async () => {
  const { fake, chorus } = await startOneBotStack();
  const ann = fake.user({ nickname: 'Ann' });
  const answers = [
    { status: 'failed', retcode: 100, data: null, msg: 'SEND_MSG_API_ERROR', wording: '' },
    { status: 'failed', retcode: 102, data: null, msg: 'no such group' },
    { status: 'failed', retcode: 1400, data: null, message: 'param error', wording: 'group_id is not a number' },
  ];
  for (let i = 0; i < answers.length; i++) {
    const who = fake.user({ nickname: `Asker ${i}` });
    fake.holdNext.push({ action: 'send_private_msg', ms: Infinity });
    fake.privateMessage(who, `try ${i}`);
    const call = await fake.waitForAction((a) => a.action === 'send_private_msg' && a.params.user_id === who.user_id);
    fake.conns[0].sendJson({ ...answers[i], echo: call.echo });
  }
  await chorus.waitForLog(/send_private_msg failed: retcode 100: SEND_MSG_API_ERROR/);
  await chorus.waitForLog(/send_private_msg failed: retcode 102: no such group/);
  await chorus.waitForLog(/send_private_msg failed: retcode 1400: group_id is not a number/);
  assert.equal((await replyTo(fake, fake.privateMessage(ann, 'and now?'))).text, 'echo: and now?');
});

test('an implementation with separate /event and /api websockets: events come on one, calls go on the other', async () => {
  const { fake } = await startOneBotStack({ forwardPath: '/event' });
  await waitFor(() => fake.conns.some((c) => c.path === '/api' && !c.closed) && fake.conns.some((c) => c.path === '/event' && !c.closed),
    { what: 'both websockets' });
  const ann = fake.user({ nickname: 'Ann' });
  const ev = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' two sockets')]);
  const sent = await replyTo(fake, ev);
  assert.equal(sent.text, 'echo: two sockets');
  const call = fake.actions.find((a) => a.action === 'send_group_msg');
  assert.equal(fake.conns.find((c) => c.id === call.conn).path, '/api', 'the call went on /api');
  assert.deepEqual(fake.violations, [], 'no call on the event socket');
});

test('the split endpoints named with a trailing slash ("/api/", as communication/ws.md allows) are still dialed as the pair', async () => {
  const { fake } = await startOneBotStack({ forwardPath: '/api/?access_token=' + TOKEN, chorusToken: '' });
  await waitFor(() => fake.conns.some((c) => c.path === '/api' && !c.closed) && fake.conns.some((c) => c.path === '/event' && !c.closed),
    { what: 'both websockets' });
  assert.ok(fake.conns.every((c) => c.query.get('access_token') === TOKEN), 'the query goes with both');
  const ann = fake.user({ nickname: 'Ann' });
  assert.equal((await replyTo(fake, fake.privateMessage(ann, 'slash'))).text, 'echo: slash');
});

test('Ann\'s NapCat sits behind a proxy that publishes its Universal websocket at /qq/onebot/api: that one url is dialed as she wrote it', async () => {
  const mount = '/qq/onebot/api';
  const { fake, chorus } = await startOneBotStack({ forwardPath: mount, fakeOptions: { mounts: [mount] } });
  const ann = fake.user({ nickname: 'Ann' });
  const ev = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' through the proxy')]);
  assert.equal((await replyTo(fake, ev)).text, 'echo: through the proxy');
  assert.deepEqual([...new Set(fake.conns.map((c) => c.dialed))], [mount], 'only the url as given was dialed');
  assert.deepEqual(fake.refused, [], 'no guessed /qq/onebot/event was asked for');
  assert.equal(fake.conns.filter((c) => !c.closed).length, 1, 'one Universal connection');
  assert.ok(!chorus.logText().includes('events come from /event'));
});

test('reverse: the token as ?access_token= and headers in lower case are accepted; a wrong one in the query is refused', async () => {
  const { fake, chorus, reverseUrl } = await startOneBotStack({ reverse: true });
  const wrong = await fake.connectReverse(`${reverseUrl}?access_token=not-the-token`, { token: '' });
  assert.equal(wrong.status, 403, 'a wrong token in the query: 403');
  const conn = await fake.connectReverse(`${reverseUrl}?access_token=${TOKEN}`, { token: '', role: 'universal', selfId: null, headers: { 'x-self-id': String(fake.selfId) } });
  assert.equal(conn.status, 101, 'the token in the query, lower-case headers');
  await fake.waitForAction((a) => a.action === 'get_login_info');
  const ann = fake.user({ nickname: 'Ann' });
  assert.equal((await replyTo(fake, fake.privateMessage(ann, 'by query'))).text, 'echo: by query');
  conn.drop();
  const lower = await fake.connectReverse(reverseUrl, { token: '', headers: { authorization: `bearer ${TOKEN}` } });
  assert.equal(lower.status, 101, '"bearer" in lower case');
  assert.ok(!chorus.logText().includes(TOKEN), 'no token in the log');
});

test('reverse: an implementation given separate API and Event URLs (<listen>/api, <listen>/event, as the spec\'s example) is answered', async () => {
  const { fake, reverseUrl } = await startOneBotStack({ reverse: true });
  const events = await fake.connectReverse(`${reverseUrl}/event`, { role: 'Event' });
  assert.equal(events.status, 101, 'the Event client at <listen>/event');
  const api = await fake.connectReverse(`${reverseUrl}/api`, { role: 'API' });
  assert.equal(api.status, 101, 'the API client at <listen>/api');
  await fake.waitForAction((a) => a.action === 'get_login_info');
  const ann = fake.user({ nickname: 'Ann' });
  const sent = await replyTo(fake, fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' split urls')]));
  assert.equal(sent.text, 'echo: split urls');
  assert.equal(fake.actions.find((a) => a.action === 'send_group_msg').conn, api.id, 'the call went to the API client');
  const elsewhere = await fake.connectReverse(`${reverseUrl}/other`, { role: 'Universal' });
  assert.equal(elsewhere.status, 404, 'no other path below it');
  assert.deepEqual(fake.violations, []);
});

test('an implementation that writes its frames as binary websocket messages is understood', async () => {
  const { fake } = await startOneBotStack();
  const conn = fake.conns[0];
  const ann = fake.user({ nickname: 'Ann' });
  const ev = { time: 1, self_id: fake.selfId, post_type: 'message', message_type: 'private', sub_type: 'friend', message_id: 6060,
    user_id: ann.user_id, message: [{ type: 'text', data: { text: 'in binary' } }], raw_message: 'in binary', font: 0,
    sender: { user_id: ann.user_id, nickname: 'Ann' } };
  conn.send(0x2, Buffer.from(JSON.stringify(ev)));
  assert.equal((await fake.waitForSent((s) => s.replyTo === 6060)).text, 'echo: in binary');
});

test('reverse: an implementation that writes binary websocket messages is understood', async () => {
  const { fake, reverseUrl } = await startOneBotStack({ reverse: true });
  const conn = await fake.connectReverse(reverseUrl);
  assert.equal(conn.status, 101);
  const ann = fake.user({ nickname: 'Ann' });
  const ev = { time: 1, self_id: fake.selfId, post_type: 'message', message_type: 'private', sub_type: 'friend', message_id: 6061,
    user_id: ann.user_id, message: 'binary, reversed', raw_message: 'binary, reversed', font: 0, sender: { user_id: ann.user_id, nickname: 'Ann' } };
  conn.send(0x2, Buffer.from(JSON.stringify(ev)));
  assert.equal((await fake.waitForSent((s) => s.replyTo === 6061)).text, 'echo: binary, reversed');
});

test('an implementation that writes JSON as Python and PHP do (\\uXXXX, \\/): Chinese text, at-the-bot and image urls read right', async () => {
  const { fake } = await startOneBotStack({ fakeOptions: { jsonStyle: { ascii: true, slashes: true, spaced: true } } });
  const ann = fake.user({ nickname: '小安' });
  const ev = fake.groupMessage(ann, GROUP, [fake.at(fake.selfId), fake.text(' 你好 😀'), { type: 'image', data: { file: 'a.jpg', url: 'https://img.example/q/a.jpg' } }]);
  const sent = await replyTo(fake, ev);
  assert.equal(sent.text, 'echo: 你好 😀[image: https://img.example/q/a.jpg]');
  assert.deepEqual(fake.violations, []);
});
