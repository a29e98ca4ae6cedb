'use strict';
// chorusd's own websocket client (io/ws_client.c, lib/ws_frame.c: the one
// the Discord, Slack, Mattermost and OneBot adapters dial with) meets a
// server written on raw TCP, frame by frame, that does everything RFC 6455
// allows a server to do and, in the later stories, what it forbids. The
// adapter driving it is OneBot's forward websocket: Ann writes to the bot in
// private and gets an answer, which proves the message arrived whole; a
// broken frame fails the connection with a clear log line, and the adapter
// dials again, as it does after any drop.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { startDiscordStack } = require('../lib/discord-stack');
const { startRawWsServer, frame, closeFrame, OP } = require('../lib/raw-ws');
const { cpuSeconds, delay } = require('../lib/util');

const SELF = 10001;
const ANN = 3001;

// A OneBot implementation on CONN: answer the calls the bot makes (its
// login first), and keep what it sends to people in conn.sent.
function speakOneBot(conn) {
  conn.sent = [];
  conn.on('message', (text) => {
    let msg;
    try { msg = JSON.parse(text); } catch (_) { conn.violations.push(`not JSON: ${text}`); return; }
    let data = null;
    if (msg.action === 'get_login_info') data = { user_id: SELF, nickname: 'Chorus Bot' };
    if (msg.action === 'send_private_msg') {
      const segs = Array.isArray(msg.params.message) ? msg.params.message : [];
      const sent = { to: msg.params.user_id, text: segs.filter((s) => s.type === 'text').map((s) => s.data.text).join('') };
      conn.sent.push(sent);
      conn.emit('sent', sent);
      data = { message_id: 900 + conn.sent.length };
    }
    conn.send(frame(OP.TEXT, JSON.stringify({ status: 'ok', retcode: 0, data, message: '', wording: '', echo: msg.echo })));
  });
}

// The event of Ann writing TEXT to the bot, as NapCat posts it.
let messageId = 5000;
function annSays(text) {
  const id = ++messageId;
  return JSON.stringify({
    self_id: SELF, user_id: ANN, time: Math.floor(Date.now() / 1000), message_id: id, message_seq: id, real_id: id,
    message_type: 'private', sender: { user_id: ANN, nickname: 'Ann', card: '' }, raw_message: text, font: 14,
    sub_type: 'friend', message: [{ type: 'text', data: { text } }], message_format: 'array', post_type: 'message',
    target_id: SELF,
  });
}

// The bot's answer to Ann on CONN.
function answerOn(conn, timeoutMs = 10000) {
  if (conn.sent.length) return Promise.resolve(conn.sent[0]);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`connection ${conn.id}: no answer within ${timeoutMs} ms`)), timeoutMs);
    conn.once('sent', (s) => { clearTimeout(t); resolve(s); });
  });
}

// chorusd with OneBot dialing SERVER; reconnects wait 20-200 ms.
async function startBot(server, onebotExtra = '') {
  const keys = [`url = "${server.url}"`, 'call_timeout_ms = 1500', 'reconnect_min_ms = 20', 'reconnect_max_ms = 200'];
  if (onebotExtra) keys.push(onebotExtra);
  const stack = await startStack({ configOptions: { extra: `onebot { ${keys.join(', ')} }` }, waitReady: false });
  return stack.chorus;
}

// Answer the upgrade as usual and speak OneBot.
async function plainOneBot(conn) {
  speakOneBot(conn);
  await conn.answer();
}

