'use strict';
// bench/webchat/ws-echo.js - the floor for bench/webchat/run.js: the least a
// Node server on the `ws` library does to answer chorusd's web chat protocol
// (docs/webchat.md): every {"type":"message"} frame is parsed and answered
// with {"type":"message", "persona", "text": "echo: ...", "reply_to"} in the
// same channel. No Redis, no queue, no plugin: a floor, not a peer.
// Prints "listening on ws://127.0.0.1:PORT/ws" on stderr once ready.
const path = require('node:path');

// ws from bench/webchat's own install, else the tests' (same pinned version).
function loadWs() {
  for (const dir of [__dirname, path.join(__dirname, '..', '..', 'tests')]) {
    try { return require(require.resolve('ws', { paths: [dir] })); } catch (_) { /* next */ }
  }
  throw new Error('the ws package is missing: cd bench/webchat && npm install');
}

const { WebSocketServer } = loadWs();
let n = 0;
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws', perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    let m;
    try { m = JSON.parse(data); } catch (_) { return; }
    if (!m || m.type !== 'message' || typeof m.text !== 'string') return;
    ws.send(JSON.stringify({ type: 'message', id: `w${++n}`, channel: m.channel, persona: 'echo', text: `echo: ${m.text}`, reply_to: m.id }));
  });
});
wss.on('listening', () => process.stderr.write(`listening on ws://127.0.0.1:${wss.address().port}/ws\n`));
process.on('SIGTERM', () => process.exit(0));
