'use strict';
// Stories of an IRC bot on networks that are not like the test servers:
// what the specs allow any server to send (modern.ircdocs.horse, IRCv3),
// played by a scripted server (tests/lib/irc-script.js). Other case rules
// (rfc1459), other channel types and status messages, short nick limits,
// refused nicks, bans, join failures, a channel that kicks the bot each
// time, the server renaming the bot, bare \n line ends, escaped tags and a
// welcome that arrives in pieces.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { startScriptedIrc } = require('../lib/irc-script');
const { luaString } = require('../lib/util');

// chorusd as NICK on the scripted server, with fast test timings.
async function startBot(srv, { nick = 'chorus', channels = ['#lobby'], extra = '' } = {}) {
  const keys = [
    'url = env("IRC_URL")',
    `nick = ${luaString(nick)}`,
    `channels = { ${channels.map(luaString).join(', ')} }`,
    'reconnect_min_ms = 100', 'reconnect_max_ms = 1600', 'rejoin_min_ms = 100', 'rejoin_max_ms = 1600',
    'burst = 5', 'line_interval_ms = 300',
  ];
  if (extra) keys.push(extra);
  return startStack({ configOptions: { extra: `irc { ${keys.join(', ')} }` }, env: { IRC_URL: srv.url, IRC_SASL_PASSWORD: 'a-password' } });
}

const privmsgTo = (target) => (l) => l.startsWith(`PRIVMSG ${target} :`);
const text = (l) => l.slice(l.indexOf(' :') + 2);

