'use strict';
// A person on IRC: a raw-socket client that registers, joins, talks, kicks
// and remembers every line the server sent it.
//
//   const ann = await ircUser(ircd, 'ann');
//   await ann.join('#lobby');
//   ann.say('#lobby', 'chorus: hello');
//   const m = await ann.waitMessage((m) => m.nick === 'chorus');

const net = require('node:net');
const { after } = require('./tap');

// One IRC line into { tags, prefix, nick, command, params }.
function parseLine(line) {
  let rest = line;
  const msg = { raw: line, tags: {}, prefix: null, nick: null, command: '', params: [] };
  if (rest.startsWith('@')) {
    const sp = rest.indexOf(' ');
    for (const t of rest.slice(1, sp).split(';')) {
      const eq = t.indexOf('=');
      if (eq < 0) msg.tags[t] = true;
      else msg.tags[t.slice(0, eq)] = t.slice(eq + 1);
    }
    rest = rest.slice(sp + 1).replace(/^ +/, '');
  }
  if (rest.startsWith(':')) {
    const sp = rest.indexOf(' ');
    msg.prefix = rest.slice(1, sp);
    msg.nick = msg.prefix.split('!')[0];
    rest = rest.slice(sp + 1).replace(/^ +/, '');
  }
  while (rest.length) {
    if (rest.startsWith(':')) { msg.params.push(rest.slice(1)); break; }
    const sp = rest.indexOf(' ');
    if (sp < 0) { msg.params.push(rest); break; }
    msg.params.push(rest.slice(0, sp));
    rest = rest.slice(sp + 1).replace(/^ +/, '');
  }
  msg.command = msg.params.shift() || '';
  msg.command = msg.command.toUpperCase();
  return msg;
}

class IrcUser {
  constructor(sock, nick) {
    this.sock = sock;
    this.nick = nick;
    this.lines = [];          // every parsed line received, in order
    this.waiters = [];
    this.buf = Buffer.alloc(0);
    this.closed = false;
    sock.on('data', (d) => this._data(d));
    sock.on('close', () => { this.closed = true; this._check(); });
    sock.on('error', () => {});
  }

  _data(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const i = this.buf.indexOf(10);
      if (i < 0) break;
      let line = this.buf.subarray(0, i);
      this.buf = this.buf.subarray(i + 1);
      if (line.length && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
      const msg = parseLine(line.toString('utf8'));
      msg.bytes = line.length;
      if (msg.command === 'PING') this.send(`PONG :${msg.params[0] || ''}`);
      this.lines.push(msg);
    }
    this._check();
  }

  _check() {
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      const found = this.lines.slice(w.from).find(w.pred);
      if (found || (this.closed && !w.allowClosed)) {
        this.waiters.splice(i--, 1);
        clearTimeout(w.timer);
        if (found) w.resolve(found);
        else w.reject(new Error(`${this.nick}: connection closed while waiting for ${w.what}`));
      }
    }
  }

  send(line) { if (!this.closed) this.sock.write(`${line}\r\n`); }

  // The first line from index FROM on (default: all) matching PRED.
  waitLine(pred, { timeoutMs = 10000, what = 'a line', from = 0 } = {}) {
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, reject, what, from };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        const tail = this.lines.slice(-8).map((m) => m.raw).join('\n  ');
        reject(new Error(`${this.nick}: timed out after ${timeoutMs} ms waiting for ${what}; last lines:\n  ${tail}`));
      }, timeoutMs);
      this.waiters.push(w);
      this._check();
    });
  }

  // PRIVMSG or NOTICE lines to this user or its channels matching PRED.
  messages(pred = () => true) {
    return this.lines.filter((m) => (m.command === 'PRIVMSG' || m.command === 'NOTICE') && pred(m));
  }

  waitMessage(pred, opts = {}) {
    return this.waitLine((m) => (m.command === 'PRIVMSG' || m.command === 'NOTICE') && pred(m), { what: 'a message', ...opts });
  }

  async join(channel, key) {
    const from = this.lines.length;
    this.send(key ? `JOIN ${channel} ${key}` : `JOIN ${channel}`);
    await this.waitLine((m) => m.command === '366' && m.params[1].toLowerCase() === channel.toLowerCase(), { what: `joining ${channel}`, from });
  }

  say(target, text) { this.send(`PRIVMSG ${target} :${text}`); }
  action(target, text) { this.send(`PRIVMSG ${target} :\x01ACTION ${text}\x01`); }
  kick(channel, nick, why = 'out') { this.send(`KICK ${channel} ${nick} :${why}`); }

  // Wait until NICK is in CHANNEL (a NAMES check, repeated).
  async waitMember(channel, nick, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const from = this.lines.length;
      this.send(`NAMES ${channel}`);
      const end = await this.waitLine((m) => m.command === '366', { from, what: 'NAMES' });
      const names = this.lines.slice(from, this.lines.indexOf(end)).filter((m) => m.command === '353')
        .flatMap((m) => m.params[m.params.length - 1].split(' ').map((n) => n.replace(/^[@+%~&]+/, '')));
      if (names.some((n) => n.toLowerCase() === nick.toLowerCase())) return;
      if (Date.now() > deadline) throw new Error(`${nick} did not appear in ${channel} within ${timeoutMs} ms (names: ${names.join(' ')})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  quit() {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.sock.once('close', resolve);
      this.send('QUIT :bye');
      setTimeout(() => { this.sock.destroy(); resolve(); }, 500);
    });
  }
}

// Connect to IRCD and register as NICK; resolves after the welcome (001).
async function ircUser(ircd, nick, { port = ircd.port, caps = [] } = {}) {
  const sock = net.connect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  const u = new IrcUser(sock, nick);
  after(() => { u.sock.destroy(); });
  if (caps.length) u.send('CAP LS 302');
  u.send(`NICK ${nick}`);
  u.send(`USER ${nick} 0 * :${nick} the tester`);
  if (caps.length) {
    await u.waitLine((m) => m.command === 'CAP' && m.params[1] === 'LS', { what: 'CAP LS' });
    u.send(`CAP REQ :${caps.join(' ')}`);
    await u.waitLine((m) => m.command === 'CAP' && (m.params[1] === 'ACK' || m.params[1] === 'NAK'), { what: 'CAP ACK' });
    u.send('CAP END');
  }
  await u.waitLine((m) => m.command === '001', { what: 'the welcome (001)' });
  return u;
}

module.exports = { ircUser, parseLine };
