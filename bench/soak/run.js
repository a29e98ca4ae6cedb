'use strict';
// bench/soak/run.js - a soak: one chorusd serving the built-in web chat and
// Discord at once, fed steady mixed traffic for an hour (by default), to show
// that its memory, its open file descriptors and its reply latency stay flat
// and that every message gets exactly one answer (issue 12).
//
//   node bench/soak/run.js [--minutes 60] [--rate 30] [--smoke]
//
// It starts its own redis-server, the fake OpenAI model (tests/lib/fake-openai.js),
// the fake Discord (tests/lib/fake-discord.js) and chorusd configured with both.
// Traffic, RATE messages/s in all (half each way):
//   - web chat: 6 guests on websockets, each in its own 4 channels; 2 of
//     them leave and come back every RECONNECT (after their answers arrive);
//   - Discord: 8 users in 8 guild channels (mentioning the bot) and 8 DMs.
// A channel's messages are answered one at a time, so the channels are many
// (40, half a message a second each): a slow minute on a shared machine
// queues less behind one channel.
// Every SAMPLE (a minute) it prints one row: chorusd's RSS (VmRSS), open fds
// (/proc/PID/fd), the jobs queued and running (/metrics), the p50/p99 of the replies that arrived in it (from the
// message sent to its answer received), messages sent and answered, and the
// warnings chorusd logged. At the end: whether RSS, fds and p99 stayed flat
// (the last quarter's median against the second quarter's; the first quarter
// is warm-up) and whether every message got exactly one answer.
// Exit status: 0 when every message got exactly one answer (and, outside
// --smoke, everything stayed flat).
// --smoke: 20 s, a row every 5 s; flatness is printed but not judged.
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const { startFakeDiscord } = require(path.join(ROOT, 'tests/lib/fake-discord'));
const { startFakeOpenAI } = require(path.join(ROOT, 'tests/lib/fake-openai'));
const { startRedis } = require(path.join(ROOT, 'tests/lib/redis'));
const { chorusConfig } = require(path.join(ROOT, 'tests/lib/stack'));
const { connect } = require(path.join(ROOT, 'tests/lib/ws'));
const { luaString, tempDir, cpuSeconds } = require(path.join(ROOT, 'tests/lib/util'));

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def; };
const smoke = args.includes('--smoke');
const MINUTES = opt('minutes', 60);
const RATE = opt('rate', smoke ? 10 : 20);
const DURATION_MS = smoke ? 20000 : MINUTES * 60000;
const SAMPLE_MS = smoke ? 5000 : 60000;
const RECONNECT_MS = smoke ? 4000 : 30000;
const WEB_CLIENTS = 6;
const RECONNECTING = 2;
const WEB_CHANNELS = 4;           // per guest
const GUILD_CHANNELS = 8;
const DM_CHANNELS = 8;
const DISCORD_USERS = 8;
const DRAIN_MS = smoke ? 60000 : 30000;
// Tolerances of the verdict (last-quarter median against second-quarter median).
const RSS_TOLERANCE = 0.05;          // 5%
const P99_TOLERANCE = 1.5;           // x1.5: p99 on a shared 2-core VM is noisy
const TOKEN = 'MTk4NjIyNDgzNDcxOTI1MjQ4.soak.discord-token';

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// ---- chorusd --------------------------------------------------------------

function procStatus(pid, field) {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
const fdCount = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

// Start chorusd with CONFIG; resolves once it says where it listens. Its
// stderr is not kept: only the last lines (for a failure) and a count of
// warnings and errors.
function startChorusd(config, env) {
  const dir = tempDir('chorus-soak');
  const file = path.join(dir, 'soak.conf.lua');
  fs.writeFileSync(file, config);
  const bin = process.env.CHORUSD || path.join(ROOT, 'src', 'chorusd');
  // CHORUS_DATA_DIR: the source tree's plugins/ (the chat plugin answers
  // through the persona) and web/ (the chat page), as installed.
  const proc = spawn(bin, ['--config', file], {
    env: { CHORUS_DATA_DIR: ROOT, ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], cwd: '/',
  });
  const d = { proc, pid: proc.pid, tail: [], warnings: 0, firstWarnings: [], sanitizer: [], exited: null };
  let partial = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`chorusd did not start within 10 s:\n${d.tail.join('\n')}`)), 10000);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (s) => {
      const lines = (partial + s).split('\n');
      partial = lines.pop();
      for (const line of lines) {
        d.tail.push(line);
        if (d.sanitizer.length || /Sanitizer|runtime error:/.test(line)) d.sanitizer.push(line);
        if (d.tail.length > 40) d.tail.shift();
        if (/\b(warn|warning|error|fatal)\b/i.test(line)) {
          d.warnings++;
          if (d.firstWarnings.length < 5) d.firstWarnings.push(line);
        }
        const m = /listening on http:\/\/([0-9.]+):(\d+)/.exec(line);
        if (m && !d.wsUrl) {
          d.wsUrl = `ws://${m[1]}:${m[2]}/ws`;
          d.port = Number(m[2]);
          clearTimeout(t);
          resolve(d);
        }
      }
    });
    proc.once('exit', (code, signal) => {
      d.exited = { code, signal };
      clearTimeout(t);
      reject(new Error(`chorusd exited (${code}, ${signal}):\n${d.tail.join('\n')}`));
    });
  });
}

