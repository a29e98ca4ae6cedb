'use strict';
// A fake Slack: the Web API and Socket Mode on one loopback port, written from
// Slack's documentation ("Using Socket Mode", the Events API, slash commands,
// interactivity, chat.postMessage / chat.update / reactions.add / auth.test,
// rate limits), with no npm dependencies. Plain http and ws.
//
//   const fake = await startFakeSlack({ appToken: 'xapp-1-...', botToken: 'xoxb-...' });
//   fake.apiUrl                 // "http://127.0.0.1:P/api/" (a method's URL is apiUrl + "chat.postMessage")
//   await fake.waitForHello(2)  // two Socket Mode connections said hello
//   const ev = fake.userMessage({ text: 'hi' })   // an events_api envelope (message event) on a live connection
//   await fake.waitForPost((p) => p.text === 'echo: hi')
//
// Socket Mode, as the docs describe it:
//   apps.connections.open (app token, Tier 1) returns a one-time ws URL (?ticket=...); a used or unknown ticket is
//   refused at the upgrade. Each connection gets `hello` first, then envelopes {envelope_id, type, payload,
//   accepts_response_payload, retry_attempt, retry_reason} on any live connection. An envelope must be acked by
//   sending {envelope_id[, payload]} on the connection it came on within ackTimeoutMs (3 s in Slack), else it is
//   retried (retry_attempt + 1, retry_reason "timeout", a new envelope_id, the same event_id) up to 3 times.
//   The fake pings every pingMs and answers the client's pings.
// Scripting:
//   conn.disconnect('warning' | 'refresh_requested' | 'link_disabled')   a `disconnect` message; the fake closes
//      that connection after closeAfterMs (warning: warningCloseMs); link_disabled also disables the app:
//      apps.connections.open then answers {ok:false, error:"invalid_auth"}... (see fake.linkDisabled)
//   conn.drop()                 cut TCP without a close frame; conn.close(code)
//   conn.sendRaw(text)          anything on the socket (malformed envelopes)
//   fake.envelope(type, payload, { accepts })   any envelope (view_submission, shortcut...)
//   fake.retry(env)             deliver ENV's event again as a retry (as when an ack was lost)
//   fake.holdAcks = true        the fake ignores acks (every envelope is retried)
//   fake.force429.push({ method: 'chat.postMessage', retryAfter: 1 })   the next call of METHOD gets a 429
//   fake.rateLimits = false     no tier or per-channel limits
//   fake.rateWindowMs           length of a tier's window (60000 in Slack; shrink for tests)
//   fake.appDisabled = true     apps.connections.open fails (as after link_disabled)
//   fake.revoked = true         every token is refused with invalid_auth (or fake.revokedError: token_revoked,
//                               account_inactive...)
//   fake.warnAnswers = true     ok answers carry a warning and response_metadata.warnings, as Slack adds them
//   fake.openErrors.push('internal_error')   the next apps.connections.open answers {ok:false, error}
//   jsonStyle                   envelopes and Web API answers pretty-printed, spaced or with keys reversed
//                               (json-style.js); by default compact, in Slack's key order
// Checks:
//   fake.calls (every Web API call), fake.posts (chat.postMessage, accepted), fake.updates, fake.reactions,
//   fake.responses (POSTs to response_urls), fake.acks, fake.envelopes, fake.violations (limits broken, acks
//   late or on the wrong socket, unknown envelope ids), fake.conns, fake.gaps() (intervals with no live
//   connection since the first hello), fake.answersTo(event) (bot posts answering a user message).

