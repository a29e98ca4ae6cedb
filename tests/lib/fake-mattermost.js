'use strict';
// A fake Mattermost server: REST API v4 and the /api/v4/websocket event
// stream on one loopback port, written from Mattermost's documentation and
// its server's websocket code, with no npm dependencies.
//
//   const fake = await startFakeMattermost({ token: 'T' });
//   fake.url                     // "http://127.0.0.1:P" (the server's base URL)
//   await fake.waitForHello();   // a bot connected and authenticated: its session
//   const p = fake.userPost({ message: 'hi' });          // ann posts in town-square
//   await fake.waitForPost((q) => q.message === 'echo: hi');   // a post the bot made
//
// The websocket, as the real server does it:
//   - auth by "Authorization: Bearer <token>" at the upgrade, or a first
//     message {seq, action: "authentication_challenge", data: {token}}
//     answered {status: "OK", seq_reply}; then a `hello` event carrying
//     connection_id. Every event has `seq`, counted per connection from 0.
//   - a reconnect with ?connection_id=&sequence_number= resumes the session:
//     events from sequence_number on are replayed (sent before the drop or
//     made while it was down); when they are no longer buffered (bufferSize)
//     or the id is unknown, a fresh hello with a NEW connection_id and seq 0.
//   - {action: "ping", seq} is answered {status: "OK", seq_reply, data: {text: "pong"}}.
//   - `posted` events carry the post as a JSON string in data.post, plus
//     channel_type, channel_name, channel_display_name, sender_name, team_id,
//     set_online and (when someone is mentioned) mentions, a JSON string of
//     user ids. The bot's own posts come back to it as `posted` events too.
// Scripting:
//   session.conn.drop()          cut TCP; conn.close(code) a close frame
//   fake.loseNext = 1            the next event is buffered but never sent (a seq gap on the wire)
//   fake.bufferSize = 128        events kept per session for replay (the server's dead queue)
//   fake.forgetSessions()        every connection_id becomes unknown (as after a server restart)
//   conn.zombie = true           that connection stops answering pings and delivering events
//   conn.sendRaw(text)           any text frame (malformed events)
//   fake.rateLimit = { perSecond: 10, burst: 10 }   X-Ratelimit-* on every answer, 429 past it
//   fake.force429.push({ route: 'POST /posts', retryAfterS: 1 })   the next such call gets a 429
//   fake.restDelayMs = 0
//   fake.legacy = true           an older server: a hello without connection_id, and no resume (every
//                                connection a fresh session counted from seq 0)
//   fake.noSeq = true            events carry no seq (as servers before sequence numbers)
//   fake.headerAuth = false      the upgrade's Authorization header is not read: only the
//                                authentication_challenge signs the connection in
//   fake.refuseUpgrade = 401     every websocket upgrade is answered with that status
//   fake.pingAction = 'ignore'   the ping action (not in the API docs) gets no answer; 'fail': a bad_action error
//   force429 entries may say { resetEpoch: true, retryAfter: false }: X-Ratelimit-Reset as a Unix time, no Retry-After
//   jsonStyle                    events (and the post, mentions and reaction JSON strings inside them) and REST
//                                answers pretty-printed, spaced or with keys reversed (json-style.js); by default compact
// Records: fake.rest (every REST call), fake.posts (Map id -> post),
// fake.botPosts (posts the bot created, in order), fake.patches, fake.reactions,
// fake.typing, fake.conns (each with .received: what the client sent),
// fake.hellos, fake.reconnects ({ at, connection_id, sequence_number, outcome }),
// fake.violations (protocol or rate-limit breaches by the client).

const http = require('node:http');
const crypto = require('node:crypto');
const { encodeJson } = require('./json-style');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_POST_RUNES = 16383;

// A Mattermost id: 26 characters of lower-case base32.
function newId() {
  const alphabet = 'ybndrfg8ejkmcpqxot1uwisza345h769';
  const bytes = crypto.randomBytes(26);
  let s = '';
  for (let i = 0; i < 26; i++) s += alphabet[bytes[i] & 31];
  return s;
}

// Encode one server frame (servers never mask).
function frame(opcode, payload) {
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
  return Buffer.concat([header, data]);
}

