'use strict';
// A newcomer adds a file to src/ and wonders whether it may include a
// header from another folder. tools/check_layers.js answers from the
// #include lines: the tree as it stands passes, and each kind of mistake a
// newcomer could make (a platform reaching into the skill engine, one
// platform using another, the core calling up, a header named without its
// folder, a circle between folders) is caught with the file and line.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { test, trackTempDir } = require('../lib/tap');

const ROOT = process.env.CHORUS_SRCDIR || path.resolve(__dirname, '..', '..');
const TOOL = path.join(ROOT, 'tools', 'check_layers.js');
const { check } = require(TOOL);

// A small tree shaped like src/, with FILES as { 'layer/file.c': text }.
function plantTree(files) {
  const dir = trackTempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-layers-')));
  const base = {
    'lib/log.h': '', 'io/web.h': '#include "lib/log.h"\n', 'core/platform.h': '#include "io/web.h"\n',
    'skills/skills.h': '#include "core/platform.h"\n', 'pipeline/channel.h': '#include "skills/skills.h"\n',
    'platforms/a/a.h': '', 'platforms/b/b.h': '', 'app/main.c': '#include "pipeline/channel.h"\n',
  };
  for (const [rel, text] of Object.entries({ ...base, ...files })) {
    fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

test('the source tree as it stands keeps every dependency pointing down', () => {
  const out = execFileSync('node', [TOOL, path.join(ROOT, 'src')], { encoding: 'utf8' });
  assert.match(out, /^layers: ok$/m);
});

test('a clean planted tree passes, so the checks below fail for their own reason', () => {
  assert.deepEqual(check(plantTree({})), []);
});

test('a platform adapter that reaches into the skill engine is named with its line', () => {
  const problems = check(plantTree({ 'platforms/a/a.c': '#include "core/platform.h"\n#include "skills/skills.h"\n' }));
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^platforms\/a\/a\.c:2: includes "skills\/skills\.h": platforms must not depend on skills/);
});

test('one platform using another is refused', () => {
  const problems = check(plantTree({ 'platforms/a/a.c': '#include "platforms/b/b.h"\n' }));
  assert.match(problems.join('\n'), /a platform never uses another platform/);
});

test('the core calling up into the pipeline is refused, and the circle it closes is reported', () => {
  const problems = check(plantTree({ 'core/platform.c': '#include "pipeline/channel.h"\n' })).join('\n');
  assert.match(problems, /core\/platform\.c:1: includes "pipeline\/channel\.h": core must not depend on pipeline/);
  assert.match(problems, /include circle across folders: .*core.*pipeline|include circle across folders: .*pipeline.*core/);
});

test('a header named without its folder is refused', () => {
  const problems = check(plantTree({ 'io/http.c': '#include "log.h"\n' }));
  assert.match(problems.join('\n'), /io\/http\.c:1: "log\.h" names no folder/);
});

test('a file at the top of src/ belongs to no layer and is refused', () => {
  const problems = check(plantTree({ 'stray.c': '' }));
  assert.match(problems.join('\n'), /stray\.c: every file belongs in a layer folder/);
});

test('the command line exits 1 and prints each problem', () => {
  const dir = plantTree({ 'platforms/a/a.c': '#include "skills/skills.h"\n' });
  let code = 0, out = '';
  try { execFileSync('node', [TOOL, dir], { encoding: 'utf8' }); } catch (e) { code = e.status; out = e.stdout; }
  assert.equal(code, 1);
  assert.match(out, /layers: 1 problem\(s\)/);
});