const http = require('node:http');
const crypto = require('node:crypto');
const { encodeJson } = require('./json-style');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// Slack's checks of Block Kit blocks (reference/block-kit/blocks and
// block-elements): the reason it would answer invalid_blocks, or null.
function blocksProblem(blocks) {
  const cp = (t) => [...(t || '')].length;
  const textObj = (o, max, types = ['plain_text', 'mrkdwn']) => o && types.includes(o.type) && typeof o.text === 'string' && cp(o.text) >= 1 && cp(o.text) <= max;
  if (!Array.isArray(blocks) || blocks.length > 50) return 'blocks: a list of at most 50';
  const actionIds = new Set();
  for (const b of blocks) {
    if (b.block_id !== undefined && (typeof b.block_id !== 'string' || b.block_id.length > 255)) return 'block_id';
    if (b.type === 'section') {
      if (!b.text && !b.fields) return 'a section needs text or fields';
      if (b.text && !textObj(b.text, 3000)) return 'section text: 1 to 3000 characters';
      if (b.fields && (!Array.isArray(b.fields) || b.fields.length > 10 || !b.fields.every((f) => textObj(f, 2000)))) return 'section fields: at most 10 of 2000';
    } else if (b.type === 'image') {
      if (typeof b.image_url !== 'string' || b.image_url.length > 3000 || typeof b.alt_text !== 'string' || cp(b.alt_text) > 2000) return 'image: image_url and alt_text';
    } else if (b.type === 'context') {
      if (!Array.isArray(b.elements) || b.elements.length < 1 || b.elements.length > 10 || !b.elements.every((e) => textObj(e, 3000))) return 'context elements';
    } else if (b.type === 'actions') {
      if (!Array.isArray(b.elements) || b.elements.length < 1 || b.elements.length > 25) return 'actions: 1 to 25 elements';
      for (const e of b.elements) {
        if (e.type !== 'button' || !textObj(e.text, 75, ['plain_text'])) return 'a button has plain_text text of at most 75';
        if (typeof e.action_id !== 'string' || e.action_id.length > 255 || actionIds.has(e.action_id)) return 'action_id: unique, at most 255';
        actionIds.add(e.action_id);
        if (e.value !== undefined && (typeof e.value !== 'string' || e.value.length > 2000)) return 'button value';
        if (e.url !== undefined && (typeof e.url !== 'string' || e.url.length > 3000)) return 'button url';
        if (e.style !== undefined && !['primary', 'danger'].includes(e.style)) return 'button style: primary or danger';
      }
    } else {
      return `unknown block type ${b.type}`;
    }
  }
  return null;
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

let tsCounter = 0;
// A Slack message timestamp: unique seconds.micro string.
function newTs() {
  tsCounter = (tsCounter + 1) % 1000000;
  const s = Math.floor(Date.now() / 1000);
  return `${s}.${String(tsCounter).padStart(6, '0')}`;
}
const rid = (prefix, n = 10) => prefix + crypto.randomBytes(n).toString('hex').toUpperCase().slice(0, n);

// One Socket Mode connection, from the upgrade to the close.
class SocketConn {
  constructor(fake, sock, ticket) {
    this.fake = fake;
    this.sock = sock;
    this.ticket = ticket;
    this.id = ++fake.connCounter;
    this.buf = Buffer.alloc(0);
    this.fragments = null;
    this.received = [];
    this.closed = false;
    this.live = false;           // hello sent and no disconnect yet
    this.openedAt = Date.now();
    this.closedAt = 0;
    this.closedCode = null;
    this.disconnectReason = null;
    this.pongs = 0;
    this.pingTimer = fake.pingMs ? setInterval(() => this.write(frame(0x9, `ping-${Date.now()}`)), fake.pingMs) : null;
    sock.on('data', (c) => this.onData(c));
    sock.on('error', () => {});
    sock.on('close', () => this.onClosed());
  }

  write(bytes) { if (!this.sock.destroyed) this.sock.write(bytes); }
  send(obj) { if (!this.closed) this.write(frame(0x1, encodeJson(obj, this.fake.jsonStyle))); }
  sendRaw(text) { if (!this.closed) this.write(frame(0x1, text)); }

  // The `disconnect` message; the connection is closed by the fake after a while.
  disconnect(reason = 'refresh_requested') {
    this.send({ type: 'disconnect', reason, debug_info: { host: `applink-${this.id}` } });
    this.disconnectReason = reason;
    this.fake.setLive(this, false);
    if (reason === 'link_disabled') this.fake.appDisabled = true;
    const after = reason === 'warning' ? this.fake.warningCloseMs : this.fake.closeAfterMs;
    setTimeout(() => this.close(1000), after);
  }

  close(code = 1000) {
    if (this.closed) return;
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code, 0);
    this.write(frame(0x8, p));
    this.closed = true;
    this.fake.setLive(this, false);
    setTimeout(() => this.sock.destroy(), 100);
  }

  drop() {
    this.closed = true;
    this.fake.setLive(this, false);
    this.sock.destroy();
  }

  onClosed() {
    this.closed = true;
    this.closedAt = Date.now();
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.fake.setLive(this, false);
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
        this.fake.setLive(this, false);
        this.write(frame(0x8, payload.subarray(0, Math.min(2, payload.length))));
        setTimeout(() => this.sock.destroy(), 50);
      }
      return;
    }
    if (opcode === 0x9) { this.write(frame(0xa, payload)); return; }
    if (opcode === 0xa) { this.pongs++; return; }
    if (opcode === 0x1 || opcode === 0x2) {
      if (!fin) { this.fragments = [payload]; return; }
      this.onMessage(payload);
    } else if (opcode === 0x0 && this.fragments) {
      this.fragments.push(payload);
      if (fin) { const whole = Buffer.concat(this.fragments); this.fragments = null; this.onMessage(whole); }
    }
  }

  onMessage(bytes) {
    let msg;
    try { msg = JSON.parse(bytes.toString('utf8')); } catch (_) {
      this.fake.violations.push({ conn: this.id, what: 'a client message that is not JSON' });
      return;
    }
    this.received.push(msg);
    this.fake.onAck(this, msg);
  }
}