test('the upgrade answer comes in pieces, in odd case, with extra headers and frames behind it: the bot talks each time', { timeout: 30000 }, async () => {
  const scripts = [
    // Python websockets' header names, split over five reads mid-line and mid-name.
    (conn) => conn.answer({ pieces: [5, 17, 30, 2, 1] }),
    // Every name upper case, values in odd case, headers no client asked for.
    (conn) => conn.answer({
      names: (n) => n.toUpperCase(),
      headers: [['Upgrade', 'WebSocket'], ['Connection', 'keep-alive, Upgrade'], ['Sec-WebSocket-Accept', null]],
      extra: ['Server: gorilla/websocket', 'Date: Sun, 06 Dec 2026 23:00:00 GMT', 'x-request-id:  42  ', 'Set-Cookie: a=b; Path=/'],
    }),
    // The 101 and the first frames in one segment, one a byte at a time after it.
    (conn) => conn.answer({ then: Buffer.concat([frame(OP.PING, 'first'), frame(OP.TEXT, annSays('in the same segment'))]) }),
  ];
  const server = await startRawWsServer((conn) => {
    speakOneBot(conn);
    return scripts[conn.id] ? scripts[conn.id](conn) : conn.answer();
  });
  const chorus = await startBot(server);

  // Split answer: the request was well formed, and a message is answered.
  const first = await server.connection(0);
  assert.match(first.request, /^GET \/ HTTP\/1\.1\r\n/);
  assert.equal(first.headers.upgrade.toLowerCase(), 'websocket');
  assert.match(first.headers.connection, /upgrade/i);
  assert.equal(first.headers['sec-websocket-version'], '13');
  assert.equal(Buffer.from(first.headers['sec-websocket-key'], 'base64').length, 16, 'a 16-byte nonce, base64');
  await first.waitForFrame((f) => f.opcode === OP.TEXT);   // the bot is in: its login call
  first.send(frame(OP.TEXT, annSays('hello after a split answer')));
  assert.equal((await answerOn(first)).text, 'echo: hello after a split answer');
  first.send(closeFrame(1001, 'going away'));
  await first.waitForClose();

  // Upper-case names and extra headers.
  const second = await server.connection(1);
  await second.waitForFrame((f) => f.opcode === OP.TEXT);
  second.send(frame(OP.TEXT, annSays('hello in capitals')));
  assert.equal((await answerOn(second)).text, 'echo: hello in capitals');
  second.send(closeFrame(1001));
  await second.waitForClose();

  // Frames in the same segment as the 101: the ping is answered, the message too.
  const third = await server.connection(2);
  const pong = await third.waitForFrame((f) => f.opcode === OP.PONG);
  assert.equal(pong.payload.toString(), 'first');
  assert.equal((await answerOn(third)).text, 'echo: in the same segment');
  for (const c of server.conns) assert.deepEqual(c.violations, [], `connection ${c.id}`);
  assert.equal(await chorus.stop(), 0);
});

