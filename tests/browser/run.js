'use strict';
// Run the browser story against a real stack: a fresh redis-server, chorusd
// with the README's example config (offline local model), and headless
// Chromium driving the chat page. Prints the browser test's TAP.
//
//   node tests/browser/run.js        (CHORUSD=/path/to/chorusd to pick a binary)
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startRedis } = require('../lib/redis');

const SRCDIR = path.resolve(__dirname, '..', '..');

async function main() {
  const redis = await startRedis();
  const bin = process.env.CHORUSD || path.join(SRCDIR, 'src', 'chorusd');
  const token = `admin-${process.pid}-${Date.now()}`;
  const env = { ...process.env, CHORUS_LISTEN: '127.0.0.1:0', CHORUS_REDIS_URL: redis.url, CHORUS_ADMIN_TOKEN: token };
  delete env.OPENAI_BASE_URL;
  delete env.OPENAI_API_KEY;
  const daemon = spawn(bin, ['--config', path.join(SRCDIR, 'contrib', 'chorus.conf.lua')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('chorusd did not listen within 5 s:\n' + log)), 5000);
    daemon.stderr.on('data', (d) => {
      log += d;
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1] + '/'); }
    });
    daemon.on('exit', (code) => reject(new Error(`chorusd exited (${code}):\n${log}`)));
  });
  const shot = process.env.SCREENSHOT || path.join(SRCDIR, 'tests', 'browser', 'chat.png');
  const child = spawn(process.execPath, [path.join(__dirname, 'chat.test.js')], {
    env: { ...process.env, CHORUS_URL: url, SCREENSHOT: shot }, stdio: 'inherit',
  });
  const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c === null ? 1 : c)));
  const admin = spawn(process.execPath, [path.join(__dirname, 'admin.test.js')], {
    env: { ...process.env, CHORUS_URL: url, ADMIN_TOKEN: token, SCREENSHOT: path.join(path.dirname(shot), 'admin.png') },
    stdio: 'inherit',
  });
  const adminCode = await new Promise((resolve) => admin.on('exit', (c) => resolve(c === null ? 1 : c)));
  daemon.kill('SIGTERM');
  const exit = await new Promise((resolve) => daemon.on('exit', (c) => resolve(c)));
  await redis.stop();
  if (exit !== 0) {
    console.log(`not ok - chorusd exited with ${exit} after the browser test\n# ${log.split('\n').slice(-20).join('\n# ')}`);
    process.exit(1);
  }
  console.log('ok - chorusd stopped cleanly after the browser session');
  process.exit(code || adminCode);
}

main().catch((err) => {
  console.log(`not ok - browser test setup failed\n# ${String(err.stack || err).split('\n').join('\n# ')}`);
  process.exit(1);
});
