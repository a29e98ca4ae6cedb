'use strict';
// Stories of an IRC bot on a network with accounts: InspIRCd with its
// IRCv3 modules (sasl, account-tag, msgid, echo-message, server-time,
// labeled-response) linked to Atheme services, both from Debian and
// started here on loopback (tests/lib/ircd.js startServicesNet). The bot
// logs in to its NickServ account with SASL PLAIN, joins a keyed channel,
// answers people who call it, queries and commands, never answers the
// echo of its own lines, splits long replies, keeps under the flood limit,
// says clearly when its password is wrong, and comes back after a restart.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { startServicesNet } = require('../lib/ircd');
const { ircUser } = require('../lib/irc-client');
const { luaString, delay } = require('../lib/util');

const PASSWORD = 'correct-horse-battery-staple';
const CAPS = ['message-tags', 'server-time', 'account-tag', 'echo-message'];

// chorusd as NICK with SASL (user, password) on NET, in CHANNELS. The lines
// of registration count against the flood timer too: at the default pace
// (one line per 2 s after a burst of 5) the first answer would wait 8 s.
async function startBot(net, { nick = 'chorus', channels = ['#lobby'], password = PASSWORD, pace = 'burst = 5, line_interval_ms = 300', extra = '' } = {}) {
  const keys = [
    'url = env("IRC_URL")',
    `nick = ${luaString(nick)}`,
    `channels = { ${channels.map(luaString).join(', ')} }`,
    `sasl = { user = ${luaString(nick)}, password = env("IRC_SASL_PASSWORD") }`,
    'reconnect_min_ms = 100', 'reconnect_max_ms = 1000', 'rejoin_min_ms = 200', 'rejoin_max_ms = 1000', pace,
  ];
  if (extra) keys.push(extra);
  return startStack({
    configOptions: { extra: `irc { ${keys.join(', ')} }` },
    env: { IRC_URL: net.url, IRC_SASL_PASSWORD: password },
  });
}

const from = (nick) => (m) => m.nick === nick;

test('logged in with SASL, the bot joins a keyed channel and answers "nick: text", "nick, text", a !command and a query', { timeout: 40000 }, async () => {
  const net = await startServicesNet();
  await net.register('chorus', PASSWORD);
  const op = await ircUser(net.ircd, 'op', { caps: CAPS });
  await op.join('#keyed');
  op.send('MODE #keyed +k sesame');
  await op.waitLine((m) => m.command === 'MODE' && m.params[1] === '+k');
  const { chorus, fake } = await startBot(net, { channels: ['#lobby', '#keyed sesame'] });
  await chorus.waitForLog(/SASL login as chorus succeeded/, 15000);
  await op.waitMember('#keyed', 'chorus');
  op.say('#keyed', 'chorus: hello there');
  const reply = await op.waitMessage(from('chorus'));
  assert.equal(reply.params[1], 'echo: hello there');
  assert.equal(reply.tags.account, 'chorus', 'the server vouches for the account it logged in to');
  assert.ok(reply.tags.time && reply.tags.msgid, 'server-time and msgid on what the bot says');
  op.say('#keyed', 'chorus, and again');
  assert.equal((await op.waitMessage((m) => m.nick === 'chorus' && m.params[1].includes('again'))).params[1], 'echo: and again');
  op.say('#keyed', '!ping');                       // the bundled ping plugin
  await op.waitMessage((m) => m.nick === 'chorus' && m.params[1] === 'pong');
  op.say('chorus', 'a private word');
  const q = await op.waitMessage((m) => m.nick === 'chorus' && m.params[0] === 'op');
  assert.equal(q.params[1], 'echo: a private word');
  // echo-message was granted: the server sent the bot a copy of each of its
  // lines. Had it taken one for a message, the model would have seen it.
  await chorus.waitForLog(/registered on/);
  assert.ok(!fake.requests.some((r) => JSON.stringify(r.body).includes('echo: echo:')), 'no echo of its own line was answered');
  assert.equal(fake.chatRequests().length, 3, 'the model was asked three times: the two addressed lines and the query');
});

