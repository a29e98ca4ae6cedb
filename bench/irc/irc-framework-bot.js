'use strict';
// The peer: an irc-framework echo bot, the same behaviour as
// bench/irc-echo.conf.lua. IRC_HOST, IRC_PORT, IRC_NICK, IRC_CHANNELS.
const IRC = require('irc-framework');

const bot = new IRC.Client();
bot.connect({ host: process.env.IRC_HOST, port: Number(process.env.IRC_PORT), nick: process.env.IRC_NICK, auto_reconnect: false });
bot.on('registered', () => {
  for (const c of (process.env.IRC_CHANNELS || '').split(',').filter(Boolean)) bot.join(c);
  process.stderr.write('irc-framework ready\n');
});
bot.on('privmsg', (e) => {
  const target = e.target.startsWith('#') ? e.target : e.nick;
  bot.say(target, `echo: ${e.message}`);
});
