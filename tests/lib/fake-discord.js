'use strict';
// A fake Discord: REST v10 and a gateway v10 (JSON encoding) on one loopback
// port, written from Discord's documentation, with no npm dependencies.
//
//   const fake = await startFakeDiscord({ token: 'T', heartbeatMs: 200 });
//   fake.apiBase                // "http://127.0.0.1:P/api" (REST lives under /api/v10)
//   fake.gatewayUrl             // "ws://127.0.0.1:P/gateway"
//   const s = await fake.waitForReady(0);         // shard 0 identified: its session
//   fake.messageCreate({ channel_id: '100000000000000001', content: 'hi' });   // a dispatch (seq counted)
//   await fake.waitForMessage((m) => m.channel_id === 'c1');    // a message the bot posted
//
// Scripting the gateway (timings are milliseconds):
//   conn.zombie = true           that connection stops answering heartbeats and delivering events
//   fake.zombie = true           ... every connection does
//   fake.replayOverlap = 2       replay that many already-seen events on Resume (duplicates)
//   conn.close(4004)             close one connection with a code; conn.drop() cuts TCP
//   conn.reconnect()             op 7; conn.invalidSession(true|false) op 9
//   fake.identifyClose = 4004    answer every Identify by closing with this code
//   fake.identifyCloseFor = { 1: 4004 }   ... only for these shard ids
//   fake.resumeWindowMs = 2000   a session whose connection is gone longer than this cannot
//                                be resumed (op 9 false), as Discord forgets sessions
// Resume (op 6) replays every event after the client's seq on the new connection, then
// RESUMED; fake.resumes records { at, session_id, seq, shard, ok, replayed, conn }.
// Compression: a connection whose query has compress=zlib-stream gets every
// payload as binary frames of one deflate stream, each payload ending in a
// Z_SYNC_FLUSH (00 00 FF FF), as Discord does (conn.compressed says so).
//   fake.splitCompressed = true  send each compressed payload as two websocket messages
//   conn.sendCorrupt()           a binary frame that is not the stream's next bytes
// Scripting REST:
//   fake.routeLimits['POST /channels/{id}/messages'] = { limit: 5, windowMs: 1000, bucket: 'b1' }
//   fake.globalLimit = { perSecond: 50 }          429 global past this
//   fake.force429.push({ route: 'POST /channels/{id}/messages', retryAfterMs: 300, global: false })
//                                (optional major: only on that channel; bucket: with X-RateLimit-Bucket
//                                and Remaining 0 headers, as Discord sends; each is recorded in fake.given429)
//   fake.restDelayMs = 0
//   fake.forbidChannels = new Set([id])         403 Missing Permissions there
// Several bot accounts (each its own token, user and gateway sessions):
//   const kenji = fake.addBot({ token: 'K', id: '900000000000000002', name: 'kenji-bot' })
//   every bot's sessions see the guild's messages; a bot's post is echoed (with
//   fake.echoToGateway) to every bot with that bot as the author;
//   fake.waitForReady(0, ms, kenji.id); fake.mentionBot({ content, bot: kenji });
//   posted messages carry author.id of the bot that sent them.
//   fake.echoToGateway = true   the bot's own posts come back as MESSAGE_CREATE, as on Discord
//   fake.messageObject = (m, 'rest' | 'gateway') => object   the whole message object to answer/echo
// JSON as another server may write it: jsonStyle ({ pretty, spaced, reorder }, json-style.js)
//   writes every gateway payload and REST answer so; by default compact, in Discord's key order.
// Checks:
//   conn.sendTimes, conn.maxFrameBytes, fake.violations (gateway and REST limit breaches),
//   fake.rest (every REST request), fake.messages (posted messages), fake.sessions,
//   fake.nonceHits (posts with enforce_nonce whose nonce was used: answered with the existing message).
// Events and what the bot did with them:
//   fake.interaction({ name: 'ping', options: [{ name, value }] })   INTERACTION_CREATE (a slash command)
//   fake.buttonPress({ message, custom_id })   INTERACTION_CREATE of type 3 (a press of a button on MESSAGE)
//   fake.reactionAdd({ message_id, emoji: '👍' })  MESSAGE_REACTION_ADD; fake.messageUpdate({ id, content }) MESSAGE_UPDATE
//   fake.callbackDelayMs: answer interaction callbacks that late (the deferral is held at once, as Discord does)
//   fake.callbacks (interaction callbacks), fake.followups (webhook edits of @original and posts),
//   fake.commands (the last bulk overwrite; fake.commandPuts every one), fake.reactions, fake.edits (PATCHes of messages)

const http = require('node:http');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { encodeJson } = require('./json-style');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { DISPATCH: 0, HEARTBEAT: 1, IDENTIFY: 2, PRESENCE: 3, RESUME: 6, RECONNECT: 7, INVALID_SESSION: 9, HELLO: 10, ACK: 11 };

// Encode one server frame (servers never mask).
function frame(opcode, payload, fin = true) {
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
  header[0] = (fin ? 0x80 : 0) | opcode;
  return Buffer.concat([header, data]);
}

let snowflakeCounter = 0n;
// A Discord-like id: a 64-bit number as a decimal string.
function snowflake() {
  snowflakeCounter += 1n;
  return ((BigInt(Date.now() - 1420070400000) << 22n) | (snowflakeCounter & 0x3fffffn)).toString();
}

