'use strict';
// Run the real chorusd binary.
//
//   const chorus = await startChorusd({ config: 'listen "127.0.0.1:0"\n...' });
//   chorus.url      // http://127.0.0.1:PORT
//   chorus.wsUrl    // ws://127.0.0.1:PORT/ws
//   await chorus.waitForLog(/redis connected/i, 2000);
//   const code = await chorus.stop('SIGTERM');
//
//   const { code, stderr, file } = await checkConfig('listen "x"\n');
//
// The binary is $CHORUSD, else <repo>/src/chorusd where <repo> is
// $CHORUS_SRCDIR or two folders above this file.

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { trackChild, after, onFailure } = require('./tap');
const { tempDir } = require('./util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');

function chorusdBinary() {
  const bin = process.env.CHORUSD ? path.resolve(process.env.CHORUSD) : path.join(SRCDIR, 'src', 'chorusd');
  if (!fs.existsSync(bin)) {
    throw new Error(`chorusd binary not found at ${bin} (build it, or set CHORUSD=/path/to/chorusd)`);
  }
  return bin;
}

// The daemon's environment: ours, minus any CHORUS_* overrides that could leak
// in from the developer's shell, plus what the test asks for.
function daemonEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k === 'CHORUS_LISTEN' || k === 'CHORUS_REDIS_URL') delete env[k];
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined || v === null) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

function writeFiles(dir, files = {}) {
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}

const LISTENING = /listening on http:\/\/([0-9.]+|\[[0-9a-f:]+\]|[a-z0-9.-]+):(\d+)/i;

// The daemon runs with cwd "/" by default, so relative paths in the config must
// resolve against the config file's folder, not against the working directory.
async function startChorusd({ config, env = {}, args = [], files = {}, readyTimeoutMs = 5000, configName = 'chorusd.lua', cwd = '/', wrapper = null } = {}) {
  const bin = chorusdBinary();
  const dir = tempDir('chorusd');
  const configFile = path.join(dir, configName);
  fs.writeFileSync(configFile, config);
  writeFiles(dir, files);

  const startedAt = Date.now();
  // A wrapper (e.g. valgrind and its options) runs the binary under a checker.
  const argv = [bin, '--config', configFile, ...args];
  const proc = spawn(wrapper ? wrapper[0] : bin, wrapper ? [...wrapper.slice(1), ...argv] : argv.slice(1), {
    env: daemonEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
  });
  trackChild(proc);

  const lines = [];
  const stdoutLines = [];
  const logWaiters = [];
  let partial = '';
  let stopping = false;
  let exitInfo = null;

  const exited = new Promise((resolve) => {
    // 'close' (not 'exit'): it comes after stderr is fully read, so the
    // last log lines are never lost from a failure report.
    proc.once('close', (code, signal) => {
      exitInfo = { code, signal, at: Date.now() };
      resolve(exitInfo);
    });
    proc.once('error', (err) => {
      exitInfo = { code: null, signal: null, error: err, at: Date.now() };
      resolve(exitInfo);
    });
  });

  const checkWaiters = (line) => {
    for (let i = 0; i < logWaiters.length; i++) {
      const w = logWaiters[i];
      const m = w.regex.exec(line);
      if (m) {
        logWaiters.splice(i, 1);
        i--;
        clearTimeout(w.timer);
        w.resolve(m);
      }
    }
  };

  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop();
    for (const line of parts) {
      lines.push(line);
      checkWaiters(line);
    }
  });
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => stdoutLines.push(...d.split('\n').filter(Boolean)));

  exited.then(() => {
    if (partial) { lines.push(partial); checkWaiters(partial); partial = ''; }
    for (const w of logWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`chorusd exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before logging ${w.regex}; stderr:\n${lines.slice(-20).join('\n')}`));
    }
  });

  function waitForLog(regex, timeoutMs = 5000) {
    for (const line of lines) {
      const m = regex.exec(line);
      if (m) return Promise.resolve(m);
    }
    if (exitInfo) return Promise.reject(new Error(`chorusd already exited (code ${exitInfo.code}, signal ${exitInfo.signal}); no log line matches ${regex}; stderr:\n${lines.slice(-20).join('\n')}`));
    return new Promise((resolve, reject) => {
      const w = { regex, resolve, reject };
      w.timer = setTimeout(() => {
        const i = logWaiters.indexOf(w);
        if (i >= 0) logWaiters.splice(i, 1);
        reject(new Error(`no chorusd log line matched ${regex} within ${timeoutMs} ms; stderr so far:\n${lines.slice(-20).join('\n')}`));
      }, timeoutMs);
      logWaiters.push(w);
    });
  }

  // Tell the daemon to stop; resolve with its exit code (or "signal:NAME" if it
  // died of a signal). Throws if it is still running after timeoutMs.
  async function stop(signal = 'SIGTERM', timeoutMs = 10000) {
    stopping = true;
    if (!exitInfo) proc.kill(signal);
    let timer;
    const info = await Promise.race([
      exited,
      new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); }),
    ]);
    clearTimeout(timer);
    if (!info) {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`chorusd still running ${timeoutMs} ms after ${signal}; killed it`);
    }
    if (info.error) throw info.error;
    return info.code !== null ? info.code : `signal:${info.signal}`;
  }

  const chorus = {
    proc,
    pid: proc.pid,
    dir,
    configFile,
    startedAt,
    exited,
    get exitInfo() { return exitInfo; },
    logs: () => lines.slice(),
    logText: () => lines.join('\n') + (partial ? `\n${partial}` : ''),
    stdout: () => stdoutLines.slice(),
    waitForLog,
    stop,
    // Send a signal without waiting (the test expects the daemon to exit).
    kill(signal) { stopping = true; proc.kill(signal); },
  };

  after(async () => {
    const wasRunning = !exitInfo;
    if (wasRunning) {
      proc.kill('SIGKILL');
      await exited;
    }
    if (!stopping && !wasRunning) {
      const tail = logsShown ? '' : `; stderr:\n${lines.slice(-30).join('\n')}`;
      throw new Error(`chorusd exited on its own during the test (code ${exitInfo.code}, signal ${exitInfo.signal})${tail}`);
    }
  });
  let logsShown = false;
  onFailure(() => {
    logsShown = true;
    const state = exitInfo
      ? `exited (code ${exitInfo.code}, signal ${exitInfo.signal})${stopping ? '' : ' ON ITS OWN'}`
      : 'still running';
    return `chorusd (pid ${proc.pid}) ${state}; stderr, last 40 lines:\n${lines.slice(-40).join('\n')}${partial ? `\n${partial}` : ''}`;
  });

  let m;
  try {
    m = await waitForLog(LISTENING, readyTimeoutMs);
  } catch (e) {
    if (exitInfo && exitInfo.error) throw new Error(`could not run ${bin}: ${exitInfo.error.message}`);
    throw e;
  }
  const host = m[1].replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  if (!(port > 0)) throw new Error(`chorusd logged a bad port: ${m[0]}`);
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  chorus.host = host;
  chorus.port = port;
  chorus.listenedAfterMs = Date.now() - startedAt;
  chorus.url = `http://${hostForUrl}:${port}`;
  chorus.wsUrl = `ws://${hostForUrl}:${port}/ws`;
  return chorus;
}

