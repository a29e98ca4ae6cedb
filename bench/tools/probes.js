'use strict';
// bench/tools/probes.js - the chorusd probes of bench/discord/run.js for any
// bench: counted over the measured messages only. chosenProbe(args) returns
// one of them for --strace (system calls, strace -c -f), --callgrind
// (instructions, valgrind's callgrind, instrumentation switched on for the
// window) or --malloc (bench/tools/malloc_count.so: `make -C bench/tools`), or
// null. A probe has wrap(cmd, argv) -> [cmd, argv], env, readyTimeoutMs,
// start(pid), stop(pid) -> figures, and describe(figures, messages) -> a line.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

function straceProbe() {
  let proc;
  const out = path.join(os.tmpdir(), `bench-strace-${process.pid}.txt`);
  return {
    wrap: (cmd, argv) => [cmd, argv],
    async start(pid) {
      proc = spawn('strace', ['-c', '-f', '-o', out, '-p', String(pid)], { stdio: 'ignore' });
      await delay(500);
    },
    async stop() {
      proc.kill('SIGINT');
      await new Promise((r) => proc.once('exit', r));
      const text = fs.readFileSync(out, 'utf8');
      fs.unlinkSync(out);
      const calls = {};
      for (const line of text.split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f.length >= 5 && /^\d/.test(f[0]) && !line.includes('total')) calls[f[f.length - 1]] = Number(f[3]);
      }
      return { kind: 'syscalls', calls };
    },
  };
}

function callgrindProbe() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cg-'));
  return {
    callgrind: true,
    wrap: (cmd, argv) => ['valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${dir}/cg.%p`, cmd, ...argv]],
    readyTimeoutMs: 120000,
    async start(pid) { spawnSync('callgrind_control', ['--instr=on', String(pid)]); },
    async stop(pid) {
      spawnSync('callgrind_control', ['--instr=off', String(pid)]);
      spawnSync('callgrind_control', ['--dump', String(pid)]);
      let ir = 0;
      for (const f of fs.readdirSync(dir)) {
        const m = /^totals:\s+(\d+)/m.exec(fs.readFileSync(path.join(dir, f), 'utf8'));
        if (m) ir += Number(m[1]);
      }
      return { kind: 'instructions', ir, dir };
    },
  };
}

function mallocProbe() {
  const lib = path.join(__dirname, 'malloc_count.so');
  if (!fs.existsSync(lib)) throw new Error(`${lib} is missing: make -C bench/tools`);
  const file = path.join(os.tmpdir(), `bench-malloc-${process.pid}.bin`);
  const read = () => {
    const b = fs.readFileSync(file);
    return { malloc: Number(b.readBigUInt64LE(0)), free: Number(b.readBigUInt64LE(8)), realloc: Number(b.readBigUInt64LE(16)), bytes: Number(b.readBigUInt64LE(24)) };
  };
  let before;
  return {
    env: { LD_PRELOAD: lib, MALLOC_COUNT_FILE: file },
    wrap: (cmd, argv) => [cmd, argv],
    async start() { before = read(); },
    async stop() {
      const after = read();
      fs.unlinkSync(file);
      return { kind: 'allocations', malloc: after.malloc - before.malloc, free: after.free - before.free, realloc: after.realloc - before.realloc, bytes: after.bytes - before.bytes };
    },
  };
}

// Where chorusd's resident memory is (/proc/PID/smaps_rollup and smaps):
// shared libraries' pages, the heap (brk and anonymous mappings) and stacks.
function rssBreakdown(pid) {
  const out = { binary: 0, libs: 0, heap: 0, anon: 0, stacks: 0, other: 0 };
  const files = {};
  let text;
  try { text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8'); } catch { return null; }
  let kind = 'other';
  let file = null;
  let exe = '';
  try { exe = fs.readlinkSync(`/proc/${pid}/exe`); } catch { /* gone */ }
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+\s+\S+\s+\S+\s+\S+\s+\d+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1].trim();
      if (name === exe) kind = 'binary';
      else if (name.startsWith('/')) kind = 'libs';
      else if (name === '[heap]') kind = 'heap';
      else if (name.startsWith('[stack')) kind = 'stacks';
      else if (name === '') kind = 'anon';
      else kind = 'other';
      file = kind === 'libs' ? path.basename(name) : null;
      continue;
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m) {
      out[kind] += Number(m[1]);
      if (file) files[file] = (files[file] || 0) + Number(m[1]);
    }
  }
  // The libraries with the most resident pages, "name KB", largest first.
  Object.defineProperty(out, 'topLibs', {
    enumerable: false,
    value: Object.entries(files).sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => `${k} ${v}`),
  });
  return out;
}

function describe(x, messages) {
  if (!x) return '';
  if (x.kind === 'syscalls') {
    const total = Object.values(x.calls).reduce((a, b) => a + b, 0);
    const top = Object.entries(x.calls).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} ${(v / messages).toFixed(2)}`).join(', ');
    return `  syscalls per message ${(total / messages).toFixed(2)}: ${top}`;
  }
  if (x.kind === 'instructions') return `  instructions per message ${(x.ir / messages / 1000).toFixed(1)} k (callgrind files in ${x.dir})`;
  if (x.kind === 'allocations') {
    return `  allocations per message: malloc ${(x.malloc / messages).toFixed(1)}, realloc ${(x.realloc / messages).toFixed(1)}, `
      + `free ${(x.free / messages).toFixed(1)}, ${(x.bytes / messages).toFixed(0)} bytes`;
  }
  return '';
}

function chosenProbe(args) {
  if (args.includes('--strace')) return straceProbe();
  if (args.includes('--callgrind')) return callgrindProbe();
  if (args.includes('--malloc')) return mallocProbe();
  return null;
}

// Send COUNT warm-up messages through send(i, text), at most WINDOW
// unanswered, and wait for every "echo: <text>" answer, seen as EVENT on
// FAKE with its text at textOf(arg): both bots then run their measured
// messages warm (a JIT compiled, caches filled), as bench/discord does.
function warmUp(fake, event, textOf, send, count, window) {
  if (count <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = 0;
    const out = new Set();
    const timer = setTimeout(() => reject(new Error(`warm-up: ${answered}/${count} answered`)), 30000 + count * 20);
    const pump = () => {
      while (sent < count && out.size < window) {
        const text = `warm ${sent}`;
        out.add(`echo: ${text}`);
        send(sent, text);
        sent++;
      }
    };
    const on = (arg) => {
      if (!out.delete(textOf(arg))) return;
      if (++answered < count) { pump(); return; }
      fake.off(event, on);
      clearTimeout(timer);
      resolve();
    };
    fake.on(event, on);
    pump();
  });
}

module.exports = { chosenProbe, describe, rssBreakdown, warmUp };