// One gateway connection, from the upgrade to the close.
class GatewayConn {
  constructor(fake, sock, path) {
    this.fake = fake;
    this.sock = sock;
    this.path = path;
    this.id = ++fake.connCounter;
    this.buf = Buffer.alloc(0);
    this.fragments = null;
    this.received = [];          // every payload the client sent, parsed
    this.sendTimes = [];         // when each client frame arrived
    this.maxFrameBytes = 0;
    this.closedCode = null;      // the code the client closed with, if it did
    this.closed = false;
    this.session = null;
    this.shard = null;
    this.heartbeats = 0;
    this.acked = 0;
    this.query = new URL(path, 'http://fake').searchParams;
    this.compressed = this.query.get('compress') === 'zlib-stream';
    this.deflate = null;         // this connection's one deflate stream
    this.deflated = [];          // its output not yet handed to a payload
    this.queue = Promise.resolve();   // socket writes wait here for compression, in order
    if (this.compressed) {
      this.deflate = zlib.createDeflate();
      this.deflate.on('data', (c) => this.deflated.push(c));
      this.deflate.on('error', () => {});
    }
    sock.on('data', (c) => this.onData(c));
    sock.on('error', () => {});
    // The client's end of TCP (it closed, or its process died): gone, as
    // for Discord. (Sockets of node's http server stay half-open otherwise.)
    sock.on('end', () => sock.destroy());
    sock.on('close', () => this.onClosed());
  }

  // Write BYTES to the socket after every payload still being compressed.
  write(bytes) {
    if (!this.deflate) { this.sock.write(bytes); return; }
    this.queue = this.queue.then(() => { if (!this.sock.destroyed) this.sock.write(bytes); });
  }

  // Compress BYTES onto the stream, ending with a sync flush; resolves with its compressed bytes.
  compress(bytes) {
    return new Promise((resolve) => {
      this.deflate.write(bytes);
      this.deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(this.deflated);
        this.deflated = [];
        resolve(out);
      });
    });
  }

  // Frames of one message of OPCODE, in fragments of fake.fragmentBytes if set.
  message(opcode, bytes) {
    const split = this.fake.fragmentBytes;
    if (!(split > 0 && bytes.length > split)) return frame(opcode, bytes);
    const frames = [];
    for (let off = 0; off < bytes.length; off += split) {
      const last = off + split >= bytes.length;
      frames.push(frame(off === 0 ? opcode : 0x0, bytes.subarray(off, off + split), last));
    }
    return Buffer.concat(frames);
  }

  send(obj) {
    if (this.closed) return;
    const bytes = Buffer.from(encodeJson(obj, this.fake.jsonStyle), 'utf8');
    if (!this.deflate) { this.sock.write(this.message(0x1, bytes)); return; }
    this.queue = this.queue.then(() => this.compress(bytes)).then((z) => {
      if (this.sock.destroyed) return;
      if (this.fake.splitCompressed && z.length > 1) {
        const half = Math.floor(z.length / 2);
        this.sock.write(this.message(0x2, z.subarray(0, half)));
        this.sock.write(this.message(0x2, z.subarray(half)));
      } else {
        this.sock.write(this.message(0x2, z));
      }
    });
  }

  sendRaw(text) { if (!this.closed) this.write(frame(0x1, Buffer.from(text, 'utf8'))); }

  // Bytes that cannot follow a sync flush (a reserved block type), ending like a whole payload.
  sendCorrupt() { if (!this.closed) this.write(frame(0x2, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff]))); }

  // Close with CODE (a close frame, then the TCP connection after a moment).
  close(code = 1000, reason = '') {
    if (this.closed) return;
    const r = Buffer.from(reason, 'utf8');
    const p = Buffer.alloc(2 + r.length);
    p.writeUInt16BE(code, 0);
    r.copy(p, 2);
    this.write(frame(0x8, p));
    this.serverClosedWith = code;
    this.closed = true;
    setTimeout(() => this.sock.destroy(), 200);
  }

  // Cut the TCP connection without a close frame.
  drop() {
    this.closed = true;
    this.sock.destroy();
  }

  reconnect() { this.send({ op: OP.RECONNECT, d: null }); }

  invalidSession(resumable) { this.send({ op: OP.INVALID_SESSION, d: !!resumable }); }

  onClosed() {
    this.closed = true;
    if (this.deflate) this.deflate.close();
    if (this.session && this.session.conn === this) { this.session.conn = null; this.session.lostAt = Date.now(); }
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
      if (!masked) { this.fake.violations.push({ conn: this.id, what: 'unmasked client frame' }); }
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
        const p = payload.length >= 2 ? payload.subarray(0, 2) : Buffer.alloc(0);
        this.write(frame(0x8, p));
        setTimeout(() => this.sock.destroy(), 50);
      }
      this.fake.emit('clientClose', this);
      return;
    }
    if (opcode === 0x9) { this.write(frame(0xa, payload)); return; }
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

  // One whole client payload: count it against the limits, then act on it.
  onMessage(bytes) {
    const now = Date.now();
    this.sendTimes.push(now);
    this.maxFrameBytes = Math.max(this.maxFrameBytes, bytes.length);
    const window = this.fake.sendWindowMs;
    const recent = this.sendTimes.filter((t) => t > now - window).length;
    if (recent > this.fake.sendLimit) {
      this.fake.violations.push({ conn: this.id, what: `more than ${this.fake.sendLimit} sends in ${window} ms` });
      this.close(4008, 'Rate limited.');
      return;
    }
    if (bytes.length > 4096) {
      this.fake.violations.push({ conn: this.id, what: `a ${bytes.length}-byte payload` });
      this.close(4002, 'Error while decoding payload.');
      return;
    }
    let msg;
    try { msg = JSON.parse(bytes.toString('utf8')); } catch (_) {
      this.fake.violations.push({ conn: this.id, what: 'a payload that is not JSON' });
      this.close(4002, 'Error while decoding payload.');
      return;
    }
    this.received.push(msg);
    this.fake.emit('payload', this, msg);
    this.fake.handle(this, msg);
  }
}

