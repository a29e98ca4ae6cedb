'use strict';
// A real redis-server on a free loopback port, plus a tiny RESP client.
//
//   const redis = await startRedis();
//   await redis.cmd('SET', 'k', 'v');
//   await redis.stop();      // SIGKILL: Redis "crashes"
//   await redis.restart();   // same port, empty data set (with aof: true, what the AOF kept)

const net = require('node:net');
const { spawn } = require('node:child_process');
const { trackChild, after, onFailure } = require('./tap');
const { freePort, tempDir, delay } = require('./util');

class RedisError extends Error {}

// ---- RESP ----------------------------------------------------------------

function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

// Parse one reply starting at `pos`. Returns {value, pos} or null when the
// buffer does not hold a whole reply yet.
function parseReply(buf, pos) {
  if (pos >= buf.length) return null;
  const lineEnd = buf.indexOf('\r\n', pos);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+': return { value: line, pos: next };
    case '-': return { value: new RedisError(line), pos: next };
    case ':': return { value: Number(line), pos: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, pos: next };
      if (buf.length < next + len + 2) return null;
      return { value: buf.toString('utf8', next, next + len), pos: next + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, pos: next };
      const items = [];
      let p = next;
      for (let i = 0; i < count; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        items.push(r.value);
        p = r.pos;
      }
      return { value: items, pos: p };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

class RespClient {
  constructor(port, password) {
    this.port = port;
    this.password = password;
    this.sock = null;
    this.pending = [];
    this.buf = Buffer.alloc(0);
  }

  _connect() {
    if (this.sock) return this.ready;
    const sock = net.connect({ host: '127.0.0.1', port: this.port });
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.ready = new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    sock.on('data', (chunk) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      let pos = 0;
      for (;;) {
        let r;
        try { r = parseReply(this.buf, pos); } catch (e) { sock.destroy(e); return; }
        if (!r) break;
        pos = r.pos;
        const waiter = this.pending.shift();
        if (!waiter) continue;
        if (r.value instanceof RedisError) waiter.reject(r.value);
        else waiter.resolve(r.value);
      }
      this.buf = this.buf.subarray(pos);
    });
    const fail = (err) => {
      if (this.sock !== sock) return;
      this.sock = null;
      const e = err || new Error('redis connection closed');
      for (const w of this.pending.splice(0)) w.reject(e);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('redis connection closed')));
    this.ready.catch(() => {});
    if (this.password) {
      this.ready = this.ready.then(() => this._send(['AUTH', this.password]));
      this.ready.catch(() => {});
    }
    return this.ready;
  }

  _send(args) {
    return new Promise((resolve, reject) => {
      if (!this.sock) { reject(new Error('redis not connected')); return; }
      this.pending.push({ resolve, reject });
      this.sock.write(encodeCommand(args));
    });
  }

  async cmd(...args) {
    await this._connect();
    return this._send(args);
  }

  close() {
    if (this.sock) { this.sock.destroy(); this.sock = null; }
    for (const w of this.pending.splice(0)) w.reject(new Error('redis client closed'));
  }
}

// ---- server ----------------------------------------------------------------

function redisBinary() {
  return process.env.REDIS_SERVER || 'redis-server';
}

async function startRedis({ port, password, aof = false, extraArgs = [] } = {}) {
  const dir = tempDir('chorus-redis');
  const chosenPort = port || await freePort();
  const state = { proc: null, output: [], port: chosenPort };
  const client = new RespClient(chosenPort, password);

  async function launch() {
    const args = ['--port', String(chosenPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', aof ? 'yes' : 'no', '--dir', dir];
    if (aof) args.push('--appendfsync', 'everysec');
    if (password) args.push('--requirepass', password);
    args.push(...extraArgs);
    const proc = spawn(redisBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(proc);
    state.proc = proc;
    const exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => resolve({ code, signal }));
      proc.once('error', (err) => resolve({ code: null, signal: null, error: err }));
    });
    state.exited = exited;
    for (const s of [proc.stdout, proc.stderr]) {
      s.setEncoding('utf8');
      s.on('data', (d) => {
        state.output.push(...d.split('\n').filter(Boolean));
        if (state.output.length > 200) state.output.splice(0, state.output.length - 200);
      });
    }
    // Wait until it answers PING (or dies trying).
    const deadline = Date.now() + 10000;
    let dead = null;
    exited.then((info) => { dead = info; });
    for (;;) {
      if (dead) {
        const why = dead.error ? dead.error.message : `exit code ${dead.code} signal ${dead.signal}`;
        throw new Error(`redis-server (${redisBinary()}) failed to start on port ${chosenPort}: ${why}\n${state.output.slice(-10).join('\n')}`);
      }
      try {
        const probe = new RespClient(chosenPort, password);
        try {
          const pong = await Promise.race([probe.cmd('PING'), delay(1000).then(() => 'no answer')]);
          if (pong === 'PONG') return;
        } finally {
          probe.close();
        }
      } catch (_) { /* not up yet */ }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${chosenPort} did not answer PING within 10 s`);
      await delay(20);
    }
  }

  await launch();

  const redis = {
    port: chosenPort,
    password,
    url: password ? `redis://:${encodeURIComponent(password)}@127.0.0.1:${chosenPort}/0` : `redis://127.0.0.1:${chosenPort}/0`,
    cmd: (...args) => client.cmd(...args),
    get pid() { return state.proc && state.proc.pid; },
    // Kill it hard, like a crash; resolves once the process is gone.
    async stop() {
      client.close();
      if (!state.proc || state.proc.exitCode !== null || state.proc.signalCode !== null) return;
      state.proc.kill('SIGKILL');
      await state.exited;
    },
    // Start it again on the same port (the data set starts empty).
    async restart() {
      await redis.stop();
      await launch();
    },
    logs: () => state.output.slice(),
  };
  after(() => redis.stop());
  onFailure(() => {
    const p = state.proc;
    if (p && p.exitCode !== null && p.signalCode !== 'SIGKILL') {
      return `redis-server :${chosenPort} exited (code ${p.exitCode}); last output:\n${state.output.slice(-5).join('\n')}`;
    }
    return null;
  });
  return redis;
}

module.exports = { startRedis, RespClient, RedisError, encodeCommand, parseReply };
