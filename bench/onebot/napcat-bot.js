'use strict';
// napcat-bot.js - the peer of bench/onebot/run.js: a QQ echo bot written
// the usual Node way, on the NapCat SDK (node-napcat-ts, pinned in
// package.json here and in tests/) over the OneBot forward websocket. It
// answers every text message from a person, private or group, with
// "echo: <text>" as a reply. It is also the client that validates the fake
// OneBot implementation (tests/integration/onebot_fake_napcat.test.js).
//   ONEBOT_URL            the forward websocket, ws://host:port
//   ONEBOT_ACCESS_TOKEN   its access token
//   RECONNECT_MS          wait before dialing again (default 500)
//   NODE_PATH             where else node-napcat-ts may be installed
// Prints "napcat-sdk ready" on stderr once the lifecycle event came, and a
// line per failed call ("send failed: retcode N ...").
const path = require('node:path');
const { pathToFileURL } = require('node:url');

async function main() {
  const paths = [__dirname, ...(process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean)];
  const entry = require.resolve('node-napcat-ts', { paths });
  const { NCWebsocket, Structs } = await import(pathToFileURL(entry).href);
  const bot = new NCWebsocket({
    baseUrl: process.env.ONEBOT_URL,
    accessToken: process.env.ONEBOT_ACCESS_TOKEN || '',
    reconnection: { enable: true, attempts: 1000, delay: Number(process.env.RECONNECT_MS || 500) },
    apiTimeout: 10000,
  }, false);
  bot.on('message', async (ctx) => {
    const text = ctx.message.filter((s) => s.type === 'text').map((s) => s.data.text).join('').trim();
    if (!text) return;
    const message = [Structs.reply(ctx.message_id), Structs.text(`echo: ${text}`)];
    try {
      if (ctx.message_type === 'group') await bot.send_group_msg({ group_id: ctx.group_id, message });
      else await bot.send_private_msg({ user_id: ctx.user_id, message });
    } catch (e) {
      console.error(`send failed: retcode ${e && e.retcode} ${e && e.message}`);
    }
  });
  bot.on('meta_event.lifecycle.connect', () => console.error('napcat-sdk ready'));
  bot.on('socket.close', (e) => console.error(`napcat-sdk closed ${e.code}`));
  await bot.connect();
}

main().catch((e) => { console.error(e); process.exit(1); });