// Discord's checks of a message's embeds and components (message resource,
// embed limits, message components): the reason it would refuse BODY, or null.
// CHANNEL: a channel post, where the ephemeral flag is not allowed.
function richProblem(body, { channel }) {
  const cp = (s) => [...(s || '')].length;
  const embeds = body.embeds || [];
  if (!Array.isArray(embeds) || embeds.length > 10) return 'embeds: at most 10';
  for (const e of embeds) {
    if (cp(e.title) > 256 || cp(e.description) > 4096) return 'embed title/description too long';
    if (e.fields && (!Array.isArray(e.fields) || e.fields.length > 25)) return 'embed fields: at most 25';
    for (const f of e.fields || []) {
      if (typeof f.name !== 'string' || typeof f.value !== 'string' || !f.name || !f.value) return 'embed field without name or value';
      if (cp(f.name) > 256 || cp(f.value) > 1024) return 'embed field too long';
    }
    if (e.image && typeof e.image.url !== 'string') return 'embed image without url';
    if (e.color !== undefined && !(Number.isInteger(e.color) && e.color >= 0 && e.color <= 0xffffff)) return 'embed color';
    const total = cp(e.title) + cp(e.description) + (e.fields || []).reduce((n, f) => n + cp(f.name) + cp(f.value), 0) + cp(e.footer && e.footer.text);
    if (total > 6000) return 'embeds over 6000 characters';
  }
  const rows = body.components || [];
  if (!Array.isArray(rows) || rows.length > 5) return 'components: at most 5 action rows';
  for (const row of rows) {
    if (row.type !== 1 || !Array.isArray(row.components) || row.components.length < 1 || row.components.length > 5) return 'an action row holds 1 to 5 components';
    for (const b of row.components) {
      if (b.type !== 2 || ![1, 2, 3, 4, 5].includes(b.style)) return 'a button is type 2 with style 1-5';
      if (cp(b.label) > 80) return 'button label over 80';
      if (b.style === 5 ? (typeof b.url !== 'string' || b.custom_id !== undefined) : (typeof b.custom_id !== 'string' || !b.custom_id || b.custom_id.length > 100 || b.url !== undefined))
        return 'a link button has a url and no custom_id; others a custom_id of 1-100';
    }
  }
  if (body.flags !== undefined && (body.flags & 64) && channel) return 'the ephemeral flag is only for interaction responses';
  return null;
}

