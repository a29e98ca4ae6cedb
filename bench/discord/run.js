'use strict';
// bench/discord/run.js - chorusd and a discord.js v14 echo bot against the
// same fake Discord (tests/lib/fake-discord.js) behaving as Discord does:
// MESSAGE_CREATE payloads of 1.1-1.6 KB with the author's member object,
// mentions, roles, attachments, embeds and replies (payloads.js); the bot's
// own posts answered with the whole message object and echoed back over the
// gateway (the bot must read and drop them). For each layout (one busy guild
// channel, four channels) and window (messages outstanding), each bot runs
// RUNS times, alternating which goes first; CPU per message is read from
// /proc over the measured messages only (after the warm-up), and the report
// gives each bot's medians and the ratios of the medians.
//
//   (cd bench/discord && npm install)        # discord.js, once
//   node bench/discord/run.js [--n 5000] [--warmup 1000] [--runs 3] [--channels 1,4] [--windows 32,64]
//   node bench/discord/run.js --chorusd-only --n 2000 --strace      # system calls per message
//   node bench/discord/run.js --chorusd-only --n 2000 --callgrind   # instructions per message
//   node bench/discord/run.js --chorusd-only --n 2000 --malloc      # allocations per message (bench/tools/malloc_count.so)
//   node bench/discord/run.js --compare /tmp/chorusd-before        # a second chorusd build in the same alternation
//
// --smoke: 200 messages, one run, four channels, window 32 (chorusd alone
// when discord.js is not installed); exits non-zero if any message goes
// unanswered. --one-channel: one busy guild channel, 64 outstanding (issue 12:
// a busy channel must lose nothing).
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { chosenProbe, describe } = require('../tools/probes');

const ROOT = path.resolve(__dirname, '..', '..');
const { startFakeDiscord } = require(path.join(ROOT, 'tests/lib/fake-discord'));
const { startRedis } = require(path.join(ROOT, 'tests/lib/redis'));
const { cpuSeconds } = require(path.join(ROOT, 'tests/lib/util'));
const { userMessage, botMessage, GUILD } = require('./payloads');

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const flag = (name) => args.includes(`--${name}`);
const smoke = flag('smoke');
const oneChannel = flag('one-channel');
const N = Number(opt('n', smoke ? 200 : 5000));
const WARMUP = Number(opt('warmup', smoke ? 20 : 1000));
const RUNS = Number(opt('runs', smoke ? 1 : 3));
const list = (s) => String(s).split(',').map(Number);
const LAYOUTS = list(opt('channels', oneChannel ? '1' : (smoke ? '4' : '1,4')));
const WINDOWS = list(opt('window', opt('windows', oneChannel ? '64' : (smoke ? '32' : '32,64'))));
const chorusdOnly = flag('chorusd-only');
const COMPARE = opt('compare', null);   // another chorusd binary, run in the same alternation
const TOKEN = 'MTk4NjIyNDgzNDcxOTI1MjQ4.bench.discord-token';
const CHANNEL_BASE = 300000000000000000n;

// User and system CPU seconds of PID so far (/proc/PID/stat fields 14, 15).
function cpuSplit(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const hz = cpuSeconds.ticks || 100;
  return { user: Number(rest[11]) / hz, sys: Number(rest[12]) / hz };
}

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

const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const channelId = (i) => String(CHANNEL_BASE + BigInt(i));

// The guild and its channels, as Discord sends them when the bot joins:
// discord.js drops messages from guilds and channels it has not been told of.
function announceGuild(fake, nchannels) {
  const channels = [];
  for (let i = 0; i < nchannels; i++) {
    channels.push({ id: channelId(i), type: 0, guild_id: GUILD, name: `busy-${i}`, position: i, permission_overwrites: [], nsfw: false, parent_id: null, topic: null });
  }
  fake.dispatch('GUILD_CREATE', {
    id: GUILD, name: 'Bench', icon: null, owner_id: '700000000000000001', afk_channel_id: null, afk_timeout: 300,
    verification_level: 0, default_message_notifications: 0, explicit_content_filter: 0, mfa_level: 0,
    features: [], system_channel_id: null, premium_tier: 0, preferred_locale: 'en-US', nsfw_level: 0,
    unavailable: false, large: false, member_count: 3, joined_at: new Date().toISOString(),
    roles: [{ id: GUILD, name: '@everyone', color: 0, hoist: false, position: 0, permissions: '377957124160', managed: false, mentionable: false, flags: 0 },
      { id: '210000000000000001', name: 'gardeners', color: 3447003, hoist: false, position: 1, permissions: '0', managed: false, mentionable: true, flags: 0 },
      { id: '210000000000000002', name: 'helpers', color: 15844367, hoist: false, position: 2, permissions: '0', managed: false, mentionable: true, flags: 0 }],
    emojis: [], stickers: [], members: [], presences: [], voice_states: [], threads: [], stage_instances: [], guild_scheduled_events: [],
    channels,
  });
}

