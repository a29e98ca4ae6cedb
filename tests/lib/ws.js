'use strict';
// A raw RFC 6455 websocket client over `net`, strict enough to catch a server
// that gets the protocol wrong (bad accept key, masked server frames,
// invalid UTF-8 in text frames, reserved bits set, ...). Protocol problems are
// collected in client.protocolErrors; the after-hook registered by connect()
// fails the test if any were seen.
//
//   const ann = await connect('ws://127.0.0.1:PORT/ws', { protocol: 'chorus' });
//   ann.sendJson({ type: 'join', channel: 'lobby' });
//   const reply = await ann.next((m) => m.type === 'message', 5000);
//   const { code } = await ann.closed;
//   ann.onMessage = (m) => ...;   every later message goes there and is not kept
//                                 (a long run, e.g. bench/soak, keeps no history)

const net = require('node:net');
const crypto = require('node:crypto');
const { after } = require('./tap');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

function acceptFor(key) {
  return crypto.createHash('sha1').update(key + GUID).digest('base64');
}

function encodeFrame(opcode, payload, { fin = true, mask = true } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload || '', 'utf8');
  const len = data.length;
  let header;
  if (len < 126) {
    header = Buffer.alloc(2);
    header[1] = len;
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  header[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
  if (!mask) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([header, key, body]);
}

class WsClient {
  constructor(sock, leftover, info) {
    this.sock = sock;
    this.url = info.url;
    this.protocol = info.protocol;          // subprotocol the server chose ('' if none)
    this.handshakeHeaders = info.headers;
    this.buf = Buffer.alloc(0);
    this.fragments = null;                 // {opcode, parts[]} while a fragmented message is open
    this.all = [];                         // every JSON message received, in order
    this.inbox = [];                       // received messages not yet taken by next()
    this.waiters = [];
    this.pongWaiters = [];
    this.protocolErrors = [];
    this.closeSent = false;
    this.closeInfo = null;
    this.closed = new Promise((resolve) => { this._resolveClosed = resolve; });

    sock.on('data', (chunk) => this._onData(chunk));
    sock.on('error', () => {});
    sock.on('close', () => this._finish({ code: 1006, reason: '', clean: false }));
    if (leftover && leftover.length) this._onData(leftover);
  }

  // ---- receiving -----------------------------------------------------------

  _onData(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const rsv = b[0] & 0x70;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      let maskKey = null;
      if (masked) {
        if (b.length < off + 4) return;
        maskKey = b.subarray(off, off + 4);
        off += 4;
      }
      if (b.length < off + len) return;
      let payload = Buffer.from(b.subarray(off, off + len));
      this.buf = b.subarray(off + len);
      if (masked) {
        this.protocolErrors.push('server sent a masked frame (RFC 6455 5.1: it must not)');
        for (let i = 0; i < payload.length; i++) payload[i] ^= maskKey[i & 3];
      }
      if (rsv) this.protocolErrors.push(`server set reserved bits 0x${rsv.toString(16)} without an extension`);
      this._onFrame(fin, opcode, payload);
    }
  }

  _onFrame(fin, opcode, payload) {
    if (opcode >= 0x8) {
      if (!fin) this.protocolErrors.push(`fragmented control frame (opcode ${opcode})`);
      if (payload.length > 125) this.protocolErrors.push(`control frame longer than 125 bytes (opcode ${opcode})`);
    }
    switch (opcode) {
      case OP.TEXT:
      case OP.BINARY:
        if (this.fragments) this.protocolErrors.push('new data frame while a fragmented message was still open');
        if (fin) this._onMessage(opcode, payload);
        else this.fragments = { opcode, parts: [payload] };
        return;
      case OP.CONT:
        if (!this.fragments) { this.protocolErrors.push('continuation frame without a started message'); return; }
        this.fragments.parts.push(payload);
        if (fin) {
          const { opcode: op, parts } = this.fragments;
          this.fragments = null;
          this._onMessage(op, Buffer.concat(parts));
        }
        return;
      case OP.PING:
        if (!this.closeSent) this._write(encodeFrame(OP.PONG, payload));
        return;
      case OP.PONG: {
        const w = this.pongWaiters.shift();
        if (w) w(payload);
        return;
      }
      case OP.CLOSE: {
        let code = 1005;
        let reason = '';
        if (payload.length === 1) this.protocolErrors.push('close frame with a 1-byte payload');
        if (payload.length >= 2) {
          code = payload.readUInt16BE(0);
          try {
            reason = new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(2));
          } catch (_) {
            this.protocolErrors.push('close reason is not valid UTF-8');
          }
        }
        if (!this.closeSent) {
          this.closeSent = true;
          const echo = Buffer.alloc(code === 1005 ? 0 : 2);
          if (code !== 1005) echo.writeUInt16BE(code, 0);
          this._write(encodeFrame(OP.CLOSE, echo));
        }
        this._finish({ code, reason, clean: true });
        this.sock.end();
        return;
      }
      default:
        this.protocolErrors.push(`unknown opcode ${opcode}`);
    }
  }

  _onMessage(opcode, payload) {
    if (opcode === OP.BINARY) {
      this.protocolErrors.push(`unexpected binary message (${payload.length} bytes)`);
      return;
    }
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
    } catch (_) {
      this.protocolErrors.push(`server sent a text frame with invalid UTF-8: ${payload.toString('hex').slice(0, 200)}`);
      text = payload.toString('utf8');
    }
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (_) {
      this.protocolErrors.push(`server sent a text frame that is not JSON: ${text.slice(0, 200)}`);
      msg = { type: '<not json>', raw: text };
    }
    if (this.onMessage) { this.onMessage(msg); return; }
    this.all.push(msg);
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      if (w.predicate(msg)) {
        this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(msg);
        return;
      }
    }
    this.inbox.push(msg);
  }

  _finish(info) {
    if (this.closeInfo) return;
    this.closeInfo = info;
    this._resolveClosed(info);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`websocket closed (code ${info.code}${info.reason ? ` "${info.reason}"` : ''}) while waiting for ${w.what}; received: ${this._recent()}`));
    }
  }

  _recent() {
    return JSON.stringify(this.all.slice(-8)).slice(0, 1500);
  }

  // ---- sending -------------------------------------------------------------

  _write(buf) {
    if (this.sock.destroyed) throw new Error('websocket connection is already gone');
    this.sock.write(buf);
  }

  sendText(str) { this._write(encodeFrame(OP.TEXT, Buffer.from(str, 'utf8'))); }

  sendJson(obj) { this.sendText(JSON.stringify(obj)); }

  // Send any bytes as one frame: sendRaw(Buffer.from([0xff]), {opcode: 1, fin: true})
  sendRaw(buffer, { opcode = OP.TEXT, fin = true } = {}) {
    this._write(encodeFrame(opcode, buffer, { fin }));
  }

  // Send one text message split into frames at the given byte pieces.
  sendFragments(pieces) {
    pieces.forEach((p, i) => {
      this.sendRaw(Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8'), {
        opcode: i === 0 ? OP.TEXT : OP.CONT,
        fin: i === pieces.length - 1,
      });
    });
  }

  ping(payload = 'are you there', timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no pong within ${timeoutMs} ms`)), timeoutMs);
      this.pongWaiters.push((p) => { clearTimeout(timer); resolve(p.toString('utf8')); });
      this._write(encodeFrame(OP.PING, payload));
    });
  }

  // The next received message matching `predicate` (messages that arrived
  // earlier and were not taken yet count too). Rejects after timeoutMs.
  next(predicate = () => true, timeoutMs = 10000, what) {
    const desc = what || (predicate.description) || predicate.toString().slice(0, 120);
    const idx = this.inbox.findIndex(predicate);
    if (idx >= 0) return Promise.resolve(this.inbox.splice(idx, 1)[0]);
    if (this.closeInfo) {
      return Promise.reject(new Error(`websocket already closed (code ${this.closeInfo.code}) before ${desc} arrived; received: ${this._recent()}`));
    }
    return new Promise((resolve, reject) => {
      const w = { predicate, resolve, reject, what: desc };
      w.timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${desc}; received: ${this._recent()}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  // Start the closing handshake; resolves with the server's answer {code, reason}.
  async close(code = 1000, reason = '', timeoutMs = 3000) {
    if (!this.closeSent && !this.sock.destroyed) {
      this.closeSent = true;
      const payload = Buffer.concat([Buffer.alloc(2), Buffer.from(reason, 'utf8')]);
      payload.writeUInt16BE(code, 0);
      this._write(encodeFrame(OP.CLOSE, payload));
    }
    let timer;
    const info = await Promise.race([
      this.closed,
      new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); }),
    ]);
    clearTimeout(timer);
    this.sock.destroy();
    if (!info) throw new Error(`server did not answer our close frame within ${timeoutMs} ms`);
    return info;
  }

  destroy() { this.sock.destroy(); }
}

// Open a websocket. opts.protocol: a subprotocol name (or array) to offer.
function connect(url, opts = {}) {
  const u = new URL(url);
  if (u.protocol !== 'ws:') throw new Error(`only ws:// URLs are supported, got ${url}`);
  const host = u.hostname;
  const port = Number(u.port || 80);
  const reqPath = (u.pathname || '/') + (u.search || '');
  const key = crypto.randomBytes(16).toString('base64');
  const offered = opts.protocol ? [].concat(opts.protocol) : [];
  const timeoutMs = opts.timeoutMs || 5000;

  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let settled = false;
    const fail = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`websocket handshake with ${url} did not finish within ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => {
      const lines = [
        `GET ${reqPath} HTTP/1.1`,
        `Host: ${host}:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Version: 13',
      ];
      if (offered.length) lines.push(`Sec-WebSocket-Protocol: ${offered.join(', ')}`);
      for (const [k, v] of Object.entries(opts.headers || {})) lines.push(`${k}: ${v}`);
      sock.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    const onData = (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 16384) fail(new Error('handshake response headers too large'));
        return;
      }
      sock.off('data', onData);
      const head = buf.toString('latin1', 0, end).split('\r\n');
      const leftover = buf.subarray(end + 4);
      const status = head.shift();
      const headers = {};
      for (const line of head) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const m = /^HTTP\/1\.1 (\d{3})/.exec(status);
      if (!m || m[1] !== '101') return fail(new Error(`websocket handshake refused: ${status}`));
      if ((headers.upgrade || '').toLowerCase() !== 'websocket') return fail(new Error(`handshake: Upgrade header is ${JSON.stringify(headers.upgrade)}`));
      if (!/\bupgrade\b/i.test(headers.connection || '')) return fail(new Error(`handshake: Connection header is ${JSON.stringify(headers.connection)}`));
      if (headers['sec-websocket-accept'] !== acceptFor(key)) {
        return fail(new Error(`handshake: Sec-WebSocket-Accept is ${JSON.stringify(headers['sec-websocket-accept'])}, expected ${acceptFor(key)}`));
      }
      const chosen = headers['sec-websocket-protocol'] || '';
      if (chosen && !offered.includes(chosen)) return fail(new Error(`handshake: server chose subprotocol ${JSON.stringify(chosen)} that we did not offer`));
      if (headers['sec-websocket-extensions']) return fail(new Error(`handshake: server enabled extensions we did not ask for: ${headers['sec-websocket-extensions']}`));
      settled = true;
      clearTimeout(timer);
      sock.removeAllListeners('error');
      sock.removeAllListeners('close');
      const client = new WsClient(sock, leftover, { url, protocol: chosen, headers });
      after(() => {
        client.destroy();
        if (client.protocolErrors.length) {
          throw new Error(`websocket protocol errors from the server on ${url}:\n  ${client.protocolErrors.join('\n  ')}`);
        }
      });
      resolve(client);
    };
    sock.on('data', onData);
    sock.on('error', (e) => fail(new Error(`websocket connect to ${url} failed: ${e.message}`)));
    sock.on('close', () => fail(new Error(`connection closed during websocket handshake with ${url}; got: ${buf.toString('latin1').slice(0, 300)}`)));
  });
}

module.exports = { connect, encodeFrame, acceptFor, OP };
