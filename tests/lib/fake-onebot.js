'use strict';
// A fake OneBot v11 implementation (what NapCat, Lagrange.OneBot or
// go-cqhttp are to a QQ bot), written from the OneBot 11 documents
// (communication/ws.md, ws-reverse.md, authorization.md, event/message.md,
// event/meta.md, message/array.md, message/string.md, api/public.md) and
// from how NapCat answers, with no npm dependencies.
//
//   const fake = await startFakeOneBot({ token: 'T', selfId: 10001 });
//   fake.wsUrl                          // ws://127.0.0.1:P/  (forward websocket, Universal)
//   const conn = await fake.waitForConnection();
//   const ann = fake.user({ nickname: 'Ann' });
//   const ev = fake.groupMessage(ann, 20001, [fake.at(fake.selfId), fake.text(' hi')]);
//   const sent = await fake.waitForSent((s) => s.replyTo === ev.message_id);
//
// Both ways round, as the implementation does it:
//   - forward: a websocket server at "/" (Universal: events and API calls),
//     "/api" and "/event" (each also with a trailing slash), and at any of
//     `mounts` as a reverse proxy would pass them to "/". Other paths: 404.
//     conn.dialed is the path the bot asked for. With a token, the upgrade needs
//     "Authorization: Bearer <token>" or "?access_token=<token>": none is
//     refused with 401, a wrong one with 403 (authorization.md).
//   - reverse: fake.connectReverse(url) dials the bot's listener with
//     X-Self-ID, X-Client-Role: Universal, User-Agent and (with a token)
//     "Authorization: Bearer <token>"; the bot's refusal comes back as
//     { status } (the HTTP status of the refused upgrade).
// On every new connection the implementation first sends the lifecycle
// meta event (sub_type "connect"), then a heartbeat meta event every
// heartbeatMs ({ status: { online, good }, interval }) when heartbeatMs > 0.
// Message events carry everything NapCat puts in them: time, self_id,
// post_type, message_type, sub_type, message_id (a 32-bit hash, often
// negative), message_seq, real_id,
// user_id, group_id, message (a segment array, or a CQ-code string when
// messageFormat is "string"), message_format, raw_message (CQ string),
// font, and a full sender object.
// API calls {action, params, echo} are answered
// {status, retcode, data, message, wording, echo}: status "ok" retcode 0,
// "failed" with 1400 (bad params), 1404 (no such action), 100 as scripted.
// The bot's own messages come back as post_type "message_sent" events when
// reportSelfMessage is set (NapCat's reportSelfMessage).
// Scripting:
//   fake.failNext.push({ action: 'send_group_msg', retcode: 100, wording: '...' })
//   fake.holdNext.push({ action, ms })   the answer comes ms later (or never: ms = Infinity)
//   fake.dropOnNext.push({ action })     the connection is cut as that call arrives (unanswered, not sent)
//   conn.drop()                          cut TCP; conn.close(code) a close frame
//   conn.sendRaw(text), conn.sendJson(o) anything, malformed events included
//   conn.texts                           every frame the bot wrote, as text (ids past 2^53 exact)
//   conn.stopHeartbeat()                 the implementation hangs: no more frames
//   jsonStyle: { pretty, spaced, reorder } frames written with whitespace / keys in reverse order
// Records: fake.actions (every call, in order), fake.answered ({ conn, echo,
// retcode } of each answer as it is written), fake.sent (messages the bot
// sent: { action, params, segments, text, replyTo, target }), fake.conns,
// fake.refused (upgrades refused: { status, why }), fake.violations (protocol
// breaches by the bot: unmasked frames, bad params, calls without echo).

const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');
const net = require('node:net');
const crypto = require('node:crypto');
const { EventEmitter } = require('node:events');
const { encodeJson } = require('./json-style');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const SEGMENT_TYPES = new Set(['text', 'face', 'image', 'record', 'video', 'at', 'rps', 'dice', 'shake', 'poke', 'anonymous',
  'share', 'contact', 'location', 'music', 'reply', 'forward', 'node', 'xml', 'json']);

// Encode one frame; a client masks it, a server does not.
function frame(opcode, payload, mask) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload || '', 'utf8');
  let header;
  if (data.length < 126) {
    header = Buffer.alloc(2);
    header[1] = data.length;
  } else if (data.length < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  header[0] = 0x80 | opcode;
  if (!mask) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([header, key, body]);
}