test('on an rfc1459 network the bot knows its name and its channel in either case: [] and {} are the same letters', { timeout: 20000 }, async () => {
  const srv = await startScriptedIrc({ isupport: 'CASEMAPPING=rfc1459 CHANTYPES=# NICKLEN=30' });
  const { chorus } = await startBot(srv, { nick: 'bot[1]', channels: ['#Chat[en]'] });
  const c = await srv.nextConnection();
  await c.waitLine((l) => l === 'JOIN #Chat[en]');
  c.say('ann', '#chat{en}', 'BOT{1}: hello there');
  const reply = await c.waitLine(privmsgTo('#chat{en}'));
  assert.equal(text(reply), 'echo: hello there', '"BOT{1}:" addresses bot[1] and is stripped');
  const from = c.lines.length;
  c.send(':op!op@users.test KICK #chat{EN} bot{1} :out you go');
  await c.waitLine((l) => l === 'JOIN #Chat[en]', { from });
  await chorus.waitForLog(/kicked from #Chat\[en\]/);
});

test('& channels, status messages to @#chan, and a broadcast to $* that is not a conversation', { timeout: 20000 }, async () => {
  const srv = await startScriptedIrc({ isupport: 'CASEMAPPING=ascii CHANTYPES=#& PREFIX=(ov)@+ STATUSMSG=@+' });
  const { chorus } = await startBot(srv, { channels: ['&local', '#lobby'] });
  const c = await srv.nextConnection();
  await c.waitLine((l) => l === 'JOIN &local');
  c.say('ann', '&local', 'chorus: local question');
  assert.equal(text(await c.waitLine(privmsgTo('&local'))), 'echo: local question');
  c.say('ann', '@#lobby', 'chorus: for the ops only');
  assert.equal(text(await c.waitLine(privmsgTo('@#lobby'))), 'echo: for the ops only', 'the answer goes to the same ops-only audience');
  c.say('oper', '$*', 'chorus: the network restarts at noon');
  c.send(':irc.script.test NOTICE chorus :*** You are connected using plain text');
  await chorus.waitForLog(/not a channel/);
  await chorus.waitForLog(/notice from irc\.script\.test: \*\*\* You are connected/);
  c.say('ann', 'chorus', 'still here?');
  await c.waitLine(privmsgTo('ann'));
  assert.ok(!c.lines.some((l) => l.startsWith('PRIVMSG $*')), 'nothing sent to the whole network');
});

test('with NICKLEN=9 and its nick taken, the bot finds a nick that fits instead of growing it past the limit', { timeout: 20000 }, async () => {
  const srv = await startScriptedIrc({
    isupport: 'CASEMAPPING=ascii CHANTYPES=# NICKLEN=9',
    onNick: (c, nick) => {
      if (nick.length > 9) return [`:irc.script.test 432 * ${nick} :Erroneous Nickname`];
      if (nick === 'chorusbot') return [`:irc.script.test 433 * ${nick} :Nickname is already in use`];
      return null;
    },
  });
  const { chorus } = await startBot(srv, { nick: 'chorusbot' });
  const c = await srv.nextConnection();
  await c.registered;
  const nicks = c.lines.filter((l) => l.startsWith('NICK '));
  assert.ok(nicks.length <= 4, `found in ${nicks.length} tries: ${nicks.join(', ')}`);
  assert.ok(c.nick.length <= 9 && c.nick !== 'chorusbot', `registered as ${c.nick}`);
  await chorus.waitForLog(new RegExp(`registered on .* as ${c.nick}`));
  c.say('ann', '#lobby', `${c.nick}: who are you?`);
  assert.equal(text(await c.waitLine(privmsgTo('#lobby'))), 'echo: who are you?');
});

test('a nick held for now (437) is passed over like a taken one', { timeout: 20000 }, async () => {
  const srv = await startScriptedIrc({ onNick: (c, nick) => (nick === 'chorus' ? [`:irc.script.test 437 * ${nick} :Nick/channel is temporarily unavailable`] : null) });
  await startBot(srv);
  const c = await srv.nextConnection();
  await c.registered;
  assert.equal(c.nick, 'chorus_');
});

test('a server that refuses the nick as erroneous (432) gets one clear log line and a slow retry, not a storm', { timeout: 20000 }, async () => {
  const srv = await startScriptedIrc({ onNick: (c, nick) => [`:irc.script.test 432 * ${nick} :Erroneous Nickname`] });
  const { chorus } = await startBot(srv);
  const first = await srv.nextConnection();
  await chorus.waitForLog(/refuses the nick chorus/);
  const second = await srv.nextConnection();
  const nicks = first.lines.filter((l) => l.startsWith('NICK '));
  assert.ok(nicks.length <= 10, `${nicks.length} NICKs on one connection`);
  assert.ok(second.at - first.at >= 90, 'the next try waits for the reconnect delay');
});

test('banned (465, then ERROR and close): the bot says so and comes back ever more slowly', { timeout: 20000 }, async () => {
  const srv = await startScriptedIrc({
    onNick: (c, nick) => {
      setImmediate(() => c.close());
      return [`:irc.script.test 465 ${nick} :You are banned from this server- K-lined`, 'ERROR :Closing link: (chorus@127.0.0.1) [K-lined]'];
    },
  });
  const { chorus } = await startBot(srv);
  const conns = [];
  for (let i = 0; i < 4; i++) conns.push(await srv.nextConnection());
  await chorus.waitForLog(/banned.*K-lined/);
  await chorus.waitForLog(/closes the link: Closing link/);
  const gaps = conns.slice(1).map((c, i) => c.at - conns[i].at);
  assert.ok(gaps[2] >= 350, `the waits grow: ${gaps.join(', ')} ms`);
});

test('a server that welcomes the bot and then closes the link at once sees the reconnects slow down too', { timeout: 20000 }, async () => {
  const srv = await startScriptedIrc();
  await startBot(srv);
  const conns = [];
  for (let i = 0; i < 4; i++) {
    const c = await srv.nextConnection();
    conns.push(c);
    await c.registered;
    c.send('ERROR :Closing link: (chorus@127.0.0.1) [Excess Flood]');
    c.close();
  }
  const gaps = conns.slice(1).map((c, i) => c.at - conns[i].at);
  assert.ok(gaps[2] >= 350, `the waits grow: ${gaps.join(', ')} ms`);
});

test('channels it cannot join (full, invite only, banned, wrong key, registered only) are logged and tried again slowly', { timeout: 25000 }, async () => {
  const refusals = { '#full': '471', '#invite': '473', '#banned': '474', '#keyed': '475', '#regonly': '477' };
  const joins = {};
  const srv = await startScriptedIrc({
    onJoin: (c, channel) => {
      (joins[channel] = joins[channel] || []).push(Date.now());
      const code = refusals[channel];
      if (code && joins[channel].length <= 3) return [`:irc.script.test ${code} ${c.nick} ${channel} :Cannot join channel`];
      return null;
    },
  });
  const { chorus } = await startBot(srv, { channels: [...Object.keys(refusals), '#lobby'] });
  const c = await srv.nextConnection();
  for (const ch of Object.keys(refusals)) {
    await c.waitLine((l) => l.startsWith(`JOIN ${ch}`) && joins[ch].length >= 4, { timeoutMs: 8000 });
    await chorus.waitForLog(new RegExp(`cannot join ${ch} \\(${refusals[ch]}`));
    const t = joins[ch];
    assert.ok(t[3] - t[2] >= 350, `${ch}: the third retry waited ${t[3] - t[2]} ms (joins at ${t.map((x) => x - t[0]).join(', ')})`);
  }
  assert.equal(joins['#lobby'].length, 1, 'a channel it is in is not joined again');
});

test('a channel that kicks the bot each time it comes back sees the rejoins slow down', { timeout: 20000 }, async () => {
  const joins = [];
  const srv = await startScriptedIrc({
    onJoin: (c, channel) => {
      joins.push(Date.now());
      return [`:${c.nick}!${c.nick}@127.0.0.1 JOIN ${channel}`, `:guard!guard@users.test KICK ${channel} ${c.nick} :no bots`];
    },
  });
  await startBot(srv, { channels: ['#strict'] });
  const c = await srv.nextConnection();
  await c.waitLine(() => joins.length >= 5, { timeoutMs: 10000 });
  const gaps = joins.slice(1).map((t, i) => t - joins[i]);
  assert.ok(gaps[3] >= 700, `the rejoin waits grow: ${gaps.join(', ')} ms`);
});

test('renamed by the server, the bot answers to its new nick and never to its own echoes', { timeout: 20000 }, async () => {
  const srv = await startScriptedIrc();
  const { chorus } = await startBot(srv);
  const c = await srv.nextConnection();
  await c.waitLine((l) => l === 'JOIN #lobby');
  c.send(':chorus!chorus@127.0.0.1 NICK :Guest4021');
  c.say('ann', '#lobby', 'Guest4021: renamed?');
  assert.equal(text(await c.waitLine(privmsgTo('#lobby'))), 'echo: renamed?');
  await chorus.waitForLog(/nick is now Guest4021/);
  const from = c.lines.length;
  c.say('Guest4021', '#lobby', 'Guest4021: an echo of my own line');
  c.say('ann', '#lobby', 'Guest4021: and one more');
  assert.equal(text(await c.waitLine(privmsgTo('#lobby'), { from })), 'echo: and one more', 'its own echo was not answered');
});

test('a server with bare \\n line ends, NOTICE AUTH before registration, a welcome in pieces and escaped tags', { timeout: 20000 }, async () => {
  const srv = await startScriptedIrc({
    eol: '\n',
    fragment: true,
    greet: ['NOTICE AUTH :*** Looking up your hostname...', ':irc.script.test NOTICE * :*** Found your hostname'],
  });
  const { chorus } = await startBot(srv);
  const c = await srv.nextConnection();
  await c.waitLine((l) => l === 'JOIN #lobby');
  await chorus.waitForLog(/registered on .* as chorus/);
  c.say('ann', '#lobby', 'chorus: tagged\\s?', 'msgid=a\\:b\\sc\\\\d;account=ann;+example.com/x=\\');
  assert.equal(text(await c.waitLine(privmsgTo('#lobby'))), 'echo: tagged\\s?', 'the text itself is not unescaped');
  assert.ok(!c.lines.some((l) => /AUTH|\*\*\*/.test(l)), 'the pre-registration notices were not answered');
});

test('an account held by the services (902) ends the SASL exchange: the bot says so and registers without it', { timeout: 20000 }, async () => {
  const srv = await startScriptedIrc({
    caps: 'sasl=PLAIN message-tags',
    onAuthenticate: () => [':irc.script.test 902 * :You must use a nick assigned to you'],
  });
  const { chorus } = await startBot(srv, { extra: 'sasl = { user = "chorus", password = env("IRC_SASL_PASSWORD") }' });
  const c = await srv.nextConnection();
  await chorus.waitForLog(/SASL login as chorus failed \(902: You must use a nick assigned to you\)/);
  await c.waitLine((l) => l === 'JOIN #lobby');
  await chorus.waitForLog(/registered without logging in as chorus/);
  assert.equal(srv.conns.length, 1, 'on the same connection');
});
