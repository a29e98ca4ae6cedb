'use strict';
// bench/webchat/run.js - a message in, a reply out over chorusd's web chat
// websocket (docs/webchat.md), against a Node echo server on the `ws`
// library (ws-echo.js) as the floor: the least a Node process does to parse
// a frame and answer it, with none of chorusd's work (Redis, the channel
// queue, the plugin's Lua handler). Issue 18 item 5.
//
// The same client drives both: SOCKETS websockets (tests/lib/ws.js, a strict
// RFC 6455 client), each with its own CHANNELS channels, WINDOW messages
// outstanding in all; N measured after WARMUP. CPU per message is read from
// /proc over the measured messages only, RSS is the server's peak (VmHWM).
// Each server runs RUNS times, alternating which goes first; medians.
//
//   (cd bench/webchat && npm install)        # ws, once (else tests/node_modules' ws)
//   node bench/webchat/run.js [--n 5000] [--warmup 1000] [--runs 3] [--window 32] [--sockets 8]
//   node bench/webchat/run.js --compare /tmp/chorusd-before   # a second chorusd build in the same alternation
//   node bench/webchat/run.js --chorusd-only --n 1000 [--callgrind | --strace | --malloc]   # bench/tools/probes.js
//
// A probe (one run unless --runs says otherwise) watches each chorusd run,
// --compare's too, over the measured messages only; never the floor.
//
// --smoke: 300 messages, one run; exits non-zero if any message goes
// unanswered (CI: bench-webchat-smoke).
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const { startRedis } = require(path.join(ROOT, 'tests/lib/redis'));
const { connect } = require(path.join(ROOT, 'tests/lib/ws'));
const { cpuSeconds, tempDir, luaString } = require(path.join(ROOT, 'tests/lib/util'));
const { chosenProbe, describe } = require(path.join(ROOT, 'bench/tools/probes'));

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const smoke = args.includes('--smoke');
const chorusdOnly = args.includes('--chorusd-only');
const probing = ['--callgrind', '--strace', '--malloc'].some((a) => args.includes(a));
const N = Number(opt('n', smoke ? 300 : 5000));
const WARMUP = Number(opt('warmup', smoke ? 50 : 1000));
const RUNS = Number(opt('runs', smoke || probing ? 1 : 3));
const WINDOW = Number(opt('window', 32));
const SOCKETS = Number(opt('sockets', 8));
const CHANNELS = 4;                       // per socket
const COMPARE = opt('compare', null);

const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const peakRssKb = (pid) => Number((/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8')) || [0, 0])[1]);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };

// Spawn a server (under PROBE's wrapper if any) and wait for its "listening
// on" line; resolves { proc, wsUrl, probe }.
function startServer(cmd, argv, env, probe) {
  if (probe) [cmd, argv] = probe.wrap(cmd, argv);
  const proc = spawn(cmd, argv, { env: { ...process.env, ...env, ...(probe && probe.env) }, stdio: ['ignore', 'ignore', 'pipe'] });
  const waitMs = (probe && probe.readyTimeoutMs) || 15000;
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${cmd}: not listening within ${waitMs / 1000} s:\n${buf.slice(-2000)}`)), waitMs);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      if (buf.length < 100000) buf += d;
      const m = /listening on (?:http|ws):\/\/([0-9.]+):(\d+)/.exec(buf);
      if (m) { clearTimeout(t); resolve({ proc, wsUrl: `ws://${m[1]}:${m[2]}/ws`, output: () => buf, probe }); }
    });
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`${cmd} exited (${code}):\n${buf.slice(-2000)}`)); });
  });
}

async function stopServer(s) {
  if (s.proc.exitCode !== null) return;
  const gone = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  await Promise.race([gone, delay(5000)]);
  if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
}

// chorusd as a web chat echo bot: the echo plugin of bench/discord answers
// every message with "echo: <text>"; no model, no chat plugin.
function chorusdConfig(redisUrl) {
  return [
    'listen "127.0.0.1:0"',
    'admin_socket "off"',
    `redis ${luaString(redisUrl)} { prefix = "benchweb:" }`,
    'log_level "info"',
    'model "default" { provider = "local" }',
    'persona "echo" { prompt = "You repeat what you hear.", model = "default" }',
    'default_persona "echo"',
    `plugins_dir ${luaString(path.join(ROOT, 'bench', 'discord', 'plugins'))}`,
    // The echo plugin alone, as the floor runs an echo handler alone.
    ...['chat', 'coupon', 'help', 'ping', 'remind', 'trivia', 'webhook'].map((n) => `plugin "${n}" { enabled = false }`),
    '',
  ].join('\n');
}

async function startChorusd(redis, binary) {
  const dir = tempDir('chorus-bench-webchat');
  const file = path.join(dir, 'webchat-echo.conf.lua');
  fs.writeFileSync(file, chorusdConfig(redis.url));
  const bin = binary || process.env.CHORUSD || path.join(ROOT, 'src', 'chorusd');
  return startServer(bin, ['--config', file], { CHORUS_DATA_DIR: process.env.CHORUS_DATA_DIR || ROOT }, chosenProbe(args));
}

const startFloor = () => startServer(process.execPath, [path.join(__dirname, 'ws-echo.js')], {});