test('Ann\'s message comes in fragments with a ping and a pong between them, long, a byte at a time, or among many frames: each is answered', { timeout: 30000 }, async () => {
  const server = await startRawWsServer(plainOneBot);
  const chorus = await startBot(server);
  const conn = await server.connection(0);
  await conn.waitForFrame((f) => f.opcode === OP.TEXT);

  // Four fragments, cut mid-JSON, two of them empty; a ping and an
  // unsolicited pong between them. The ping is answered at once, the
  // message once it is whole.
  const text = Buffer.from(annSays('a message in fragments'));
  conn.send(frame(OP.TEXT, text.subarray(0, 10), { fin: false }), frame(OP.CONT, '', { fin: false }),
    frame(OP.PING, 'mid-message'), frame(OP.PONG, 'nobody asked'),
    frame(OP.CONT, text.subarray(10, 40), { fin: false }), frame(OP.CONT, text.subarray(40), { fin: false }));
  const pong = await conn.waitForFrame((f) => f.opcode === OP.PONG);
  assert.equal(pong.payload.toString(), 'mid-message', 'the pong echoes the ping while the message is still open');
  conn.send(frame(OP.CONT, '', { fin: true }));
  assert.equal((await answerOn(conn)).text, 'echo: a message in fragments');

  // The longest ping a control frame may carry: the pong has all of it.
  const longest = Buffer.alloc(125);
  for (let i = 0; i < 125; i++) longest[i] = i * 7 + 1;
  conn.send(frame(OP.PING, longest));
  const pong125 = await conn.waitForFrame((f) => f.opcode === OP.PONG && f.payload.length === 125);
  assert.ok(pong125.payload.equals(longest), 'all 125 bytes echoed');
  assert.ok(pong125.masked, 'and masked, as every client frame');

  // A 16-bit length and a 64-bit one.
  conn.sent.length = 0;
  const mid = `medium ${'m'.repeat(200)}`;
  conn.send(frame(OP.TEXT, annSays(mid)));
  assert.equal((await answerOn(conn)).text, `echo: ${mid}`);
  conn.sent.length = 0;
  const long = `long ${'l'.repeat(70000)}`;
  const big = frame(OP.TEXT, annSays(long));
  assert.equal(big[1], 127, 'a 64-bit length');
  conn.send(big);
  assert.ok((await answerOn(conn)).text.startsWith('echo: long llll'), 'the long one is answered');

  // Fifty frames in one write: 47 pings and three messages.
  conn.sent.length = 0;
  const many = [];
  for (let i = 0; i < 47; i++) many.push(frame(OP.PING, `p${i}`));
  many.splice(10, 0, frame(OP.TEXT, annSays('one of many')));
  many.splice(30, 0, frame(OP.TEXT, annSays('two of many')));
  many.push(frame(OP.TEXT, annSays('three of many')));
  conn.send(...many);
  await conn.waitForFrame((f) => f.opcode === OP.PONG && f.payload.toString() === 'p46');
  const pongs = conn.frames.filter((f) => f.opcode === OP.PONG && /^p\d+$/.test(f.payload.toString()));
  assert.deepEqual(pongs.map((f) => f.payload.toString()), many.filter((b) => b[0] === 0x89).map((_, i) => `p${i}`),
    'every ping answered, in order');
  for (const t of ['one of many', 'two of many', 'three of many']) {
    while (!conn.sent.some((s) => s.text === `echo: ${t}`)) await new Promise((r) => conn.once('sent', r));
  }

  // One frame, and a fragmented one, a byte per read.
  conn.sent.length = 0;
  await conn.trickle(frame(OP.TEXT, annSays('one byte at a time')), 1);
  assert.equal((await answerOn(conn)).text, 'echo: one byte at a time');
  conn.sent.length = 0;
  const pieces = Buffer.from(annSays('fragments, a byte at a time'));
  await conn.trickle(Buffer.concat([frame(OP.TEXT, pieces.subarray(0, 50), { fin: false }), frame(OP.PING, 'x'),
    frame(OP.CONT, pieces.subarray(50))]), 1);
  assert.equal((await answerOn(conn)).text, 'echo: fragments, a byte at a time');

  assert.ok(conn.frames.every((f) => f.masked), 'every frame the bot sent was masked');
  assert.deepEqual(conn.violations, []);
  assert.equal(server.conns.length, 1, 'all on one connection');

  // chorusd stops: it begins the close handshake itself.
  assert.equal(await chorus.stop(), 0);
  const bye = await conn.waitForClose();
  assert.equal(bye.code, 1000, 'a normal closure');
  await conn.waitClosed();
});

// Frames no server may send. Each fails the connection: a log line says
// why, the bot's close frame carries CODE, the socket goes, and the adapter
// dials again.
const BROKEN = [
  { what: 'a masked frame', bytes: () => frame(OP.TEXT, annSays('masked'), { mask: [1, 2, 3, 4] }), why: /the server masked a frame/ },
  { what: 'RSV1 without an extension', bytes: () => frame(OP.TEXT, annSays('compressed?'), { rsv: 4 }), why: /reserved bits/ },
  { what: 'RSV3 on a ping', bytes: () => frame(OP.PING, '', { rsv: 1 }), why: /reserved bits/ },
  { what: 'opcode 3', bytes: () => frame(3, 'x'), why: /unknown opcode/ },
  { what: 'control opcode 0xB', bytes: () => frame(0xB, ''), why: /unknown opcode/ },
  { what: 'a 126-byte ping', bytes: () => frame(OP.PING, Buffer.alloc(126, 0x70)), why: /oversized control frame/ },
  { what: 'a fragmented ping', bytes: () => frame(OP.PING, 'p', { fin: false }), why: /fragmented or oversized control frame/ },
  { what: 'a continuation with nothing to continue', bytes: () => frame(OP.CONT, 'x'), why: /continuation frame with no message/ },
  { what: 'a new message inside a fragmented one',
    bytes: () => Buffer.concat([frame(OP.TEXT, '{"a":', { fin: false }), frame(OP.TEXT, '1}')]), why: /new message before the last one ended/ },
  { what: 'text that is not UTF-8', bytes: () => frame(OP.TEXT, Buffer.from('{"text":"caf\xe9"}', 'latin1')), why: /not UTF-8/, code: 1007 },
  { what: 'invalid UTF-8 split over fragments',
    bytes: () => Buffer.concat([frame(OP.TEXT, Buffer.from('{"t":"\xc3', 'latin1'), { fin: false }), frame(OP.CONT, '("}')]), why: /not UTF-8/, code: 1007 },
  { what: 'a 64-bit length with its top bit set', bytes: () => frame(OP.BINARY, '', { declared: 1n << 63n }), why: /length with its top bit set/ },
  { what: 'a close frame with a one-byte payload', bytes: () => frame(OP.CLOSE, Buffer.from([3])), why: /one-byte payload/ },
  { what: 'close code 1005 on the wire', bytes: () => closeFrame(1005), why: /close frame with a code no peer may send/ },
  { what: 'close code 2000', bytes: () => closeFrame(2000, 'unassigned'), why: /close frame with a code no peer may send/ },
];

