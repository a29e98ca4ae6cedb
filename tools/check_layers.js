#!/usr/bin/env node
'use strict';
// check_layers.js - the layering rule of src/, read from the #include lines.
//
// Each folder of src/ is a layer; a file may include headers of its own
// folder and of the layers below it, never above. platforms/<name> may use
// only core, io, conf and lib, and never another platform. Circles across
// folders are reported too. Usage: node tools/check_layers.js [SRCDIR];
// prints one line per violation and exits 1 when there is any.
const fs = require('node:fs');
const path = require('node:path');

// What each layer may include besides itself (transitively closed below).
const ALLOWED = {
  lib: [],
  io: ['lib'],
  conf: ['lib'],
  core: ['io', 'conf', 'lib'],
  bus: ['core', 'io', 'conf', 'lib'],
  model: ['core', 'io', 'conf', 'lib'],
  persona: ['model', 'core', 'io', 'conf', 'lib'],
  skills: ['persona', 'model', 'core', 'io', 'conf', 'lib'],
  'skills/lua': ['skills', 'persona', 'model', 'core', 'io', 'conf', 'lib'],
  pipeline: ['skills', 'skills/lua', 'persona', 'model', 'core', 'io', 'conf', 'lib'],
  ops: ['bus', 'pipeline', 'skills', 'skills/lua', 'persona', 'model', 'core', 'io', 'conf', 'lib'],
  platforms: ['core', 'io', 'conf', 'lib'],
  app: null,   // the top: anything
};

// The layer of a path relative to src/: "platforms/discord" counts as a
// platform, "skills/lua" as its own layer inside the skill engine.
function layerOf(rel) {
  const parts = rel.split('/');
  if (parts.length < 2) return null;
  if (parts[0] === 'platforms') return { layer: 'platforms', unit: parts.slice(0, 2).join('/') };
  if (parts[0] === 'skills' && parts[1] === 'lua' && parts.length > 2) return { layer: 'skills/lua', unit: 'skills' };
  return { layer: parts[0], unit: parts[0] };
}

function walk(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) { if (!e.name.startsWith('.')) walk(p, out); } else if (/\.[ch]$/.test(e.name)) out.push(p);
  }
  return out;
}

function check(src) {
  const problems = [];
  const edges = new Map();   // unit -> Set(unit)
  for (const file of walk(src, [])) {
    const rel = path.relative(src, file).split(path.sep).join('/');
    const from = layerOf(rel);
    if (!from) { problems.push(`${rel}: every file belongs in a layer folder, not at the top of src/`); continue; }
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const m = /^\s*#\s*include\s+"([^"]+)"/.exec(line);
      if (!m) return;
      const inc = m[1];
      if (!inc.includes('/')) {
        if (!fs.existsSync(path.join(path.dirname(file), inc)))
          problems.push(`${rel}:${i + 1}: "${inc}" names no folder; write it as "layer/${inc}"`);
        return;
      }
      const to = layerOf(inc);
      if (!to || !fs.existsSync(path.join(src, inc))) return;
      if (to.unit !== from.unit) {
        if (!edges.has(from.unit)) edges.set(from.unit, new Set());
        edges.get(from.unit).add(to.unit);
      }
      if (from.unit === to.unit || (from.layer === 'skills/lua' && to.layer === 'skills')) return;
      if (from.layer === 'platforms' && to.layer === 'platforms') {
        problems.push(`${rel}:${i + 1}: includes "${inc}": a platform never uses another platform`);
        return;
      }
      const allowed = ALLOWED[from.layer];
      if (allowed === undefined) problems.push(`${rel}: unknown layer "${from.layer}"`);
      else if (allowed !== null && !allowed.includes(to.layer))
        problems.push(`${rel}:${i + 1}: includes "${inc}": ${from.layer} must not depend on ${to.layer}`);
    });
  }
  // Circles across folders: a depth-first search over the unit graph.
  const state = new Map();
  const stack = [];
  function visit(u) {
    state.set(u, 1);
    stack.push(u);
    for (const v of edges.get(u) || []) {
      if (state.get(v) === 1) problems.push(`include circle across folders: ${stack.slice(stack.indexOf(v)).concat(v).join(' -> ')}`);
      else if (!state.has(v)) visit(v);
    }
    stack.pop();
    state.set(u, 2);
  }
  for (const u of edges.keys()) if (!state.has(u)) visit(u);
  return problems;
}

if (require.main === module) {
  const src = path.resolve(process.argv[2] || path.join(__dirname, '..', 'src'));
  const problems = check(src);
  for (const p of problems) console.log(p);
  console.log(problems.length ? `layers: ${problems.length} problem(s)` : 'layers: ok');
  process.exit(problems.length ? 1 : 0);
}
module.exports = { check, layerOf };
