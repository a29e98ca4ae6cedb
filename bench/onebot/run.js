'use strict';
// bench/onebot/run.js - chorusd and a NapCat SDK (node-napcat-ts) echo bot
// against the same fake OneBot v11 implementation (tests/lib/fake-onebot.js,
// forward websocket with an access token), in the same run: N messages over
// CHANNELS chats each (half groups, half private), at most WINDOW unanswered
// at a time. Prints CPU per message, peak RSS, messages/s and
// event-to-reply latency of each bot, and the ratios.
//
//   (cd bench/onebot && npm install)        # node-napcat-ts, once
//   node bench/onebot/run.js [--n 5000] [--window 32] [--warmup 500] [--smoke] [--smaps]   (--smaps: RSS by mapping)
//   node bench/onebot/run.js --chorusd-only --n 1000 [--callgrind | --strace | --malloc]   # bench/tools/probes.js
//
// --smoke: 200 messages, and only chorusd when node-napcat-ts is not
// installed; exits non-zero if any message goes unanswered.
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const { startFakeOneBot } = require(path.join(ROOT, 'tests/lib/fake-onebot'));
const { startRedis } = require(path.join(ROOT, 'tests/lib/redis'));
const { cpuSeconds } = require(path.join(ROOT, 'tests/lib/util'));
const { printSmaps, rssAnonKb } = require(path.join(ROOT, 'bench/tools/smaps'));
const { chosenProbe, describe } = require(path.join(ROOT, 'bench/tools/probes'));

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def; };
const smoke = args.includes('--smoke');
const chorusdOnly = args.includes('--chorusd-only');
const N = opt('n', smoke ? 200 : 5000);
const WINDOW = opt('window', 32);
const WARMUP = opt('warmup', smoke ? 0 : 500);   // answered before the measured messages: the peers' JIT warms up
const CHANNELS = 16;
const TOKEN = 'ob-bench-access-token-5f2d';

function peakRssKb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function exitedEarly(proc, what) {
  let buf = '';
  proc.stderr.on('data', (d) => { buf += d; });
  return new Promise((_, reject) => proc.once('exit', (code) => reject(new Error(`${what} exited (${code}):\n${buf.slice(-2000)}`))));
}

// Drive N messages (WARM: warm-up, not reported; PROBE: chorusd's probe, on
// for the measured messages only) through the bot connected to FAKE; returns the figures.
async function drive(fake, pid, N, warm, probe) {
  const chats = [];
  for (let i = 0; i < CHANNELS; i++) {
    const u = fake.user({ nickname: `User${i}` });
    chats.push(i % 2 ? { u, group: 40000 + i } : { u });
  }
  const pending = new Map();       // message_id -> when the event was posted
  const latencies = [];
  let sent = 0;
  let answered = 0;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  if (probe) await probe.start(pid);
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  const pump = () => {
    while (sent < N && pending.size < WINDOW) {
      const { u, group } = chats[sent % CHANNELS];
      const text = `hello ${sent}`;
      const ev = group ? fake.groupMessage(u, group, [fake.at(fake.selfId), fake.text(` ${text}`)]) : fake.privateMessage(u, text);
      pending.set(ev.message_id, process.hrtime.bigint());
      sent++;
    }
  };
  fake.on('sent', (s) => {
    const at = pending.get(s.replyTo);
    if (at === undefined) return;
    pending.delete(s.replyTo);
    latencies.push(Number(process.hrtime.bigint() - at) / 1e6);
    answered++;
    if (answered === N) resolveDone();
    else pump();
  });
  pump();
  const timeout = new Promise((r) => setTimeout(r, 30000 + N * 20));
  await Promise.race([done, timeout]);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(pid) - cpu0;
  const extra = probe ? await probe.stop(pid) : null;
  if (args.includes('--smaps') && !warm) printSmaps(`process ${pid}`, pid);
  const anonMb = rssAnonKb(pid) / 1024;
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN);
  return {
    answered, cpuUsPerMsg: (cpu * 1e6) / Math.max(1, answered), peakRssMb: peakRssKb(pid) / 1024, anonMb,
    msgsPerSec: answered / secs, p50: pct(0.5), p99: pct(0.99), secs, cpu, extra,
  };
}