function startFakeSlack({
  host = '127.0.0.1',
  appToken = 'xapp-1-A0FAKEAPP-1-fake-app-token',
  botToken = 'xoxb-1-fake-bot-token',
  teamId = 'T0FAKETEAM',
  appId = 'A0FAKEAPP',
  botUserId = 'U0FAKEBOT',
  botId = 'B0FAKEBOT',
  ackTimeoutMs = 3000,
  maxRetries = 3,
  pingMs = 10000,
  closeAfterMs = 100,
  warningCloseMs = 1000,
  rateWindowMs = 60000,
  jsonStyle = null,            // { pretty, spaced, reorder } (json-style.js): envelopes and answers so written
  revoked = false,
  revokedError = 'invalid_auth',
  warnAnswers = false,
  openErrors = [],
} = {}) {
  const listeners = {};
  const sockets = new Set();
  const fake = {
    appToken, botToken, teamId, appId, botUserId, botId, ackTimeoutMs, maxRetries, pingMs, closeAfterMs, warningCloseMs,
    rateWindowMs, jsonStyle,
    port: 0, apiUrl: '', baseUrl: '',
    connCounter: 0,
    conns: [],
    tickets: new Map(),          // ticket -> { used }
    opens: [],                   // apps.connections.open calls { at, ok }
    envelopes: [],               // every envelope sent { at, conn, env, acked, ackedAt }
    pending: new Map(),          // envelope_id -> record, until acked
    acks: [],                    // { at, conn, envelope_id, payload }
    events: [],                  // every event created { event_id, payload, envelopes: [] }
    calls: [],                   // Web API calls { at, method, headers, body, status, error }
    posts: [],                   // chat.postMessage accepted
    updates: [],                 // chat.update accepted
    reactions: [],
    responses: [],               // response_url POSTs
    messages: new Map(),         // `${channel}/${ts}` -> message
    violations: [],
    holdAcks: false,
    rateLimits: true,
    tierLimits: { 1: 10, 2: 20, 3: 50, 4: 100 },   // per rateWindowMs; Slack's tier 1 is "1+ per minute" with bursts
    postPerChannel: { limit: 3, windowMs: 1000 },    // chat.postMessage: about 1 per second per channel, short bursts
    force429: [],
    appDisabled: false,
    revoked,
    revokedError,
    warnAnswers,
    openErrors: openErrors.slice(),
    liveSince: 0,
    gapStart: 0,
    gapList: [],
    echoBotMessages: true,       // the bot's own posts come back as message events, as in Slack
    deliverTo: null,             // a conn to use instead of round-robin
    rr: 0,
    on(ev, fn) { (listeners[ev] = listeners[ev] || []).push(fn); },
    off(ev, fn) { listeners[ev] = (listeners[ev] || []).filter((f) => f !== fn); },
    emit(ev, ...args) { for (const fn of (listeners[ev] || []).slice()) fn(...args); },
  };
  const windows = new Map();     // method or channel -> [times]

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
        reject(new Error(`fake Slack: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      fake.on(ev, fn);
    });
  }

  fake.liveConns = () => fake.conns.filter((c) => c.live && !c.closed);
  fake.waitForHello = (n = 1, timeoutMs = 10000) => waitEvent('live', () => (fake.liveConns().length >= n ? fake.liveConns() : null),
    timeoutMs, `${n} live connection(s)`, () => (fake.liveConns().length >= n ? fake.liveConns() : null));
  fake.waitForPost = (pred = () => true, timeoutMs = 10000) => waitEvent('post', (p) => (pred(p) ? p : null),
    timeoutMs, 'matching chat.postMessage', () => fake.posts.find(pred));
  fake.waitForUpdate = (pred = () => true, timeoutMs = 10000) => waitEvent('update', (p) => (pred(p) ? p : null),
    timeoutMs, 'matching chat.update', () => fake.updates.find(pred));
  fake.waitForResponse = (pred = () => true, timeoutMs = 10000) => waitEvent('response', (p) => (pred(p) ? p : null),
    timeoutMs, 'matching response_url POST', () => fake.responses.find(pred));
  fake.waitForAck = (pred = () => true, timeoutMs = 10000) => waitEvent('ack', (a) => (pred(a) ? a : null),
    timeoutMs, 'matching ack', () => fake.acks.find(pred));
  fake.waitForCall = (pred = () => true, timeoutMs = 10000) => waitEvent('call', (c) => (pred(c) ? c : null),
    timeoutMs, 'matching Web API call', () => fake.calls.find(pred));
  fake.waitForClose = (conn, timeoutMs = 10000) => waitEvent('closed', (c) => (c === conn ? c : null),
    timeoutMs, `close of connection ${conn.id}`, () => (conn.sock.destroyed ? conn : null));
  fake.waitFor = waitEvent;

  // Keep the gap bookkeeping: time with no live connection after the first hello.
  fake.setLive = (conn, live) => {
    if (conn.live === live) return;
    conn.live = live;
    const n = fake.liveConns().length;
    const now = Date.now();
    if (live) {
      if (!fake.liveSince) fake.liveSince = now;
      if (fake.gapStart) { fake.gapList.push({ from: fake.gapStart, ms: now - fake.gapStart }); fake.gapStart = 0; }
      fake.emit('live', conn);
      flushQueued();
    } else if (n === 0 && fake.liveSince && !fake.gapStart) {
      fake.gapStart = now;
    }
  };
  // Intervals with no live connection (an open one counts up to now).
  fake.gaps = () => fake.gapList.concat(fake.gapStart ? [{ from: fake.gapStart, ms: Date.now() - fake.gapStart, open: true }] : []);
  fake.maxGapMs = () => fake.gaps().reduce((m, g) => Math.max(m, g.ms), 0);

  const queued = [];             // envelopes waiting for a live connection
  function flushQueued() {
    while (queued.length && fake.liveConns().length) sendEnvelope(queued.shift());
  }

  // Put envelope record REC on a live connection (round-robin), or queue it.
  function sendEnvelope(rec) {
    const live = fake.liveConns();
    if (!live.length) { queued.push(rec); return; }
    const conn = fake.deliverTo && fake.deliverTo.live && !fake.deliverTo.closed ? fake.deliverTo : live[fake.rr++ % live.length];
    rec.conn = conn;
    rec.at = Date.now();
    fake.pending.set(rec.env.envelope_id, rec);
    conn.send(rec.env);
    rec.timer = setTimeout(() => {
      if (rec.acked || !fake.pending.has(rec.env.envelope_id)) return;
      fake.pending.delete(rec.env.envelope_id);
      if (rec.env.retry_attempt < fake.maxRetries) deliver(rec.type, rec.payload, { retry: rec.env.retry_attempt + 1, reason: 'timeout', event: rec.event, accepts: rec.env.accepts_response_payload });
      else fake.emit('dropped', rec);
    }, fake.ackTimeoutMs);
  }

  // Make and send an envelope of TYPE around PAYLOAD.
  function deliver(type, payload, { retry = 0, reason = '', event = null, accepts = false } = {}) {
    const env = {
      envelope_id: crypto.randomUUID(), payload, type, accepts_response_payload: accepts, retry_attempt: retry, retry_reason: reason,
    };
    const rec = { env, type, payload, event, acked: false, ackedAt: 0, conn: null };
    fake.envelopes.push(rec);
    if (event) event.envelopes.push(rec);
    sendEnvelope(rec);
    return rec;
  }

  fake.onAck = (conn, msg) => {
    if (!msg || typeof msg.envelope_id !== 'string') {
      fake.violations.push({ conn: conn.id, what: `a client message without envelope_id: ${JSON.stringify(msg).slice(0, 200)}` });
      return;
    }
    const rec = fake.pending.get(msg.envelope_id) || fake.envelopes.find((e) => e.env.envelope_id === msg.envelope_id);
    const ack = { at: Date.now(), conn, envelope_id: msg.envelope_id, payload: msg.payload, rec };
    fake.acks.push(ack);
    if (!rec) { fake.violations.push({ conn: conn.id, what: `ack of unknown envelope ${msg.envelope_id}` }); return; }
    if (rec.conn !== conn) fake.violations.push({ conn: conn.id, what: `ack of ${msg.envelope_id} on another connection` });
    if (fake.holdAcks) { fake.emit('ack', ack); return; }
    if (!rec.acked) {
      rec.acked = true;
      rec.ackedAt = ack.at;
      if (ack.at - rec.at > fake.ackTimeoutMs) fake.violations.push({ conn: conn.id, what: `late ack (${ack.at - rec.at} ms)` });
      fake.pending.delete(msg.envelope_id);
      clearTimeout(rec.timer);
    }
    fake.emit('ack', ack);
  };

  // Events API: wrap EVENT in an event_callback and deliver it. Returns the event record.
  fake.event = (event, { retry = 0 } = {}) => {
    const payload = {
      token: 'fakeVerificationToken', team_id: fake.teamId, context_team_id: fake.teamId, context_enterprise_id: null,
      api_app_id: fake.appId, event, type: 'event_callback', event_id: rid('Ev0', 10), event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ enterprise_id: null, team_id: fake.teamId, user_id: fake.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false, event_context: `4-${crypto.randomBytes(12).toString('base64url')}`,
    };
    const rec = { event_id: payload.event_id, payload, event, envelopes: [] };
    fake.events.push(rec);
    deliver('events_api', payload, { retry, reason: retry ? 'timeout' : '', event: rec });
    return rec;
  };
  // Deliver REC's event again, as Slack does when it saw no ack (a duplicate for the bot if it did ack).
  fake.retry = (rec, reason = 'timeout') => deliver('events_api', rec.payload,
    { retry: (rec.envelopes.length ? rec.envelopes[rec.envelopes.length - 1].env.retry_attempt : 0) + 1, reason, event: rec });

  const richText = (text) => [{ type: 'rich_text', block_id: rid('b', 5), elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text }] }] }];
  // A person's message: a `message` event (channel_type channel, or im for a DM); THREAD_TS puts it in a thread.
  fake.userMessage = ({ text = 'hello', channel = 'C0GENERAL', user = 'U0ANN', dm = false, thread_ts, ts } = {}) => {
    const t = ts || newTs();
    const ev = {
      user, type: 'message', ts: t, client_msg_id: crypto.randomUUID(), text, team: fake.teamId, blocks: richText(text),
      channel: dm ? (channel === 'C0GENERAL' ? 'D0ANNDM' : channel) : channel, event_ts: t, channel_type: dm ? 'im' : 'channel',
    };
    if (thread_ts) { ev.thread_ts = thread_ts; ev.parent_user_id = user; }
    fake.messages.set(`${ev.channel}/${t}`, { ...ev });
    return fake.event(ev);
  };
  // A mention of the bot: both events Slack sends for it (message and app_mention, with different event_ids).
  fake.mention = ({ text = 'hello', channel = 'C0GENERAL', user = 'U0ANN', thread_ts, both = true } = {}) => {
    const full = `<@${fake.botUserId}> ${text}`;
    const t = newTs();
    const msg = both ? fake.userMessage({ text: full, channel, user, thread_ts, ts: t }) : null;
    const ev = { type: 'app_mention', user, text: full, ts: t, client_msg_id: crypto.randomUUID(), team: fake.teamId,
      blocks: richText(full), channel, event_ts: t };
    if (thread_ts) ev.thread_ts = thread_ts;
    const mention = fake.event(ev);
    return { message: msg, mention, ts: t, channel };
  };
  // Another app's bot posts (the bot must ignore it).
  fake.otherBotMessage = ({ text = 'beep', channel = 'C0GENERAL' } = {}) => {
    const t = newTs();
    return fake.event({ type: 'message', subtype: 'bot_message', text, ts: t, bot_id: 'B0OTHERBOT', username: 'other', channel,
      event_ts: t, channel_type: 'channel' });
  };
  // A message with a subtype (a join, an edit...): not something to answer.
  fake.subtypeMessage = ({ subtype = 'channel_join', channel = 'C0GENERAL', user = 'U0BOB', text = '<@U0BOB> has joined the channel' } = {}) => {
    const t = newTs();
    return fake.event({ type: 'message', subtype, user, text, ts: t, channel, event_ts: t, channel_type: 'channel' });
  };
  // Any envelope of TYPE around PAYLOAD (interactive payloads of other kinds, types Slack may add).
  fake.envelope = (type, payload, { accepts = false } = {}) => deliver(type, payload, { accepts });
  // A slash command envelope (accepts_response_payload: true).
  fake.slashCommand = ({ command = '/echo', text = '', channel = 'C0GENERAL', user = 'U0ANN' } = {}) => {
    const payload = {
      token: 'fakeVerificationToken', team_id: fake.teamId, team_domain: 'fake', channel_id: channel, channel_name: 'general',
      user_id: user, user_name: 'ann', command, text, api_app_id: fake.appId, is_enterprise_install: 'false',
      response_url: `${fake.baseUrl}/commands/${fake.teamId}/${rid('', 12)}/${crypto.randomBytes(12).toString('hex')}`,
      trigger_id: `${Date.now()}.${rid('', 8)}`,
    };
    return deliver('slash_commands', payload, { accepts: true });
  };
  // A button press (block_actions) on a message of the bot.
  fake.buttonPress = ({ value = 'yes', channel = 'C0GENERAL', user = 'U0ANN', message_ts = newTs(), action_id = 'choice', block_id = 'b1' } = {}) => {
    const payload = {
      type: 'block_actions', user: { id: user, username: 'ann', name: 'ann', team_id: fake.teamId }, api_app_id: fake.appId,
      token: 'fakeVerificationToken', container: { type: 'message', message_ts, channel_id: channel, is_ephemeral: false },
      trigger_id: `${Date.now()}.${rid('', 8)}`, team: { id: fake.teamId, domain: 'fake' }, enterprise: null, is_enterprise_install: false,
      channel: { id: channel, name: 'general' }, message: { type: 'message', user: fake.botUserId, ts: message_ts, bot_id: fake.botId, text: 'pick one' },
      state: { values: {} }, response_url: `${fake.baseUrl}/actions/${fake.teamId}/${rid('', 12)}/${crypto.randomBytes(12).toString('hex')}`,
      actions: [{ action_id, block_id, text: { type: 'plain_text', text: value, emoji: true }, value, type: 'button', action_ts: `${Date.now() / 1000}` }],
    };
    return deliver('interactive', payload);
  };

  // Posts of the bot answering the user message in event record REC (same channel, after it, text echoes it).
  fake.answersTo = (rec, pred = () => true) => {
    const ev = rec.event;
    return fake.posts.filter((p) => p.channel === ev.channel && pred(p));
  };

  // ---- Web API ----

  function bearer(req) {
    const h = req.headers.authorization || '';
    return h.startsWith('Bearer ') ? h.slice(7) : null;
  }

  // Is this call over its tier (or per-channel) limit? Returns the seconds to wait, or 0.
  function limited(key, limit, windowMs) {
    const now = Date.now();
    const list = (windows.get(key) || []).filter((t) => t > now - windowMs);
    if (list.length >= limit) { windows.set(key, list); return Math.max(1, Math.ceil((list[0] + windowMs - now) / 1000)); }
    list.push(now);
    windows.set(key, list);
    return 0;
  }

  const TIERS = { 'apps.connections.open': 1, 'auth.test': 4, 'chat.update': 3, 'reactions.add': 3, 'conversations.info': 3 };

  function botMessage(channel, text, extra = {}) {
    return {
      bot_id: fake.botId, type: 'message', text, user: fake.botUserId, ts: newTs(), app_id: fake.appId, blocks: [], team: fake.teamId,
      bot_profile: { id: fake.botId, deleted: false, name: 'chorus', updated: 1700000000, app_id: fake.appId,
        icons: { image_36: 'https://a.slack-edge.com/fake_36.png' }, team_id: fake.teamId },
      ...extra,
    };
  }

  function method(name, body, req, res, rec) {
    const reply = (status, obj, headers = {}) => {
      if (fake.warnAnswers && obj && obj.ok === true) {
        obj = { ...obj, warning: 'missing_charset,superfluous_charset', response_metadata: { warnings: ['missing_charset', 'superfluous_charset'] } };
      }
      rec.status = status;
      rec.response = obj;
      rec.error = obj && obj.ok === false ? obj.error : null;
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(encodeJson(obj, fake.jsonStyle));
      fake.emit('call', rec);
    };
    const token = bearer(req) || body.token;
    const wantApp = name === 'apps.connections.open';
    if (!token) return reply(200, { ok: false, error: 'not_authed' });
    if (fake.revoked || token !== (wantApp ? fake.appToken : fake.botToken)) {
      return reply(200, { ok: false, error: wantApp && token === fake.botToken ? 'not_allowed_token_type' : fake.revokedError });
    }
    const forced = fake.force429.findIndex((f) => f.method === name);
    if (forced >= 0) {
      const f = fake.force429.splice(forced, 1)[0];
      return reply(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(f.retryAfter || 1) });
    }
    if (fake.rateLimits) {
      let wait = 0;
      if (TIERS[name]) wait = limited(`m:${name}`, fake.tierLimits[TIERS[name]], fake.rateWindowMs);
      else if (name === 'chat.postMessage' && body.channel) wait = limited(`c:${body.channel}`, fake.postPerChannel.limit, fake.postPerChannel.windowMs);
      if (wait) {
        fake.violations.push({ what: `${name} over its rate limit`, channel: body.channel });
        return reply(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(wait) });
      }
    }
    switch (name) {
      case 'auth.test':
        return reply(200, { ok: true, url: 'https://fake.slack.com/', team: 'Fake', user: 'chorus', team_id: fake.teamId,
          user_id: fake.botUserId, bot_id: fake.botId, is_enterprise_install: false });
      case 'apps.connections.open': {
        const ok = !fake.appDisabled;
        fake.opens.push({ at: Date.now(), ok });
        if (!ok) return reply(200, { ok: false, error: 'invalid_auth' });
        if (fake.openErrors.length) { fake.opens[fake.opens.length - 1].ok = false; return reply(200, { ok: false, error: fake.openErrors.shift() }); }
        const ticket = crypto.randomUUID();
        fake.tickets.set(ticket, { used: false });
        return reply(200, { ok: true, url: `ws://${host}:${fake.port}/link/?ticket=${ticket}&app_id=${fake.appId}` });
      }
      case 'chat.postMessage': {
        const text = typeof body.text === 'string' ? body.text : '';
        if (!body.channel) return reply(200, { ok: false, error: 'channel_not_found' });
        if (!text && !body.blocks && !body.attachments) return reply(200, { ok: false, error: 'no_text' });
        if (text.length > 40000) return reply(200, { ok: false, error: 'msg_too_long' });
        if (body.blocks) {
          const blocks = typeof body.blocks === 'string' ? JSON.parse(body.blocks) : body.blocks;
          const bad = blocksProblem(blocks);
          if (bad) { fake.violations.push({ what: `invalid_blocks: ${bad}` }); return reply(200, { ok: false, error: 'invalid_blocks', errors: [bad] }); }
          if (!text) fake.violations.push({ what: 'blocks without a top-level text fallback' });
        }
        const m = botMessage(body.channel, text, body.thread_ts ? { thread_ts: body.thread_ts } : {});
        const post = { at: Date.now(), channel: body.channel, ts: m.ts, text, thread_ts: body.thread_ts, body };
        fake.posts.push(post);
        fake.messages.set(`${body.channel}/${m.ts}`, { ...m, channel: body.channel });
        reply(200, { ok: true, channel: body.channel, ts: m.ts, message: m });
        fake.emit('post', post);
        if (fake.echoBotMessages) {
          fake.event({ ...m, channel: body.channel, event_ts: m.ts, channel_type: body.channel.startsWith('D') ? 'im' : 'channel' });
        }
        return undefined;
      }
      case 'chat.update': {
        const key = `${body.channel}/${body.ts}`;
        const m = fake.messages.get(key);
        if (!m) return reply(200, { ok: false, error: 'message_not_found' });
        if (m.user !== fake.botUserId) return reply(200, { ok: false, error: 'cant_update_message' });
        const text = typeof body.text === 'string' ? body.text : '';
        if (text.length > 40000) return reply(200, { ok: false, error: 'msg_too_long' });
        m.text = text;
        const up = { at: Date.now(), channel: body.channel, ts: body.ts, text, body };
        fake.updates.push(up);
        reply(200, { ok: true, channel: body.channel, ts: body.ts, text, message: { ...m, edited: { user: fake.botUserId, ts: newTs() } } });
        fake.emit('update', up);
        return undefined;
      }
      case 'reactions.add': {
        if (!body.channel || !body.timestamp) return reply(200, { ok: false, error: 'no_item_specified' });
        if (!body.name || /[:\s]/.test(body.name)) return reply(200, { ok: false, error: 'invalid_name' });
        if (!fake.messages.has(`${body.channel}/${body.timestamp}`)) return reply(200, { ok: false, error: 'message_not_found' });
        if (fake.reactions.some((r) => r.channel === body.channel && r.timestamp === body.timestamp && r.name === body.name)) {
          return reply(200, { ok: false, error: 'already_reacted' });
        }
        const r = { at: Date.now(), channel: body.channel, timestamp: body.timestamp, name: body.name };
        fake.reactions.push(r);
        reply(200, { ok: true });
        fake.emit('reaction', r);
        return undefined;
      }
      default:
        return reply(200, { ok: false, error: 'unknown_method' });
    }
  }

  // Decode a Web API body: JSON, or form-encoded (as Slack accepts both).
  function parseBody(req, raw) {
    const type = (req.headers['content-type'] || '').toLowerCase();
    if (type.startsWith('application/json')) {
      try { return JSON.parse(raw || '{}'); } catch (_) { return null; }
    }
    const out = {};
    for (const [k, v] of new URLSearchParams(raw)) out[k] = v;
    return out;
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, 'http://fake');
      if (url.pathname.startsWith('/commands/') || url.pathname.startsWith('/actions/')) {
        let body = null;
        try { body = JSON.parse(raw); } catch (_) { body = null; }
        const r = { at: Date.now(), path: url.pathname, body };
        const bad = body && body.blocks ? blocksProblem(body.blocks) : null;
        if (bad) fake.violations.push({ what: `invalid_blocks in a response_url POST: ${bad}` });
        if (body && !['in_channel', 'ephemeral', undefined].includes(body.response_type)) fake.violations.push({ what: 'response_type' });
        fake.responses.push(r);
        res.writeHead(body ? 200 : 400, { 'content-type': 'text/plain' });
        res.end(body ? 'ok' : 'invalid_payload');
        fake.emit('response', r);
        return;
      }
      if (req.method !== 'POST' && req.method !== 'GET') { res.writeHead(405); res.end(); return; }
      const m = /^\/api\/([a-zA-Z.]+)$/.exec(url.pathname);
      if (!m) { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('not found'); return; }
      let body = req.method === 'GET' ? Object.fromEntries(url.searchParams) : parseBody(req, raw);
      const rec = { at: Date.now(), method: m[1], headers: req.headers, body, raw, status: 0 };
      fake.calls.push(rec);
      if (body === null) {
        rec.status = 200;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'invalid_json' }));
        return;
      }
      body = body || {};
      method(m[1], body, req, res, rec);
    });
  });

  server.on('upgrade', (req, sock, head) => {
    const url = new URL(req.url, 'http://fake');
    const key = req.headers['sec-websocket-key'];
    const ticket = url.searchParams.get('ticket');
    const t = ticket && fake.tickets.get(ticket);
    if (!key || url.pathname !== '/link/' || !t || t.used || fake.appDisabled) {
      fake.violations.push({ what: `websocket upgrade refused (${!t ? 'unknown ticket' : t.used ? 'ticket used twice' : 'bad request'})` });
      sock.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    t.used = true;
    const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
    sock.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${accept}`, '', ''].join('\r\n'));
    sock.setNoDelay(true);
    const conn = new SocketConn(fake, sock, ticket);
    fake.conns.push(conn);
    if (head && head.length) conn.onData(head);
    conn.send({ type: 'hello', num_connections: fake.liveConns().length + 1,
      debug_info: { host: `applink-${conn.id}`, build_number: 105, approximate_connection_time: 18060 },
      connection_info: { app_id: fake.appId } });
    fake.setLive(conn, true);
    fake.emit('connection', conn);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

  fake.close = () => {
    for (const rec of fake.envelopes) clearTimeout(rec.timer);
    for (const c of fake.conns) if (c.pingTimer) clearInterval(c.pingTimer);
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      fake.port = server.address().port;
      fake.baseUrl = `http://${host}:${fake.port}`;
      fake.apiUrl = `${fake.baseUrl}/api/`;
      resolve(fake);
    });
  });
}

module.exports = { startFakeSlack, newTs };
