'use strict';
// The grammY echo bot the benchmark compares chorusd with, and the client that
// validates the fake Telegram: it answers every text message from a person
// with "echo: <text>" as a reply (in the same topic), retrying 429s after
// parameters.retry_after with the official auto-retry plugin.
//   TELEGRAM_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:P node grammy-bot.js
const { Bot } = require('grammy');
const { autoRetry } = require('@grammyjs/auto-retry');

const bot = new Bot(process.env.TELEGRAM_TOKEN, { client: { apiRoot: process.env.TELEGRAM_API_URL } });
bot.api.config.use(autoRetry({ maxRetryAttempts: 5, maxDelaySeconds: 60 }));

bot.on('message:text', async (ctx) => {
  if (ctx.from && ctx.from.is_bot) return;
  await ctx.reply(`echo: ${ctx.message.text}`, { reply_parameters: { message_id: ctx.message.message_id } });
});
bot.catch((err) => process.stderr.write(`grammY error: ${err.message}\n`));
process.on('SIGTERM', () => { bot.stop().finally(() => process.exit(0)); });
bot.start({ onStart: (me) => process.stderr.write(`grammY ready as @${me.username}\n`) }).catch((e) => {
  process.stderr.write(`grammY stopped: ${e.message}\n`);
  process.exit(1);
});
