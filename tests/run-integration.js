#!/usr/bin/env node
'use strict';
// Run every tests/integration/*.test.js (or the files named on the command
// line) one after another, each in its own node process, and pass their TAP
// through. Exit 1 if any file fails.
//
//   node tests/run-integration.js
//   CHORUSD=/path/to/chorusd node tests/run-integration.js tests/integration/config.test.js

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const dir = path.join(__dirname, 'integration');
const files = process.argv.length > 2
  ? process.argv.slice(2).map((f) => path.resolve(f))
  : fs.readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(dir, f));

function runFile(file) {
  return new Promise((resolve) => {
    process.stdout.write(`# ---- ${path.relative(process.cwd(), file)}\n`);
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code, signal) => resolve(code === 0 && !signal));
  });
}

(async () => {
  const failed = [];
  for (const f of files) {
    if (!(await runFile(f))) failed.push(path.basename(f));
  }
  process.stdout.write(`# ${files.length - failed.length}/${files.length} test files passed${failed.length ? `; failed: ${failed.join(', ')}` : ''}\n`);
  process.exit(failed.length ? 1 : 0);
})();
