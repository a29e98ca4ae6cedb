'use strict';
// bench/discord/run.js - chorusd and a discord.js v14 echo bot against the
// same fake Discord (tests/lib/fake-discord.js), in the same run: N DM
// MESSAGE_CREATE events each, at most WINDOW unanswered at a time. Prints
// CPU per message, peak RSS, messages/s and dispatch-to-reply latency of
// each bot, and the ratios.
//
//   (cd bench/discord && npm install)        # discord.js, once
//   node bench/discord/run.js [--n 5000] [--window 32] [--smoke]
//
// --smoke: 200 messages, and only chorusd when discord.js is not installed;
// exits non-zero if any message goes unanswered.
// --one-channel: every message in one guild channel, not addressed to the
// bot (the adapter's messages = "all"), 64 outstanding unless --window says
// otherwise: a busy channel must lose nothing (issue 12).
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const { startFakeDiscord } = require(path.join(ROOT, 'tests/lib/fake-discord'));
const { startRedis } = require(path.join(ROOT, 'tests/lib/redis'));
const { cpuSeconds } = require(path.join(ROOT, 'tests/lib/util'));

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def; };
const smoke = args.includes('--smoke');
const N = opt('n', smoke ? 200 : 5000);
const oneChannel = args.includes('--one-channel');
const WINDOW = opt('window', oneChannel ? 64 : 32);
const CHANNELS = oneChannel ? 1 : 16;
const TOKEN = 'MTk4NjIyNDgzNDcxOTI1MjQ4.bench.discord-token';

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

// The busy channel's guild, as Discord sends it when the bot joins: discord.js
// drops guild messages from guilds and channels it has not been told of.
function announceGuild(fake) {
  const guildId = '200000000000000001';
  fake.dispatch('GUILD_CREATE', {
    id: guildId, name: 'Bench', icon: null, owner_id: '700000000000000001', afk_channel_id: null, afk_timeout: 300,
    verification_level: 0, default_message_notifications: 0, explicit_content_filter: 0, mfa_level: 0,
    features: [], system_channel_id: null, premium_tier: 0, preferred_locale: 'en-US', nsfw_level: 0,
    unavailable: false, large: false, member_count: 2, joined_at: new Date().toISOString(),
    roles: [{ id: guildId, name: '@everyone', color: 0, hoist: false, position: 0, permissions: '377957124160', managed: false, mentionable: false, flags: 0 }],
    emojis: [], stickers: [], members: [], presences: [], voice_states: [], threads: [], stage_instances: [], guild_scheduled_events: [],
    channels: [{ id: '300000000000000000', type: 0, guild_id: guildId, name: 'busy', position: 0, permission_overwrites: [], nsfw: false, parent_id: null, topic: null }],
  });
}

// Drive N messages through the bot connected to FAKE; returns the figures.
async function drive(fake, pid) {
  if (oneChannel) {
    announceGuild(fake);
    await new Promise((r) => setTimeout(r, 300));
  }
  const pending = new Map();       // message id -> dispatch time
  const latencies = [];
  let sent = 0;
  let answered = 0;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  const pump = () => {
    while (sent < N && pending.size < WINDOW) {
      const channel = `3000000000000${String(sent % CHANNELS).padStart(5, '0')}`;
      const m = oneChannel ? fake.messageCreate({ channel_id: channel, content: `hello ${sent}` })
        : fake.messageCreate({ dm: true, channel_id: channel, content: `hello ${sent}` });
      pending.set(m.id, process.hrtime.bigint());
      sent++;
    }
  };
  fake.on('message', (msg) => {
    const ref = msg.message_reference && msg.message_reference.message_id;
    const at = pending.get(ref);
    if (at === undefined) return;
    pending.delete(ref);
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
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN);
  return {
    answered, cpuUsPerMsg: (cpu * 1e6) / Math.max(1, answered), peakRssMb: peakRssKb(pid) / 1024,
    msgsPerSec: answered / secs, p50: pct(0.5), p99: pct(0.99), secs, cpu,
  };
}

async function runChorusd(redis) {
  const fake = await startFakeDiscord({ token: TOKEN });
  const bin = process.env.CHORUSD || path.join(ROOT, 'src', 'chorusd');
  const proc = spawn(bin, ['--config', path.join(__dirname, '..', 'discord-echo.conf.lua'), '--log-level', 'info'], {
    env: { ...process.env, DISCORD_TOKEN: TOKEN, DISCORD_API_BASE: `${fake.apiBase}/v10`, CHORUS_REDIS_URL: redis.url,
      CHORUS_DATA_DIR: process.env.CHORUS_DATA_DIR || ROOT },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await waitForLine(proc, /discord: shard 0 ready/, 10000, 'chorusd');
    return await drive(fake, proc.pid);
  } finally {
    proc.kill('SIGKILL');
    await fake.close();
  }
}

async function runDiscordJs() {
  const fake = await startFakeDiscord({ token: TOKEN });
  const proc = spawn(process.execPath, [path.join(__dirname, 'djs-bot.js')], {
    env: { ...process.env, DISCORD_TOKEN: TOKEN, DISCORD_API: fake.apiBase },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await waitForLine(proc, /discord\.js ready/, 20000, 'discord.js');
    return await drive(fake, proc.pid);
  } finally {
    proc.kill('SIGKILL');
    await fake.close();
  }
}

function show(name, r) {
  console.log(`${name.padEnd(11)} answered ${r.answered}/${N}  CPU ${r.cpuUsPerMsg.toFixed(1)} us/msg  peak RSS ${r.peakRssMb.toFixed(1)} MB  `
    + `${r.msgsPerSec.toFixed(0)} msg/s  latency p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms`);
}

async function main() {
  const redis = await startRedis();
  console.log(`bench: ${N} messages, ${WINDOW} outstanding, ${CHANNELS === 1 ? 'one guild channel (not addressed to the bot)' : `${CHANNELS} DM channels`}`);
  let ok = true;
  let why = 'some messages were not answered';
  try {
    const haveDjs = fs.existsSync(path.join(__dirname, 'node_modules', 'discord.js'));
    const c = await runChorusd(redis);
    show('chorusd', c);
    if (c.answered !== N) ok = false;
    if (!haveDjs) {
      console.log('discord.js is not installed (cd bench/discord && npm install): no comparison');
      if (!smoke) { ok = false; why = 'no baseline: discord.js is not installed'; }
    } else {
      const d = await runDiscordJs();
      show('discord.js', d);
      if (d.answered !== N) ok = false;
      console.log(`ratios (chorusd / discord.js): CPU per message ${(c.cpuUsPerMsg / d.cpuUsPerMsg).toFixed(3)}, `
        + `peak RSS ${(c.peakRssMb / d.peakRssMb).toFixed(3)}`);
    }
  } finally {
    await redis.stop();
  }
  console.log(ok ? 'bench: every message answered' : `bench: ${why}`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