// One websocket connection, from the upgrade to the close.
class WsConn {
  constructor(fake, sock, req) {
    this.fake = fake;
    this.sock = sock;
    this.id = ++fake.connCounter;
    this.query = new URL(req.url, 'http://fake').searchParams;
    this.headers = req.headers;
    this.buf = Buffer.alloc(0);
    this.fragments = null;
    this.received = [];
    this.closed = false;
    this.closedCode = null;
    this.authed = false;
    this.session = null;
    this.zombie = false;
    this.pings = 0;
    sock.on('data', (c) => this.onData(c));
    sock.on('error', () => {});
    sock.on('close', () => this.onClosed());
  }

  sendJson(obj) { if (!this.closed && !this.sock.destroyed) this.sock.write(frame(0x1, encodeJson(obj, this.fake.jsonStyle))); }

  sendRaw(text) { if (!this.closed && !this.sock.destroyed) this.sock.write(frame(0x1, text)); }

  close(code = 1000, reason = '') {
    if (this.closed) return;
    const r = Buffer.from(reason, 'utf8');
    const p = Buffer.alloc(2 + r.length);
    p.writeUInt16BE(code, 0);
    r.copy(p, 2);
    this.sock.write(frame(0x8, p));
    this.closed = true;
    setTimeout(() => this.sock.destroy(), 200);
  }

  drop() {
    this.closed = true;
    this.sock.destroy();
  }

  onClosed() {
    this.closed = true;
    if (this.session && this.session.conn === this) this.session.conn = null;
    this.fake.emit('closed', this);
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
      if (!masked) this.fake.violations.push({ conn: this.id, what: 'unmasked client frame' });
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
        this.sock.write(frame(0x8, payload.subarray(0, Math.min(2, payload.length))));
        setTimeout(() => this.sock.destroy(), 50);
      }
      this.fake.emit('clientClose', this);
      return;
    }
    if (opcode === 0x9) { this.sock.write(frame(0xa, payload)); return; }
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

  // A whole client message: a websocket request {seq, action, data}.
  onMessage(bytes) {
    let msg;
    try { msg = JSON.parse(bytes.toString('utf8')); } catch (_) {
      // The real server's read pump ends the connection on a message it cannot decode.
      this.fake.violations.push({ conn: this.id, what: 'a client message that is not JSON' });
      this.drop();
      return;
    }
    this.received.push(msg);
    this.fake.emit('request', this, msg);
    this.fake.handleRequest(this, msg);
  }
}

