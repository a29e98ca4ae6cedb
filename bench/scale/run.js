'use strict';
// bench/scale/run.js - what the Redis Streams cost: the Discord echo bot of
// bench/discord (same fake, same config, same kind of load) as one process
// (--role all) and as one gateway with 1, 2 and 4 workers on one Redis.
// For each: messages per second and CPU per message, summed over every
// chorusd process from /proc (Redis's own CPU shown apart), then the
// ratios against the single process.
//
//   node bench/scale/run.js [--n 4000] [--window 64] [--channels 64] [--rounds 3] [--smoke]
//
// Each set-up runs ROUNDS times, the set-ups taking turns, and the median
// round (by msg/s) of each is shown: on a shared machine one round is noise.
// --smoke: 150 messages per set-up; exits non-zero if any goes unanswered.
// The config is bench/discord-echo.conf.lua with its plugins folder made
// absolute and a faster `scale` heartbeat (so four workers settle their
// partitions in seconds, not tens of seconds); nothing else differs.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const { startFakeDiscord } = require(path.join(ROOT, 'tests/lib/fake-discord'));
const { startRedis } = require(path.join(ROOT, 'tests/lib/redis'));
const { cpuSeconds } = require(path.join(ROOT, 'tests/lib/util'));

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def; };
const smoke = args.includes('--smoke');
const N = opt('n', smoke ? 150 : 4000);
const WINDOW = opt('window', 64);
const CHANNELS = opt('channels', 64);
const ROUNDS = opt('rounds', smoke ? 1 : 3);
const PARTITIONS = 16;
const TOKEN = 'MTk4NjIyNDgzNDcxOTI1MjQ4.bench.discord-token';
const SETUPS = [
  { name: 'all', workers: 0 },
  { name: '1 worker', workers: 1 },
  { name: '2 workers', workers: 2 },
  { name: '4 workers', workers: 4 },
];

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

function peakRssKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch (_) {
    return 0;
  }
}