async function runChorusd(redis) {
  const fake = await startFakeOneBot({ token: TOKEN });
  const bin = process.env.CHORUSD || path.join(ROOT, 'src', 'chorusd');
  const probe = chosenProbe(args);
  const [cmd, argv] = (probe ? probe.wrap : (c, a) => [c, a])(bin, ['--config', path.join(__dirname, '..', 'onebot-echo.conf.lua')]);
  const proc = spawn(cmd, argv, {
    env: { ...process.env, ...(probe && probe.env), ONEBOT_URL: fake.wsUrl.replace(/\/$/, ''), ONEBOT_ACCESS_TOKEN: TOKEN, CHORUS_REDIS_URL: redis.url,
      CHORUS_DATA_DIR: process.env.CHORUS_DATA_DIR || ROOT },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await Promise.race([fake.waitForAction((a) => a.action === 'get_login_info', (probe && probe.readyTimeoutMs) || 10000), exitedEarly(proc, 'chorusd')]);
    if (WARMUP) await drive(fake, proc.pid, WARMUP, true);
    return await drive(fake, proc.pid, N, false, probe);
  } finally {
    if (probe && probe.callgrind) { proc.kill('SIGTERM'); await new Promise((r) => setTimeout(r, 500)); }
    proc.kill('SIGKILL');
    await fake.close();
  }
}

function napcatModules() {
  const dir = path.join(__dirname, 'node_modules');
  return fs.existsSync(path.join(dir, 'node-napcat-ts')) ? dir : null;
}

async function runNapcat() {
  const fake = await startFakeOneBot({ token: TOKEN });
  const proc = spawn(process.execPath, [path.join(__dirname, 'napcat-bot.js')], {
    env: { ...process.env, ONEBOT_URL: fake.wsUrl.replace(/\/$/, ''), ONEBOT_ACCESS_TOKEN: TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const ready = new Promise((resolve) => proc.stderr.on('data', (d) => { if (String(d).includes('napcat-sdk ready')) resolve(); }));
    await Promise.race([ready, exitedEarly(proc, 'the NapCat SDK bot'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('the NapCat SDK bot was not ready within 20 s')), 20000))]);
    if (WARMUP) await drive(fake, proc.pid, WARMUP, true);
    return await drive(fake, proc.pid, N);
  } finally {
    proc.kill('SIGKILL');
    await fake.close();
  }
}

function show(name, r) {
  console.log(`${name.padEnd(14)} answered ${r.answered}/${N}  CPU ${r.cpuUsPerMsg.toFixed(1)} us/msg  peak RSS ${r.peakRssMb.toFixed(1)} MB (private ${r.anonMb.toFixed(1)})  `
    + `${r.msgsPerSec.toFixed(0)} msg/s  latency p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms`);
  if (r.extra) console.log(describe(r.extra, r.answered));
}

async function main() {
  const redis = await startRedis();
  let ok = true;
  let why = 'some messages were not answered';
  try {
    const c = await runChorusd(redis);
    show('chorusd', c);
    if (c.answered !== N) ok = false;
    if (chorusdOnly) {
      console.log('--chorusd-only: no comparison');
    } else if (!napcatModules()) {
      console.log('node-napcat-ts is not installed (cd bench/onebot && npm install): no comparison');
      if (!smoke) { ok = false; why = 'no baseline: node-napcat-ts is not installed'; }
    } else {
      const g = await runNapcat();
      show('node-napcat-ts', g);
      if (g.answered !== N) ok = false;
      console.log(`ratios (chorusd / node-napcat-ts): CPU per message ${(c.cpuUsPerMsg / g.cpuUsPerMsg).toFixed(3)}, `
        + `peak RSS ${(c.peakRssMb / g.peakRssMb).toFixed(3)} (private ${(c.anonMb / g.anonMb).toFixed(3)}), messages/s ${(c.msgsPerSec / g.msgsPerSec).toFixed(2)}, `
        + `p99 ${(c.p99 / g.p99).toFixed(2)}`);
    }
  } finally {
    await redis.stop();
  }
  console.log(ok ? 'bench: every message answered' : `bench: ${why}`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