test('a server that breaks RFC 6455 is failed with a clear log line and the bot dials again, never crashing or spinning', { timeout: 60000 }, async () => {
  const server = await startRawWsServer(plainOneBot);
  const chorus = await startBot(server);
  const cpuBefore = cpuSeconds(chorus.pid);
  const started = Date.now();
  for (let i = 0; i < BROKEN.length; i++) {
    const c = BROKEN[i];
    const conn = await server.connection(i);
    await conn.waitForFrame((f) => f.opcode === OP.TEXT);   // logged in
    conn.send(c.bytes());
    const line = await chorus.waitForLog(new RegExp(`websocket: protocol error from the server: .*${c.why.source}`));
    assert.ok(line, c.what);
    const close = await conn.waitForClose();
    assert.equal(close.code, c.code || 1002, `${c.what}: the bot closes with ${c.code || 1002}`);
    await conn.waitClosed();
    assert.deepEqual(conn.violations, [], c.what);
  }
  // After all that the bot still talks.
  const last = await server.connection(BROKEN.length);
  await last.waitForFrame((f) => f.opcode === OP.TEXT);
  last.send(frame(OP.TEXT, annSays('still there?')));
  assert.equal((await answerOn(last)).text, 'echo: still there?');
  const cpu = cpuSeconds(chorus.pid) - cpuBefore;
  const wall = (Date.now() - started) / 1000;
  assert.ok(cpu < wall / 2, `chorusd used ${cpu.toFixed(2)} s of CPU in ${wall.toFixed(2)} s: no busy loop`);
  assert.equal(await chorus.stop(), 0, 'and it shuts down cleanly');
});

test('close handshakes: a close with a code is answered with that code, a dropped socket and an empty close too; the bot comes back each time', { timeout: 30000 }, async () => {
  const server = await startRawWsServer(plainOneBot);
  const chorus = await startBot(server);

  // 4000 with a reason: the bot echoes 4000 and dials again.
  let conn = await server.connection(0);
  await conn.waitForFrame((f) => f.opcode === OP.TEXT);
  conn.send(closeFrame(4000, 'restarting for an upgrade'));
  let close = await conn.waitForClose();
  assert.equal(close.code, 4000, 'the close is answered with its own code');
  await chorus.waitForLog(/onebot: the OneBot implementation closed the connection \(4000 restarting for an upgrade\)/);

  // 1000 with no reason, sent in the same segment as a message: the message is read first.
  conn = await server.connection(1);
  await conn.waitForFrame((f) => f.opcode === OP.TEXT);
  conn.send(closeFrame(1000));
  close = await conn.waitForClose();
  assert.equal(close.code, 1000);

  // A close with no code at all: the answer has none either (1005 is never sent).
  conn = await server.connection(2);
  await conn.waitForFrame((f) => f.opcode === OP.TEXT);
  conn.send(closeFrame(null));
  close = await conn.waitForClose();
  assert.equal(close.code, null, 'an empty close answered with an empty close');
  assert.equal(close.payload.length, 0);

  // The socket simply ends, no close frame.
  conn = await server.connection(3);
  await conn.waitForFrame((f) => f.opcode === OP.TEXT);
  conn.end();
  await chorus.waitForLog(/onebot: the OneBot implementation closed the connection \(1006: the connection closed without a close frame\)/);

  // The connection after all that talks.
  conn = await server.connection(4);
  await conn.waitForFrame((f) => f.opcode === OP.TEXT);
  conn.send(frame(OP.TEXT, annSays('back again')));
  assert.equal((await answerOn(conn)).text, 'echo: back again');
  for (const c of server.conns) assert.deepEqual(c.violations, [], `connection ${c.id}`);
  assert.equal(await chorus.stop(), 0);
});

