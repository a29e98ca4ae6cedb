'use strict';
// Stories of an IRC bot on real IRC servers (ngircd and InspIRCd from
// Debian, started here on loopback): it joins, answers people who call it
// by name or query it, splits long replies at the line limit, never gets
// killed for flooding, comes back after a server restart, copes with a
// taken nick and rejoins after a kick.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { startNgircd, startInspircd } = require('../lib/ircd');
const { ircUser } = require('../lib/irc-client');
const { luaString, httpGet, delay } = require('../lib/util');

// chorusd as NICK on IRCD, in CHANNELS, with fast test timings.
async function startIrcStack(ircd, { nick = 'chorus', channels = ['#lobby'], extra = '', url = ircd.url } = {}) {
  const keys = [
    'url = env("IRC_URL")',
    `nick = ${luaString(nick)}`,
    `channels = { ${channels.map(luaString).join(', ')} }`,
    'reconnect_min_ms = 100', 'reconnect_max_ms = 1000', 'rejoin_min_ms = 200', 'rejoin_max_ms = 1000',
  ];
  if (extra) keys.push(extra);
  const stack = await startStack({ configOptions: { extra: `irc { ${keys.join(', ')} }` }, env: { IRC_URL: url, IRC_SASL_PASSWORD: 'hunter2-very-secret' } });
  return stack;
}

const from = (nick) => (m) => m.nick === nick;

test('the bot joins a channel and answers a person who calls it by name, and a query', { timeout: 30000 }, async () => {
  const ircd = await startNgircd();
  const ann = await ircUser(ircd, 'ann');
  await ann.join('#lobby');
  const { chorus } = await startIrcStack(ircd);
  await ann.waitMember('#lobby', 'chorus');
  ann.say('#lobby', 'just chatting with nobody');
  ann.say('#lobby', 'chorus: hello there');
  const reply = await ann.waitMessage(from('chorus'));
  assert.equal(reply.params[0], '#lobby');
  assert.equal(reply.params[1], 'echo: hello there', 'the address is stripped and only the addressed line answered');
  ann.say('chorus', 'are you there?');
  const q = await ann.waitMessage((m) => m.nick === 'chorus' && m.params[0] === 'ann');
  assert.equal(q.params[1], 'echo: are you there?');
  ann.say('#lobby', 'chorus, one more');
  const r2 = await ann.waitMessage((m) => m.nick === 'chorus' && m.params[1].includes('one more'));
  assert.equal(r2.params[1], 'echo: one more', '"nick, text" addresses the bot too');
  const metrics = await httpGet(`${chorus.url}/metrics`);
  assert.match(metrics.body, /chorus_platform_ready\{platform="irc"\} 1/);
  assert.match(metrics.body, /chorus_queue_depth\{queue="irc_send"\} 0/);
});

test('a long reply with newlines and Japanese text is split into lines within 512 bytes, nothing lost', { timeout: 30000 }, async () => {
  const ircd = await startNgircd();
  const ann = await ircUser(ircd, 'ann');
  await ann.join('#lobby');
  const stack = await startIrcStack(ircd, { extra: 'burst = 50, line_interval_ms = 100' });
  const long = `${'あいうえお'.repeat(60)} ${'word '.repeat(120).trim()}\nsecond paragraph\n\nthird`;
  stack.fake.respond = () => ({ content: long });
  await ann.waitMember('#lobby', 'chorus');
  ann.say('#lobby', 'chorus: tell me a long story');
  await ann.waitMessage((m) => m.nick === 'chorus' && m.params[1] === 'third', { timeoutMs: 15000 });
  const lines = ann.messages(from('chorus'));
  assert.ok(lines.length >= 5, `split into ${lines.length} lines`);
  for (const l of lines) assert.ok(l.bytes + 2 <= 512, `a line of ${l.bytes + 2} bytes as delivered`);
  assert.ok(!lines.some((l) => l.params[1].includes('\uFFFD')), 'no code point torn');
  const paragraphs = long.split('\n').filter(Boolean);
  assert.equal(lines.slice(-2).map((l) => l.params[1]).join('|'), 'second paragraph|third');
  const first = lines.slice(0, -2).map((l) => l.params[1]).join('');
  assert.equal(first.replace(/ /g, ''), paragraphs[0].replace(/ /g, ''), 'the first paragraph comes back whole');
});