function startFakeMattermost({
  host = '127.0.0.1',
  token = 'fake-mattermost-bot-token',
  botUsername = 'chorus-bot',
  teamName = 'town',
  bufferSize = 128,
  jsonStyle = null,
} = {}) {
  const listeners = {};
  const sockets = new Set();
  const team = { id: newId(), name: teamName, display_name: 'Town', type: 'O' };
  const bot = { id: newId(), username: botUsername, nickname: '', first_name: '', last_name: '', is_bot: true, roles: 'system_user' };
  const ann = { id: newId(), username: 'ann', nickname: '', first_name: 'Ann', last_name: '', is_bot: false, roles: 'system_user' };
  const bob = { id: newId(), username: 'bob', nickname: '', first_name: 'Bob', last_name: '', is_bot: false, roles: 'system_user' };
  const fake = {
    token, team, bot, ann, bob, bufferSize, jsonStyle,
    url: '', wsUrl: '', port: 0,
    users: new Map([[bot.id, bot], [ann.id, ann], [bob.id, bob]]),
    channels: new Map(),
    connCounter: 0,
    conns: [],
    sessions: new Map(),        // connection_id -> { id, seq, events: [{seq, ev}], conn }
    hellos: [],
    reconnects: [],
    violations: [],
    loseNext: 0,
    rateLimit: null,
    bucket: null,
    force429: [],
    restDelayMs: 0,
    legacy: false,
    noSeq: false,
    headerAuth: true,
    refuseUpgrade: 0,
    pingAction: 'ok',
    upgrades: [],               // every websocket upgrade { at, status }
    rest: [],
    posts: new Map(),
    botPosts: [],
    patches: [],
    reactions: [],
    typing: [],
    on(ev, fn) { (listeners[ev] = listeners[ev] || []).push(fn); },
    off(ev, fn) { listeners[ev] = (listeners[ev] || []).filter((f) => f !== fn); },
    emit(ev, ...args) { for (const fn of (listeners[ev] || []).slice()) fn(...args); },
  };

  // Channels: a public one, a second public one, and DMs made on demand.
  const addChannel = (c) => { fake.channels.set(c.id, c); return c; };
  fake.townSquare = addChannel({ id: newId(), team_id: team.id, type: 'O', name: 'town-square', display_name: 'Town Square' });
  fake.offTopic = addChannel({ id: newId(), team_id: team.id, type: 'O', name: 'off-topic', display_name: 'Off-Topic' });
  // The direct channel between the bot and USER (made once).
  fake.dmWith = (user = ann) => {
    const name = [bot.id, user.id].sort().join('__');
    for (const c of fake.channels.values()) if (c.name === name) return c;
    return addChannel({ id: newId(), team_id: '', type: 'D', name, display_name: '' });
  };

  // Wait for an event whose arguments satisfy PRED (checking CURRENT() first).
  function waitEvent(ev, pred, timeoutMs, what, current) {
    const found = current && current();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const fn = (...args) => {
        const r = pred(...args);
        if (r) { clearTimeout(timer); fake.off(ev, fn); resolve(r); }
      };
      const timer = setTimeout(() => {
        fake.off(ev, fn);
        reject(new Error(`fake Mattermost: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      fake.on(ev, fn);
    });
  }
  fake.waitFor = waitEvent;
  // The live session (hello sent, connection open).
  fake.liveSession = () => {
    for (const s of fake.sessions.values()) if (s.conn && !s.conn.closed) return s;
    return null;
  };
  fake.waitForHello = (timeoutMs = 5000, after = 0) => waitEvent('hello', (h) => (h.at >= after ? h : null),
    timeoutMs, 'hello', () => fake.hellos.find((h) => h.at >= after && h.session.conn && !h.session.conn.closed));
  fake.waitForLive = (timeoutMs = 5000) => waitEvent('live', (s) => s, timeoutMs, 'live session', () => fake.liveSession());
  fake.waitForReconnect = (pred = () => true, timeoutMs = 5000) => waitEvent('reconnect', (r) => (pred(r) ? r : null),
    timeoutMs, 'matching reconnect', () => fake.reconnects.find(pred));
  fake.waitForPost = (pred = () => true, timeoutMs = 5000) => waitEvent('botPost', (p) => (pred(p) ? p : null),
    timeoutMs, 'matching post from the bot', () => fake.botPosts.find(pred));
  fake.waitForPatch = (pred = () => true, timeoutMs = 5000) => waitEvent('patch', (p) => (pred(p) ? p : null),
    timeoutMs, 'matching patch from the bot', () => fake.patches.find(pred));
  fake.waitForRest = (pred = () => true, timeoutMs = 5000) => waitEvent('rest', (r) => (pred(r) ? r : null),
    timeoutMs, 'matching REST call', () => fake.rest.find(pred));
  fake.waitForRequest = (pred = () => true, timeoutMs = 5000) => waitEvent('request', (c, m) => (pred(m, c) ? m : null),
    timeoutMs, 'matching websocket request', () => { for (const c of fake.conns) { const m = c.received.find((x) => pred(x, c)); if (m) return m; } return null; });
  // ---- events ---------------------------------------------------------

  // Send session S's buffered events from sequence number FROM on.
  function replay(s, from) {
    for (const e of s.events) if (e.seq >= from) s.conn.sendJson(e.ev);
  }

  // Give event EV the next seq of S, keep it for replay, and send it if the
  // connection is up (unless it is to be lost on the wire).
  function deliver(s, ev) {
    const e = { seq: s.seq++, ev: { ...ev, seq: 0 } };
    e.ev.seq = e.seq;
    if (fake.noSeq) delete e.ev.seq;
    s.events.push(e);
    while (s.events.length > fake.bufferSize) s.events.shift();
    if (!s.conn || s.conn.closed || s.conn.zombie) return e.ev;
    if (fake.loseNext > 0) { fake.loseNext--; return e.ev; }
    s.conn.sendJson(e.ev);
    return e.ev;
  }

  // Broadcast EVENT to every session of the bot (live or resumable).
  fake.broadcast = (event, data, broadcast = {}) => {
    const ev = { event, data, broadcast: { omit_users: null, user_id: '', channel_id: '', team_id: '', connection_id: '', omit_connection_id: '', ...broadcast } };
    let last = null;
    for (const s of fake.sessions.values()) if (!s.dead) last = deliver(s, ev);
    return last;
  };

  // The `posted` event of post P by USER in channel C.
  function postedEvent(p, user, c, mentions) {
    const data = {
      channel_display_name: c.type === 'D' ? `@${user.username}` : c.display_name,
      channel_name: c.name,
      channel_type: c.type,
      post: encodeJson(p, fake.jsonStyle),
      sender_name: `@${user.username}`,
      set_online: true,
      team_id: c.team_id,
    };
    if (mentions && mentions.length) data.mentions = encodeJson(mentions, fake.jsonStyle);
    return fake.broadcast('posted', data, { channel_id: c.id });
  }

  function makePost({ user_id, channel_id, message, root_id = '', props = {}, type = '' }) {
    const now = Date.now();
    return {
      id: newId(), create_at: now, update_at: now, edit_at: 0, delete_at: 0, is_pinned: false, user_id, channel_id,
      root_id, original_id: '', message, type, props, hashtags: '', pending_post_id: '', reply_count: 0,
      last_reply_at: 0, participants: null, metadata: {},
    };
  }

  // A user posts MESSAGE (in CHANNEL, or a DM with the bot when dm; in a
  // thread when root_id is set). Mentions of @<bot> are found in the text
  // as the server does. Returns the post.
  fake.userPost = ({ message = 'hello', user = ann, channel, dm = false, root_id = '', type = '', props = {} } = {}) => {
    const c = channel || (dm ? fake.dmWith(user) : fake.townSquare);
    const p = makePost({ user_id: user.id, channel_id: c.id, message, root_id, type, props });
    fake.posts.set(p.id, p);
    const mentions = [];
    for (const u of fake.users.values()) {
      if (u.id !== user.id && new RegExp(`(^|\\W)@${u.username}(\\W|$)`).test(message)) mentions.push(u.id);
    }
    if (c.type === 'D' && !mentions.includes(bot.id)) mentions.push(bot.id);
    postedEvent(p, user, c, mentions);
    return p;
  };
  // A user's post that mentions the bot.
  fake.mentionBot = (opts = {}) => fake.userPost({ ...opts, message: `@${bot.username} ${opts.message || 'hello'}` });

  fake.forgetSessions = () => {
    for (const s of fake.sessions.values()) s.dead = true;
    fake.sessions.clear();
  };

  // ---- websocket --------------------------------------------------------

  function hello(conn, s, reason) {
    conn.session = s;
    s.conn = conn;
    const rec = { at: Date.now(), connection_id: s.id, conn, session: s, reason };
    fake.hellos.push(rec);
    deliver(s, {
      event: 'hello',
      data: fake.legacy ? { server_version: '5.3.0.fake' } : { connection_id: s.id, server_version: '10.5.0.0.fake.true', server_hostname: 'fake' },
      broadcast: { omit_users: null, user_id: bot.id, channel_id: '', team_id: '', connection_id: '', omit_connection_id: '' },
    });
    fake.emit('hello', rec);
    fake.emit('live', s);
  }

  // The connection is authenticated: resume its session or start a new one.
  function start(conn) {
    conn.authed = true;
    const cid = conn.query.get('connection_id') || '';
    const seqText = conn.query.get('sequence_number');
    const seq = seqText === null ? 0 : Number(seqText);
    const old = cid && !fake.legacy ? fake.sessions.get(cid) : null;
    if (fake.legacy) fake.forgetSessions();      // nothing kept for a resume
    if (!old) {
      const s = { id: newId(), seq: 0, events: [], conn: null };
      fake.sessions.set(s.id, s);
      if (cid) fake.reconnects.push({ at: Date.now(), connection_id: cid, sequence_number: seq, outcome: 'unknown' });
      hello(conn, s, cid ? 'unknown connection_id' : 'new');
      if (cid) fake.emit('reconnect', fake.reconnects[fake.reconnects.length - 1]);
      return;
    }
    if (old.conn && old.conn !== conn && !old.conn.closed) old.conn.drop();
    const first = old.events.length ? old.events[0].seq : old.seq;
    let outcome;
    if (seq === old.seq) outcome = 'lossless';
    else if (seq >= first && seq < old.seq) outcome = 'replayed';
    else outcome = 'lost';
    const rec = { at: Date.now(), connection_id: cid, sequence_number: seq, outcome, replayed: outcome === 'replayed' ? old.seq - seq : 0 };
    fake.reconnects.push(rec);
    if (outcome === 'lost') {
      // The server's hasMsgLoss: a new connection id, seq 0, a fresh hello.
      fake.sessions.delete(cid);
      const s = { id: newId(), seq: 0, events: [], conn: null };
      fake.sessions.set(s.id, s);
      hello(conn, s, 'events lost');
    } else {
      conn.session = old;
      old.conn = conn;
      if (outcome === 'replayed') replay(old, seq);
      fake.emit('live', old);
    }
    fake.emit('reconnect', rec);
  }

  fake.handleRequest = (conn, msg) => {
    const reply = (body) => { if (!conn.zombie) conn.sendJson({ status: 'OK', seq_reply: msg.seq, ...body }); };
    if (typeof msg.seq !== 'number') fake.violations.push({ conn: conn.id, what: `a request without a seq: ${JSON.stringify(msg).slice(0, 100)}` });
    if (msg.action === 'authentication_challenge') {
      if (conn.authed) { reply({}); return; }
      if (!msg.data || msg.data.token !== fake.token) {
        conn.sendJson({ status: 'FAIL', seq_reply: msg.seq, error: { id: 'api.web_socket_router.not_authenticated.app_error', message: 'Not authenticated', status_code: 401 } });
        return;
      }
      reply({});
      start(conn);
      return;
    }
    if (!conn.authed) {
      conn.sendJson({ status: 'FAIL', seq_reply: msg.seq, error: { id: 'api.web_socket_router.not_authenticated.app_error', status_code: 401 } });
      return;
    }
    if (msg.action === 'ping' && fake.pingAction === 'ignore') {
      conn.pings++;
    } else if (msg.action === 'ping' && fake.pingAction === 'fail') {
      conn.pings++;
      conn.sendJson({ status: 'FAIL', seq_reply: msg.seq, error: { id: 'api.web_socket_router.bad_action.app_error', status_code: 501 } });
    } else if (msg.action === 'ping') {
      conn.pings++;
      reply({ data: { text: 'pong', version: '10.5.0', server_time: Date.now(), node_id: '' } });
    } else if (msg.action === 'user_typing') {
      fake.typing.push({ at: Date.now(), via: 'websocket', ...(msg.data || {}) });
      reply({});
    } else {
      conn.sendJson({ status: 'FAIL', seq_reply: msg.seq, error: { id: 'api.web_socket_router.bad_action.app_error', status_code: 501 } });
    }
  };

  // ---- REST ---------------------------------------------------------------

  // The token of an Authorization header: "Bearer <token>" or "Token <token>",
  // the scheme in any case (as the server's parseAuthTokenFromRequest reads it).
  fake.tokenOf = (header) => {
    const m = /^(bearer|token)\s+(\S+)$/i.exec(header || '');
    return m ? m[2] : null;
  };

  function json(res, status, body, headers = {}) {
    const payload = encodeJson(body, fake.jsonStyle);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
    res.end(payload);
  }
  function appError(res, status, id, message, headers) {
    json(res, status, { id, message, detailed_error: '', request_id: newId(), status_code: status }, headers);
  }

  // The rate limiter (a token bucket per token, like the server's throttled
  // limiter): headers for the answer, or a 429.
  function limit(route) {
    const forced = fake.force429.findIndex((f) => !f.route || f.route === route);
    if (forced >= 0) {
      const f = fake.force429.splice(forced, 1)[0];
      const secs = f.retryAfterS || 1;
      const headers = { 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(f.resetEpoch ? Math.ceil(Date.now() / 1000) + secs : secs) };
      if (f.retryAfter !== false) headers['retry-after'] = String(secs);
      return { status: 429, headers };
    }
    const rl = fake.rateLimit;
    if (!rl) return { headers: {} };
    const now = Date.now();
    const burst = rl.burst || rl.perSecond;
    if (!fake.bucket) fake.bucket = { tokens: burst, at: now };
    const b = fake.bucket;
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rl.perSecond);
    b.at = now;
    const resetS = Math.ceil((burst - b.tokens) / rl.perSecond);
    if (b.tokens < 1) {
      fake.violations.push({ what: `rate limit exceeded on ${route}` });
      const retry = Math.ceil((1 - b.tokens) / rl.perSecond);
      return { status: 429, headers: { 'x-ratelimit-limit': String(rl.perSecond), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.max(1, resetS)), 'retry-after': String(Math.max(1, retry)) } };
    }
    b.tokens -= 1;
    return { headers: { 'x-ratelimit-limit': String(rl.perSecond), 'x-ratelimit-remaining': String(Math.floor(b.tokens)), 'x-ratelimit-reset': String(Math.ceil((burst - b.tokens) / rl.perSecond)) } };
  }

  // The route template of PATH below /api/v4 (ids replaced by {id}).
  function routeOf(method, path) {
    const parts = path.split('/').map((seg, i, all) => {
      if (i > 0 && all[i - 1] === 'name') return '{name}';
      return /^[a-z0-9]{26}$/.test(seg) ? '{id}' : seg;
    });
    return `${method} ${parts.join('/')}`;
  }

  function restRoute(req, res, rec) {
    const { route, body } = rec;
    const p = rec.path.split('/');
    const lim = limit(route);
    if (lim.status) {
      rec.status = 429;
      res.writeHead(429, { 'content-type': 'text/plain; charset=utf-8', ...lim.headers });
      res.end('limit exceeded\n');
      return;
    }
    const h = lim.headers;
    if (fake.tokenOf(req.headers.authorization) !== fake.token) {
      rec.status = 401;
      appError(res, 401, 'api.context.session_expired.app_error', 'Invalid or expired session, please login again.', h);
      return;
    }
    const reply = (status, b) => { rec.status = status; json(res, status, b, h); };
    if (route === 'GET /users/me') {
      reply(200, { ...bot, create_at: 0, update_at: 0, delete_at: 0, email: `${bot.username}@localhost`, locale: 'en' });
    } else if (route === 'GET /users/{id}') {
      const u = fake.users.get(p[2]);
      if (!u) { rec.status = 404; appError(res, 404, 'app.user.missing_account.const', 'Unable to find the user.', h); return; }
      reply(200, u);
    } else if (route === 'GET /teams/name/{name}') {
      if (p[3] !== team.name) { rec.status = 404; appError(res, 404, 'app.team.get_by_name.missing.app_error', 'Unable to find the existing team.', h); return; }
      reply(200, team);
    } else if (route === 'GET /users/me/teams') {
      reply(200, [team]);
    } else if (route === 'GET /channels/{id}') {
      const c = fake.channels.get(p[2]);
      if (!c) { rec.status = 404; appError(res, 404, 'app.channel.get.existing.app_error', 'Unable to find the existing channel.', h); return; }
      reply(200, c);
    } else if (route === 'POST /posts') {
      if (!body || typeof body.channel_id !== 'string' || typeof body.message !== 'string') {
        rec.status = 400; appError(res, 400, 'api.context.invalid_body_param.app_error', 'Invalid or missing post in request body.', h); return;
      }
      const c = fake.channels.get(body.channel_id);
      if (!c) { rec.status = 403; appError(res, 403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.', h); return; }
      if ([...body.message].length > MAX_POST_RUNES) { rec.status = 400; appError(res, 400, 'model.post.is_valid.message_length.app_error', 'Message must be shorter.', h); return; }
      if (!body.message.trim()) { rec.status = 400; appError(res, 400, 'api.post.create_post.empty', 'Message is empty.', h); return; }
      const rootId = body.root_id || '';
      if (rootId) {
        const root = fake.posts.get(rootId);
        if (!root || root.channel_id !== c.id || root.root_id) {
          rec.status = 400; appError(res, 400, 'api.post.create_post.root_id.app_error', 'Invalid RootId parameter.', h); return;
        }
      }
      const post = makePost({ user_id: bot.id, channel_id: c.id, message: body.message, root_id: rootId, props: { ...(body.props || {}), from_bot: 'true' } });
      fake.posts.set(post.id, post);
      reply(201, post);
      const rec2 = { ...post, body, at: Date.now() };
      fake.botPosts.push(rec2);
      fake.emit('botPost', rec2);
      postedEvent(post, bot, c, []);     // the bot's own post comes back on its websocket
    } else if (route === 'PUT /posts/{id}/patch') {
      const post = fake.posts.get(p[2]);
      if (!post) { rec.status = 404; appError(res, 404, 'app.post.get.app_error', 'Unable to get the post.', h); return; }
      if (post.user_id !== bot.id) { rec.status = 403; appError(res, 403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.', h); return; }
      if (!body || typeof body.message !== 'string') { rec.status = 400; appError(res, 400, 'api.context.invalid_body_param.app_error', 'Invalid post patch.', h); return; }
      if ([...body.message].length > MAX_POST_RUNES) { rec.status = 400; appError(res, 400, 'model.post.is_valid.message_length.app_error', 'Message must be shorter.', h); return; }
      post.message = body.message;
      post.edit_at = Date.now();
      post.update_at = post.edit_at;
      const bp = fake.botPosts.find((q) => q.id === post.id);
      if (bp) bp.message = post.message;
      reply(200, post);
      const prec = { at: Date.now(), post_id: post.id, message: body.message };
      fake.patches.push(prec);
      fake.emit('patch', prec);
      fake.broadcast('post_edited', { post: encodeJson(post, fake.jsonStyle) }, { channel_id: post.channel_id });
    } else if (route === 'POST /reactions') {
      if (!body || body.user_id !== bot.id) { rec.status = 403; appError(res, 403, 'api.context.permissions.app_error', 'You can only react as yourself.', h); return; }
      const post = fake.posts.get(body.post_id);
      if (!post || typeof body.emoji_name !== 'string' || !/^[a-z0-9_+-]{1,64}$/.test(body.emoji_name)) {
        rec.status = 400; appError(res, 400, 'model.reaction.is_valid.emoji_name.app_error', 'Invalid emoji name.', h); return;
      }
      const r = { user_id: bot.id, post_id: post.id, emoji_name: body.emoji_name, create_at: Date.now(), update_at: Date.now(), delete_at: 0, channel_id: post.channel_id };
      fake.reactions.push(r);
      reply(201, r);
      fake.emit('reaction', r);
      fake.broadcast('reaction_added', { reaction: encodeJson(r, fake.jsonStyle) }, { channel_id: post.channel_id });
    } else if (route === 'POST /users/{id}/typing') {
      fake.typing.push({ at: Date.now(), via: 'rest', ...(body || {}) });
      reply(200, { status: 'OK' });
    } else {
      rec.status = 404;
      appError(res, 404, 'api.context.404.app_error', 'Sorry, we could not find the page.', h);
    }
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = raw ? JSON.parse(raw) : null; } catch (_) { body = null; }
      if (!req.url.startsWith('/api/v4/')) { appError(res, 404, 'api.context.404.app_error', 'Not found.'); return; }
      const path = req.url.split('?')[0].replace(/^\/api\/v4/, '');
      const rec = { at: Date.now(), method: req.method, path, route: routeOf(req.method, path), headers: req.headers, body, raw, status: 0 };
      fake.rest.push(rec);
      const go = () => { restRoute(req, res, rec); fake.emit('rest', rec); };
      if (fake.restDelayMs) setTimeout(go, fake.restDelayMs);
      else go();
    });
  });

  server.on('upgrade', (req, sock, head) => {
    const key = req.headers['sec-websocket-key'];
    const path = req.url.split('?')[0];
    if (path !== '/api/v4/websocket' || !key || (req.headers.upgrade || '').toLowerCase() !== 'websocket') {
      sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const auth = fake.headerAuth ? req.headers.authorization : null;
    fake.upgrades.push({ at: Date.now(), status: fake.refuseUpgrade || 101 });
    if (fake.refuseUpgrade) {
      sock.end(`HTTP/1.1 ${fake.refuseUpgrade} Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
      return;
    }
    if (auth && fake.tokenOf(auth) !== fake.token) {
      fake.violations.push({ what: 'a websocket upgrade with a wrong token' });
      sock.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
      return;
    }
    const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
    sock.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${accept}`, '', ''].join('\r\n'));
    sock.setNoDelay(true);
    const conn = new WsConn(fake, sock, req);
    fake.conns.push(conn);
    fake.emit('connection', conn);
    if (head && head.length) conn.onData(head);
    if (auth) start(conn);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

  fake.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      fake.port = server.address().port;
      fake.url = `http://${host}:${fake.port}`;
      fake.wsUrl = `ws://${host}:${fake.port}/api/v4/websocket`;
      resolve(fake);
    });
  });
}

module.exports = { startFakeMattermost, newId, MAX_POST_RUNES };