test('with a wrong SASL password the bot says so once, and registers without the account instead of reconnecting', { timeout: 30000 }, async () => {
  const net = await startServicesNet();
  await net.register('chorus', PASSWORD);
  const ann = await ircUser(net.ircd, 'ann', { caps: CAPS });
  await ann.join('#lobby');
  const { chorus } = await startBot(net, { nick: 'chorus', password: 'not the password' });
  await chorus.waitForLog(/SASL login as chorus failed \(904/, 15000);
  // Atheme keeps a registered nick for its owner: a bot that is not logged in is renamed or
  // asked to identify; either way it gets in and answers under the nick it has.
  await ann.waitMember('#lobby', 'chorus');
  ann.say('#lobby', 'chorus: are you logged in?');
  const reply = await ann.waitMessage(from('chorus'));
  assert.equal(reply.tags.account, undefined, 'no account');
  assert.equal(chorus.logText().match(/SASL login as chorus failed/g).length, 1, 'one attempt, one clear line');
  assert.ok(!/connection to .* lost/.test(chorus.logText()), 'no reconnect');
  assert.ok(!chorus.logText().includes('not the password'), 'the password is not logged');
});

test('a long reply with Japanese text is split within 512 bytes on code point boundaries', { timeout: 30000 }, async () => {
  const net = await startServicesNet();
  await net.register('chorus', PASSWORD);
  const ann = await ircUser(net.ircd, 'ann', { caps: CAPS });
  await ann.join('#lobby');
  const stack = await startBot(net, { pace: 'burst = 50, line_interval_ms = 100' });
  const long = `${'日本語のテキスト'.repeat(40)} ${'word '.repeat(100).trim()}\nthe end`;
  stack.fake.respond = () => ({ content: long });
  await ann.waitMember('#lobby', 'chorus');
  ann.say('#lobby', 'chorus: tell me everything');
  await ann.waitMessage((m) => m.nick === 'chorus' && m.params[1] === 'the end', { timeoutMs: 15000 });
  const lines = ann.messages(from('chorus'));
  assert.ok(lines.length >= 4, `split into ${lines.length} lines`);
  for (const l of lines) {
    const withoutTags = Buffer.byteLength(l.raw.replace(/^@\S+ /, ''));
    assert.ok(withoutTags + 2 <= 512, `a line of ${withoutTags + 2} bytes as delivered`);
  }
  assert.ok(!lines.some((l) => l.params[1].includes('\uFFFD')), 'no code point torn');
  assert.equal(lines.slice(0, -1).map((l) => l.params[1]).join('').replace(/ /g, ''), long.split('\n')[0].replace(/ /g, ''));
});

test('fifty fast replies under strict flood limits: never killed for flooding, its echoes never answered', { timeout: 60000 }, async () => {
  const net = await startServicesNet({ flood: { commandrate: 10000, threshold: 20 } });
  await net.register('chorus', PASSWORD);
  const ann = await ircUser(net.ircd, 'ann', { caps: CAPS });
  await ann.join('#lobby');
  const stack = await startBot(net, { pace: 'burst = 5, line_interval_ms = 250' });
  const asked = [];
  stack.fake.respond = (req) => {
    const last = String(req.body.messages[req.body.messages.length - 1].content).split('\n').pop().replace(/^chorus: /, '');
    asked.push(last);
    return { content: `answer to ${last}` };
  };
  await ann.waitMember('#lobby', 'chorus');
  for (let i = 0; i < 50; i++) {
    ann.say('#lobby', `chorus: question ${i}`);
    await delay(120);               // the person stays under the limit too
  }
  await ann.waitMessage((m) => m.nick === 'chorus' && m.params[1].startsWith('answer to question 49'), { timeoutMs: 40000 });
  const got = ann.messages(from('chorus'));
  // The persona also asks the model for notes on the talk so far (their last
  // line is its own answer, "Aiko: ..."); those are not replies.
  const questions = asked.filter((q) => q.startsWith('question '));
  assert.equal(got.length, questions.length, `each answer arrived once (asked: ${asked.join(' | ')})`);
  assert.ok(!asked.some((q) => q.startsWith('answer to')), 'the echo of its own line was never taken for a question');
  assert.ok(questions.length >= 10, `${questions.length} answers`);
  assert.ok(!ann.lines.some((m) => m.command === 'QUIT' && m.nick === 'chorus'), 'the bot never quit (no Excess Flood)');
});

test('after the server restarts the bot logs in again, rejoins and answers', { timeout: 40000 }, async () => {
  const net = await startServicesNet();
  await net.register('chorus', PASSWORD);
  const { chorus } = await startBot(net);
  await chorus.waitForLog(/SASL login as chorus succeeded/, 15000);
  let ann = await ircUser(net.ircd, 'ann');
  await ann.join('#lobby');
  await ann.waitMember('#lobby', 'chorus');
  await net.ircd.stop();
  await net.ircd.start();
  await net.waitForSasl();
  ann = await ircUser(net.ircd, 'ann', { caps: CAPS });
  await ann.join('#lobby');
  await ann.waitMember('#lobby', 'chorus', 20000);
  ann.say('#lobby', 'chorus: welcome back');
  const reply = await ann.waitMessage(from('chorus'));
  assert.equal(reply.params[1], 'echo: welcome back');
  await chorus.waitForLog(/connection to .* lost/);
});

test('when its nick is taken (433) the bot takes another, still logged in to its account', { timeout: 30000 }, async () => {
  const net = await startServicesNet();
  await net.register('chorus', PASSWORD);
  const squatter = await ircUser(net.ircd, 'chorus', { caps: CAPS });
  await squatter.join('#lobby');
  const { chorus } = await startBot(net);
  await chorus.waitForLog(/nick chorus is taken; trying chorus_/, 15000);
  await chorus.waitForLog(/SASL login as chorus succeeded/, 15000);
  await squatter.waitMember('#lobby', 'chorus_');
  squatter.say('#lobby', 'chorus_: who are you?');
  const reply = await squatter.waitMessage(from('chorus_'));
  assert.equal(reply.params[1], 'echo: who are you?');
  assert.equal(reply.tags.account, 'chorus', 'the account is the one it logged in to, whatever the nick');
});

test('in a channel that replays its history on JOIN (+H), the bot answers only what is said after it came', { timeout: 30000 }, async () => {
  const net = await startServicesNet();
  await net.register('chorus', PASSWORD);
  const ann = await ircUser(net.ircd, 'ann', { caps: CAPS });
  await ann.join('#lobby');
  ann.send('MODE #lobby +H 20:1d');
  await ann.waitLine((m) => m.command === 'MODE' && m.params[1] === '+H');
  ann.say('#lobby', 'chorus: an old question from before you came');
  const { chorus, fake } = await startBot(net);
  await ann.waitMember('#lobby', 'chorus');
  const t = ann.lines.length;
  ann.kick('#lobby', 'chorus', 'come back');
  await ann.waitLine((m) => m.command === 'JOIN' && m.nick === 'chorus', { from: t, timeoutMs: 10000 });
  ann.say('#lobby', 'chorus: a new question');
  const reply = await ann.waitMessage(from('chorus'));
  assert.equal(reply.params[1], 'echo: a new question', 'the first answer is to the new question');
  await chorus.waitForLog(/from the channel's history/);
  assert.equal(fake.chatRequests().length, 1, 'the replayed line was never put to the model, on either join');
});