test('fifty fast replies on InspIRCd with strict flood limits: the bot is never killed for flooding', { timeout: 60000 }, async () => {
  // 10 lines/s with a penalty threshold of 20 and no fakelag: a client that
  // pours its hundred lines out at once is quit with "Excess Flood" (tried:
  // burst = 200 fails here). The bot keeps to 4 lines/s, so only a server
  // starved for seconds could see it over the threshold.
  const ircd = await startInspircd({ flood: { commandrate: 10000, threshold: 20 } });
  const ann = await ircUser(ircd, 'ann', { caps: ['message-tags', 'server-time'] });
  await ann.join('#lobby');
  const stack = await startIrcStack(ircd, { extra: 'burst = 5, line_interval_ms = 250' });
  let answers = 0;
  stack.fake.respond = (req) => {
    const last = String(req.body.messages[req.body.messages.length - 1].content).split('\n').pop().replace(/^chorus: /, '');
    answers++;
    return { content: `first line for ${last}\nsecond line for ${last} ${'x'.repeat(300)}` };
  };
  await ann.waitMember('#lobby', 'chorus');
  for (let i = 0; i < 50; i++) {
    ann.say('#lobby', `chorus: question ${i}`);
    await delay(150);               // the person stays under the limit too
  }
  // Messages that pile up while the persona is busy may be answered together,
  // so count the answers the model gave: every line of every one must arrive.
  await ann.waitMessage((m) => m.nick === 'chorus' && m.params[1].startsWith('second line for question 49'), { timeoutMs: 45000 });
  const got = ann.messages(from('chorus'));
  const firsts = got.filter((m) => m.params[1].startsWith('first line for '));
  assert.ok(answers >= 10 && firsts.length >= 10, `${firsts.length} answers arrived, at least 10`);
  for (const f of firsts) {
    const q = f.params[1].slice('first line for '.length);
    assert.ok(got.some((m) => m.params[1].startsWith(`second line for ${q} `)), `both lines of the answer to ${q} arrived`);
  }
  assert.ok(!ann.lines.some((m) => m.command === 'QUIT' && m.nick === 'chorus'), 'the bot never quit (no Excess Flood)');
  assert.ok(got.every((m) => m.tags.time), 'server-time on every line');
});

test('after the server restarts the bot reconnects, rejoins and answers again', { timeout: 40000 }, async () => {
  const ircd = await startNgircd();
  await startIrcStack(ircd);
  let ann = await ircUser(ircd, 'ann');
  await ann.join('#lobby');
  await ann.waitMember('#lobby', 'chorus');
  await ircd.stop();
  await delay(300);
  await ircd.start();
  ann = await ircUser(ircd, 'ann');
  await ann.join('#lobby');
  await ann.waitMember('#lobby', 'chorus', 20000);
  ann.say('#lobby', 'chorus: welcome back');
  const reply = await ann.waitMessage(from('chorus'));
  assert.equal(reply.params[1], 'echo: welcome back');
});

test('when its nick is taken the bot takes another and answers to that one', { timeout: 30000 }, async () => {
  const ircd = await startNgircd();
  const squatter = await ircUser(ircd, 'chorus');
  await squatter.join('#lobby');
  const { chorus } = await startIrcStack(ircd);
  await squatter.waitMember('#lobby', 'chorus_');
  await chorus.waitForLog(/nick chorus is taken/);
  squatter.say('#lobby', 'chorus_: who are you?');
  const reply = await squatter.waitMessage(from('chorus_'));
  assert.equal(reply.params[1], 'echo: who are you?');
});

test('kicked from a channel, the bot rejoins after a backoff (with the channel key)', { timeout: 30000 }, async () => {
  const ircd = await startNgircd();
  const op = await ircUser(ircd, 'op');
  await op.join('#keyed');
  op.send('MODE #keyed +k sesame');
  await op.waitLine((m) => m.command === 'MODE' && m.params[1] === '+k');
  await startIrcStack(ircd, { channels: ['#keyed sesame'] });
  await op.waitMember('#keyed', 'chorus');
  const t = op.lines.length;
  op.kick('#keyed', 'chorus', 'out you go');
  await op.waitLine((m) => m.command === 'KICK', { from: t });
  await op.waitLine((m) => m.command === 'JOIN' && m.nick === 'chorus', { from: t, timeoutMs: 10000 });
  op.say('#keyed', 'chorus: back?');
  const reply = await op.waitMessage(from('chorus'));
  assert.equal(reply.params[1], 'echo: back?');
});