function startFakeDiscord({
  host = '127.0.0.1',
  token = 'test-token',
  heartbeatMs = 41250,
  shards = 1,
  maxConcurrency = 1,
  sessionStartRemaining = 1000,
  botId = '900000000000000001',
  botName = 'chorus-bot',
  applicationId = '800000000000000001',
  identifyCloseFor = {},
  invalidOnIdentify = 0,
  jsonStyle = null,
} = {}) {
  const listeners = {};
  const sockets = new Set();
  const fake = {
    token, heartbeatMs, shards, maxConcurrency, sessionStartRemaining, botId, botName, applicationId, jsonStyle,
    port: 0, apiBase: '', gatewayUrl: '', resumeUrl: '',
    connCounter: 0,
    conns: [],
    sessions: new Map(),        // session_id -> { id, shard, seq, events: [{s, t, d}], conn, resumed }
    identifies: [],             // { at, shard, intents, conn }
    resumes: [],                // { at, session_id, seq, ok }
    violations: [],
    zombie: false,
    replayOverlap: 0,
    identifyClose: 0,
    invalidOnIdentify,
    identifyCloseFor,
    resumeWindowMs: 0,
    fragmentBytes: 0,
    splitCompressed: false,
    sendLimit: 120,
    sendWindowMs: 60000,
    readyGuilds: [],
    // REST
    rest: [],
    messages: new Map(),        // id -> message (current state)
    posted: [],                 // messages in the order they were created
    routeLimits: {},
    routeState: new Map(),      // bucket+major -> { count, resetAt }
    globalLimit: null,
    globalWindow: { start: 0, count: 0 },
    force429: [],
    given429: [],
    nonces: new Map(),          // "bot id:nonce" -> message, for enforce_nonce (each bot its own nonces)
    nonceHits: [],              // { at, nonce, id }: repeats answered with the message already made               // { at, route, major, retryAfterMs, bucket, global }: the scripted 429s answered
    restDelayMs: 0,
    commands: [],
    commandPuts: [],            // { at, guild, commands }
    callbacks: [],              // { at, id, token, type }
    followups: [],              // { at, kind: 'original' | 'followup', token, content, body }
    deletedOriginals: [],       // { at, interaction }: DELETEs of @original
    interactions: new Map(),    // id -> { at, token, d }
    reactions: [],              // { at, channel_id, message_id, emoji }
    edits: [],                  // { at, channel_id, message_id, content }
    on(ev, fn) { (listeners[ev] = listeners[ev] || []).push(fn); },
    off(ev, fn) { listeners[ev] = (listeners[ev] || []).filter((f) => f !== fn); },
    emit(ev, ...args) { for (const fn of (listeners[ev] || []).slice()) fn(...args); },
  };
  // The bot accounts this Discord knows; the first is the one named by the options.
  fake.bots = [{ token, id: botId, name: botName, applicationId }];
  fake.addBot = ({ token: t, id, name, applicationId: app } = {}) => {
    const bot = { token: t, id: id || snowflake(), name: name || `bot-${fake.bots.length + 1}`, applicationId: app || snowflake() };
    fake.bots.push(bot);
    return bot;
  };
  const botByToken = (t) => fake.bots.find((b) => b.token === t) || null;
  const sessionBot = (s) => s.bot || fake.bots[0];

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
        reject(new Error(`fake Discord: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      fake.on(ev, fn);
    });
  }

  // BOTID: only that bot's sessions (default: any bot's).
  const ofBot = (s, botId) => !botId || sessionBot(s).id === botId;
  fake.liveSession = (shard = 0, botId) => {
    for (const s of fake.sessions.values()) if (s.shard[0] === shard && ofBot(s, botId) && s.conn && !s.conn.closed && s.live) return s;
    return null;
  };
  fake.connFor = (shard = 0, botId) => { const s = fake.liveSession(shard, botId); return s ? s.conn : null; };
  // Resolve with the shard's session once it is READY (or RESUMED) on an open connection.
  fake.waitForReady = (shard = 0, timeoutMs = 5000, botId) => waitEvent('live', (s) => (s.shard[0] === shard && ofBot(s, botId) ? s : null),
    timeoutMs, `READY/RESUMED on shard ${shard}`, () => fake.liveSession(shard, botId));
  fake.waitForResume = (timeoutMs = 5000, after = 0) => waitEvent('resumed', (r) => (r.at >= after ? r : null),
    timeoutMs, 'successful Resume', () => fake.resumes.find((r) => r.ok && r.at >= after));
  fake.waitForIdentify = (pred = () => true, timeoutMs = 5000) => waitEvent('identify', (i) => (pred(i) ? i : null),
    timeoutMs, 'matching Identify', () => fake.identifies.find(pred));
  fake.waitForClose = (conn, timeoutMs = 5000) => waitEvent('closed', (c) => (c === conn ? c : null),
    timeoutMs, `close of connection ${conn.id}`, () => (conn.sock.destroyed ? conn : null));
  fake.waitForMessage = (pred = () => true, timeoutMs = 5000) => waitEvent('message', (m) => (pred(m) ? m : null),
    timeoutMs, 'matching message from the bot', () => fake.posted.find(pred));
  fake.waitForRest = (pred = () => true, timeoutMs = 5000) => waitEvent('rest', (r) => (pred(r) ? r : null),
    timeoutMs, 'matching REST request', () => fake.rest.find(pred));
  fake.waitForFollowup = (pred = () => true, timeoutMs = 5000) => waitEvent('followup', (f) => (pred(f) ? f : null),
    timeoutMs, 'matching interaction follow-up', () => fake.followups.find(pred));
  fake.waitFor = waitEvent;

  // Queue a dispatch on SHARD's session of each bot (or only BOTID's), delivered
  // now if connected, else on Resume. Every bot in the guild sees its events.
  fake.dispatch = (t, d, shard = 0, botId) => {
    const latest = new Map();   // bot id -> its newest live-or-resumable session
    for (const s of fake.sessions.values()) if (s.shard[0] === shard && !s.dead && ofBot(s, botId)) latest.set(sessionBot(s).id, s);
    if (latest.size === 0) throw new Error(`fake Discord: shard ${shard} has no session to dispatch ${t} on`);
    let first = null;
    for (const session of latest.values()) {
      session.seq += 1;
      const ev = { op: OP.DISPATCH, s: session.seq, t, d };
      session.events.push(ev);
      if (session.conn && !session.conn.closed && session.live && !fake.zombie && !session.conn.zombie) session.conn.send(ev);
      if (!first) first = ev;
    }
    return first;
  };

  // A MESSAGE_CREATE from a user (not the bot) in CHANNEL.
  fake.messageCreate = ({ channel_id = '100000000000000001', guild_id = '200000000000000001', content = 'hello', author, mentions = [], id,
    message_reference, shard = 0, dm = false } = {}) => {
    const d = {
      id: id || snowflake(),
      channel_id,
      content,
      author: author || { id: '700000000000000001', username: 'ann', global_name: 'Ann' },
      mentions,
      mention_everyone: false,
      timestamp: new Date().toISOString(),
      type: message_reference ? 19 : 0,
      tts: false,
      attachments: [],
      embeds: [],
    };
    d.channel_type = dm ? 1 : 0;   // discord.js v14 reads it to build a DM channel it has not seen
    if (!dm) d.guild_id = guild_id;
    if (message_reference) d.message_reference = message_reference;
    fake.dispatch('MESSAGE_CREATE', d, shard);
    return d;
  };
  // A slash command: INTERACTION_CREATE of type 2 from USER (a guild member unless dm).
  fake.interaction = ({ name, options = [], channel_id = '100000000000000001', guild_id = '200000000000000001', dm = false,
    user = { id: '700000000000000001', username: 'ann', global_name: 'Ann' }, shard = 0 } = {}) => {
    const d = {
      id: snowflake(), application_id: fake.applicationId, type: 2, token: `itoken-${crypto.randomBytes(24).toString('hex')}`,
      version: 1, channel_id, channel: { id: channel_id, type: dm ? 1 : 0 }, locale: 'en-US',
      data: { id: snowflake(), name, type: 1, options: options.map((o) => ({ type: 3, ...o })) },
    };
    if (dm) d.user = user;
    else { d.guild_id = guild_id; d.member = { user, roles: [], permissions: '0', joined_at: new Date().toISOString() }; }
    fake.interactions.set(d.id, { at: Date.now(), token: d.token, d });
    fake.dispatch('INTERACTION_CREATE', d, shard);
    return d;
  };
  // A user presses button CUSTOM_ID on the bot's message MESSAGE (as posted):
  // INTERACTION_CREATE of type 3 (MESSAGE_COMPONENT).
  fake.buttonPress = ({ message, custom_id, user = { id: '700000000000000001', username: 'ann', global_name: 'Ann' },
    guild_id = '200000000000000001', shard = 0 } = {}) => {
    const channel_id = message.channel_id;
    const d = {
      id: snowflake(), application_id: fake.applicationId, type: 3, token: `itoken-${crypto.randomBytes(24).toString('hex')}`,
      version: 1, channel_id, channel: { id: channel_id, type: 0 }, locale: 'en-US', guild_id,
      member: { user, roles: [], permissions: '0', joined_at: new Date().toISOString() },
      message: { id: message.id, channel_id, content: message.content, author: message.author, embeds: message.embeds || [],
        components: message.components || [], type: 0, timestamp: new Date().toISOString() },
      data: { custom_id, component_type: 2 },
    };
    fake.interactions.set(d.id, { at: Date.now(), token: d.token, d });
    fake.dispatch('INTERACTION_CREATE', d, shard);
    return d;
  };
  // A user adds a reaction to a message.
  fake.reactionAdd = ({ message_id, channel_id = '100000000000000001', guild_id = '200000000000000001', emoji = '👍',
    user = { id: '700000000000000001', username: 'ann', global_name: 'Ann' }, shard = 0 } = {}) => {
    const d = { user_id: user.id, channel_id, message_id, emoji: { id: null, name: emoji }, type: 0, burst: false };
    if (guild_id) { d.guild_id = guild_id; d.member = { user, roles: [] }; }
    fake.dispatch('MESSAGE_REACTION_ADD', d, shard);
    return d;
  };
  // A user edits a message (MESSAGE_UPDATE carries the whole message, with edited_timestamp).
  fake.messageUpdate = ({ id, content, channel_id = '100000000000000001', guild_id = '200000000000000001',
    author = { id: '700000000000000001', username: 'ann', global_name: 'Ann' }, edited = true, shard = 0 } = {}) => {
    const d = { id, channel_id, guild_id, content, author, mentions: [], attachments: [], embeds: [],
      timestamp: new Date().toISOString(), edited_timestamp: edited ? new Date().toISOString() : null, type: 0 };
    fake.dispatch('MESSAGE_UPDATE', d, shard);
    return d;
  };

  // A user's message that mentions the bot (opts.bot: which one), so it is addressed to it.
  fake.mentionBot = (opts = {}) => {
    const bot = opts.bot || { id: fake.botId, name: fake.botName };
    const rest = { ...opts };
    delete rest.bot;
    return fake.messageCreate({
      ...rest,
      content: `<@${bot.id}> ${opts.content || 'hello'}`,
      mentions: [{ id: bot.id, username: bot.name, bot: true }],
    });
  };

  // ---- gateway ---------------------------------------------------------

  function goLive(session, conn) {
    session.conn = conn;
    session.live = true;
    conn.session = session;
    fake.emit('live', session);
  }

  fake.handle = (conn, msg) => {
    switch (msg.op) {
    case OP.HEARTBEAT:
      conn.heartbeats++;
      if (!fake.zombie && !conn.zombie) { conn.acked++; conn.send({ op: OP.ACK }); }
      break;
    case OP.IDENTIFY: {
      const d = msg.d || {};
      const shard = Array.isArray(d.shard) ? d.shard : [0, 1];
      const rec = { at: Date.now(), shard: shard[0], total: shard[1], intents: d.intents, conn, d };
      fake.identifies.push(rec);
      fake.emit('identify', rec);
      const bot = botByToken(d.token);
      if (!bot) { conn.close(4004, 'Authentication failed.'); break; }
      // invalidOnIdentify: the gateway could not start a session for the next
      // N Identifies and says so with op 9, d=false (gateway events, Invalid Session).
      if (fake.invalidOnIdentify > 0) { fake.invalidOnIdentify--; rec.invalidated = true; conn.send({ op: OP.INVALID_SESSION, d: false, s: null, t: null }); break; }
      const closeCode = fake.identifyCloseFor[shard[0]] || fake.identifyClose;
      if (closeCode) { conn.close(closeCode, 'Scripted close.'); break; }
      if (conn.session) { conn.close(4005, 'Already authenticated.'); break; }
      if (shard[1] !== fake.shards && fake.strictShards) { conn.close(4010, 'Invalid shard.'); break; }
      if (fake.sessionStartRemaining <= 0) { conn.close(4004, 'Out of identifies.'); break; }
      fake.sessionStartRemaining--;
      for (const s of fake.sessions.values()) if (s.shard[0] === shard[0] && sessionBot(s) === bot) s.dead = true;
      const session = { id: crypto.randomBytes(16).toString('hex'), shard, seq: 0, events: [], conn: null, live: false, bot };
      fake.sessions.set(session.id, session);
      conn.shard = shard[0];
      goLive(session, conn);
      fake.dispatch('READY', {
        v: 10,
        user: { id: bot.id, username: bot.name, discriminator: '0', bot: true, avatar: null, global_name: null },
        guilds: fake.readyGuilds,
        session_id: session.id,
        resume_gateway_url: fake.resumeUrl,
        shard,
        application: { id: bot.applicationId, flags: 0 },
        private_channels: [],
        relationships: [],
        user_settings: {},
        presences: [],
        guild_join_requests: [],
        geo_ordered_rtc_regions: [],
      }, shard[0], bot.id);
      break;
    }
    case OP.RESUME: {
      const d = msg.d || {};
      // resumeClose: answer every Resume by closing with that code, as a
      // server that lost the session may (4003: "this session has been invalidated").
      if (fake.resumeClose) { fake.resumeCloses = (fake.resumeCloses || 0) + 1; conn.close(fake.resumeClose, 'Scripted close.'); break; }
      // resumeInvalid: answer every Resume with op 9, d=true ("you may resume"), and nothing else.
      if (fake.resumeInvalid) { fake.resumeInvalids = (fake.resumeInvalids || 0) + 1; conn.invalidSession(true); break; }
      const session = fake.sessions.get(d.session_id);
      const stale = !!session && fake.resumeWindowMs > 0 && !session.conn && session.lostAt && Date.now() - session.lostAt > fake.resumeWindowMs;
      if (stale) session.dead = true;
      const ok = !!session && !session.dead && d.token === sessionBot(session).token && typeof d.seq === 'number' && d.seq <= session.seq;
      const rec = { at: Date.now(), session_id: d.session_id, seq: d.seq, shard: session ? session.shard[0] : null, ok, stale, conn, replayed: 0 };
      fake.resumes.push(rec);
      if (!ok) { conn.invalidSession(false); break; }
      if (session.conn && session.conn !== conn && !session.conn.closed) session.conn.drop();
      conn.shard = session.shard[0];
      session.conn = conn;
      conn.session = session;
      const from = Math.max(0, d.seq - fake.replayOverlap);
      for (const ev of session.events) if (ev.s > from) { conn.send(ev); rec.replayed++; }
      session.live = true;
      fake.dispatch('RESUMED', null, session.shard[0], sessionBot(session).id);
      fake.emit('resumed', rec);
      fake.emit('live', session);
      break;
    }
    case OP.PRESENCE:
      break;
    default:
      conn.close(4001, 'Unknown opcode.');
    }
  };

  // ---- REST ------------------------------------------------------------

  // The route template of PATH (ids replaced) and its major parameter.
  function routeOf(method, path) {
    const parts = path.split('?')[0].replace(/^\/api\/v10/, '').split('/');
    const major = ['channels', 'guilds', 'webhooks'].includes(parts[1]) && parts[2] ? parts[2] : 'global';
    const out = parts.map((seg, i) => {
      if (i > 0 && parts[i - 1] === 'reactions') return '{emoji}';
      if (i === 3 && ['interactions', 'webhooks'].includes(parts[1])) return '{token}';
      return /^\d+$/.test(seg) ? '{id}' : seg;
    });
    return { route: `${method} ${out.join('/')}`, major };
  }

  function json(res, status, body, headers = {}) {
    const payload = body === null ? '' : encodeJson(body, fake.jsonStyle);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
    res.end(payload);
  }

  // Apply the scripted limits; returns a 429 answer, or the headers to add.
  function limitCheck(route, major) {
    const now = Date.now();
    const forced = fake.force429.findIndex((f) => (!f.route || f.route === route) && (!f.major || f.major === major));
    if (forced >= 0) {
      const f = fake.force429.splice(forced, 1)[0];
      const secs = (f.retryAfterMs || 100) / 1000;
      const headers = { 'retry-after': String(Math.ceil(secs)), 'x-ratelimit-scope': f.global ? 'global' : 'user' };
      if (f.global) headers['x-ratelimit-global'] = 'true';
      if (f.bucket) {
        Object.assign(headers, { 'x-ratelimit-bucket': f.bucket, 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0',
          'x-ratelimit-reset-after': secs.toFixed(3), 'x-ratelimit-reset': String((now + secs * 1000) / 1000) });
      }
      fake.given429.push({ at: now, route, major, retryAfterMs: secs * 1000, bucket: f.bucket || null, global: !!f.global });
      return { status: 429, headers, body: { message: 'You are being rate limited.', retry_after: secs, global: !!f.global } };
    }
    if (fake.globalLimit) {
      if (now - fake.globalWindow.start >= 1000) fake.globalWindow = { start: now, count: 0 };
      fake.globalWindow.count++;
      if (fake.globalWindow.count > fake.globalLimit.perSecond) {
        const secs = (1000 - (now - fake.globalWindow.start)) / 1000;
        fake.violations.push({ what: `global REST limit exceeded on ${route}` });
        return { status: 429, headers: { 'retry-after': String(Math.ceil(secs)), 'x-ratelimit-global': 'true', 'x-ratelimit-scope': 'global' },
          body: { message: 'You are being rate limited.', retry_after: secs, global: true } };
      }
    }
    const lim = fake.routeLimits[route];
    if (!lim) return { headers: {} };
    const key = `${lim.bucket}:${major}`;
    let st = fake.routeState.get(key);
    if (!st || now >= st.resetAt) { st = { count: 0, resetAt: now + lim.windowMs }; fake.routeState.set(key, st); }
    st.count++;
    const resetAfter = Math.max(0, st.resetAt - now) / 1000;
    const headers = {
      'x-ratelimit-limit': String(lim.limit),
      'x-ratelimit-remaining': String(Math.max(0, lim.limit - st.count)),
      'x-ratelimit-reset': String(st.resetAt / 1000),
      'x-ratelimit-reset-after': resetAfter.toFixed(3),
      'x-ratelimit-bucket': lim.bucket,
    };
    if (st.count > lim.limit) {
      fake.violations.push({ what: `route limit exceeded on ${route} (${major})` });
      return { status: 429, headers: { ...headers, 'retry-after': String(Math.ceil(resetAfter)), 'x-ratelimit-scope': 'user' },
        body: { message: 'You are being rate limited.', retry_after: resetAfter, global: false } };
    }
    return { headers };
  }

  function restRoute(req, res, body, rec) {
    const { route, major } = rec;
    const path = req.url.split('?')[0].replace(/^\/api\/v10/, '');
    const p = path.split('/');
    // fake.answerWith(rec): a scripted answer { status, headers, raw } for a
    // request, or null: what else Discord (or Cloudflare before it) may say.
    const scripted = fake.answerWith ? fake.answerWith(rec) : null;
    if (scripted) {
      rec.status = scripted.status;
      const raw = scripted.raw || '';
      res.writeHead(scripted.status, { 'content-length': Buffer.byteLength(raw), ...(scripted.headers || {}) });
      res.end(raw);
      return;
    }
    const lim = limitCheck(route, major);
    if (lim.status) { rec.status = lim.status; json(res, lim.status, lim.body, lim.headers); return; }
    const h = lim.headers;
    const auth = req.headers.authorization || '';
    const bot = auth.startsWith('Bot ') ? botByToken(auth.slice(4)) : null;
    rec.bot = bot ? bot.id : null;
    if (route !== 'GET /gateway' && !bot) {
      rec.status = 401;
      json(res, 401, { message: '401: Unauthorized', code: 0 }, h);
      return;
    }
    const reply = (status, b) => { rec.status = status; json(res, status, b, h); };
    if (fake.forbidChannels && fake.forbidChannels.has(major)) {
      reply(403, { message: 'Missing Permissions', code: 50013 });
      return;
    }
    if (route === 'GET /gateway/bot') {
      reply(200, {
        url: fake.gatewayUrl,
        shards: fake.shards,
        session_start_limit: { total: 1000, remaining: fake.sessionStartRemaining, reset_after: 86400000, max_concurrency: fake.maxConcurrency },
      });
    } else if (route === 'GET /gateway') {
      reply(200, { url: fake.gatewayUrl });
    } else if (route === 'GET /users/@me') {
      reply(200, { id: bot.id, username: bot.name, bot: true, discriminator: '0' });
    } else if (route === 'POST /channels/{id}/messages') {
      const hasRich = body && ((body.embeds && body.embeds.length) || (body.components && body.components.length));
      if (!body || typeof body.content !== 'string' || (body.content.length === 0 && !hasRich)) {
        reply(400, { message: 'Cannot send an empty message', code: 50006 });
        return;
      }
      if ([...body.content].length > 2000) { reply(400, { message: 'Invalid Form Body', code: 50035 }); return; }
      const bad = richProblem(body, { channel: true });
      if (bad) { fake.violations.push({ what: bad }); reply(400, { message: `Invalid Form Body: ${bad}`, code: 50035 }); return; }
      if (body.nonce !== undefined && !(typeof body.nonce === 'number' || (typeof body.nonce === 'string' && body.nonce.length <= 25))) {
        reply(400, { message: 'Invalid Form Body', code: 50035, errors: { nonce: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 25 or fewer in length.' }] } } });
        return;
      }
      // enforce_nonce: a nonce the bot used in the last few minutes returns
      // that message instead of creating another (Discord's documented behaviour).
      const seen = body.enforce_nonce && body.nonce !== undefined ? fake.nonces.get(`${bot.id}:${body.nonce}`) : null;
      if (seen && Date.now() - seen.at < 5 * 60 * 1000) {
        fake.nonceHits.push({ at: Date.now(), nonce: String(body.nonce), id: seen.id });
        reply(200, { id: seen.id, channel_id: seen.channel_id, content: seen.content, author: seen.author, nonce: body.nonce, type: 0 });
        return;
      }
      const m = {
        id: snowflake(), channel_id: p[2], content: body.content, author: { id: bot.id, username: bot.name, bot: true },
        allowed_mentions: body.allowed_mentions, message_reference: body.message_reference, at: Date.now(), body,
        embeds: body.embeds || [], components: body.components || [],
      };
      fake.messages.set(m.id, m);
      fake.posted.push(m);
      if (body.enforce_nonce && body.nonce !== undefined) fake.nonces.set(`${bot.id}:${body.nonce}`, m);
      // fake.messageObject(m, 'rest' | 'gateway'), when set, builds the whole message object
      // Discord answers with and echoes (bench/discord/payloads.js); the default is a short one.
      const full = fake.messageObject ? fake.messageObject(m, 'rest') : null;
      reply(200, full || { id: m.id, channel_id: m.channel_id, content: m.content, author: m.author, type: 0 });
      fake.emit('message', m);
      if (fake.echoToGateway) {
        const d = fake.messageObject ? fake.messageObject(m, 'gateway')
          : { id: m.id, channel_id: m.channel_id, guild_id: '200000000000000001', content: m.content, author: m.author, mentions: [] };
        fake.dispatch('MESSAGE_CREATE', d, 0);
      }
    } else if (route === 'PATCH /channels/{id}/messages/{id}') {
      const m = fake.messages.get(p[4]);
      if (!m) { reply(404, { message: 'Unknown Message', code: 10008 }); return; }
      if (body && typeof body.content === 'string') m.content = body.content;
      m.edits = (m.edits || 0) + 1;
      fake.edits.push({ at: Date.now(), channel_id: p[2], message_id: p[4], content: m.content });
      reply(200, { id: m.id, channel_id: m.channel_id, content: m.content });
    } else if (route === 'DELETE /channels/{id}/messages/{id}') {
      if (!fake.messages.delete(p[4])) { reply(404, { message: 'Unknown Message', code: 10008 }); return; }
      rec.status = 204;
      res.writeHead(204, h);
      res.end();
    } else if (route === 'POST /channels/{id}/typing') {
      rec.status = 204;
      res.writeHead(204, h);
      res.end();
    } else if (route === 'PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me') {
      fake.reactions.push({ at: Date.now(), channel_id: p[2], message_id: p[4], emoji: decodeURIComponent(p[6]), raw: p[6] });
      rec.status = 204;
      res.writeHead(204, h);
      res.end();
    } else if (route === 'PUT /applications/{id}/commands' || route === 'PUT /applications/{id}/guilds/{id}/commands') {
      fake.commands = Array.isArray(body) ? body : [];
      fake.commandPuts.push({ at: Date.now(), guild: p[3] === 'guilds' ? p[4] : null, commands: fake.commands });
      reply(200, fake.commands.map((c) => ({ id: snowflake(), application_id: fake.applicationId, ...c })));
    } else if (route === 'POST /interactions/{id}/{token}/callback') {
      const it = fake.interactions.get(p[2]);
      if (!it || it.token !== p[3]) { reply(404, { message: 'Unknown interaction', code: 10062 }); return; }
      if (it.answered) { reply(400, { message: 'Interaction has already been acknowledged.', code: 40060 }); return; }
      if (Date.now() - it.at > 3000) { reply(404, { message: 'Unknown interaction', code: 10062 }); return; }
      it.answered = body && body.type;
      fake.callbacks.push({ at: Date.now(), id: p[2], token: p[3], type: body && body.type, late: Date.now() - it.at });
      rec.status = 204;
      // callbackDelayMs: Discord is slow to confirm the deferral (it holds it already).
      setTimeout(() => { res.writeHead(204, h); res.end(); }, fake.callbackDelayMs || 0);
    } else if (route === 'PATCH /webhooks/{id}/{token}/messages/@original' || route === 'POST /webhooks/{id}/{token}') {
      const it = [...fake.interactions.values()].find((i) => i.token === p[3]);
      if (!it || !it.answered) { reply(404, { message: 'Unknown Webhook', code: 10015 }); return; }
      if (!body || typeof body.content !== 'string' || [...body.content].length > 2000) { reply(400, { message: 'Invalid Form Body', code: 50035 }); return; }
      const bad = richProblem(body, { channel: false });
      if (bad) { fake.violations.push({ what: bad }); reply(400, { message: `Invalid Form Body: ${bad}`, code: 50035 }); return; }
      const original = route.startsWith('PATCH');
      if (original && it.answered === 6) { fake.violations.push({ what: 'edited @original of a deferred update: that is the message with the buttons' }); }
      if (original && !it.originalId) it.originalId = snowflake();
      const m = { id: original ? it.originalId : snowflake(), channel_id: it.d.channel_id, content: body.content, author: { id: fake.botId, username: fake.botName, bot: true } };
      fake.followups.push({ at: Date.now(), kind: original ? 'original' : 'followup', interaction: it.d.id, token: p[3], content: body.content, body, id: m.id });
      reply(200, { ...m, type: 20 });
      fake.emit('followup', fake.followups[fake.followups.length - 1]);
    } else if (route === 'DELETE /webhooks/{id}/{token}/messages/@original') {
      const it = [...fake.interactions.values()].find((i) => i.token === p[3]);
      if (!it || !it.answered) { reply(404, { message: 'Unknown Webhook', code: 10015 }); return; }
      fake.deletedOriginals.push({ at: Date.now(), interaction: it.d.id });
      rec.status = 204;
      res.writeHead(204, h);
      res.end();
    } else if (route === 'POST /applications/{id}/commands') {
      fake.commands.push(body);
      reply(201, { id: snowflake(), application_id: fake.applicationId, ...body });
    } else {
      reply(404, { message: '404: Not Found', code: 0 });
    }
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = raw ? JSON.parse(raw) : null; } catch (_) { body = null; }
      if (!req.url.startsWith('/api/v10/')) { json(res, 404, { message: '404: Not Found', code: 0 }); return; }
      const { route, major } = routeOf(req.method, req.url);
      const rec = { at: Date.now(), method: req.method, path: req.url.replace(/^\/api\/v10/, ''), route, major, headers: req.headers, body, raw, status: 0 };
      fake.rest.push(rec);
      const go = () => { restRoute(req, res, body, rec); fake.emit('rest', rec); };
      if (fake.restDelayMs) setTimeout(go, fake.restDelayMs);
      else go();
    });
  });

  server.on('upgrade', (req, sock, head) => {
    const key = req.headers['sec-websocket-key'];
    if (!key || (req.headers.upgrade || '').toLowerCase() !== 'websocket') { sock.destroy(); return; }
    const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
    sock.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${accept}`, '', ''].join('\r\n'));
    sock.setNoDelay(true);
    const conn = new GatewayConn(fake, sock, req.url);
    fake.conns.push(conn);
    fake.emit('connection', conn);
    if (head && head.length) conn.onData(head);
    conn.send({ op: OP.HELLO, d: { heartbeat_interval: fake.heartbeatMs } });
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
      fake.apiBase = `http://${host}:${fake.port}/api`;
      fake.gatewayUrl = `ws://${host}:${fake.port}/gateway`;
      fake.resumeUrl = `ws://${host}:${fake.port}/resume`;
      resolve(fake);
    });
  });
}

module.exports = { startFakeDiscord, OP, snowflake };
