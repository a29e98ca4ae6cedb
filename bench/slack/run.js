'use strict';
// bench/slack/run.js - chorusd and an @slack/bolt (Socket Mode) echo bot
// against the same fake Slack (tests/lib/fake-slack.js), in the same run: N
// message events each (DMs over CHANNELS channels), at most WINDOW unanswered
// at a time. Halfway through, the fake sends refresh_requested on a
// connection, and at three quarters it cuts a connection's TCP. Prints CPU
// per message, peak RSS, messages/s, p99 latency, the longest time with no
// connection and the duplicate answers of each bot, and the ratios. WARMUP
// messages go first, unmeasured, so both bots are measured warm.
//
//   (cd bench/slack && npm install)          # @slack/bolt, once
//   node bench/slack/run.js [--n 5000] [--window 32] [--warmup 500] [--smoke]
//   node bench/slack/run.js --chorusd-only --n 2000 [--callgrind | --strace | --malloc]   # bench/tools/probes.js
//
// --smoke: 200 messages, and only chorusd when Bolt is not installed; exits
// non-zero if a message goes unanswered or chorusd answers one twice.
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const { startFakeSlack } = require(path.join(ROOT, 'tests/lib/fake-slack'));
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
const APP_TOKEN = 'xapp-1-A0FAKEAPP-1-bench-app-token';
const BOT_TOKEN = 'xoxb-1-bench-bot-token';

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

// A fake with no limits (neither bot is throttled), Slack's 3 s ack rule and
// its disconnect timings.
// Under a probe (callgrind is 50x slower, strace stops every system call)
// acks would come late and envelopes be retried, so the fake waits longer.
const probed = ['--callgrind', '--strace', '--malloc'].some((f) => args.includes(f));
const newFake = () => startFakeSlack({ appToken: APP_TOKEN, botToken: BOT_TOKEN, ackTimeoutMs: probed ? 60000 : 3000, closeAfterMs: 1000 })
  .then((f) => { f.rateLimits = false; return f; });