// The fake Discord for one run: whole message objects, the bot's posts echoed.
async function startBenchFake() {
  const fake = await startFakeDiscord({ token: TOKEN });
  fake.sentById = new Map();
  fake.echoToGateway = true;
  fake.messageObject = (m) => {
    const ref = m.message_reference && m.message_reference.message_id;
    return botMessage(m, fake.botId, fake.botName, null, fake.sentById.get(ref));
  };
  return fake;
}

// Send COUNT messages over NCHANNELS keeping WINDOW unanswered; resolves when
// all are answered (or after a generous timeout) with the number answered.
function pumpMessages(fake, state, count, nchannels, window) {
  return new Promise((resolve) => {
    const target = state.answered + count;
    let sentHere = 0;
    const pump = () => {
      while (sentHere < count && state.pending.size < window) {
        const i = state.sent++;
        const d = userMessage(i, channelId(i % nchannels));
        fake.sentById.set(d.id, d);
        state.bytes += Buffer.byteLength(JSON.stringify(d));
        fake.dispatch('MESSAGE_CREATE', d);
        state.pending.set(d.id, process.hrtime.bigint());
        sentHere++;
      }
    };
    const timer = setTimeout(() => { fake.off('message', onMessage); resolve(); }, 30000 + count * 20);
    const onMessage = (msg) => {
      const ref = msg.message_reference && msg.message_reference.message_id;
      const at = state.pending.get(ref);
      if (at === undefined) return;
      state.pending.delete(ref);
      fake.sentById.delete(ref);
      state.latencies.push(Number(process.hrtime.bigint() - at) / 1e6);
      state.answered++;
      if (state.answered === target) { clearTimeout(timer); fake.off('message', onMessage); resolve(); } else pump();
    };
    fake.on('message', onMessage);
    pump();
  });
}

// Warm up, then measure N messages: CPU from /proc over the measured part only.
async function drive(fake, pid, nchannels, window, probe) {
  announceGuild(fake, nchannels);
  await delay(300);
  const state = { pending: new Map(), latencies: [], sent: 0, answered: 0, bytes: 0 };
  await pumpMessages(fake, state, WARMUP, nchannels, window);
  const warmAnswered = state.answered;
  state.latencies = [];
  state.bytes = 0;
  if (probe) await probe.start(pid);
  const cpu0 = cpuSeconds(pid);
  const split0 = cpuSplit(pid);
  const t0 = process.hrtime.bigint();
  await pumpMessages(fake, state, N, nchannels, window);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(pid) - cpu0;
  const split1 = cpuSplit(pid);
  const sysShare = cpu > 0 ? (split1.sys - split0.sys) / ((split1.user - split0.user) + (split1.sys - split0.sys) || 1) : 0;
  const extra = probe ? await probe.stop(pid) : null;
  const answered = state.answered - warmAnswered;
  const lat = state.latencies.sort((a, b) => a - b);
  const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] : NaN);
  return {
    answered, warmOk: warmAnswered === WARMUP, sysShare, cpuUsPerMsg: (cpu * 1e6) / Math.max(1, answered), peakRssMb: peakRssKb(pid) / 1024,
    msgsPerSec: answered / secs, p50: pct(0.5), p99: pct(0.99), secs, cpu, avgBytes: state.bytes / Math.max(1, state.sent - WARMUP), extra,
  };
}

