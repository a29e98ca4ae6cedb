'use strict';
// A whole conversation, then SIGTERM, under a memory checker: the exit is
// clean (no leaks, no invalid accesses). A sanitizer build (./configure
// --enable-sanitizers) checks itself with ASan/LSan, which turn any finding
// into a non-zero exit; a plain build runs under valgrind.
const fs = require('node:fs');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { chorusdBinary } = require('../lib/chorusd');

function builtWithAsan(bin) {
  return fs.readFileSync(bin).includes(Buffer.from('__asan_init'));
}

test('a conversation and a SIGTERM leave no leaks and no memory errors', async () => {
  const bin = chorusdBinary();
  const asan = builtWithAsan(bin);
  if (!asan) execFileSync('valgrind', ['--version']);   // a missing checker fails the test
  const wrapper = asan ? null
    : ['valgrind', '--leak-check=full', '--errors-for-leak-kinds=definite,indirect', '--error-exitcode=42', '--quiet'];
  const stack = await startStack({ wrapper });
  const ann = await stack.user('Ann');
  for (let i = 0; i < 3; i++) {
    const reply = await ann.replyTo(ann.say('lobby', `hello ${i}`), 20000);
    assert.equal(reply.text, `echo: hello ${i}`);
  }
  stack.redis.stop();
  const during = await ann.replyTo(ann.say('lobby', 'redis is gone'), 20000);
  assert.ok(during.text.length > 0);
  const code = await stack.chorus.stop('SIGTERM', 30000);
  assert.equal(code, 0, `exit code (42 = valgrind found errors):\n${stack.chorus.logText().split('\n').slice(-30).join('\n')}`);
});
