'use strict';
// The @slack/bolt (Socket Mode) echo bot the benchmark compares chorusd with:
// it answers every message from a person (no subtype, no bot) with
// "echo: <text>" in the same channel, in the thread when the message was.
//   SLACK_APP_TOKEN=xapp-... SLACK_BOT_TOKEN=xoxb-... SLACK_API_URL=http://127.0.0.1:P/api/ node bolt-bot.js
// SLACK_CLIENT_PING_TIMEOUT (ms) shortens Bolt's reconnect wait, which is that timeout times the failures.
const { App, LogLevel } = require('@slack/bolt');

const clientOptions = { slackApiUrl: process.env.SLACK_API_URL };
const app = new App({
  token: process.env.SLACK_BOT_TOKEN,
  appToken: process.env.SLACK_APP_TOKEN,
  socketMode: true,
  clientOptions,
  installerOptions: { clientOptions },
  logLevel: process.env.DEBUG ? LogLevel.DEBUG : LogLevel.ERROR,
});
if (process.env.SLACK_CLIENT_PING_TIMEOUT) {
  app.receiver.client.clientPingTimeoutMS = Number(process.env.SLACK_CLIENT_PING_TIMEOUT);
}

app.message(async ({ message, say }) => {
  if (message.subtype || message.bot_id) return;
  try {
    await say({ text: `echo: ${message.text}`, thread_ts: message.thread_ts });
  } catch (e) {
    process.stderr.write(`reply failed: ${e.message}\n`);
  }
});

(async () => {
  await app.start();
  process.stderr.write('bolt ready\n');
})().catch((e) => {
  process.stderr.write(`bolt failed: ${e.stack}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => { app.stop().finally(() => process.exit(0)); });