// Send COUNT messages round-robin over the sockets keeping WINDOW unanswered.
function pump(state, count) {
  return new Promise((resolve) => {
    const target = state.answered + count;
    let sentHere = 0;
    const fill = () => {
      while (sentHere < count && state.pending.size < WINDOW) {
        const i = state.sent++;
        const k = i % SOCKETS;
        const id = `m${i}`;
        state.sockets[k].sendJson({ type: 'message', id, channel: `bench-${k}-${Math.floor(i / SOCKETS) % CHANNELS}`,
          user: { id: `bench-user-${k}`, name: `Guest${k}` }, text: `hello ${i}` });
        state.pending.set(id, process.hrtime.bigint());
        sentHere++;
      }
    };
    const timer = setTimeout(() => { state.onAnswer = null; resolve(); }, 30000 + count * 20);
    state.onAnswer = () => {
      if (state.answered >= target) { clearTimeout(timer); state.onAnswer = null; resolve(); } else fill();
    };
    fill();
  });
}

async function drive(server) {
  const pid = server.proc.pid;
  const state = { pending: new Map(), latencies: [], sent: 0, answered: 0, wrong: 0, onAnswer: null, sockets: [] };
  for (let k = 0; k < SOCKETS; k++) {
    const ws = await connect(server.wsUrl);
    ws.onMessage = (m) => {
      if (m.type !== 'message' || !m.reply_to) return;
      const at = state.pending.get(m.reply_to);
      if (at === undefined) return;
      state.pending.delete(m.reply_to);
      if (m.text !== `echo: hello ${m.reply_to.slice(1)}`) state.wrong++;
      state.latencies.push(Number(process.hrtime.bigint() - at) / 1e6);
      state.answered++;
      if (state.onAnswer) state.onAnswer();
    };
    state.sockets.push(ws);
  }
  await pump(state, WARMUP);
  const warmOk = state.answered === WARMUP;
  state.latencies = [];
  if (server.probe) await server.probe.start(pid);
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  await pump(state, N);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(pid) - cpu0;
  const extra = server.probe ? await server.probe.stop(pid) : null;
  const answered = state.answered - WARMUP;
  for (const ws of state.sockets) ws.destroy();
  const lat = state.latencies.sort((a, b) => a - b);
  const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] : NaN);
  return { answered, warmOk, wrong: state.wrong, cpuUsPerMsg: (cpu * 1e6) / Math.max(1, answered), peakRssMb: peakRssKb(pid) / 1024,
    msgsPerSec: answered / secs, p50: pct(0.5), p99: pct(0.99), extra };
}

async function runOne(name, start) {
  const server = await start();
  try {
    const r = await drive(server);
    console.log(`${name.padEnd(10)} answered ${r.answered}/${N}${r.wrong ? ` (${r.wrong} wrong)` : ''}  CPU ${r.cpuUsPerMsg.toFixed(1)} us/msg  ` +
      `peak RSS ${r.peakRssMb.toFixed(1)} MB  ${r.msgsPerSec.toFixed(0)} msg/s  latency p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms`);
    if (r.extra) console.log(describe(r.extra, r.answered));
    return r;
  } finally {
    await stopServer(server);
  }
}

async function main() {
  const redis = await startRedis();
  const results = { chorusd: [], compare: [], floor: [] };
  let ok = true;
  try {
    console.log(`bench: ${N} messages measured after ${WARMUP} warm-up, ${SOCKETS} sockets x ${CHANNELS} channels, window ${WINDOW}, ${RUNS} run(s) each, alternating`);
    for (let run = 0; run < RUNS; run++) {
      const order = [['chorusd', () => startChorusd(redis)]];
      if (!chorusdOnly) order.push(['floor (ws)', startFloor]);
      if (COMPARE) order.splice(1, 0, ['compare', () => startChorusd(redis, COMPARE)]);
      if (run % 2) order.reverse();
      for (const [name, start] of order) {
        const r = await runOne(name, start);
        if (r.answered !== N || !r.warmOk || r.wrong) ok = false;
        results[name === 'floor (ws)' ? 'floor' : name].push(r);
      }
    }
  } finally {
    await redis.stop();
  }
  const med = (rs, key) => median(rs.map((r) => r[key]));
  const c = { cpu: med(results.chorusd, 'cpuUsPerMsg'), rss: med(results.chorusd, 'peakRssMb') };
  const f = { cpu: med(results.floor, 'cpuUsPerMsg'), rss: med(results.floor, 'peakRssMb') };
  console.log(`medians (${RUNS} run(s)):`);
  console.log(`  chorusd ${c.cpu.toFixed(1)} us/msg ${c.rss.toFixed(1)} MB`
    + (chorusdOnly ? '' : `; floor (ws) ${f.cpu.toFixed(1)} us/msg ${f.rss.toFixed(1)} MB`));
  if (COMPARE) {
    const k = { cpu: med(results.compare, 'cpuUsPerMsg'), rss: med(results.compare, 'peakRssMb') };
    console.log(`  compare ${k.cpu.toFixed(1)} us/msg ${k.rss.toFixed(1)} MB (chorusd/compare CPU ${(c.cpu / k.cpu).toFixed(3)})`);
  }
  if (chorusdOnly) console.log('--chorusd-only: no comparison');
  else console.log(`ratios chorusd/floor: CPU ${(c.cpu / f.cpu).toFixed(3)}, RSS ${(c.rss / f.rss).toFixed(3)}`);
  console.log(ok ? 'bench: every message answered' : 'bench: MESSAGES UNANSWERED OR WRONG');
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
