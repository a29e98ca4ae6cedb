'use strict';
// A websocket server on raw TCP, with no websocket library: the story
// writes the upgrade answer and every frame byte for byte, so it can send
// what servers we have never met send (Python websockets, Go gorilla,
// Slack's and Discord's edges): an answer split over several reads, header
// names in any case, frames in the same segment as the 101, fragments with
// pings between them, and the frames RFC 6455 forbids. What the client
// sends is read as RFC 6455 section 5 says a server reads it (every frame
// masked) and kept in conn.frames; whole text messages in conn.messages.
//
//   const server = await startRawWsServer((conn) => conn.answer());
//   const conn = await server.connection(0);
//   conn.send(frame(OP.TEXT, 'hel', { fin: false }), frame(OP.CONT, 'lo'));
//   const pong = await conn.waitForFrame((f) => f.opcode === OP.PONG);

const net = require('node:net');
const crypto = require('node:crypto');
const { EventEmitter } = require('node:events');
const { after } = require('./tap');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xA };

// A server frame of OPCODE carrying PAYLOAD (string or Buffer). FIN and
// RSV (3 bits) as given; MASK (4 bytes) masks it, which no server may do;
// LENGTH forces the length form ('7', '16' or '64'; else the shortest);
// DECLARED (a BigInt) is written as the length whatever the payload is.
function frame(opcode, payload = '', { fin = true, rsv = 0, mask = null, length = null, declared = null } = {}) {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const n = declared !== null ? declared : BigInt(body.length);
  const form = length || (n < 126n ? '7' : n <= 0xffffn ? '16' : '64');
  const m = mask ? 0x80 : 0;
  let head;
  if (form === '7') {
    head = Buffer.from([0, m | Number(n)]);
  } else if (form === '16') {
    head = Buffer.alloc(4);
    head[1] = m | 126;
    head.writeUInt16BE(Number(n), 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = m | 127;
    head.writeBigUInt64BE(n, 2);
  }
  head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  if (!mask) return Buffer.concat([head, body]);
  const data = Buffer.from(body);
  for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
  return Buffer.concat([head, Buffer.from(mask), data]);
}

// A close frame with CODE (none when null) and REASON (string or Buffer).
function closeFrame(code, reason = '') {
  if (code === null) return frame(OP.CLOSE, '');
  const c = Buffer.alloc(2);
  c.writeUInt16BE(code);
  return frame(OP.CLOSE, Buffer.concat([c, Buffer.isBuffer(reason) ? reason : Buffer.from(reason)]));
}

// The value of Sec-WebSocket-Accept for KEY (RFC 6455 4.2.2).
const acceptOf = (key) => crypto.createHash('sha1').update(key + GUID).digest('base64');

// Pause between writes so each lands in a read of its own.
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// One client connection.
class RawConn extends EventEmitter {
  constructor(socket, id) {
    super();
    this.socket = socket;
    this.id = id;
    this.request = null;      // the request line and headers, as text
    this.headers = {};        // lower-case name -> value
    this.frames = [];         // { fin, rsv, opcode, masked, payload (unmasked Buffer) }
    this.messages = [];       // whole text messages
    this.violations = [];     // what the client did that RFC 6455 forbids
    this.closed = false;
    this.rx = Buffer.alloc(0);
    this.parts = null;        // a fragmented message being put together
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => { this.closed = true; this.emit('closed'); });
  }

  onData(chunk) {
    this.rx = Buffer.concat([this.rx, chunk]);
    if (this.request === null) {
      const end = this.rx.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.request = this.rx.subarray(0, end).toString('latin1');
      this.rx = this.rx.subarray(end + 4);
      for (const line of this.request.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) this.headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      this.emit('request');
    }
    this.readFrames();
  }

  // Client frames, as a server reads them.
  readFrames() {
    for (;;) {
      const b = this.rx;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (b[1] & 0x80) !== 0;
      const maskAt = at;
      if (masked) at += 4;
      if (b.length < at + len) return;
      const payload = Buffer.from(b.subarray(at, at + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[maskAt + (i & 3)];
      const f = { fin: (b[0] & 0x80) !== 0, rsv: (b[0] >> 4) & 7, opcode: b[0] & 0x0f, masked, payload };
      this.rx = b.subarray(at + len);
      if (!masked) this.violations.push(`an unmasked frame (opcode ${f.opcode})`);
      if (f.rsv) this.violations.push(`RSV bits ${f.rsv} set`);
      if (f.opcode & 8) {
        if (f.opcode === OP.CLOSE) {
          f.code = len >= 2 ? payload.readUInt16BE(0) : null;
          f.reason = len > 2 ? payload.subarray(2).toString() : '';
          // The client began the close: answer it and end the socket, as
          // RFC 6455 5.5.1 and 7.1.1 say a server does.
          if (!this.closeSent) this.send(closeFrame(f.code));
          this.socket.end();
        }
      } else {
        this.parts = f.opcode === OP.CONT ? this.parts : [];
        if (this.parts) this.parts.push(payload);
        if (f.fin && this.parts) {
          const text = Buffer.concat(this.parts).toString();
          this.parts = null;
          this.messages.push(text);
          this.emit('message', text);
        }
      }
      this.frames.push(f);
      this.emit('frame', f);
    }
  }

  // The client's upgrade request is in.
  requested() {
    return this.request !== null ? Promise.resolve() : new Promise((r) => this.once('request', r));
  }

  // The 101 answer. HEADERS replaces the usual ones (a list of [name,
  // value]; a null value is the right Sec-WebSocket-Accept); NAMES maps
  // each name, e.g. to odd case; EXTRA lines are added; STATUS replaces
  // the status line.
  answerBytes({ status = 'HTTP/1.1 101 Switching Protocols', headers = null, names = (n) => n, extra = [] } = {}) {
    const list = headers || [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Accept', null]];
    const accept = acceptOf(this.headers['sec-websocket-key'] || '');
    const lines = [status, ...list.map(([n, v]) => `${names(n)}: ${v === null ? accept : v}`), ...extra];
    return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  }

  // Answer the upgrade once its request is in: in one write with THEN
  // (frames) behind it in the same segment, or split where PIECES says
  // (byte counts, each written after a pause).
  async answer({ then = null, pieces = null, ...opts } = {}) {
    await this.requested();
    const bytes = then ? Buffer.concat([this.answerBytes(opts), then]) : this.answerBytes(opts);
    if (pieces) await this.trickle(bytes, pieces);
    else this.socket.write(bytes);
  }

  send(...bufs) {
    if (this.closed) return;
    if (bufs.some((b) => (b[0] & 0x0f) === OP.CLOSE)) this.closeSent = true;
    this.socket.write(Buffer.concat(bufs));
  }

  // Write BYTES in pieces (SIZES: a list of lengths, or one length for
  // all), pausing between them so the client reads them one by one.
  async trickle(bytes, sizes = 1, gapMs = 2) {
    let at = 0;
    for (let i = 0; at < bytes.length && !this.closed; i++) {
      const n = Array.isArray(sizes) ? (sizes[i] || bytes.length - at) : sizes;
      this.socket.write(bytes.subarray(at, at + n));
      at += n;
      if (at < bytes.length) await pause(gapMs);
    }
  }

  // The first frame (seen or to come) PRED accepts.
  waitForFrame(pred, timeoutMs = 5000) {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('frame', on);
        reject(new Error(`connection ${this.id}: no such frame from the client within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (f) => {
        if (!pred(f)) return;
        clearTimeout(timer);
        this.off('frame', on);
        resolve(f);
      };
      this.on('frame', on);
    });
  }

  // The client's close frame.
  waitForClose(timeoutMs) {
    return this.waitForFrame((f) => f.opcode === OP.CLOSE, timeoutMs);
  }

  // The socket is gone (either side cut it).
  waitClosed(timeoutMs = 5000) {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection ${this.id} still open after ${timeoutMs} ms`)), timeoutMs);
      this.once('closed', () => { clearTimeout(timer); resolve(); });
    });
  }

  end() { this.socket.end(); }
  destroy() { this.socket.destroy(); }
}