function waitForLine(proc, regex, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${what}: no ${regex} within ${timeoutMs} ms; output:\n${buf.slice(-2000)}`)), timeoutMs);
    proc.stderr.on('data', (d) => {
      buf += d;
      if (buf.length > 100000) buf = buf.slice(-20000);
      if (regex.test(buf)) { clearTimeout(t); resolve(); }
    });
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`${what} exited (${code}):\n${buf.slice(-2000)}`)); });
  });
}

// The bench's echo config, runnable from a temp folder, with a quick heartbeat.
function writeConfig() {
  const src = path.join(ROOT, 'bench', 'discord-echo.conf.lua');
  let text = fs.readFileSync(src, 'utf8');
  text = text.replace(/plugins_dir "discord\/plugins"/, `plugins_dir ${JSON.stringify(path.join(ROOT, 'bench', 'discord', 'plugins'))}`);
  text += `\nscale { partitions = ${PARTITIONS}, lease_ms = 3000, heartbeat_ms = 500 }\n`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-bench-scale-'));
  const file = path.join(dir, 'scale-echo.conf.lua');
  fs.writeFileSync(file, text);
  return file;
}

function startChorusd(config, role, env) {
  const bin = process.env.CHORUSD || path.join(ROOT, 'src', 'chorusd');
  return spawn(bin, ['--config', config, '--role', role, '--log-level', 'info'], {
    env: { ...process.env, ...env, CHORUS_DATA_DIR: process.env.CHORUS_DATA_DIR || ROOT },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

// Until every partition's lease is held and W distinct workers hold them.
async function partitionsSettled(redis, workers) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const keys = [];
    for (let p = 0; p < PARTITIONS; p++) keys.push(`bench:lease:{in}:p${p}`);
    const owners = await redis.cmd('MGET', ...keys);
    const distinct = new Set(owners.filter(Boolean));
    if (owners.every(Boolean) && distinct.size === workers) return;
    if (Date.now() > deadline) throw new Error(`partitions did not settle over ${workers} workers: ${JSON.stringify(owners)}`);
    await delay(100);
  }
}

// N DM messages over CHANNELS channels, at most WINDOW unanswered; CPU of PIDS.
async function drive(fake, pids, redisPid) {
  const pending = new Map();
  const latencies = [];
  let sent = 0;
  let answered = 0;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  const cpu0 = pids.map(cpuSeconds);
  const rcpu0 = cpuSeconds(redisPid);
  const own0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const pump = () => {
    while (sent < N && pending.size < WINDOW) {
      const channel = `3000000000000${String(sent % CHANNELS).padStart(5, '0')}`;
      const m = fake.messageCreate({ dm: true, channel_id: channel, content: `hello ${sent}` });
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
  const cpus = pids.map((pid, i) => cpuSeconds(pid) - cpu0[i]);
  const cpu = cpus.reduce((a, b) => a + b, 0);
  const rcpu = cpuSeconds(redisPid) - rcpu0;
  const own = process.cpuUsage(own0);
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN);
  return {
    answered, msgsPerSec: answered / secs, cpuUsPerMsg: (cpu * 1e6) / Math.max(1, answered),
    frontUsPerMsg: (cpus[0] * 1e6) / Math.max(1, answered),
    redisUsPerMsg: (rcpu * 1e6) / Math.max(1, answered), fakeUsPerMsg: (own.user + own.system) / Math.max(1, answered), p50: pct(0.5), p99: pct(0.99),
    rssMb: pids.reduce((s, pid) => s + peakRssKb(pid), 0) / 1024,
  };
}

async function runSetup(setup, config, redis) {
  await redis.cmd('FLUSHALL');
  const fake = await startFakeDiscord({ token: TOKEN });
  const env = { DISCORD_TOKEN: TOKEN, DISCORD_API_BASE: `${fake.apiBase}/v10`, CHORUS_REDIS_URL: redis.url };
  const procs = [];
  try {
    const front = startChorusd(config, setup.workers ? 'gateway' : 'all', env);
    procs.push(front);
    await waitForLine(front, /discord: shard 0 ready/, 15000, `chorusd --role ${setup.workers ? 'gateway' : 'all'}`);
    for (let i = 0; i < setup.workers; i++) {
      const w = startChorusd(config, 'worker', env);
      procs.push(w);
      await waitForLine(w, /bus: worker /, 15000, 'chorusd --role worker');
    }
    if (setup.workers) await partitionsSettled(redis, setup.workers);
    return await drive(fake, procs.map((p) => p.pid), redis.pid);
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await fake.close();
  }
}

function show(name, r, base) {
  let line = `${name.padEnd(10)} answered ${r.answered}/${N}  ${r.msgsPerSec.toFixed(0).padStart(5)} msg/s  `
    + `chorusd CPU ${r.cpuUsPerMsg.toFixed(1)} us/msg${base ? ` (gateway ${r.frontUsPerMsg.toFixed(1)})` : ''}  redis CPU ${r.redisUsPerMsg.toFixed(1)} us/msg  `
    + `(fake Discord ${r.fakeUsPerMsg.toFixed(0)} us/msg)  `
    + `RSS ${r.rssMb.toFixed(1)} MB  p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms`;
  if (base) {
    line += `  | vs all: msg/s x${(r.msgsPerSec / base.msgsPerSec).toFixed(2)}, `
      + `CPU/msg x${(r.cpuUsPerMsg / base.cpuUsPerMsg).toFixed(2)}, `
      + `with redis x${((r.cpuUsPerMsg + r.redisUsPerMsg) / (base.cpuUsPerMsg + base.redisUsPerMsg)).toFixed(2)}`;
  }
  console.log(line);
}

async function main() {
  const redis = await startRedis();
  const config = writeConfig();
  console.log(`bench scale: ${N} messages per set-up and round, ${ROUNDS} round${ROUNDS === 1 ? '' : 's'}, ${WINDOW} outstanding, ${CHANNELS} DM channels, `
    + `${PARTITIONS} partitions, ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(2)}`);
  let ok = true;
  let base = null;
  try {
    const results = SETUPS.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < SETUPS.length; i++) {
        const r = await runSetup(SETUPS[i], config, redis);
        results[i].push(r);
        if (r.answered !== N) ok = false;
      }
    }
    for (let i = 0; i < SETUPS.length; i++) {
      const rs = results[i].sort((a, b) => a.msgsPerSec - b.msgsPerSec);
      const r = rs[Math.floor(rs.length / 2)];
      show(SETUPS[i].name, r, base);
      if (!base) base = r;
    }
  } finally {
    await redis.stop();
    fs.rmSync(path.dirname(config), { recursive: true, force: true });
  }
  console.log(ok ? 'bench scale: every message answered' : 'bench scale: some messages were not answered');
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