// chorusd's /metrics as { name or name{labels}: value }.
function metrics(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const m = {};
        for (const line of body.split('\n')) {
          const r = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line);
          if (r) m[r[1]] = Number(r[2]);
        }
        resolve(m);
      });
    });
    req.on('error', () => resolve({}));
    req.on('timeout', () => { req.destroy(); resolve({}); });
  });
}
const sum = (m, prefix) => Object.keys(m).filter((k) => k.startsWith(prefix)).reduce((a, k) => a + m[k], 0);

// ---- bookkeeping ----------------------------------------------------------

const pending = new Map();     // message id -> { at, kind, token, client }
const answeredIds = new Set(); // every message answered so far
const tally = { sent: 0, answered: 0, duplicates: 0, strays: 0, wrong: 0, apologies: 0, errors: 0, webSent: 0, discordSent: 0 };
let interval = { sent: 0, answered: 0, lat: [], fdsMax: 0 };
let block = [];                // latencies of the current 10 samples

function track(id, kind, token, client) {
  pending.set(id, { at: nowMs(), kind, token, client });
  tally.sent++;
  interval.sent++;
  if (kind === 'web') tally.webSent++; else tally.discordSent++;
}

// An answer to message ID arrived: its text must carry the message's token.
function answer(id, text, isError) {
  const p = pending.get(id);
  if (!p) {
    if (answeredIds.has(id)) tally.duplicates++;
    else tally.strays++;
    return;
  }
  pending.delete(id);
  answeredIds.add(id);
  if (p.client) p.client.outstanding--;
  tally.answered++;
  interval.answered++;
  interval.lat.push(nowMs() - p.at);
  block.push(interval.lat[interval.lat.length - 1]);
  if (isError) tally.errors++;
  else if (typeof text === 'string' && text.includes(p.token)) return;
  else if (typeof text === 'string' && !/\[(w\d+|d)-\d+\]/.test(text)) {   // the persona's apology: an answer, but not the model's
    if (!tally.apologies++) console.log(`soak: first apology, to ${p.token}: ${JSON.stringify(text).slice(0, 200)}`);
  } else if (!tally.wrong++) console.log(`soak: first answer to the wrong message, to ${p.token}: ${JSON.stringify(text).slice(0, 300)}`);
}

// ---- web chat guests ------------------------------------------------------

const webStats = { reconnects: 0, unexpectedCloses: 0, protocolErrors: [] };

class WebGuest {
  constructor(k, wsUrl) {
    this.k = k;
    this.wsUrl = wsUrl;
    this.user = { id: `soak-web-${k}`, name: `Guest${k}` };
    this.ws = null;
    this.up = false;
    this.outstanding = 0;
    this.n = 0;
  }

  async open() {
    const ws = await connect(this.wsUrl);
    ws.onMessage = (m) => {
      if ((m.type === 'message' || m.type === 'error') && m.reply_to) answer(m.reply_to, m.text, m.type === 'error');
    };
    ws.closed.then(() => {
      webStats.protocolErrors.push(...ws.protocolErrors);
      if (this.ws === ws && this.up) {     // chorusd closed it: count it, come back
        webStats.unexpectedCloses++;
        this.up = false;
        this.open().catch(() => {});
      }
    });
    this.ws = ws;
    this.up = true;
  }