// CQ-code escapes (message/string.md): & [ ] in text, and , in values.
function cqEscape(s, value) {
  let out = String(s).replace(/&/g, '&amp;').replace(/\[/g, '&#91;').replace(/\]/g, '&#93;');
  if (value) out = out.replace(/,/g, '&#44;');
  return out;
}

function cqUnescape(s, value) {
  let out = s.replace(/&#91;/g, '[').replace(/&#93;/g, ']');
  if (value) out = out.replace(/&#44;/g, ',');
  return out.replace(/&amp;/g, '&');
}

// Segments as a CQ-code string (what raw_message holds).
function toCQ(segments) {
  return segments.map((s) => {
    if (!s || typeof s !== 'object' || !s.data) return '';
    if (s.type === 'text') return cqEscape(s.data.text, false);
    const kv = Object.entries(s.data || {}).map(([k, v]) => `,${k}=${cqEscape(v, true)}`).join('');
    return `[CQ:${s.type}${kv}]`;
  }).join('');
}

// A CQ-code string as segments, or null when a code is malformed.
function fromCQ(str) {
  const segs = [];
  const re = /\[CQ:([a-zA-Z0-9_.-]+)((?:,[^,=\]]+=[^,\]]*)*)\]/g;
  let last = 0;
  let m;
  while ((m = re.exec(str))) {
    if (m.index > last) segs.push({ type: 'text', data: { text: cqUnescape(str.slice(last, m.index), false) } });
    const data = {};
    for (const kv of m[2].split(',').slice(1)) {
      const i = kv.indexOf('=');
      data[kv.slice(0, i)] = cqUnescape(kv.slice(i + 1), true);
    }
    segs.push({ type: m[1], data });
    last = re.lastIndex;
  }
  if (last < str.length) segs.push({ type: 'text', data: { text: cqUnescape(str.slice(last), false) } });
  return segs;
}

// The ids QQ uses are numbers; the API accepts them as numbers or numeric strings.
function numericId(v) {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (typeof v === 'string' && /^[1-9][0-9]*$/.test(v)) return Number(v);
  return null;
}

// Why a segment array is not one the implementation would send, or null.
function segmentProblem(segs) {
  if (!Array.isArray(segs) || segs.length === 0) return 'message is empty';
  for (const s of segs) {
    if (!s || typeof s !== 'object' || typeof s.type !== 'string' || !s.data || typeof s.data !== 'object') return 'a segment is not {type, data}';
    if (!SEGMENT_TYPES.has(s.type)) return `unknown segment type ${s.type}`;
    if (s.type === 'text' && typeof s.data.text !== 'string') return 'a text segment without data.text';
    if (s.type === 'reply' && numericId(s.data.id) === null && !/^-?[0-9]+$/.test(String(s.data.id))) return 'a reply segment without a message id';
    if (s.type === 'at' && s.data.qq !== 'all' && numericId(s.data.qq) === null) return 'an at segment without qq';
  }
  if (segs.every((s) => s.type === 'reply')) return 'a message with nothing but a reply';
  return null;
}

// One websocket connection; ROLE "server" (forward: the bot dialed us) or
// "client" (reverse: we dialed the bot).
class Conn extends EventEmitter {
  constructor(fake, sock, { client, path, headers, selfId }) {
    super();
    this.fake = fake;
    this.sock = sock;
    this.client = client;
    this.id = ++fake.connCounter;
    this.path = path;
    this.headers = headers;
    this.selfId = selfId;
    this.buf = Buffer.alloc(0);
    this.fragments = null;
    this.received = [];
    this.closed = false;
    this.closedCode = null;
    this.heartbeat = null;
    this.events = path !== '/api';
    this.api = path !== '/event';
    this.texts = [];
    sock.on('data', (c) => this.onData(c));
    sock.on('error', () => {});
    sock.on('close', () => this.onClosed());
  }

  send(opcode, payload) {
    if (!this.closed && !this.sock.destroyed) this.sock.write(frame(opcode, payload, this.client));
  }

  sendJson(obj) { this.send(0x1, encodeJson(obj, this.fake.jsonStyle)); }

  sendRaw(text) { this.send(0x1, text); }

  close(code = 1000, reason = '') {
    if (this.closed) return;
    const r = Buffer.from(reason, 'utf8');
    const p = Buffer.alloc(2 + r.length);
    p.writeUInt16BE(code, 0);
    r.copy(p, 2);
    this.send(0x8, p);
    this.closed = true;
    this.stopHeartbeat();
    setTimeout(() => this.sock.destroy(), 200);
  }

