'use strict';
// Small helpers shared by the test libraries.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');
const { trackTempDir } = require('./tap');

// Ask the kernel for a port nobody listens on right now.
function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tempDir(tag = 'chorus') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-`));
  return trackTempDir(dir);
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

// Wait until `check()` returns a truthy value (or resolves to one); poll every
// intervalMs; give up after timeoutMs with an error that says what we waited for.
async function waitFor(check, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await check();
      lastErr = undefined;
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const extra = lastErr ? `; last error: ${lastErr.message}` : `; last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${extra}`);
    }
    await delay(intervalMs);
  }
}

// One plain HTTP request, no keep-alive. Resolves {status, headers, body}.
function httpRequest(url, { method = 'GET', headers = {}, body, timeoutMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    // A string body is sent with its length, as webhook senders do;
    // pass headers['transfer-encoding'] = 'chunked' to send it chunked.
    const hdrs = { ...headers };
    if (typeof body === 'string' && !hdrs['transfer-encoding']) hdrs['content-length'] = Buffer.byteLength(body);
    const req = http.request(url, { method, headers: hdrs, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`HTTP ${method} ${url} got no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const httpGet = (url, opts) => httpRequest(url, { ...opts, method: 'GET' });

// Resolve when `emitter` emits `event` (optionally matching a predicate), or reject on timeout.
function once(emitter, event, { timeoutMs = 5000, filter = () => true } = {}) {
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => {
      if (!filter(...args)) return;
      clearTimeout(timer);
      emitter.off(event, onEvent);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`));
    }, timeoutMs);
    emitter.on(event, onEvent);
  });
}

// Quote a JS string as a Lua string literal (byte-exact for UTF-8 text).
function luaString(s) {
  let out = '"';
  for (const ch of String(s)) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (c < 0x20 || c === 0x7f) out += `\\${String(c).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

// CPU time (user + system, in seconds) a process has used so far, from /proc.
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces; everything after the last ')' is fixed.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  return (utime + stime) / clockTicks();
}

let ticks = null;
function clockTicks() {
  if (ticks === null) {
    try {
      ticks = Number(require('node:child_process').execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch (_) {
      ticks = 100;
    }
  }
  return ticks;
}

module.exports = { cpuSeconds, freePort, tempDir, delay, waitFor, httpRequest, httpGet, once, luaString };
