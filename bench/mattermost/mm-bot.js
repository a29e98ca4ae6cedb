'use strict';
// The @mattermost/client echo bot the benchmark compares chorusd with: Client4
// for REST, WebSocketClient for events. It answers every post from another
// user with "echo: <message>" in the same channel (in the thread when the post
// was in one).
//   MATTERMOST_URL=http://127.0.0.1:P MATTERMOST_TOKEN=... node mm-bot.js
// Node 20 has no global WebSocket (nor CloseEvent, which WebSocketClient
// builds on a ping timeout or a seq mismatch): the `ws` package stands in.
const WebSocket = require('ws');

if (typeof globalThis.WebSocket === 'undefined') globalThis.WebSocket = WebSocket;
if (typeof globalThis.CloseEvent === 'undefined') {
  globalThis.CloseEvent = class CloseEvent extends Event {
    constructor(type, init = {}) {
      super(type);
      this.code = init.code || 0;
      this.reason = init.reason || '';
      this.wasClean = !!init.wasClean;
    }
  };
}
const { Client4, WebSocketClient } = require('@mattermost/client');

const url = process.env.MATTERMOST_URL;
const token = process.env.MATTERMOST_TOKEN;
const log = (m) => process.stderr.write(`${m}\n`);
const client = new Client4();
client.setUrl(url);
client.setToken(token);
const retry = Number(process.env.MM_RETRY_MS || 3000);
const ws = new WebSocketClient({ minWebSocketRetryTime: retry, reconnectJitterRange: Math.min(2000, retry) });

async function main() {
  const me = await client.getMe();
  ws.addMessageListener((msg) => {
    if (msg.event === 'hello') log(`mattermost client ready (connection ${msg.data.connection_id})`);
    if (msg.event !== 'posted') return;
    let post;
    try { post = JSON.parse(msg.data.post); } catch (e) { log(`bad post: ${e.message}`); return; }
    if (post.user_id === me.id || post.type) return;
    client.createPost({ channel_id: post.channel_id, message: `echo: ${post.message}`, root_id: post.root_id || '' })
      .catch((e) => log(`reply failed: ${e.message}`));
  });
  ws.addReconnectListener(() => log('mattermost client reconnected'));
  ws.addMissedMessageListener(() => log('mattermost client missed messages'));
  ws.initialize(client.getWebSocketUrl().replace(/^http/, 'ws'), token);
}

main().catch((e) => { log(`mm-bot failed: ${e.message}`); process.exit(1); });
process.on('SIGTERM', () => { ws.close(); process.exit(0); });