// Run chorusd with some arguments until it exits. Resolves
// {code, signal, stdout, stderr, timedOut}. A run still going after timeoutMs
// is killed and reported with timedOut: true.
function runChorusd(args, { env = {}, timeoutMs = 10000, cwd = '/' } = {}) {
  const bin = chorusdBinary();
  return new Promise((resolve) => {
    const proc = spawn(bin, args, { env: daemonEnv(env), stdio: ['ignore', 'pipe', 'pipe'], cwd });
    trackChild(proc);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, timeoutMs);
    proc.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}\n(spawn error: ${err.message})`, timedOut });
    });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function writeConfig(text, { name = 'chorusd.lua', files = {} } = {}) {
  const dir = tempDir('chorusd-config');
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  writeFiles(dir, files);
  return { dir, file };
}

// chorusd --check-config FILE  →  {code, stdout, stderr, file, dir}
async function checkConfig(text, opts = {}) {
  const { dir, file } = writeConfig(text, opts);
  const r = await runChorusd(['--check-config', file], { env: opts.env, timeoutMs: opts.timeoutMs || 10000 });
  return { ...r, file, dir };
}

// chorusd --config FILE, for configs that must be refused: resolves once it
// exits (or is killed after timeoutMs, with timedOut: true).
async function runWithConfig(text, opts = {}) {
  const { dir, file } = writeConfig(text, opts);
  const r = await runChorusd(['--config', file], { env: opts.env, timeoutMs: opts.timeoutMs || 5000 });
  return { ...r, file, dir };
}

module.exports = { startChorusd, runChorusd, checkConfig, runWithConfig, writeConfig, chorusdBinary, SRCDIR };