  drop() {
    this.closed = true;
    this.stopHeartbeat();
    this.sock.destroy();
  }

  stopHeartbeat() {
    clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  onClosed() {
    this.closed = true;
    this.stopHeartbeat();
    this.fake.emit('closed', this);
    this.emit('closed');
  }

  onData(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let pos = 2;
      if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); pos = 4; }
      else if (len === 127) { if (b.length < 10) return; len = Number(b.readBigUInt64BE(2)); pos = 10; }
      if (masked === this.client) this.fake.violations.push({ conn: this.id, what: masked ? 'a masked server frame' : 'an unmasked client frame' });
      const keyPos = pos;
      if (masked) pos += 4;
      if (b.length < pos + len) return;
      const payload = Buffer.alloc(len);
      for (let i = 0; i < len; i++) payload[i] = masked ? b[pos + i] ^ b[keyPos + (i & 3)] : b[pos + i];
      this.buf = b.subarray(pos + len);
      this.onFrame(fin, opcode, payload);
      if (this.sock.destroyed) return;
    }
  }

  onFrame(fin, opcode, payload) {
    if (opcode === 0x8) {
      this.closedCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      if (!this.closed) {
        this.closed = true;
        this.stopHeartbeat();
        this.sock.write(frame(0x8, payload.subarray(0, Math.min(2, payload.length)), this.client));
        setTimeout(() => this.sock.destroy(), 50);
      }
      return;
    }
    if (opcode === 0x9) { this.sock.write(frame(0xa, payload, this.client)); return; }
    if (opcode === 0xa) return;
    if (opcode === 0x1 || opcode === 0x2) {
      if (!fin) { this.fragments = [payload]; return; }
      this.onMessage(payload);
      return;
    }
    if (opcode === 0x0 && this.fragments) {
      this.fragments.push(payload);
      if (fin) {
        const whole = Buffer.concat(this.fragments);
        this.fragments = null;
        this.onMessage(whole);
      }
    }
  }

  onMessage(bytes) {
    let msg;
    this.texts.push(bytes.toString('utf8'));   // as written: JSON.parse rounds numbers past 2^53
    try { msg = JSON.parse(bytes.toString('utf8')); } catch (_) {
      this.fake.violations.push({ conn: this.id, what: 'a frame that is not JSON' });
      this.sendJson({ status: 'failed', retcode: 1400, data: null, message: 'invalid JSON', wording: 'invalid JSON', echo: null });
      return;
    }
    this.received.push(msg);
    this.fake.handleAction(this, msg);
  }
}

