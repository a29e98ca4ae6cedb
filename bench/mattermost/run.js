'use strict';
// bench/mattermost/run.js - chorusd and an echo bot on the official
// @mattermost/client (Client4 + WebSocketClient, mm-bot.js) against the same
// fake Mattermost (tests/lib/fake-mattermost.js), in the same run: N posts
// each, spread over channels, at most WINDOW unanswered at a time. Prints
// CPU per message, peak RSS, messages/s and post-to-reply latency of each
// bot, and the ratios. WARMUP posts go first, unmeasured, so both bots are
// measured warm.
//
//   (cd bench/mattermost && npm install)     # @mattermost/client and ws, once
//   node bench/mattermost/run.js [--n 5000] [--window 32] [--warmup 500] [--smoke]
//   node bench/mattermost/run.js --chorusd-only --n 2000 [--callgrind | --strace | --malloc]   # bench/tools/probes.js
//
// --smoke: 200 messages, and only chorusd when @mattermost/client is not
// installed; exits non-zero if any message goes unanswered.
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const { startFakeMattermost } = require(path.join(ROOT, 'tests/lib/fake-mattermost'));
const { startRedis } = require(path.join(ROOT, 'tests/lib/redis'));
const { cpuSeconds } = require(path.join(ROOT, 'tests/lib/util'));
const { chosenProbe, describe, rssBreakdown, warmUp } = require(path.join(ROOT, 'bench/tools/probes'));

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def; };
const smoke = args.includes('--smoke');
const chorusdOnly = args.includes('--chorusd-only');
const N = opt('n', smoke ? 200 : 5000);
const WINDOW = opt('window', 32);
const WARMUP = opt('warmup', smoke ? 20 : 500);
const CHANNELS = 16;
const TOKEN = 'bench-mattermost-bot-token';

function peakRssKb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function waitForLine(proc, regex, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${what}: no ${regex} within ${timeoutMs} ms; output:\n${buf.slice(-2000)}`)), timeoutMs);
    proc.stderr.on('data', (d) => {
      buf += d;
      if (regex.test(buf)) { clearTimeout(t); resolve(); }
    });
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`${what} exited (${code}):\n${buf.slice(-2000)}`)); });
  });
}

// Drive N messages through the bot connected to FAKE; returns the figures.
async function drive(fake, pid, probe) {
  const channels = [fake.townSquare, fake.offTopic];
  for (let i = channels.length; i < CHANNELS; i++) {
    const c = { ...fake.townSquare, id: require(path.join(ROOT, 'tests/lib/fake-mattermost')).newId(), name: `bench-${i}` };
    fake.channels.set(c.id, c);
    channels.push(c);
  }
  const pending = new Map();       // message id -> dispatch time
  const latencies = [];
  let sent = 0;
  let answered = 0;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  const post = (i, text) => fake.userPost({ channel: channels[i % CHANNELS], message: text });
  await warmUp(fake, 'botPost', (p) => p.message, post, WARMUP, WINDOW);
  if (probe) await probe.start(pid);
  const startRssMb = peakRssKb(pid) / 1024;
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  const pump = () => {
    while (sent < N && pending.size < WINDOW) {
      const text = `hello ${sent}`;
      post(sent, text);
      pending.set(`echo: ${text}`, process.hrtime.bigint());
      sent++;
    }
  };
  fake.on('botPost', (post) => {
    const at = pending.get(post.message);
    if (at === undefined) return;
    pending.delete(post.message);
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
  const rss = rssBreakdown(pid);
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN);
  return {
    answered, cpuUsPerMsg: (cpu * 1e6) / Math.max(1, answered), peakRssMb: peakRssKb(pid) / 1024, startRssMb,
    msgsPerSec: answered / secs, p50: pct(0.5), p99: pct(0.99), secs, cpu, extra, rss,
  };
}

async function runChorusd(redis) {
  const fake = await startFakeMattermost({ token: TOKEN });
  const bin = process.env.CHORUSD || path.join(ROOT, 'src', 'chorusd');
  const probe = chosenProbe(args);
  const [cmd, argv] = (probe ? probe.wrap : (c, a) => [c, a])(bin, ['--config', path.join(__dirname, '..', 'mattermost-echo.conf.lua'), '--log-level', 'info']);
  const proc = spawn(cmd, argv, {
    env: { ...process.env, ...(probe && probe.env), MATTERMOST_URL: fake.url, MATTERMOST_TOKEN: TOKEN, CHORUS_REDIS_URL: redis.url,
      CHORUS_DATA_DIR: process.env.CHORUS_DATA_DIR || ROOT },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await waitForLine(proc, /mattermost: connected/, (probe && probe.readyTimeoutMs) || 10000, 'chorusd');
    return await drive(fake, proc.pid, probe);
  } finally {
    if (probe && probe.callgrind) { proc.kill('SIGTERM'); await new Promise((r) => setTimeout(r, 500)); }
    proc.kill('SIGKILL');
    await fake.close();
  }
}

async function runOfficial() {
  const fake = await startFakeMattermost({ token: TOKEN });
  const proc = spawn(process.execPath, [path.join(__dirname, 'mm-bot.js')], {
    env: { ...process.env, MATTERMOST_URL: fake.url, MATTERMOST_TOKEN: TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await waitForLine(proc, /mattermost client ready/, 20000, '@mattermost/client');
    return await drive(fake, proc.pid);
  } finally {
    proc.kill('SIGKILL');
    await fake.close();
  }
}

function show(name, r) {
  console.log(`${name.padEnd(18)} answered ${r.answered}/${N}  CPU ${r.cpuUsPerMsg.toFixed(1)} us/msg  peak RSS ${r.peakRssMb.toFixed(1)} MB (${r.startRssMb.toFixed(1)} when ready)  `
    + `${r.msgsPerSec.toFixed(0)} msg/s  latency p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms`);
  if (r.extra) console.log(describe(r.extra, r.answered));
  if (r.rss) console.log(`  RSS at the end (MB): ${Object.entries(r.rss).map(([k, v]) => `${k} ${(v / 1024).toFixed(1)}`).join(', ')}`);
  if (r.rss && args.includes('--rss-libs')) console.log(`  libraries (KB): ${r.rss.topLibs.join(', ')}`);
}

async function main() {
  const redis = await startRedis();
  let ok = true;
  let why = 'some messages were not answered';
  try {
    const havePeer = fs.existsSync(path.join(__dirname, 'node_modules', '@mattermost', 'client'));
    const c = await runChorusd(redis);
    show('chorusd', c);
    if (c.answered !== N) ok = false;
    if (chorusdOnly) {
      console.log('--chorusd-only: no comparison');
    } else if (!havePeer) {
      console.log('@mattermost/client is not installed (cd bench/mattermost && npm install): no comparison');
      if (!smoke) { ok = false; why = 'no baseline: @mattermost/client is not installed'; }
    } else {
      const d = await runOfficial();
      show('@mattermost/client', d);
      if (d.answered !== N) ok = false;
      console.log(`ratios (chorusd / @mattermost/client): CPU per message ${(c.cpuUsPerMsg / d.cpuUsPerMsg).toFixed(3)}, `
        + `peak RSS ${(c.peakRssMb / d.peakRssMb).toFixed(3)}, msgs/s ${(c.msgsPerSec / d.msgsPerSec).toFixed(2)}, `
        + `p99 ${(c.p99 / d.p99).toFixed(2)}`);
    }
  } finally {
    await redis.stop();
  }
  console.log(ok ? 'bench: every message answered' : `bench: ${why}`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
