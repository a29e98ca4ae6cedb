'use strict';
// bench/irc/run.js - chorusd and an irc-framework echo bot on the same real
// InspIRCd (started here, flood limits lifted so the server is not what is
// measured), in the same run: N channel messages each from a raw-socket
// user, at most WINDOW unanswered at a time. Prints CPU per message, peak
// RSS, messages/s and send-to-echo latency of each bot, and the ratios.
//
//   (cd bench/irc && npm install)        # irc-framework, once
//   node bench/irc/run.js [--n 5000] [--window 32] [--warmup 500] [--smoke] [--smaps]   (--smaps: RSS by mapping)
//   node bench/irc/run.js --chorusd-only --n 1000 [--callgrind | --strace | --malloc]   # bench/tools/probes.js
//
// --smoke: 200 messages, and only chorusd when irc-framework is not
// installed; exits non-zero if any message goes unanswered.
// (ngircd cannot host this bench: it paces every client to a few lines a
// second, so it would measure ngircd; the tests use it for the stories.)
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const { startInspircd } = require(path.join(ROOT, 'tests/lib/ircd'));
const { ircUser } = require(path.join(ROOT, 'tests/lib/irc-client'));
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

function peakRssKb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

// Drive N messages (WARM: warm-up, not reported; PROBE: chorusd's probe, on
// for the measured messages only) in CHANNEL through the bot BOTNICK; returns the figures.
async function drive(user, channel, botNick, pid, N, warm, probe) {
  const pending = new Map();       // text -> send time
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
      const text = `hello ${botNick} ${sent}`;
      pending.set(text, process.hrtime.bigint());
      user.say(channel, text);
      sent++;
    }
  };
  const seen = user.lines.length;
  let scanned = seen;
  const onData = () => {
    for (; scanned < user.lines.length; scanned++) {
      const m = user.lines[scanned];
      if (m.command !== 'PRIVMSG' || m.nick !== botNick || !m.params[1].startsWith('echo: ')) continue;
      const at = pending.get(m.params[1].slice(6));
      if (at === undefined) continue;
      pending.delete(m.params[1].slice(6));
      latencies.push(Number(process.hrtime.bigint() - at) / 1e6);
      answered++;
      if (answered === N) resolveDone();
    }
    pump();
  };
  const onSock = () => setImmediate(onData);
  user.sock.on('data', onSock);
  pump();
  const timeout = new Promise((r) => setTimeout(r, 30000 + N * 20));
  await Promise.race([done, timeout]);
  user.sock.off('data', onSock);      // not the client's own line reader
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(pid) - cpu0;
  const extra = probe ? await probe.stop(pid) : null;
  if (args.includes('--smaps') && !warm) printSmaps(`process ${pid}`, pid);
  const anonMb = rssAnonKb(pid) / 1024;
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN);
  return {
    answered, cpuUsPerMsg: (cpu * 1e6) / Math.max(1, answered), peakRssMb: peakRssKb(pid) / 1024, anonMb,
    msgsPerSec: answered / secs, p50: pct(0.5), p99: pct(0.99), extra,
  };
}

// Start PROC-making MAKE, wait until NICK is in CHANNEL, then drive it
// (PROBE: chorusd's, on for the measured messages only).
async function runBot(ircd, nick, channel, make, probe) {
  const user = await ircUser(ircd, `drv${nick}`.slice(0, 20));
  await user.join(channel);
  const proc = make();
  let err = '';
  proc.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  try {
    await user.waitMember(channel, nick, (probe && probe.readyTimeoutMs) || 20000).catch((e) => { throw new Error(`${e.message}\n${err}`); });
    if (WARMUP) await drive(user, channel, nick, proc.pid, WARMUP, true);
    return await drive(user, channel, nick, proc.pid, N, false, probe);
  } finally {
    if (probe && probe.callgrind) { proc.kill('SIGTERM'); await new Promise((r) => setTimeout(r, 500)); }
    proc.kill('SIGKILL');
    await user.quit();
  }
}

function show(name, r) {
  console.log(`${name.padEnd(13)} answered ${r.answered}/${N}  CPU ${r.cpuUsPerMsg.toFixed(1)} us/msg  peak RSS ${r.peakRssMb.toFixed(1)} MB (private ${r.anonMb.toFixed(1)})  `
    + `${r.msgsPerSec.toFixed(0)} msg/s  latency p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms`);
  if (r.extra) console.log(describe(r.extra, r.answered));
}

async function main() {
  const redis = await startRedis();
  const ircd = await startInspircd({ flood: { commandrate: 100000000, threshold: 100000000 }, recvq: 1048576 });
  let ok = true;
  let why = 'some messages were not answered';
  try {
    const bin = process.env.CHORUSD || path.join(ROOT, 'src', 'chorusd');
    const probe = chosenProbe(args);
    const [cmd, argv] = (probe ? probe.wrap : (c, a) => [c, a])(bin, ['--config', path.join(__dirname, '..', 'irc-echo.conf.lua')]);
    const c = await runBot(ircd, 'chorusbot', '#bench1', () => spawn(cmd, argv, {
      env: { ...process.env, ...(probe && probe.env), IRC_URL: ircd.url, IRC_NICK: 'chorusbot', IRC_CHANNELS: '#bench1', CHORUS_REDIS_URL: redis.url,
        CHORUS_DATA_DIR: process.env.CHORUS_DATA_DIR || ROOT },
      stdio: ['ignore', 'ignore', 'pipe'],
    }), probe);
    show('chorusd', c);
    if (c.answered !== N) ok = false;
    const haveFw = fs.existsSync(path.join(__dirname, 'node_modules', 'irc-framework'));
    if (chorusdOnly) {
      console.log('--chorusd-only: no comparison');
    } else if (!haveFw) {
      console.log('irc-framework is not installed (cd bench/irc && npm install): no comparison');
      if (!smoke) { ok = false; why = 'no baseline: irc-framework is not installed'; }
    } else {
      const f = await runBot(ircd, 'fwbot', '#bench2', () => spawn(process.execPath, [path.join(__dirname, 'irc-framework-bot.js')], {
        env: { ...process.env, IRC_HOST: ircd.host, IRC_PORT: String(ircd.port), IRC_NICK: 'fwbot', IRC_CHANNELS: '#bench2' },
        stdio: ['ignore', 'ignore', 'pipe'],
      }));
      show('irc-framework', f);
      if (f.answered !== N) ok = false;
      console.log(`ratios (chorusd / irc-framework): CPU per message ${(c.cpuUsPerMsg / f.cpuUsPerMsg).toFixed(3)}, `
        + `peak RSS ${(c.peakRssMb / f.peakRssMb).toFixed(3)} (private ${(c.anonMb / f.anonMb).toFixed(3)})`);
    }
  } finally {
    await ircd.stop();
    await redis.stop();
  }
  console.log(ok ? 'bench: every message answered' : `bench: ${why}`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
