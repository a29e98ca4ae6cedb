'use strict';
// What the fake model servers share: a loopback HTTP server that records
// every request, lets a test script each answer, and streams answers piece
// by piece with delays, cuts and resets.
//
//   const fake = await startFakeServer({ routes: ['/v1/messages'], answer: async (record, plan, res) => {...} })
//   fake.requests, fake.respond, await fake.waitForRequest(pred, ms), fake.chatRequests(), fake.close()
//
// answer() receives the plan returned by fake.respond(record) ({} if none)
// after the common parts of a plan were handled: delayMs (wait before
// answering), hangUp (destroy the socket), status/headers/body/raw.

const http = require('node:http');
const { after } = require('./tap');

// Wait ms, or less if the response closes first.
const sleep = (ms, res) => new Promise((r) => {
  const onClose = () => { clearTimeout(t); r(); };
  const t = setTimeout(() => { if (res) res.off('close', onClose); r(); }, ms);
  if (res) res.once('close', onClose);
});

// Write the pieces of a stream: strings are sent as they are, numbers are
// pauses in ms. Options: firstChunkDelayMs (headers first, then silence),
// chunkDelayMs (between pieces), cutAfter (stop after N pieces and end the
// response cleanly), reset (destroy the socket instead of ending).
async function writeStream(res, pieces, { status = 200, headers = {}, contentType, firstChunkDelayMs = 0, chunkDelayMs = 0, cutAfter, reset = false } = {}) {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-cache', ...headers });
  res.flushHeaders();
  if (firstChunkDelayMs) await sleep(firstChunkDelayMs, res);
  let sent = 0;
  for (const p of pieces) {
    if (res.destroyed) return;
    if (typeof p === 'number') { await sleep(p, res); continue; }
    if (cutAfter !== undefined && sent >= cutAfter) break;
    if (sent > 0 && chunkDelayMs) await sleep(chunkDelayMs, res);
    if (res.destroyed) return;
    res.write(p);
    sent++;
  }
  if (res.destroyed) return;
  if (reset) { await sleep(20); res.socket && res.socket.destroy(); return; }
  res.end();
}

// Split text into word-sized pieces (spaces kept), so streams have several deltas.
function pieces(text) {
  return text.match(/\s*\S+\s*/gu) || (text ? [text] : []);
}

function startFakeServer({ host = '127.0.0.1', routes, prefix = '', answer, describe = (r) => r.path }) {
  const sockets = new Set();
  const waiters = [];
  const fake = {
    requests: [],
    respond: null,
    port: 0,
    baseUrl: '',
    waitForRequest(predicate = () => true, timeoutMs = 5000) {
      const found = fake.requests.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { predicate, resolve };
        w.timer = setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`fake model got no matching request within ${timeoutMs} ms; it got ${fake.requests.length}: ${JSON.stringify(fake.requests.map(describe)).slice(0, 500)}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    chatRequests() {
      return fake.requests.filter((r) => r.method === 'POST' && routes.includes(r.path));
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const rawBody = Buffer.concat(chunks);
      let body = null;
      try { body = JSON.parse(rawBody.toString('utf8')); } catch (_) { body = null; }
      const record = { method: req.method, path: req.url, headers: req.headers, rawBody, body, at: Date.now(), answeredAt: null, aborted: false };
      fake.requests.push(record);
      for (let i = 0; i < waiters.length; i++) {
        if (waiters[i].predicate(record)) {
          const [w] = waiters.splice(i, 1);
          clearTimeout(w.timer);
          w.resolve(record);
          i--;
        }
      }
      res.on('close', () => { if (!res.writableFinished) record.aborted = true; });
      if (req.method !== 'POST' || !routes.includes(req.url)) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } }));
        return;
      }
      let plan;
      try {
        plan = (fake.respond && await fake.respond(record)) || {};
      } catch (e) {
        plan = { status: 500, body: { error: { message: `fake respond hook threw: ${e.message}` } } };
      }
      if (plan.delayMs) await sleep(plan.delayMs, res);
      if (res.destroyed || res.writableEnded) return;
      if (plan.hangUp) { req.socket.destroy(); return; }
      if (plan.raw !== undefined || plan.body !== undefined) {
        const payload = plan.raw !== undefined ? (Buffer.isBuffer(plan.raw) ? plan.raw : Buffer.from(String(plan.raw), 'utf8')) : Buffer.from(JSON.stringify(plan.body), 'utf8');
        res.writeHead(plan.status || 200, { 'content-type': 'application/json', 'content-length': payload.length, ...(plan.headers || {}) });
        res.end(payload);
      } else {
        await answer(record, plan, res);
      }
      record.answeredAt = Date.now();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      fake.port = server.address().port;
      fake.baseUrl = `http://${host}:${fake.port}${prefix}`;
      after(() => fake.close());
      resolve(fake);
    });
  });
}

function lastUserText(req) {
  const msgs = req && req.body && Array.isArray(req.body.messages) ? req.body.messages : [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i];
    if (!m || m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      const t = m.content.find((b) => b && b.type === 'text');
      if (t) return t.text;
    }
    return '';
  }
  return '';
}

// The options of a plan that shape a stream, for writeStream().
function streamOptions(plan, contentType) {
  return {
    status: plan.status || 200,
    headers: plan.headers || {},
    contentType,
    firstChunkDelayMs: plan.firstChunkDelayMs || 0,
    chunkDelayMs: plan.chunkDelayMs || 0,
    cutAfter: plan.cut ? (plan.cutAfter !== undefined ? plan.cutAfter : 2) : undefined,
    reset: plan.cut === 'reset',
  };
}

module.exports = { startFakeServer, writeStream, pieces, lastUserText, streamOptions, sleep };