// Drive N messages through the bot connected to FAKE; returns the figures.
async function drive(fake, pid, probe) {
  const pending = new Map();       // "echo: text" -> dispatch time
  const answers = new Map();       // "echo: text" -> count
  const latencies = [];
  let sent = 0;
  let answered = 0;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  const dm = (i, text) => fake.userMessage({ dm: true, channel: `D0BENCH${String(i % CHANNELS).padStart(3, '0')}`, text });
  await warmUp(fake, 'post', (p) => p.text, dm, WARMUP, WINDOW);
  if (probe) await probe.start(pid);
  const startRssMb = peakRssKb(pid) / 1024;
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  let refreshed = false;
  let dropped = false;
  const pump = () => {
    while (sent < N && pending.size < WINDOW) {
      const text = `hello ${sent}`;
      dm(sent, text);
      pending.set(`echo: ${text}`, process.hrtime.bigint());
      sent++;
      const live = fake.liveConns();
      if (!refreshed && sent >= N / 2 && live.length) { refreshed = true; live[0].disconnect('refresh_requested'); }
      if (!dropped && sent >= (3 * N) / 4 && live.length) { dropped = true; live[live.length - 1].drop(); }
    }
  };
  fake.on('post', (p) => {
    answers.set(p.text, (answers.get(p.text) || 0) + 1);
    const at = pending.get(p.text);
    if (at === undefined) return;
    pending.delete(p.text);
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
  await new Promise((r) => setTimeout(r, 500));    // late duplicates still count
  let duplicates = 0;
  for (const n of answers.values()) if (n > 1) duplicates += n - 1;
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN);
  return {
    answered, cpuUsPerMsg: (cpu * 1e6) / Math.max(1, answered), peakRssMb: peakRssKb(pid) / 1024, startRssMb,
    msgsPerSec: answered / secs, p50: pct(0.5), p99: pct(0.99), secs, cpu, extra, rss, gapMs: fake.maxGapMs(), duplicates, envelopes: fake.envelopes.length - 2 * WARMUP,
  };
}

async function runBot(name, cmd0, argv0, env, ready) {
  const fake = await newFake();
  const probe = name === 'chorusd' ? chosenProbe(args) : null;
  const [cmd, argv] = probe ? probe.wrap(cmd0, argv0) : [cmd0, argv0];
  const proc = spawn(cmd, argv, {
    env: { ...process.env, ...(probe && probe.env), SLACK_APP_TOKEN: APP_TOKEN, SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_API_URL: fake.apiUrl, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    if (ready) await waitForLine(proc, ready, 20000, name);
    const readyMs = (probe && probe.readyTimeoutMs) || 20000;
    await fake.waitForHello(1, readyMs);
    if (name === 'chorusd') await fake.waitForHello(2, readyMs);
    return await drive(fake, proc.pid, probe);
  } finally {
    if (probe && probe.callgrind) { proc.kill('SIGTERM'); await new Promise((r) => setTimeout(r, 500)); }
    proc.kill('SIGKILL');
    await fake.close();
  }
}

function show(name, r) {
  console.log(`${name.padEnd(8)} answered ${r.answered}/${N}  CPU ${r.cpuUsPerMsg.toFixed(1)} us/msg  peak RSS ${r.peakRssMb.toFixed(1)} MB (${r.startRssMb.toFixed(1)} when ready)  `
    + `${r.msgsPerSec.toFixed(0)} msg/s  latency p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms  `
    + `gap ${r.gapMs} ms  duplicates ${r.duplicates}  envelopes ${r.envelopes}`);
  if (r.extra) console.log(describe(r.extra, r.answered));
  if (r.rss) console.log(`  RSS at the end (MB): ${Object.entries(r.rss).map(([k, v]) => `${k} ${(v / 1024).toFixed(1)}`).join(', ')}`);
  if (r.rss && args.includes('--rss-libs')) console.log(`  libraries (KB): ${r.rss.topLibs.join(', ')}`);
}

async function main() {
  const redis = await startRedis();
  let ok = true;
  let why = 'some messages were not answered, or answered twice';
  try {
    const haveBolt = fs.existsSync(path.join(__dirname, 'node_modules', '@slack', 'bolt'));
    const bin = process.env.CHORUSD || path.join(ROOT, 'src', 'chorusd');
    await redis.cmd('FLUSHALL');
    const c = await runBot('chorusd', bin, ['--config', path.join(__dirname, '..', 'slack-echo.conf.lua')],
      { CHORUS_REDIS_URL: redis.url, CHORUS_DATA_DIR: process.env.CHORUS_DATA_DIR || ROOT }, null);
    show('chorusd', c);
    if (c.answered !== N || c.duplicates !== 0) ok = false;
    if (chorusdOnly) {
      console.log('--chorusd-only: no comparison');
    } else if (!haveBolt) {
      console.log('@slack/bolt is not installed (cd bench/slack && npm install): no comparison');
      if (!smoke) { ok = false; why = 'no baseline: @slack/bolt is not installed'; }
    } else {
      const b = await runBot('bolt', process.execPath, [path.join(__dirname, 'bolt-bot.js')], {}, /bolt ready/);
      show('bolt', b);
      if (b.answered !== N) ok = false;
      console.log(`ratios (chorusd / bolt): CPU per message ${(c.cpuUsPerMsg / b.cpuUsPerMsg).toFixed(3)}, `
        + `peak RSS ${(c.peakRssMb / b.peakRssMb).toFixed(3)}, msgs/s ${(c.msgsPerSec / b.msgsPerSec).toFixed(2)}, `
        + `p99 ${(c.p99 / b.p99).toFixed(3)}`);
    }
  } finally {
    await redis.stop();
  }
  console.log(ok ? 'bench: every message answered once' : `bench: ${why}`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
