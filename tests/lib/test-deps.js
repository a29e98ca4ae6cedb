'use strict';
// Load an npm package of tests/package.json (discord.js, playwright-core)
// from tests/node_modules in this tree or, under `make distcheck` (which
// unpacks the tarball inside the build tree), in a tree above it.
//
//   const { EmbedBuilder } = requireTestDep('discord.js');
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

const ROOT = path.resolve(__dirname, '..', '..');

function requireTestDep(name) {
  for (const start of [ROOT, process.cwd()]) {
    for (let d = start; ; d = path.dirname(d)) {
      const dir = path.join(d, 'tests', 'node_modules');
      if (fs.existsSync(path.join(dir, name))) return createRequire(path.join(dir, 'noop.js'))(name);
      if (path.dirname(d) === d) break;
    }
  }
  throw new Error(`${name} is not installed: run npm install in tests/`);
}

module.exports = { requireTestDep };