  send() {
    const id = `w${this.k}-${++this.n}`;
    const token = `[${id}]`;
    this.ws.sendJson({ type: 'message', id, channel: `soak-web-${this.k}-${this.n % WEB_CHANNELS}`, user: this.user, text: `hello ${token}` });
    this.outstanding++;
    track(id, 'web', token, this);
  }

  // Leave once every answer has arrived, and come back.
  async reconnect() {
    this.up = false;
    const deadline = Date.now() + DRAIN_MS;
    while (this.outstanding > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const ws = this.ws;
    try { await ws.close(1000, 'bye'); } catch (_) { ws.destroy(); }
    await this.open();
    webStats.reconnects++;
  }
}

// ---- the fakes' records ---------------------------------------------------

// The fakes keep every request for tests; over an hour that is the bench's
// own memory, so trim what no check reads.
function trimFakes(model, discord) {
  model.requests.length = 0;
  discord.rest.length = 0;
  discord.posted.length = 0;
  discord.messages.clear();
  for (const s of discord.sessions.values()) if (s.events.length > 5000) s.events.splice(0, s.events.length - 5000);
  for (const c of discord.conns) {
    c.received.length = 0;
    if (c.sendTimes.length > 1000) c.sendTimes.splice(0, c.sendTimes.length - 1000);
  }
}

// ---- figures --------------------------------------------------------------

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
function pct(sorted, p) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN; }
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');