let chorusdMessages = 0;
async function runChorusd(redis, nchannels, window, binary) {
  chorusdMessages += N + WARMUP;
  const fake = await startBenchFake();
  const bin = binary || process.env.CHORUSD || path.join(ROOT, 'src', 'chorusd');
  const probe = chosenProbe(args);
  const [cmd, argv] = (probe ? probe.wrap : (c, a) => [c, a])(bin, ['--config', path.join(__dirname, '..', 'discord-echo.conf.lua'), '--log-level', 'info']);
  const proc = spawn(cmd, argv, {
    env: { ...process.env, ...(probe && probe.env), DISCORD_TOKEN: TOKEN, DISCORD_API_BASE: `${fake.apiBase}/v10`, CHORUS_REDIS_URL: redis.url,
      CHORUS_DATA_DIR: process.env.CHORUS_DATA_DIR || ROOT },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await waitForLine(proc, /discord: shard 0 ready/, (probe && probe.readyTimeoutMs) || 10000, 'chorusd');
    return await drive(fake, proc.pid, nchannels, window, probe);
  } finally {
    if (probe && flag('callgrind')) { proc.kill('SIGTERM'); await delay(500); }
    proc.kill('SIGKILL');
    await fake.close();
  }
}

async function runDiscordJs(nchannels, window) {
  const fake = await startBenchFake();
  const proc = spawn(process.execPath, [path.join(__dirname, 'djs-bot.js')], {
    env: { ...process.env, DISCORD_TOKEN: TOKEN, DISCORD_API: fake.apiBase },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await waitForLine(proc, /discord\.js ready/, 20000, 'discord.js');
    return await drive(fake, proc.pid, nchannels, window, null);
  } finally {
    proc.kill('SIGKILL');
    await fake.close();
  }
}

function show(name, r) {
  console.log(`${name.padEnd(11)} answered ${r.answered}/${N}  CPU ${r.cpuUsPerMsg.toFixed(1)} us/msg (${(r.sysShare * 100).toFixed(0)}% system)  peak RSS ${r.peakRssMb.toFixed(1)} MB  `
    + `${r.msgsPerSec.toFixed(0)} msg/s  latency p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms`);
  if (r.extra) console.log(describe(r.extra, r.answered));
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };

async function main() {
  const redis = await startRedis();
  const haveDjs = !chorusdOnly && fs.existsSync(path.join(__dirname, 'node_modules', 'discord.js'));
  console.log(`bench: ${N} messages measured after ${WARMUP} warm-up, ${RUNS} run(s) each, alternating; layouts ${LAYOUTS.join(',')} channel(s), windows ${WINDOWS.join(',')}`);
  let ok = true;
  let why = 'some messages were not answered';
  const summary = [];
  try {
    for (const nch of LAYOUTS) {
      for (const win of WINDOWS) {
        console.log(`-- ${nch === 1 ? 'one busy guild channel' : `${nch} guild channels`}, ${win} outstanding`);
        const c = [];
        const d = [];
        const b = [];
        // The bots in turn, each run starting with the next one: chorusd,
        // the --compare build (another chorusd binary), discord.js.
        const bots = [{ name: 'chorusd', out: c, go: () => runChorusd(redis, nch, win) }];
        if (COMPARE) bots.push({ name: 'compare', out: b, go: () => runChorusd(redis, nch, win, COMPARE) });
        if (haveDjs) bots.push({ name: 'discord.js', out: d, go: () => runDiscordJs(nch, win) });
        for (let run = 0; run < RUNS; run++) {
          for (let k = 0; k < bots.length; k++) {
            const bot = bots[(run + k) % bots.length];
            bot.out.push(await bot.go());
            show(bot.name, bot.out[bot.out.length - 1]);
          }
        }
        for (const r of [...c, ...d, ...b]) if (r.answered !== N || !r.warmOk) ok = false;
        const row = { nch, win, bytes: c[0].avgBytes, c: median(c.map((r) => r.cpuUsPerMsg)), cr: median(c.map((r) => r.peakRssMb)) };
        if (COMPARE) {
          row.b = median(b.map((r) => r.cpuUsPerMsg));
          row.br = median(b.map((r) => r.peakRssMb));
        }
        if (haveDjs) {
          row.d = median(d.map((r) => r.cpuUsPerMsg));
          row.dr = median(d.map((r) => r.peakRssMb));
        }
        summary.push(row);
      }
    }
    if (!haveDjs) {
      console.log(chorusdOnly ? 'discord.js set aside (--chorusd-only)' : 'discord.js is not installed (cd bench/discord && npm install): no comparison');
      if (!smoke && !chorusdOnly) { ok = false; why = 'no baseline: discord.js is not installed'; }
    }
    console.log(`medians (${RUNS} run(s)); MESSAGE_CREATE ${summary.length ? summary[0].bytes.toFixed(0) : '?'} bytes on average`);
    for (const r of summary) {
      let line = `  ${String(r.nch).padStart(2)} ch, window ${String(r.win).padStart(2)}: chorusd ${r.c.toFixed(1)} us/msg ${r.cr.toFixed(1)} MB`;
      if (r.b !== undefined) line += `; compare ${r.b.toFixed(1)} us/msg ${r.br.toFixed(1)} MB (chorusd/compare ${(r.c / r.b).toFixed(3)})`;
      if (r.d === undefined) { console.log(line); continue; }
      console.log(`${line}; discord.js ${r.d.toFixed(1)} us/msg ${r.dr.toFixed(1)} MB`);
      console.log(`ratios (chorusd / discord.js, ${r.nch} ch, window ${r.win}): CPU per message ${(r.c / r.d).toFixed(3)}, peak RSS ${(r.cr / r.dr).toFixed(3)}`);
    }
    // Redis's own count of the commands chorusd sent (discord.js uses none).
    const stats = String(await redis.cmd('INFO', 'commandstats'));
    const per = [];
    let total = 0;
    for (const m of stats.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) {
      if (m[1] === 'info') continue;
      total += Number(m[2]);
      per.push(`${m[1]} ${m[2]}`);
    }
    const msgs = chorusdMessages;
    console.log(`redis: ${(total / Math.max(1, msgs)).toFixed(2)} commands per chorusd message (${per.join(', ')}; ${msgs} messages incl. warm-up)`);
  } finally {
    await redis.stop();
  }
  console.log(ok ? 'bench: every message answered' : `bench: ${why}`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
