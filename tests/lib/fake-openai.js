'use strict';
// An OpenAI-compatible Chat Completions server on a free loopback port.
//
//   const fake = await startFakeOpenAI();
//   fake.baseUrl                       // "http://127.0.0.1:PORT/v1"
//   fake.requests                      // [{method, path, headers, rawBody, body, at}]
//   fake.respond = (req) => ({ status: 429 })            // per-test behaviour
//   fake.respond = (req) => ({ delayMs: 300 })           // default answer, late
//   fake.respond = (req) => ({ raw: '{"choices": [' })   // malformed JSON
//   fake.respond = (req) => ({ body: {...} })            // any JSON body
//   fake.respond = (req) => ({ content: 'hi' })          // default shape, this text
//   await fake.waitForRequest((r) => ..., 5000)
//
// Returning undefined from respond() gives the default answer:
// content "echo: <last user message>".

const http = require('node:http');
const { after } = require('./tap');

function lastUserText(req) {
  const msgs = req && req.body && Array.isArray(req.body.messages) ? req.body.messages : [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (msgs[i] && msgs[i].role === 'user') return typeof msgs[i].content === 'string' ? msgs[i].content : '';
  }
  return '';
}

function completion(content, req) {
  const promptTokens = JSON.stringify((req.body && req.body.messages) || []).length >> 2;
  const completionTokens = Math.max(1, Buffer.byteLength(content) >> 2);
  return {
    id: 'x',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: (req.body && req.body.model) || 'gpt-test',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

function startFakeOpenAI({ host = '127.0.0.1' } = {}) {
  const sockets = new Set();
  const waiters = [];
  const fake = {
    requests: [],
    respond: null,
    port: 0,
    baseUrl: '',
    // Resolve with the first recorded request matching `predicate`
    // (already recorded ones count), or reject after timeoutMs.
    waitForRequest(predicate = () => true, timeoutMs = 5000) {
      const found = fake.requests.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { predicate, resolve };
        w.timer = setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`fake model got no matching request within ${timeoutMs} ms; it got ${fake.requests.length}: ${JSON.stringify(fake.requests.map((r) => r.path + ' ' + lastUserText(r))).slice(0, 500)}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    chatRequests() {
      return fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/chat/completions');
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
      const record = {
        method: req.method,
        path: req.url,
        headers: req.headers,
        rawBody,
        body,
        at: Date.now(),
        answeredAt: null,
        aborted: false,
      };
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

      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
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
      if (plan.delayMs) {
        await new Promise((r) => {
          const t = setTimeout(r, plan.delayMs);
          res.once('close', () => { clearTimeout(t); r(); });
        });
      }
      if (res.destroyed || res.writableEnded) return;
      if (plan.hangUp) { req.socket.destroy(); return; }
      const status = plan.status || 200;
      let payload;
      if (plan.raw !== undefined) {
        payload = Buffer.isBuffer(plan.raw) ? plan.raw : Buffer.from(String(plan.raw), 'utf8');
      } else if (plan.body !== undefined) {
        payload = Buffer.from(JSON.stringify(plan.body), 'utf8');
      } else if (status !== 200) {
        payload = Buffer.from(JSON.stringify({ error: { message: `fake error ${status}`, type: 'server_error', code: null } }), 'utf8');
      } else {
        const content = plan.content !== undefined ? plan.content : `echo: ${lastUserText(record)}`;
        payload = Buffer.from(JSON.stringify(completion(content, record)), 'utf8');
      }
      const headers = { 'content-type': 'application/json', 'content-length': payload.length, ...(plan.headers || {}) };
      res.writeHead(status, headers);
      res.end(payload);
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
      fake.baseUrl = `http://${host}:${fake.port}/v1`;
      after(() => fake.close());
      resolve(fake);
    });
  });
}

module.exports = { startFakeOpenAI, lastUserText, completion };