function header() {
  console.log('| t (min) | RSS MB | fds (max) | CPU % | queued | p50 ms | p99 ms | sent | answered | refused | warnings |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
}

function row(r) {
  console.log(`| ${r.t.toFixed(smoke ? 2 : 0)} | ${f1(r.rssMb)} | ${r.fds} (${r.fdsMax}) | ${f1(r.cpu)} | ${r.queued} | ${f1(r.p50)} | ${f1(r.p99)} | `
    + `${r.sent} | ${r.answered} | ${r.refused} | ${r.warnings} |`);
}

// Flat: the last quarter's median against the second quarter's.
function verdict(rows) {
  const q = Math.floor(rows.length / 4);
  if (q < 1) return { judged: false, lines: ['soak: too few samples to judge flatness'] };
  const q2 = rows.slice(q, 2 * q);
  const q4 = rows.slice(rows.length - q);
  const m = (rs, k) => median(rs.map((r) => r[k]).filter(Number.isFinite));
  const rss2 = m(q2, 'rssMb'); const rss4 = m(q4, 'rssMb');
  const fd2 = m(q2, 'fds'); const fd4 = m(q4, 'fds');
  const p2 = m(q2, 'p99'); const p4 = m(q4, 'p99');
  const rssOk = rss4 <= rss2 * (1 + RSS_TOLERANCE);
  const fdOk = fd4 === fd2;
  const pOk = p4 <= p2 * P99_TOLERANCE;
  return {
    judged: true,
    ok: rssOk && fdOk && pOk,
    lines: [
      `soak: RSS ${rssOk ? 'flat' : 'GREW'}: median ${f1(rss2)} MB in the second quarter, ${f1(rss4)} MB in the last (tolerance +${RSS_TOLERANCE * 100}%)`,
      `soak: fds ${fdOk ? 'flat' : 'CHANGED'}: median ${fd2} in the second quarter, ${fd4} in the last (must be equal)`,
      `soak: p99 ${pOk ? 'flat' : 'GREW'}: median ${f1(p2)} ms in the second quarter, ${f1(p4)} ms in the last (tolerance x${P99_TOLERANCE})`,
    ],
  };
}

// ---- the run --------------------------------------------------------------

async function main() {
  const redis = await startRedis();
  const model = await startFakeOpenAI();
  const discord = await startFakeDiscord({ token: TOKEN });
  const discordConf = `discord { token = env("DISCORD_TOKEN"), api_base = ${luaString(discord.apiBase)} }`;
  // Redis and model timeouts as shipped (docs/config.md), not the tests' short ones.
  const config = chorusConfig({ redisUrl: redis.url, modelBaseUrl: model.baseUrl, extra: discordConf,
    redisTimeoutMs: 2000, connectTimeoutMs: 5000, modelTimeoutMs: 60000 });
  let chorus;
  let ok = false;
  try {
    chorus = await startChorusd(config, { DISCORD_TOKEN: TOKEN });
    await discord.waitForReady(0, 10000);
    discord.on('message', (m) => {
      const ref = m.message_reference && m.message_reference.message_id;
      if (ref) answer(ref, m.content, false);
      else tally.strays++;
    });
    const guests = [];
    for (let k = 0; k < WEB_CLIENTS; k++) {
      const g = new WebGuest(k, chorus.wsUrl);
      await g.open();
      guests.push(g);
    }

    console.log(`soak: ${smoke ? '20 s (smoke)' : `${MINUTES} min`}, ${RATE} msg/s: ${WEB_CLIENTS} web chat guests `
      + `(${RECONNECTING} reconnecting every ${RECONNECT_MS / 1000} s) and Discord in ${GUILD_CHANNELS} guild channels and ${DM_CHANNELS} DMs; `
      + `chorusd pid ${chorus.pid}`);
    header();
    const rows = [];
    const t0 = nowMs();
    let nDiscord = 0;
    let turn = 0;
    const sendOne = () => {
      turn++;
      if (turn % 2 === 0) {
        for (let i = 0; i < WEB_CLIENTS; i++) {
          const g = guests[(turn / 2 + i) % WEB_CLIENTS];
          if (g.up) { g.send(); return; }
        }
      }
      const n = nDiscord++;
      const user = n % DISCORD_USERS;
      const author = { id: `70000000000000${String(100 + user)}`, username: `user${user}`, global_name: `User ${user}` };
      const c = n % (GUILD_CHANNELS + DM_CHANNELS);
      const token = `[d-${n}]`;
      const m = c < GUILD_CHANNELS
        ? discord.mentionBot({ channel_id: `3100000000000000${String(c).padStart(2, '0')}`, author, content: `hello ${token}` })
        : discord.messageCreate({ dm: true, channel_id: `3200000000000000${String(c).padStart(2, '0')}`, author, content: `hello ${token}` });
      track(m.id, 'discord', token, null);
    };
    const pump = setInterval(() => {
      const due = Math.floor(((nowMs() - t0) / 1000) * RATE);
      while (tally.sent < due) sendOne();
    }, 20);
    const cycles = [];
    // Reconnects fall between samples (half a period off), so a sample never
    // counts a socket that is half closed.
    let reconnects;
    const reconnectStart = setTimeout(() => {
      reconnects = setInterval(() => {
        for (let i = 0; i < RECONNECTING; i++) if (guests[i].up) cycles.push(guests[i].reconnect().catch((e) => console.log(`soak: reconnect failed: ${e.message}`)));
      }, RECONNECT_MS);
    }, RECONNECT_MS / 2);
    const fdWatch = setInterval(() => { interval.fdsMax = Math.max(interval.fdsMax, fdCount(chorus.pid)); }, 1000);
    let lastWarnings = 0;
    let lastCpu = cpuSeconds(chorus.pid);
    let lastAt = t0;
    const blocks = [];
    let lastRefused = 0;
    const sample = async () => {
      const met = await metrics(chorus.port);
      const refused = sum(met, 'chorus_limit_refusals_total');
      const lat = interval.lat.sort((a, b) => a - b);
      const at = nowMs();
      const cpu = cpuSeconds(chorus.pid);
      const fds = fdCount(chorus.pid);
      const r = {
        t: (at - t0) / 60000, rssMb: procStatus(chorus.pid, 'VmRSS') / 1024, fds, fdsMax: Math.max(fds, interval.fdsMax),
        cpu: ((cpu - lastCpu) * 100000) / (at - lastAt),
        queued: sum(met, 'chorus_queue_depth') + sum(met, 'chorus_jobs_in_flight'), refused: refused - lastRefused,
        p50: pct(lat, 0.5), p99: pct(lat, 0.99), sent: interval.sent, answered: interval.answered, warnings: chorus.warnings - lastWarnings,
      };
      lastWarnings = chorus.warnings;
      lastRefused = refused;
      lastCpu = cpu;
      lastAt = at;
      interval = { sent: 0, answered: 0, lat: [], fdsMax: 0 };
      rows.push(r);
      row(r);
      if (rows.length % 10 === 0) {       // the last 10 samples as one row
        const ten = rows.slice(-10);
        const bl = block.sort((a, b) => a - b);
        blocks.push({ t: r.t, rssMb: r.rssMb, fds: r.fds, fdsMax: Math.max(...ten.map((x) => x.fdsMax)),
          cpu: ten.reduce((a, x) => a + x.cpu, 0) / 10, p50: pct(bl, 0.5), p99: pct(bl, 0.99),
          queued: r.queued, refused: ten.reduce((a, x) => a + x.refused, 0),
          sent: ten.reduce((a, x) => a + x.sent, 0), answered: ten.reduce((a, x) => a + x.answered, 0),
          warnings: ten.reduce((a, x) => a + x.warnings, 0) });
        block = [];
      }
      trimFakes(model, discord);
    };
    const sampler = setInterval(sample, SAMPLE_MS);
    await new Promise((resolve, reject) => {
      setTimeout(resolve, DURATION_MS + 1000);   // the last sample first
      chorus.proc.once('exit', () => reject(new Error(`chorusd died during the soak:\n${chorus.tail.join('\n')}`)));
    });
    clearInterval(pump);
    clearTimeout(reconnectStart);
    clearInterval(reconnects);
    clearInterval(sampler);
    clearInterval(fdWatch);
    await Promise.all(cycles);
    const deadline = Date.now() + DRAIN_MS;
    while (pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));   // a late duplicate would arrive now

    const v = verdict(rows);
    if (blocks.length) {
      console.log(`soak: by ${smoke ? '10 samples' : '10 minutes'} (RSS and fds at the end; fds max, CPU, p50 and p99 over the 10):`);
      header();
      blocks.forEach(row);
    }
    const all = rows.map((r) => r.p99).filter(Number.isFinite);
    console.log(`soak: ${tally.sent} sent (${tally.webSent} web chat, ${tally.discordSent} Discord), ${tally.answered} answered, `
      + `${pending.size} unanswered, ${tally.duplicates} answered twice, ${tally.strays} stray answers, ${tally.wrong} answers to the wrong message, `
      + `${tally.errors} errors; ${tally.apologies} of the answers were apologies`);
    console.log(`soak: web chat: ${webStats.reconnects} reconnects, ${webStats.unexpectedCloses} closed by chorusd, `
      + `${webStats.protocolErrors.length} protocol errors; Discord: ${discord.violations.length} limit violations; `
      + `p99 per sample ${f1(Math.min(...all))}-${f1(Math.max(...all))} ms`);
    const met = await metrics(chorus.port);
    console.log(`soak: chorusd counted ${sum(met, 'chorus_limit_refusals_total')} limit refusals, `
      + `${sum(met, 'chorus_model_errors_total')} model errors, ${sum(met, 'chorus_redis_errors_total')} Redis errors`);
    for (const line of v.lines) console.log(line);
    console.log(`soak: chorusd logged ${chorus.warnings} warnings or errors${chorus.warnings ? '; the first:' : ''}`);
    for (const line of chorus.firstWarnings) console.log(`  ${line}`);
    // An apology (the model or Redis failed) is still the one answer a
    // message gets; it is counted above, and fails only the full run's verdict.
    const exact = pending.size === 0 && tally.duplicates === 0 && tally.strays === 0 && tally.wrong === 0 && tally.errors === 0
      && tally.answered === tally.sent;
    console.log(exact ? 'soak: every message got exactly one answer' : 'soak: NOT every message got exactly one answer');
    if (smoke) console.log('soak: smoke: flatness printed, not judged');
    ok = exact && (smoke || (v.judged && v.ok && tally.apologies === 0));
    for (const g of guests) g.ws.destroy();
    // Stop chorusd as an operator would: a sanitizer build reports leaks
    // (and anything else it found) as it exits.
    chorus.proc.removeAllListeners('exit');
    const exited = new Promise((r) => chorus.proc.once('close', (code, signal) => r({ code, signal })));
    chorus.proc.kill('SIGTERM');
    const how = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 15000))]);
    if (how) chorus.exited = how;
    const report = chorus.sanitizer.length > 0;
    console.log(`soak: chorusd ${how ? `exited (code ${how.code}${how.signal ? `, ${how.signal}` : ''})` : 'did not exit'} `
      + `within 15 s of SIGTERM${report ? '; sanitizer report:' : ', no sanitizer report'}`);
    for (const line of chorus.sanitizer.slice(0, 40)) console.log(`  ${line}`);
    if (!how || how.code !== 0 || report) ok = false;
  } finally {
    if (chorus && !chorus.exited) chorus.proc.kill('SIGKILL');
    await discord.close();
    await model.close();
    await redis.stop();
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