// A server on 127.0.0.1; SCRIPT(conn) runs for each connection.
async function startRawWsServer(script) {
  const server = new EventEmitter();
  const sockets = new Set();
  server.conns = [];
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const conn = new RawConn(socket, server.conns.length);
    server.conns.push(conn);
    server.emit('connection', conn);
    Promise.resolve()
      .then(() => script(conn))
      .catch((e) => { conn.scriptError = e; server.emit('scriptError', e); });
  });
  await new Promise((r) => tcp.listen(0, '127.0.0.1', r));
  server.port = tcp.address().port;
  server.url = `ws://127.0.0.1:${server.port}/`;

  // Connection I (0 is the first), once it has sent its request.
  server.connection = (i, timeoutMs = 5000) => new Promise((resolve, reject) => {
    const ready = (c) => (c.request !== null ? resolve(c) : c.once('request', () => resolve(c)));
    if (server.conns[i]) { ready(server.conns[i]); return; }
    const timer = setTimeout(() => {
      server.off('connection', on);
      reject(new Error(`no connection #${i} within ${timeoutMs} ms (${server.conns.length} so far)`));
    }, timeoutMs);
    const on = (c) => {
      if (server.conns.length <= i) return;
      clearTimeout(timer);
      server.off('connection', on);
      ready(server.conns[i]);
    };
    server.on('connection', on);
  });
  server.close = () => new Promise((r) => {
    for (const s of sockets) s.destroy();
    tcp.close(() => r());
  });
  after(() => server.close());
  return server;
}

module.exports = { startRawWsServer, frame, closeFrame, acceptOf, OP };