test('an upgrade answer the bot cannot trust is refused with a log line and dialed again; a long one with a long first frame is fine', { timeout: 30000 }, async () => {
  const pad = [];
  for (let i = 0; i < 14; i++) pad.push(`X-Pad-${i}: ${'p'.repeat(1000)}`);
  const upgrade = ['Upgrade', 'websocket'];
  const conn = ['Connection', 'Upgrade'];
  const accept = ['Sec-WebSocket-Accept', null];
  const refusals = [
    { answer: { headers: [upgrade, accept] }, why: /no Connection: Upgrade/ },
    { answer: { headers: [upgrade, ['Connection', 'keep-alive'], accept] }, why: /no Connection: Upgrade/ },
    { answer: { headers: [upgrade, conn, ['Sec-WebSocket-Accept', 'dGhlIHNhbXBsZSBub25jZQ==']] }, why: /Sec-WebSocket-Accept does not match/ },
    { answer: { headers: [['Upgrade', 'h2c'], conn, accept] }, why: /something other than websocket/ },
    { answer: { extra: ['Sec-WebSocket-Extensions: permessage-deflate'] }, why: /an extension we did not offer/ },
    { answer: { extra: ['Sec-WebSocket-Protocol: mqtt'] }, why: /a subprotocol we did not offer/ },
    { answer: { status: 'HTTP/1.1 200 OK' }, why: /answered the upgrade with HTTP 200/ },
  ];
  const server = await startRawWsServer(async (c) => {
    speakOneBot(c);
    const r = refusals[c.id];
    if (r) return c.answer(r.answer);
    // 15 KB of headers, read 1000 bytes first, then the rest with a 20 KB
    // message in the same segment.
    await c.requested();
    const first = frame(OP.TEXT, annSays(`after long headers ${'x'.repeat(20000)}`));
    const bytes = Buffer.concat([c.answerBytes({ extra: pad }), first]);
    return c.trickle(bytes, [1000, bytes.length - 1000]);
  });
  const chorus = await startBot(server);
  for (let i = 0; i < refusals.length; i++) {
    const c = await server.connection(i);
    await chorus.waitForLog(new RegExp(`onebot: the connection failed: .*${refusals[i].why.source}`));
    await c.waitClosed();
    assert.equal(c.frames.length, 0, `no frame sent after the refused answer ${i}`);
  }
  const good = await server.connection(refusals.length);
  assert.ok((await answerOn(good)).text.startsWith('echo: after long headers xxx'), 'the message behind 15 KB of headers is read');
  assert.equal(await chorus.stop(), 0);
});

