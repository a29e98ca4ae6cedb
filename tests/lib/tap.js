'use strict';
// A tiny sequential TAP runner.
//
//   const { test, after, diag } = require('../lib/tap');
//   test('a user does something', async (t) => { ... });
//
// Every test gets a timeout (default 20 s, override with test(name, {timeout}, fn)).
// after(fn) registered while a test runs is a cleanup hook for that test; it runs
// (last registered first) whether the test passed, failed or timed out.
// after(fn) registered outside a test runs once, when all tests are done.
// Child processes handed to trackChild() are killed when the runner exits,
// however it exits. TAP_VERBOSE=1 prints the failure diagnostics (daemon
// logs) for passing tests too.

const fs = require('node:fs');

const tests = [];
const globalHooks = [];
const children = new Set();
const tempDirs = new Set();
let current = null; // the test that is running right now
let scheduled = false;

function trackChild(proc) {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

function trackTempDir(dir) {
  tempDirs.add(dir);
  return dir;
}

function killChildren() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch (_) { /* already gone */ }
  }
  children.clear();
}

function removeTempDirs() {
  if (process.env.CHORUS_KEEP_TMP) return;
  for (const d of tempDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch (_) { /* best effort */ }
  }
  tempDirs.clear();
}

process.on('exit', () => { killChildren(); removeTempDirs(); });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    process.stdout.write(`# runner got ${sig}, killing children\n`);
    killChildren();
    removeTempDirs();
    process.exit(1);
  });
}

function emitDiag(text) {
  const s = String(text);
  for (const line of s.split('\n')) process.stdout.write(`# ${line}\n`);
}

function diag(text) { emitDiag(text); }

// Errors that escape a test (an unhandled rejection or exception) fail the test
// that is running; outside a test they are reported and fail the run.
let strayErrors = 0;
function onStray(err) {
  if (current && !current.done) {
    current.fail(err);
  } else {
    strayErrors++;
    emitDiag(`error outside any running test: ${err && err.stack ? err.stack : err}`);
  }
}
process.on('unhandledRejection', onStray);
process.on('uncaughtException', onStray);

function after(fn) {
  if (current && !current.done) current.hooks.push(fn);
  else globalHooks.push(fn);
}

// A hook that produces extra diagnostics when the current test fails
// (e.g. the daemon's last log lines).
function onFailure(fn) {
  if (current && !current.done) current.failureHooks.push(fn);
}

function test(name, opts, fn) {
  if (typeof opts === 'function') { fn = opts; opts = {}; }
  tests.push({ name, fn, timeout: (opts && opts.timeout) || 20000 });
  if (!scheduled) {
    scheduled = true;
    setImmediate(run);
  }
}

function formatError(err) {
  if (!err) return 'unknown error';
  if (err.stack) return err.stack;
  return String(err);
}

async function runHooks(hooks, errors) {
  while (hooks.length) {
    const hook = hooks.pop();
    let timer;
    try {
      await Promise.race([
        Promise.resolve().then(hook),
        new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('cleanup hook timed out after 10000 ms')), 10000); }),
      ]);
    } catch (e) {
      errors.push(e);
    } finally {
      clearTimeout(timer);
    }
  }
}

async function run() {
  process.stdout.write('TAP version 13\n');
  let n = 0;
  let failed = 0;
  let passed = 0;
  for (const t of tests) {
    n++;
    const state = {
      name: t.name,
      hooks: [],
      failureHooks: [],
      done: false,
      errors: [],
      fail: null,
    };
    const failure = new Promise((_, reject) => {
      state.fail = (e) => reject(e);
    });
    failure.catch(() => {});
    current = state;
    const started = Date.now();
    let timer;
    try {
      await Promise.race([
        Promise.resolve().then(() => t.fn({ name: t.name, after, diag, onFailure })),
        failure,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`test timed out after ${t.timeout} ms`)), t.timeout);
        }),
      ]);
    } catch (e) {
      state.errors.push(e);
    } finally {
      clearTimeout(timer);
    }
    // Failure diagnostics first (while processes still run and logs are complete).
    if (state.errors.length || process.env.TAP_VERBOSE) {
      const fh = state.failureHooks.splice(0);
      for (const h of fh) {
        try { const txt = await h(); if (txt) state.errors.push({ diagnostic: txt }); } catch (_) { /* ignore */ }
      }
    }
    await runHooks(state.hooks, state.errors);
    state.done = true;
    current = null;
    const ms = Date.now() - started;
    const realErrors = state.errors.filter((e) => !(e && e.diagnostic));
    if (realErrors.length === 0) {
      passed++;
      process.stdout.write(`ok ${n} - ${t.name}\n`);
      for (const e of state.errors) emitDiag(e.diagnostic);
    } else {
      failed++;
      process.stdout.write(`not ok ${n} - ${t.name}\n`);
      for (const e of state.errors) {
        if (e && e.diagnostic) emitDiag(e.diagnostic);
        else emitDiag(formatError(e));
      }
    }
    emitDiag(`(${ms} ms)`);
  }
  const errors = [];
  await runHooks(globalHooks, errors);
  for (const e of errors) { failed++; emitDiag(`global cleanup failed: ${formatError(e)}`); }
  process.stdout.write(`1..${n}\n`);
  emitDiag(`pass ${passed}`);
  emitDiag(`fail ${failed}`);
  const code = failed > 0 || strayErrors > 0 || n === 0 ? 1 : 0;
  if (n === 0) emitDiag('no tests were run');
  killChildren();
  removeTempDirs();
  process.exit(code);
}

module.exports = { test, after, diag, onFailure, trackChild, trackTempDir };