test('over ircs:// the bot checks the certificate: it refuses an unknown one and talks once the CA is trusted', { timeout: 30000 }, async () => {
  const ircd = await startNgircd({ tls: true });
  const untrusting = await startStack({ configOptions: { extra: 'irc { url = env("IRC_URL"), nick = "wary", channels = { "#lobby" }, reconnect_min_ms = 100 }' }, env: { IRC_URL: ircd.tlsUrl } });
  await untrusting.chorus.waitForLog(/certificate not trusted/, 10000);
  const ann = await ircUser(ircd, 'ann');
  await ann.join('#lobby');
  await startIrcStack(ircd, { nick: 'secure', extra: `ca_file = ${luaString(ircd.caFile)}`, url: ircd.tlsUrl });
  await ann.waitMember('#lobby', 'secure');
  ann.say('#lobby', 'secure: over TLS?');
  const reply = await ann.waitMessage(from('secure'));
  assert.equal(reply.params[1], 'echo: over TLS?');
  assert.ok(!ann.lines.some((m) => m.command === 'JOIN' && m.nick === 'wary'), 'the bot that could not check the certificate never joined');
});

// A server that offers only SASL, as networks with services do, played
// here by the book (IRCv3 sasl-3.1) over a raw socket, to see the order of
// the exchange; irc_services.test.js logs in to real Atheme accounts.
async function startSaslServer({ user, password }) {
  const net = require('node:net');
  const seen = [];
  let authOk = false;
  const server = net.createServer((sock) => {
    let buf = '';
    const send = (l) => sock.write(`${l}\r\n`);
    sock.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        seen.push(line);
        const [cmd, ...rest] = line.split(' ');
        if (cmd === 'CAP' && rest[0] === 'LS') send(':sasl.test CAP * LS :sasl=PLAIN,EXTERNAL multi-prefix');
        else if (cmd === 'CAP' && rest[0] === 'REQ') send(`:sasl.test CAP * ACK :${rest.slice(1).join(' ').replace(/^:/, '')}`);
        else if (cmd === 'AUTHENTICATE' && rest[0] === 'PLAIN') send('AUTHENTICATE +');
        else if (cmd === 'AUTHENTICATE') {
          const want = Buffer.from(`${user}\0${user}\0${password}`).toString('base64');
          authOk = rest[0] === want;
          send(authOk ? `:sasl.test 903 * :SASL authentication successful` : ':sasl.test 904 * :SASL authentication failed');
        } else if (cmd === 'CAP' && rest[0] === 'END') send(':sasl.test 001 saslbot :Welcome');
        else if (cmd === 'JOIN') send(`:saslbot!u@h JOIN ${rest[0]}`);
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { after } = require('../lib/tap');
  after(() => new Promise((r) => server.close(r)));
  return { url: `irc://127.0.0.1:${server.address().port}`, seen, authOk: () => authOk };
}

test('with sasl configured the bot logs in with SASL PLAIN before registration ends, and hides the password', { timeout: 20000 }, async () => {
  const password = 'hunter2-very-secret';
  const srv = await startSaslServer({ user: 'saslbot', password });
  const { chorus } = await startIrcStack({ url: srv.url }, { nick: 'saslbot', extra: `sasl = { user = "saslbot", password = env("IRC_SASL_PASSWORD") }` });
  await chorus.waitForLog(/SASL login as saslbot succeeded/, 10000);
  assert.ok(srv.authOk(), 'the server accepted the credentials');
  const order = srv.seen.map((l) => l.split(' ')[0] + (l.startsWith('CAP') ? ` ${l.split(' ')[1]}` : ''));
  assert.ok(order.indexOf('CAP END') > order.lastIndexOf('AUTHENTICATE'), 'CAP END only after the SASL exchange');
  assert.ok(srv.seen.includes('CAP REQ :sasl'), 'only sasl requested of what was offered');
  assert.ok(!chorus.logText().includes(password));
});