test('a message over max_inbound_bytes, whole or in fragments, is logged and skipped; the next one on the same connection is answered', { timeout: 30000 }, async () => {
  const server = await startRawWsServer(plainOneBot);
  const chorus = await startBot(server, 'max_inbound_bytes = 4096');
  const conn = await server.connection(0);
  await conn.waitForFrame((f) => f.opcode === OP.TEXT);
  conn.send(frame(OP.TEXT, annSays(`too long ${'z'.repeat(10000)}`)));
  await chorus.waitForLog(/onebot: a message larger than max_inbound_bytes \(4096\) was skipped/);
  const pieces = Buffer.from(annSays(`too long in pieces ${'z'.repeat(10000)}`));
  conn.send(frame(OP.TEXT, pieces.subarray(0, 3000), { fin: false }), frame(OP.PING, 'still here?'),
    frame(OP.CONT, pieces.subarray(3000, 6000), { fin: false }), frame(OP.CONT, pieces.subarray(6000)));
  assert.equal((await conn.waitForFrame((f) => f.opcode === OP.PONG)).payload.toString(), 'still here?');
  conn.send(frame(OP.TEXT, annSays('a short one')));
  assert.equal((await answerOn(conn)).text, 'echo: a short one');
  assert.equal(chorus.logs().filter((l) => /larger than max_inbound_bytes/.test(l)).length, 2, 'both long ones logged');
  assert.equal(conn.sent.length, 1, 'and neither answered');
  assert.equal(server.conns.length, 1, 'on the same connection');
  assert.equal(await chorus.stop(), 0);
});

// A Discord gateway on CONN: Hello, heartbeats acknowledged, READY after
// Identify, RESUMED after Resume (the sequence goes on over connections,
// as the session's does); what the bot sent in conn.ops.
function speakDiscord(conn, server) {
  conn.ops = [];
  server.seq = server.seq || 0;
  const dispatch = (t, d) => conn.send(frame(OP.TEXT, JSON.stringify({ op: 0, t, s: ++server.seq, d })));
  conn.on('message', (text) => {
    const msg = JSON.parse(text);
    conn.ops.push(msg);
    conn.emit('op', msg);
    if (msg.op === 1) conn.send(frame(OP.TEXT, JSON.stringify({ op: 11 })));
    if (msg.op === 2) {
      dispatch('READY', { v: 10, user: { id: '990001', username: 'chorus', discriminator: '0', bot: true }, guilds: [],
        session_id: 'raw-session-1', resume_gateway_url: server.url, shard: [0, 1], application: { id: '990002', flags: 0 } });
    }
    if (msg.op === 6) dispatch('RESUMED', null);
  });
}

// The first op the bot sends on CONN that PRED accepts.
function opOn(conn, pred, timeoutMs = 10000) {
  const seen = conn.ops.find(pred);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`connection ${conn.id}: no such op within ${timeoutMs} ms`)), timeoutMs);
    const on = (m) => { if (pred(m)) { clearTimeout(t); conn.off('op', on); resolve(m); } };
    conn.on('op', on);
  });
}

test('Discord\'s gateway, written by hand: 4000 is answered and resumed, 4004 stops the shard for good', { timeout: 30000 }, async () => {
  const server = await startRawWsServer(async (conn) => {
    speakDiscord(conn, server);
    // Hello in the same segment as the 101, as Discord's edge sends it.
    await conn.answer({ then: frame(OP.TEXT, JSON.stringify({ op: 10, d: { heartbeat_interval: 41250 } })) });
  });
  const { chorus } = await startDiscordStack({ discordExtra: `gateway_url = "${server.url}"`, waitReady: false });

  const first = await server.connection(0);
  assert.match(first.request, /^GET \/\?v=10&encoding=json HTTP\/1\.1/);
  const identify = await opOn(first, (m) => m.op === 2);
  assert.equal(identify.d.token, require('../lib/discord-stack').TOKEN);
  await chorus.waitForLog(/discord: shard 0 ready/);
  first.send(closeFrame(4000, 'Unknown error.'));
  const echoed = await first.waitForClose();
  assert.equal(echoed.code, 4000, 'the close is answered with its code');

  const second = await server.connection(1);
  const resume = await opOn(second, (m) => m.op === 6);
  assert.equal(resume.d.session_id, 'raw-session-1', 'a 4000 is resumed, not identified afresh');
  await chorus.waitForLog(/discord: shard 0 resumed at seq 2/);
  second.send(closeFrame(4004, 'Authentication failed.'));
  await chorus.waitForLog(/discord: shard 0 stopped for good: Discord closed the gateway with 4004: authentication failed/);
  assert.equal((await second.waitForClose()).code, 4004);
  await delay(300);
  assert.equal(server.conns.length, 2, 'after 4004 the bot never dials again');
  for (const c of server.conns) assert.deepEqual(c.violations, [], `connection ${c.id}`);
});