function startFakeOneBot({
  host = '127.0.0.1',
  token = '',
  selfId = 10001,
  nickname = 'Chorus Bot',
  heartbeatMs = 0,
  messageFormat = 'array',
  reportSelfMessage = true,
  tls = null,            // { key, cert } (PEM file paths): serve wss:// instead of ws://
  jsonStyle = null,      // how every frame's JSON is written (json-style.js): null compact, in NapCat's key order
  mounts = [],           // paths a reverse proxy in front maps to the Universal "/" (e.g. '/qq/onebot/api')
} = {}) {
  const fake = new EventEmitter();
  Object.assign(fake, {
    token, selfId, nickname, heartbeatMs, messageFormat, reportSelfMessage, jsonStyle,
    conns: [], actions: [], sent: [], refused: [], violations: [], answered: [],
    failNext: [], holdNext: [], dropOnNext: [],
    connCounter: 0, messageCounter: 1000, userCounter: 3000,
  });
  const sockets = new Set();
  const timers = new Set();
  const later = (fn, ms) => {
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
  };
  const now = () => Math.floor(Date.now() / 1000);

  // Message ids as go-cqhttp and NapCat make them: 32-bit hashes, often
  // negative, never in order.
  fake.newMessageId = () => {
    const id = Math.imul(++fake.messageCounter, 0x9E3779B1) | 0;
    return id === 0 ? 1 : id;
  };

  // Segment builders, as message/segment.md writes them (string data values).
  fake.text = (text) => ({ type: 'text', data: { text } });
  fake.at = (qq) => ({ type: 'at', data: { qq: String(qq) } });
  fake.reply = (id) => ({ type: 'reply', data: { id: String(id) } });
  fake.face = (id) => ({ type: 'face', data: { id: String(id) } });
  fake.image = (url) => ({ type: 'image', data: { file: url.split('/').pop(), url } });
  fake.toCQ = toCQ;
  fake.fromCQ = fromCQ;

  // A QQ user.
  fake.user = ({ nickname: nick = 'Ann', card = '', role = 'member', user_id } = {}) =>
    ({ user_id: user_id || ++fake.userCounter, nickname: nick, card, role });

  fake.eventConns = () => fake.conns.filter((c) => !c.closed && c.events);
  fake.apiConns = () => fake.conns.filter((c) => !c.closed && c.api);

  // An event to every open event connection.
  fake.post = (ev) => {
    for (const c of fake.eventConns()) c.sendJson(ev);
    return ev;
  };

  function messageOf(segments) {
    const segs = typeof segments === 'string' ? [fake.text(segments)] : segments;
    const raw = toCQ(segs);
    return { segs, raw, message: fake.messageFormat === 'string' ? raw : segs };
  }

  // USER writes SEGMENTS (an array, or plain text) in group GROUP_ID.
  fake.groupMessage = (user, groupId, segments, extra = {}) => {
    const { raw, message } = messageOf(segments);
    const id = fake.newMessageId();
    return fake.post({
      self_id: fake.selfId, user_id: user.user_id, time: now(), message_id: id, message_seq: id, real_id: id,
      message_type: 'group', sender: { user_id: user.user_id, nickname: user.nickname, card: user.card, sex: 'unknown', age: 0, area: '', level: '1', role: user.role, title: '' },
      raw_message: raw, font: 14, sub_type: 'normal', message, message_format: fake.messageFormat,
      post_type: 'message', group_id: groupId, anonymous: null, ...extra,
    });
  };

  // USER writes SEGMENTS to the bot in private.
  fake.privateMessage = (user, segments, extra = {}) => {
    const { raw, message } = messageOf(segments);
    const id = fake.newMessageId();
    return fake.post({
      self_id: fake.selfId, user_id: user.user_id, time: now(), message_id: id, message_seq: id, real_id: id,
      message_type: 'private', sender: { user_id: user.user_id, nickname: user.nickname, card: '', sex: 'unknown', age: 0 },
      raw_message: raw, font: 14, sub_type: 'friend', message, message_format: fake.messageFormat,
      post_type: 'message', target_id: fake.selfId, ...extra,
    });
  };

  function lifecycle(conn) {
    conn.sendJson({ time: now(), self_id: fake.selfId, post_type: 'meta_event', meta_event_type: 'lifecycle', sub_type: 'connect' });
  }

  function beat(conn) {
    conn.beats = (conn.beats || 0) + 1;
    conn.sendJson({ time: now(), self_id: fake.selfId, post_type: 'meta_event', meta_event_type: 'heartbeat',
      status: { online: true, good: true }, interval: fake.heartbeatMs });
  }

  function opened(conn) {
    fake.conns.push(conn);
    if (conn.events) {
      lifecycle(conn);
      if (fake.heartbeatMs > 0) conn.heartbeat = setInterval(() => beat(conn), fake.heartbeatMs);
    }
    fake.emit('connection', conn);
  }

  // The answer frame, as NapCat writes it.
  function answer(conn, echo, retcode, data, wording = '') {
    fake.answered.push({ conn: conn.id, echo, retcode });
    conn.sendJson({ status: retcode === 0 ? 'ok' : 'failed', retcode, data: retcode === 0 ? data : null, message: wording, wording, echo });
  }

  // Validate and record a send_*_msg; returns [retcode, data, wording].
  function sendMessage(action, params) {
    let type = action === 'send_group_msg' ? 'group' : action === 'send_private_msg' ? 'private' : params.message_type;
    if (action === 'send_msg' && !type) type = params.group_id !== undefined ? 'group' : 'private';
    if (type !== 'group' && type !== 'private') return [1400, null, 'message_type must be private or group'];
    const target = numericId(type === 'group' ? params.group_id : params.user_id);
    if (target === null) return [1400, null, `${type === 'group' ? 'group_id' : 'user_id'} is missing or not a number`];
    let segs = params.message;
    if (typeof segs === 'string') segs = params.auto_escape ? [fake.text(segs)] : fromCQ(segs);
    const problem = segmentProblem(segs);
    if (problem) return [1400, null, problem];
    const id = fake.newMessageId();
    const reply = segs.find((s) => s.type === 'reply');
    const rec = {
      action, params, type, target, segments: segs, message_id: id,
      text: segs.filter((s) => s.type === 'text').map((s) => s.data.text).join(''),
      replyTo: reply ? Number(reply.data.id) : null,
    };
    fake.sent.push(rec);
    fake.emit('sent', rec);
    if (fake.reportSelfMessage) {
      const { raw, message } = messageOf(segs);
      fake.post({ self_id: fake.selfId, user_id: fake.selfId, time: now(), message_id: id, message_seq: id, real_id: id,
        message_type: type, sender: { user_id: fake.selfId, nickname: fake.nickname, card: '' }, raw_message: raw, font: 14,
        sub_type: type === 'group' ? 'normal' : 'friend', message, message_format: fake.messageFormat, post_type: 'message_sent',
        ...(type === 'group' ? { group_id: target } : { target_id: target }) });
    }
    return [0, { message_id: id }, ''];
  }

  function takeScript(list, action) {
    const i = list.findIndex((s) => !s.action || s.action === action);
    return i < 0 ? null : list.splice(i, 1)[0];
  }

  fake.handleAction = (conn, msg) => {
    const echo = msg && msg.echo !== undefined ? msg.echo : null;
    const action = msg && msg.action;
    const params = msg && msg.params && typeof msg.params === 'object' ? msg.params : {};
    fake.actions.push({ conn: conn.id, action, params, echo, at: Date.now() });
    fake.emit('action', { conn, action, params, echo });
    if (!conn.api) {
      fake.violations.push({ conn: conn.id, what: `an API call on an Event connection: ${action}` });
      return;
    }
    if (echo === null) fake.violations.push({ conn: conn.id, what: `a call without echo: ${action}` });
    if (typeof action !== 'string') { answer(conn, echo, 1400, null, 'no action'); return; }
    if (takeScript(fake.dropOnNext, action)) { conn.drop(); return; }
    const fail = takeScript(fake.failNext, action);
    const hold = takeScript(fake.holdNext, action);
    let result;
    if (fail) result = [fail.retcode || 100, null, fail.wording || 'failed'];
    else if (/^send_(group_|private_)?msg$/.test(action)) result = sendMessage(action, params);
    else if (action === 'get_login_info') result = [0, { user_id: fake.selfId, nickname: fake.nickname }, ''];
    else if (action === 'get_status') result = [0, { online: true, good: true }, ''];
    else if (action === 'get_version_info') result = [0, { app_name: 'fake-onebot', app_version: '1.0.0', protocol_version: 'v11' }, ''];
    else if (action === 'delete_msg') result = [0, null, ''];
    else result = [1404, null, `API ${action} not found`];
    if (result[0] === 1400) fake.violations.push({ conn: conn.id, what: `${action}: ${result[2]}` });
    const send = () => answer(conn, echo, ...result);
    if (hold && hold.ms === Infinity) return;
    if (hold) later(send, hold.ms);
    else send();
  };

  // The token a forward upgrade presented, and the status refusing it (0: fine).
  function checkToken(req, url) {
    if (!fake.token) return 0;
    const auth = req.headers.authorization || '';
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    const presented = m ? m[1].trim() : url.searchParams.get('access_token');
    if (!presented) return 401;
    return presented === fake.token ? 0 : 403;
  }

  const onRequest = (req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain' });
    res.end('websocket only\n');
  };
  const server = tls
    ? https.createServer({ key: fs.readFileSync(tls.key), cert: fs.readFileSync(tls.cert) }, onRequest)
    : http.createServer(onRequest);
  fake.tlsErrors = [];
  server.on('tlsClientError', (err) => fake.tlsErrors.push(err.message));
  server.on('upgrade', (req, sock, head) => {
    const url = new URL(req.url, 'http://fake');
    const key = req.headers['sec-websocket-key'];
    const mounted = mounts.includes(url.pathname);
    // "/api" or "/api/", "/event" or "/event/", "/" (communication/ws.md)
    const path = mounted ? '/' : url.pathname.length > 1 ? url.pathname.replace(/\/$/, '') : url.pathname;
    if (!['/', '/api', '/event'].includes(path) || !key || (req.headers.upgrade || '').toLowerCase() !== 'websocket') {
      fake.refused.push({ status: 404, why: `path ${url.pathname}` });
      sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const status = checkToken(req, url);
    if (status) {
      fake.refused.push({ status, why: status === 401 ? 'no access token' : 'wrong access token' });
      fake.emit('refused', status);
      const body = JSON.stringify({ status: 'failed', retcode: status === 401 ? 1401 : 1403, message: 'token verify failed' });
      sock.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
    sock.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${accept}`, '', ''].join('\r\n'));
    sock.setNoDelay(true);
    const conn = new Conn(fake, sock, { client: false, path, headers: req.headers, selfId: fake.selfId });
    conn.query = url.searchParams;
    conn.dialed = url.pathname;
    opened(conn);
    if (head && head.length) conn.onData(head);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

  // Reverse websocket: dial the bot at URL (ws://host:port/path) as the
  // implementation does. Resolves the open Conn, or { status, body } when
  // the bot refused the upgrade.
  fake.connectReverse = (wsUrl, { selfId = fake.selfId, role = 'Universal', token: tok = fake.token, headers = {}, timeoutMs = 5000 } = {}) => {
    const u = new URL(wsUrl);
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: u.hostname, port: Number(u.port) || 80 });
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      const key = crypto.randomBytes(16).toString('base64');
      const hdrs = { Host: `${u.hostname}:${u.port}`, Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Version': '13', 'User-Agent': 'OneBot/11', 'X-Client-Role': role, ...headers };
      if (selfId !== null && selfId !== undefined) hdrs['X-Self-ID'] = String(selfId);
      if (tok) hdrs.Authorization = `Bearer ${tok}`;
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => { sock.destroy(); reject(new Error('the bot did not answer the reverse upgrade')); }, timeoutMs);
      const onData = (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        clearTimeout(timer);
        sock.removeListener('data', onData);
        const head = buf.subarray(0, end).toString('latin1');
        const status = Number(head.split(' ')[1]);
        if (status !== 101) {
          const body = buf.subarray(end + 4).toString('utf8');
          sock.destroy();
          resolve({ status, body });
          return;
        }
        const accept = /sec-websocket-accept:\s*(\S+)/i.exec(head);
        if (!accept || accept[1] !== crypto.createHash('sha1').update(key + GUID).digest('base64')) {
          fake.violations.push({ what: 'a wrong Sec-WebSocket-Accept from the bot' });
        }
        const conn = new Conn(fake, sock, { client: true, path: u.pathname === '/' ? '/' : (role === 'API' ? '/api' : role === 'Event' ? '/event' : '/'), headers: {}, selfId });
        conn.status = 101;
        opened(conn);
        const rest = buf.subarray(end + 4);
        if (rest.length) conn.onData(rest);
        resolve(conn);
      };
      sock.on('data', onData);
      sock.on('error', (e) => { clearTimeout(timer); reject(e); });
      sock.on('connect', () => {
        sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\n${Object.entries(hdrs).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
      });
    });
  };

  function waitEvent(ev, pred, timeoutMs, what, current) {
    const found = current && current.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const on = (x) => {
        if (!pred(x)) return;
        clearTimeout(timer);
        fake.removeListener(ev, on);
        resolve(x);
      };
      const timer = setTimeout(() => {
        fake.removeListener(ev, on);
        reject(new Error(`fake OneBot: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      fake.on(ev, on);
    });
  }

  fake.waitForConnection = (pred = (c) => !c.closed, timeoutMs = 10000) =>
    waitEvent('connection', pred, timeoutMs, 'connection', fake.conns);
  fake.waitForSent = (pred, timeoutMs = 10000) => waitEvent('sent', pred, timeoutMs, 'message sent by the bot', fake.sent);
  fake.waitForAction = (pred, timeoutMs = 10000) =>
    waitEvent('action', pred, timeoutMs, 'API call', fake.actions.map((a) => ({ ...a, conn: fake.conns.find((c) => c.id === a.conn) })));
  fake.waitForRefused = (timeoutMs = 10000) => waitEvent('refused', () => true, timeoutMs, 'refused upgrade', fake.refused.map((r) => r.status));
  fake.waitForClosed = (conn, timeoutMs = 10000) => (conn.closed ? Promise.resolve(conn)
    : waitEvent('closed', (c) => c === conn, timeoutMs, `close of connection ${conn.id}`));

  fake.close = () => {
    for (const t of timers) clearTimeout(t);
    for (const c of fake.conns) c.stopHeartbeat();
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      fake.port = server.address().port;
      fake.wsUrl = `${tls ? 'wss' : 'ws'}://${host}:${fake.port}/`;
      resolve(fake);
    });
  });
}

module.exports = { startFakeOneBot, toCQ, fromCQ, cqEscape };
