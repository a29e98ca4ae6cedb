'use strict';
// The defaults docs/config.md gives for `skills { ... }` and `limits { ... }`
// are the ones the code uses (issue 12: the docs said 256 MB / 50M / 2000 ms
// while the code used 64 / 20M / 200). The code's defaults are read from the
// config schema's descriptions ("..., default N"), which chorusd also prints.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('../lib/tap');
const { SRCDIR } = require('../lib/chorusd');

// key -> default, from the table under "### NAME" in docs/config.md.
function docTable(name) {
  const text = fs.readFileSync(path.join(SRCDIR, 'docs', 'config.md'), 'utf8');
  const start = text.indexOf(`### ${name}\n`);
  assert.ok(start >= 0, `docs/config.md has a ${name} section`);
  const section = text.slice(start, text.indexOf('\n#', start + 5) >>> 0);
  const out = {};
  for (const m of section.matchAll(/^\| `([a-z_]+)` \| [^\n]*\| ([^|\n]*) \|$/gm)) out[m[1]] = m[2].trim().replace(/,/g, '').replace(/`/g, '');
  return out;
}

// key -> default, from the schema descriptions in FILE.
function codeDefaults(file, table) {
  let text = fs.readFileSync(path.join(SRCDIR, file), 'utf8');
  // Only the keys of TABLE ("limits_keys") when the file declares several statements.
  if (table) text = text.slice(text.indexOf(`${table}[] = {`), text.indexOf('};', text.indexOf(`${table}[] = {`)));
  const out = {};
  for (const m of text.matchAll(/\{ "([a-z_]+)", CONFIG_[A-Z]+, 0, "[^"]*default (\\"[^"]*\\"|[0-9a-z]+)"/g)) out[m[1]] = m[2].replace(/\\"/g, '');
  return out;
}

test('docs/config.md gives the skills, limits and scale defaults the code uses', () => {
  for (const [section, file, table] of [['skills', 'src/skills/skills_config.c'], ['limits', 'src/core/core_config.c', 'limits_keys'],
    ['scale', 'src/bus/bus_config.c']]) {
    const code = codeDefaults(file, table);
    const docs = docTable(section);
    assert.ok(Object.keys(code).length >= 5, `${file} describes its defaults`);
    for (const [key, value] of Object.entries(code)) assert.equal(docs[key], value, `${section}.${key}: docs say ${docs[key]}, code uses ${value}`);
  }
});
