'use strict';
// Stories of installing and moving Chorus: a binary run from its build
// tree, from a copied tree or from an install finds its Lua runtime,
// plugins and web page by itself; a binary with none says so in one line;
// `make install` puts a systemd unit that names the installed binary,
// config and docs, and the admin socket chorusctl and the docs expect.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { runWithConfig, chorusdBinary, SRCDIR } = require('../lib/chorusd');
const { tempDir } = require('../lib/util');

const BUILT = chorusdBinary();
const BUILDDIR = path.dirname(path.dirname(BUILT));
const PREFIX = /^prefix = (.*)$/m.exec(fs.readFileSync(path.join(BUILDDIR, 'Makefile'), 'utf8'))[1];
const SERVICE_SOCKET = '/run/chorus/chorusd.sock';

// Run a stack whose chorusd is BIN, with no CHORUS_DATA_DIR to help it.
async function stackWith(bin, opts = {}) {
  const saved = process.env.CHORUSD;
  process.env.CHORUSD = bin;
  try {
    return await startStack({ ...opts, env: { CHORUS_DATA_DIR: null, ...(opts.env || {}) } });
  } finally {
    process.env.CHORUSD = saved;
  }
}

function copyExecutable(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  fs.chmodSync(to, 0o755);
}

function copyData(root) {
  for (const d of ['lua', 'plugins', 'web']) fs.cpSync(path.join(SRCDIR, d), path.join(root, d), { recursive: true });
}

function sh(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 180000, maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

const dataDirOf = (stack) => /data from (.*)\)$/m.exec(stack.chorus.logText())[1];

test('chorusd run from its build tree finds the source tree\'s runtime, plugins and page', async () => {
  const stack = await stackWith(BUILT);
  assert.equal(dataDirOf(stack), fs.realpathSync(SRCDIR));
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', '!ping'))).text, 'pong', 'a shipped plugin answers');
});

test('a copied tree (the binary in src/, its data beside it) runs as it is', async () => {
  const tree = tempDir('chorus-copied');
  copyExecutable(BUILT, path.join(tree, 'src', 'chorusd'));
  copyData(tree);
  const stack = await stackWith(path.join(tree, 'src', 'chorusd'));
  assert.equal(dataDirOf(stack), fs.realpathSync(tree));
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', '!ping'))).text, 'pong');
});

test('a binary with no runtime beside it falls back on the configured prefix, or says so in one fatal line', async () => {
  const alone = path.join(tempDir('chorus-alone'), 'bin', 'chorusd');
  copyExecutable(BUILT, alone);
  const atPrefix = path.join(PREFIX, 'share', 'chorus');
  if (fs.existsSync(path.join(atPrefix, 'lua', 'chorus', 'runtime.lua'))) {
    const stack = await stackWith(alone);   // something is installed here: it is used
    assert.equal(dataDirOf(stack), atPrefix);
    return;
  }
  const saved = process.env.CHORUSD;
  process.env.CHORUSD = alone;
  let r;
  try {
    r = await runWithConfig('listen "127.0.0.1:0"\n', { env: { CHORUS_DATA_DIR: null } });
  } finally {
    process.env.CHORUSD = saved;
  }
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
  assert.match(lines[0], /^chorusd: cannot find the Lua runtime library \(lua\/chorus\/runtime\.lua\); looked in .*chorus-alone.*share\/chorus.*\. Set CHORUS_DATA_DIR to the folder holding lua\/, plugins\/ and web\//);
  assert.ok(lines[0].includes(atPrefix), 'it names the compiled prefix it tried');
  const checked = await sh(alone, ['--version']);
  assert.equal(checked.code, 0, '--version needs no runtime');
});

test('make install: the unit names the installed binary, config and docs, and the admin socket chorusctl and the docs use', async () => {
  const dest = tempDir('chorus-destdir');
  const env = { ...process.env, MAKEFLAGS: '', MFLAGS: '', MAKELEVEL: '' };
  const inst = await sh('make', ['-C', BUILDDIR, 'install', `DESTDIR=${dest}`], { env });
  assert.equal(inst.code, 0, inst.stderr.slice(-2000));
  const root = (p) => path.join(dest, p);
  const unit = fs.readFileSync(root(`${PREFIX}/lib/systemd/system/chorusd.service`), 'utf8');
  const exec = /^ExecStart=(\S+) --config (\S+)$/m.exec(unit);
  assert.ok(exec, unit);
  assert.equal(exec[1], `${PREFIX}/bin/chorusd`, 'the unit uses the configured prefix');
  assert.ok(fs.existsSync(root(exec[1])), 'the binary it starts is installed');
  assert.ok(fs.existsSync(root(exec[2])), 'the config it names is installed');
  const docs = /^Documentation=(.*)$/m.exec(unit)[1].split(/\s+/);
  assert.ok(docs.length >= 2);
  for (const d of docs) assert.ok(fs.existsSync(root(d.replace(/^file:\/\//, ''))), `${d} is installed`);
  assert.match(unit, new RegExp(`^Environment=CHORUS_ADMIN_SOCKET=${SERVICE_SOCKET}$`, 'm'));
  assert.match(unit, /^RuntimeDirectory=chorus$/m);
  const help = await sh(root(`${PREFIX}/bin/chorusctl`), ['--help'], { env: { ...process.env, CHORUS_ADMIN_SOCKET: '' } });
  assert.ok(help.stdout.includes(SERVICE_SOCKET), 'chorusctl looks where the unit has chorusd listen');
  assert.ok(fs.readFileSync(path.join(SRCDIR, 'docs', 'operating.md'), 'utf8').includes(SERVICE_SOCKET), 'and the docs say so');

  // The installed binary finds its data under the install, with no help; the
  // admin socket comes from $CHORUS_ADMIN_SOCKET as the unit sets it.
  const sock = path.join(tempDir('chorus-run'), 'chorusd.sock');
  const stack = await stackWith(root(`${PREFIX}/bin/chorusd`), {
    env: { CHORUS_ADMIN_SOCKET: sock },
    configOptions: { adminSocket: null },
  });
  assert.equal(dataDirOf(stack), fs.realpathSync(root(`${PREFIX}/share/chorus`)));
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', '!ping'))).text, 'pong');
  const st = await sh(root(`${PREFIX}/bin/chorusctl`), ['status'], { env: { ...process.env, CHORUS_ADMIN_SOCKET: sock } });
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /redis\s+connected/);
});
