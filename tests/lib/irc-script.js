'use strict';
// An IRC server played line by line, for what real servers do but the ones
// in Debian can't be made to do on cue: ISUPPORT tokens of other networks,
// refused nicks, bans, join failures, KICK loops, forced nick changes,
// lines ending in a bare \n, a welcome cut into pieces. It speaks the
// registration by the book (CAP LS/END, NICK, USER, 001-005, end of MOTD)
// and hands every other line to the story.
//
//   const srv = await startScriptedIrc({ isupport: 'CASEMAPPING=rfc1459 CHANTYPES=#&' });
//   srv.url                                   // irc://127.0.0.1:PORT
//   const c = await srv.nextConnection();     // the bot's connection
//   await c.registered;                       // 001 sent
//   c.say('ann', '#lobby', 'bot: hi');        // :ann!ann@h PRIVMSG #lobby :bot: hi
//   await c.waitLine((l) => l.startsWith('PRIVMSG #lobby'));
//
// Options: isupport (the 005 tokens), eol ('\r\n'), greet (lines sent at
// connect), fragment (write the welcome a few bytes per write),
// onNick(c, nick) returning lines to refuse it (or null to take it),
// onJoin(c, channel, key) returning lines (default: JOIN and 366), caps
// (offered in CAP LS and granted on REQ) and onAuthenticate(c, data)
// returning the lines that answer the SASL PLAIN payload (default 903).

const net = require('node:net');
const { after } = require('./tap');

async function startScriptedIrc({ isupport = 'CASEMAPPING=ascii CHANTYPES=#', eol = '\r\n', greet = [], fragment = false,
  onNick = null, onJoin = null, caps = '', onAuthenticate = null, name = 'irc.script.test' } = {}) {
  const conns = [];
  const waiting = [];
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    let buf = '';
    const c = {
      at: Date.now(), lines: [], nick: null, user: false, capEnded: false, capStarted: false, closed: false, waiters: [],
      send(line) { if (!c.closed) sock.write(`${line}${eol}`); },
      // Write LINES a few bytes at a time, each piece in its own write.
      async sendPieces(lines) {
        const text = lines.map((l) => `${l}${eol}`).join('');
        for (let i = 0; i < text.length && !c.closed; i += 7) {
          sock.write(text.slice(i, i + 7));
          await new Promise((r) => setImmediate(r));
        }
      },
      say(from, target, text, tags = '') { c.send(`${tags ? `@${tags} ` : ''}:${from}!${from}@users.test PRIVMSG ${target} :${text}`); },
      close() { c.closed = true; sock.end(); },
      // The first line the bot sent (from index FROM on) matching PRED.
      waitLine(pred, { timeoutMs = 10000, from = 0 } = {}) {
        const found = c.lines.slice(from).find(pred);
        if (found) return Promise.resolve(found);
        return new Promise((resolve, reject) => {
          const w = { pred, resolve, from };
          w.timer = setTimeout(() => {
            c.waiters.splice(c.waiters.indexOf(w), 1);
            reject(new Error(`timed out after ${timeoutMs} ms waiting for a line from the bot; it sent:\n  ${c.lines.slice(-10).join('\n  ')}`));
          }, timeoutMs);
          c.waiters.push(w);
        });
      },
    };
    c.registered = new Promise((r) => { c.onRegistered = r; });
    const welcome = async () => {
      const lines = [
        `:${name} 001 ${c.nick} :Welcome to the script network ${c.nick}!${c.nick}@127.0.0.1`,
        `:${name} 002 ${c.nick} :Your host is ${name}`,
        `:${name} 003 ${c.nick} :This server was created today`,
        `:${name} 004 ${c.nick} ${name} script-1 iow biklmnopstv`,
        `:${name} 005 ${c.nick} ${isupport} :are supported by this server`,
        `:${name} 376 ${c.nick} :End of /MOTD command.`,
      ];
      if (fragment) await c.sendPieces(lines);
      else for (const l of lines) c.send(l);
      c.onRegistered();
    };
    const maybeRegister = () => {
      if (c.nick && c.user && (c.capEnded || !c.capStarted) && !c.welcomed) {
        c.welcomed = true;
        welcome();
      }
    };
    const onLine = (line) => {
      c.lines.push(line);
      const [cmd, ...rest] = line.split(' ');
      const arg = (rest[0] || '').replace(/^:/, '');
      if (cmd === 'CAP' && arg === 'LS') { c.capStarted = true; c.send(`:${name} CAP * LS :${caps}`); }
      else if (cmd === 'CAP' && arg === 'REQ') c.send(`:${name} CAP * ACK :${rest.slice(1).join(' ').replace(/^:/, '')}`);
      else if (cmd === 'AUTHENTICATE' && arg === 'PLAIN') c.send('AUTHENTICATE +');
      else if (cmd === 'AUTHENTICATE') {
        const reply = onAuthenticate ? onAuthenticate(c, arg) : null;
        for (const l of reply || [`:${name} 903 * :SASL authentication successful`]) c.send(l);
      }
      else if (cmd === 'CAP' && arg === 'END') { c.capEnded = true; maybeRegister(); }
      else if (cmd === 'USER') { c.user = true; maybeRegister(); }
      else if (cmd === 'NICK') {
        const refused = onNick ? onNick(c, arg) : null;
        if (refused) { for (const l of refused) c.send(l); }
        else {
          if (c.welcomed) c.send(`:${c.nick}!${c.nick}@127.0.0.1 NICK :${arg}`);
          c.nick = arg;
          maybeRegister();
        }
      } else if (cmd === 'JOIN') {
        const reply = onJoin ? onJoin(c, rest[0], rest[1]) : null;
        for (const l of reply || [`:${c.nick}!${c.nick}@127.0.0.1 JOIN ${rest[0]}`, `:${name} 366 ${c.nick} ${rest[0]} :End of /NAMES list.`]) c.send(l);
      } else if (cmd === 'PING') c.send(`:${name} PONG ${name} :${arg}`);
      else if (cmd === 'QUIT') c.close();
      for (let i = 0; i < c.waiters.length; i++) {
        const w = c.waiters[i];
        if (c.lines.slice(w.from).some(w.pred)) {
          c.waiters.splice(i--, 1);
          clearTimeout(w.timer);
          w.resolve(c.lines.slice(w.from).find(w.pred));
        }
      }
    };
    sock.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        onLine(line);
      }
    });
    sock.on('close', () => { c.closed = true; });
    sock.on('error', () => {});
    for (const l of greet) c.send(l);
    conns.push(c);
    const w = waiting.shift();
    if (w) w(c);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  after(() => {
    for (const c of conns) c.close();
    return new Promise((r) => server.close(r));
  });
  let taken = 0;
  return {
    url: `irc://127.0.0.1:${server.address().port}`,
    conns,
    // The next connection not yet handed out, when it comes.
    nextConnection() {
      if (taken < conns.length) return Promise.resolve(conns[taken++]);
      return new Promise((r) => waiting.push((c) => { taken++; r(c); }));
    },
  };
}

module.exports = { startScriptedIrc };
