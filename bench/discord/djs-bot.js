'use strict';
// The discord.js v14 echo bot the benchmark compares chorusd with: it answers
// every message from a non-bot author with "echo: <content>" in the same channel.
//   DISCORD_TOKEN=... DISCORD_API=http://127.0.0.1:P/api node djs-bot.js
const { Client, GatewayIntentBits, Partials, Events } = require('discord.js');

const client = new Client({
  intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages,
    GatewayIntentBits.MessageContent],
  partials: [Partials.Channel],
  rest: { api: process.env.DISCORD_API, globalRequestsPerSecond: 100000 },
});

client.on(Events.MessageCreate, (message) => {
  if (message.author.bot) return;
  message.reply({ content: `echo: ${message.content}`, allowedMentions: { parse: [] } }).catch((e) => {
    process.stderr.write(`reply failed: ${e.message}\n`);
  });
});
if (process.env.DEBUG) client.on(Events.Debug, (m) => process.stderr.write(`debug: ${m}\n`));
client.once(Events.ClientReady, () => process.stderr.write('discord.js ready\n'));
client.login(process.env.DISCORD_TOKEN);
process.on('SIGTERM', () => { client.destroy(); process.exit(0); });
