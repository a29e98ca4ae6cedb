#!/usr/bin/env node
'use strict';
// build_sentiment.js - generate src/sentiment_lexicon.h from data/sentiment/.
//
// Usage: node tools/build_sentiment.js [--check]
//
// Node 20, no npm packages, deterministic: the same data gives the same
// header byte for byte. With --check nothing is written; the script exits
// 1 when src/sentiment_lexicon.h is not what it would generate.
//
// Inputs (provenance and licences in data/sentiment/LICENSES.md):
//   data/sentiment/vader/vader_lexicon.txt  VADER lexicon, vendored
//       unmodified from the npm package vader-sentiment 1.1.3 (Apache-2.0;
//       the lexicon is C.J. Hutto's, MIT upstream). Lines are
//       `term<TAB>mean<TAB>sd<TAB>ratings`; only term and mean are used.
//       When a term appears twice the later line wins, as in VADER itself.
//   data/sentiment/en_chorus.tsv     English roles, overrides, phrases and
//                                    arousal, written for Chorus
//   data/sentiment/zh_chorus.tsv     Chinese lexicon, written for Chorus
//   data/sentiment/emoji_chorus.tsv  emoji and emoticons, written for Chorus
// The three Chorus files share one format, `term<TAB>valence<TAB>arousal
// <TAB>role`, described at the top of en_chorus.tsv. A Chorus row replaces
// the VADER row of the same term; a term listed twice in the Chorus files
// is an error.
//
// Every term lands in one of three tables, each sorted by its bytes
// (memcmp order, a prefix before its extensions), for binary search in
// src/sentiment.c:
//   sent_words      lowercase ASCII words [a-z0-9'] and two-word phrases
//                   ("fed up"); the first word of a phrase gets SENT_HEAD
//                   (and a neutral row of its own if it has none)
//   sent_emoticons  other ASCII terms (":)", "T_T"), case-sensitive
//   sent_spans      terms starting with a non-ASCII byte (Chinese, emoji),
//                   for greedy longest match; sent_span_index maps each
//                   first code point to its run of rows
// VADER terms made of hyphenated words ("self-confident", also "x-d") are
// dropped, as the C tokenizer splits words at hyphens, and so is the one
// emoticon with spaces in it.
//
// Each row stores valence in tenths (-40..40), arousal in hundredths
// (0..100), flags and a percent scale. A row without an arousal gets one
// from its valence: 0.40 + 0.04|v| when positive, 0.45 + 0.05|v| (at most
// 0.65) when negative. A row is a hit (SENT_HIT) when it has a valence or
// an arousal of its own; rows with neither only block shorter matches or
// play their role (negator, booster...). Rows whose arousal was given get
// SENT_AROUSAL: src/sentiment.c trusts a derived arousal less.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const ROOT = path.resolve(__dirname, '..');
const DIR = path.join(ROOT, 'data', 'sentiment');
const VADER = path.join(DIR, 'vader', 'vader_lexicon.txt');
const CHORUS = ['en_chorus.tsv', 'zh_chorus.tsv', 'emoji_chorus.tsv'];
const OUT = path.join(ROOT, 'src', 'sentiment_lexicon.h');

const VADER_PACKAGE = 'vader-sentiment';
const VADER_VERSION = '1.1.3';

const F_NEG = 1, F_BUT = 2, F_BOOST = 4, F_POST = 8, F_HEAD = 16, F_HIT = 32, F_AROUSAL = 64;
const WORD_RE = /^[a-z0-9']+$/;
const PHRASE_RE = /^[a-z0-9']+ [a-z0-9']+$/;
const HYPHEN_RE = /^[a-z]+(-[a-z]+)+$/;
const MAX_WORD = 63;       // src/sentiment.c keeps words in a 64-byte buffer
const MAX_EMOTICON = 31;   // and emoticons in a 32-byte one

function fail(msg) {
  process.stderr.write(`build_sentiment: ${msg}\n`);
  process.exit(2);
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

// Read VADER: Map term -> valence (a number, -4..4).
function readVader() {
  const map = new Map();
  const text = fs.readFileSync(VADER, 'utf8');
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (line.trim() === '') continue;
    const cols = line.split('\t');
    const v = Number(cols[1]);
    if (cols.length < 2 || !Number.isFinite(v) || v < -4 || v > 4) {
      fail(`${VADER}:${lineNo}: bad line`);
    }
    map.set(cols[0], v);
  }
  return map;
}

// Parse one Chorus TSV file into rows {term, valence, arousal, flags, scale, where}.
// valence: number, '.' (keep VADER's) or null ('x', none). arousal: number or null.
function readChorus(name) {
  const file = path.join(DIR, name);
  const rows = [];
  const text = fs.readFileSync(file, 'utf8');
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const where = `${name}:${lineNo}`;
    const cols = line.split('\t');
    if (cols.length !== 4) fail(`${where}: want 4 tab-separated columns, got ${cols.length}`);
    const [term, vs, as, role] = cols;
    if (term === '' || term !== term.trim()) fail(`${where}: bad term '${term}'`);
    let valence;
    if (vs === '.') valence = '.';
    else if (vs === 'x') valence = null;
    else {
      valence = Number(vs);
      if (!/^-?\d+(\.\d+)?$/.test(vs) || valence < -4 || valence > 4) fail(`${where}: bad valence '${vs}'`);
    }
    let arousal = null;
    if (as !== '.') {
      arousal = Number(as);
      if (!/^\d(\.\d+)?$/.test(as) || arousal < 0 || arousal > 1) fail(`${where}: bad arousal '${as}'`);
    }
    let flags = 0, scale = 0, m;
    if (role === 'neg') flags = F_NEG;
    else if (role === 'but') flags = F_BUT;
    else if ((m = /^boost=(-?\d+)$/.exec(role))) { flags = F_BOOST; scale = Number(m[1]); }
    else if ((m = /^post=(\d+)$/.exec(role))) { flags = F_POST; scale = Number(m[1]); }
    else if (role !== '-') fail(`${where}: bad role '${role}'`);
    if (scale < -90 || scale > 100) fail(`${where}: scale ${scale} out of range`);
    rows.push({ term, valence, arousal, flags, scale, where });
  }
  return rows;
}

// Arousal for a row that has none of its own.
function defaultArousal(v) {
  if (v > 0) return 0.40 + 0.04 * v;
  return Math.min(0.65, 0.45 + 0.05 * -v);
}

// Which table a term belongs to: 'word', 'emoticon', 'span', or null to drop.
function tableOf(term) {
  if (WORD_RE.test(term) || PHRASE_RE.test(term)) return 'word';
  if (HYPHEN_RE.test(term)) return null;
  if (term.charCodeAt(0) >= 0x80) return 'span';
  if (/[\s]/.test(term)) return null;
  return 'emoticon';
}

function build() {
  const vader = readVader();
  const entries = new Map(); // term -> {term, v, a, flags, scale, src}
  let dropped = 0;

  for (const [term, v] of vader) {
    if (tableOf(term) === null) { dropped++; continue; }
    entries.set(term, { term, v, a: null, flags: 0, scale: 0, src: 'vader' });
  }
  const seen = new Map();
  const counts = {};
  for (const name of CHORUS) {
    counts[name] = 0;
    for (const r of readChorus(name)) {
      if (seen.has(r.term)) fail(`${r.where}: '${r.term}' already listed at ${seen.get(r.term)}`);
      seen.set(r.term, r.where);
      if (tableOf(r.term) === null) fail(`${r.where}: '${r.term}' fits no table`);
      if (name !== 'en_chorus.tsv' && tableOf(r.term) === 'word' && r.term.includes(' ')) {
        fail(`${r.where}: phrases belong in en_chorus.tsv`);
      }
      let v;
      if (r.valence === '.') {
        if (!vader.has(r.term)) fail(`${r.where}: valence '.' but VADER has no '${r.term}'`);
        v = vader.get(r.term);
      } else {
        v = r.valence === null ? 0 : r.valence;
      }
      entries.set(r.term, { term: r.term, v, a: r.arousal, flags: r.flags, scale: r.scale, src: name });
      counts[name]++;
    }
  }
  // Phrase heads: the first word of every phrase needs a row carrying F_HEAD.
  for (const e of [...entries.values()]) {
    if (tableOf(e.term) !== 'word' || !e.term.includes(' ')) continue;
    const head = e.term.split(' ')[0];
    if (!entries.has(head)) entries.set(head, { term: head, v: 0, a: null, flags: 0, scale: 0, src: 'head' });
    entries.get(head).flags |= F_HEAD;
  }

  const tables = { word: [], emoticon: [], span: [] };
  for (const e of entries.values()) {
    const bytes = Buffer.from(e.term, 'utf8');
    const t = tableOf(e.term);
    if (t === 'word' && bytes.length > MAX_WORD) { dropped++; continue; }
    if (t === 'emoticon' && bytes.length > MAX_EMOTICON) { dropped++; continue; }
    if (bytes.length > 255) fail(`'${e.term}' is too long`);
    const v10 = Math.round(e.v * 10);
    const hit = v10 !== 0 || e.a !== null;
    const a = e.a !== null ? e.a : defaultArousal(e.v);
    tables[t].push({
      term: e.term, bytes, v10,
      a100: hit ? Math.round(a * 100) : 0,
      flags: e.flags | (hit ? F_HIT : 0) | (hit && e.a !== null ? F_AROUSAL : 0),
      scale: e.scale,
    });
  }
  for (const t of Object.values(tables)) t.sort((x, y) => Buffer.compare(x.bytes, y.bytes));

  // First code point of each span row, and the runs of rows sharing one.
  const index = [];
  for (let i = 0; i < tables.span.length; i++) {
    const cp = tables.span[i].term.codePointAt(0);
    if (index.length && index[index.length - 1].cp === cp) index[index.length - 1].count++;
    else index.push({ cp, first: i, count: 1 });
  }
  return { tables, index, counts, dropped, vaderTerms: vader.size };
}

// A C string literal for bytes: printable ASCII as is (escaping \ " and ?,
// the last against trigraphs), everything else as 3-digit octal escapes.
function cString(bytes) {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x5c || b === 0x22 || b === 0x3f) s += '\\' + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\' + b.toString(8).padStart(3, '0');
  }
  return s + '"';
}

function flagNames(f) {
  const names = [];
  if (f & F_NEG) names.push('SENT_NEG');
  if (f & F_BUT) names.push('SENT_BUT');
  if (f & F_BOOST) names.push('SENT_BOOST');
  if (f & F_POST) names.push('SENT_POST');
  if (f & F_HEAD) names.push('SENT_HEAD');
  if (f & F_HIT) names.push('SENT_HIT');
  if (f & F_AROUSAL) names.push('SENT_AROUSAL');
  return names.length ? names.join('|') : '0';
}

function emitTable(name, rows, comment) {
  const out = [];
  out.push(`/* ${comment} */`);
  out.push(`static const struct sent_term ${name}[${Math.max(rows.length, 1)}] = {`);
  for (const r of rows) {
    let line = `    {${cString(r.bytes)}, ${r.bytes.length}, ${r.v10}, ${r.a100}, ${flagNames(r.flags)}, ${r.scale}},`;
    if (r.bytes[0] >= 0x80 && !r.term.includes('*/')) line += ` /* ${r.term} */`;
    out.push(line);
  }
  out.push('};');
  return out.join('\n');
}

function render(b) {
  const { tables, index, counts, dropped, vaderTerms } = b;
  const maxLen = (rows) => rows.reduce((m, r) => Math.max(m, r.bytes.length), 0);
  const files = [['vader/vader_lexicon.txt', VADER]].concat(CHORUS.map((n) => [n, path.join(DIR, n)]));
  const lines = [];
  lines.push('/* sentiment_lexicon.h - GENERATED by tools/build_sentiment.js from');
  lines.push(' * data/sentiment/; do not edit. Regenerate with:');
  lines.push(' *');
  lines.push(' *     node tools/build_sentiment.js');
  lines.push(' *');
  lines.push(' * Sources (full record with licence texts: data/sentiment/LICENSES.md):');
  lines.push(` *   vader/vader_lexicon.txt  VADER sentiment lexicon by C.J. Hutto (MIT),`);
  lines.push(` *       vendored unmodified from the npm package ${VADER_PACKAGE}`);
  lines.push(` *       ${VADER_VERSION} (Apache-2.0, Copyright 2018 Comcast Cable`);
  lines.push(' *       Communications Management, LLC; see data/sentiment/vader/NOTICE).');
  lines.push(` *       ${vaderTerms} terms read, ${dropped} dropped (hyphenated, spaced or too long).`);
  lines.push(' *       Changes made here: values overridden and terms added by the');
  lines.push(' *       Chorus files below, valences rounded to tenths, arousal added.');
  lines.push(` *   en_chorus.tsv     ${counts['en_chorus.tsv']} rows, written for Chorus (MIT)`);
  lines.push(` *   zh_chorus.tsv     ${counts['zh_chorus.tsv']} rows, written for Chorus (MIT)`);
  lines.push(` *   emoji_chorus.tsv  ${counts['emoji_chorus.tsv']} rows, written for Chorus (MIT)`);
  lines.push(' * Input checksums (sha256):');
  for (const [label, file] of files) lines.push(` *   ${sha256(file)}  ${label}`);
  lines.push(' *');
  lines.push(' * Tables are sorted by bytes for binary search; see src/sentiment.c. */');
  lines.push('#ifndef CHORUS_SENTIMENT_LEXICON_H');
  lines.push('#define CHORUS_SENTIMENT_LEXICON_H');
  lines.push('');
  lines.push('#include <stdint.h>');
  lines.push('');
  lines.push('#define SENT_NEG 1    /* negator: flips the next sentiment term */');
  lines.push('#define SENT_BUT 2    /* contrast: what follows weighs more */');
  lines.push('#define SENT_BOOST 4  /* scales the next sentiment term by scale% */');
  lines.push('#define SENT_POST 8   /* scales the sentiment term just before it */');
  lines.push('#define SENT_HEAD 16  /* first word of a two-word phrase */');
  lines.push('#define SENT_HIT 32   /* carries valence and/or arousal */');
  lines.push('#define SENT_AROUSAL 64 /* its arousal was given, not derived */');
  lines.push('');
  lines.push('/* One lexicon row. valence is in tenths (-40..40, the VADER scale times');
  lines.push(' * ten), arousal in hundredths (0 calm .. 100 excited). */');
  lines.push('struct sent_term {');
  lines.push('    const char *text;');
  lines.push('    unsigned char len;');
  lines.push('    signed char valence;');
  lines.push('    unsigned char arousal;');
  lines.push('    unsigned char flags;');
  lines.push('    signed char scale;');
  lines.push('};');
  lines.push('');
  lines.push('/* The rows of sent_spans whose text starts with code point cp. */');
  lines.push('struct sent_span_run {');
  lines.push('    uint32_t cp;');
  lines.push('    unsigned short first, count;');
  lines.push('};');
  lines.push('');
  lines.push(`#define SENT_WORDS ${tables.word.length}`);
  lines.push(`#define SENT_WORD_MAX ${maxLen(tables.word)}`);
  lines.push(`#define SENT_EMOTICONS ${tables.emoticon.length}`);
  lines.push(`#define SENT_EMOTICON_MAX ${maxLen(tables.emoticon)}`);
  lines.push(`#define SENT_SPANS ${tables.span.length}`);
  lines.push(`#define SENT_SPAN_RUNS ${index.length}`);
  lines.push('');
  lines.push(emitTable('sent_words', tables.word, 'Lowercase ASCII words and two-word phrases.'));
  lines.push('');
  lines.push(emitTable('sent_emoticons', tables.emoticon, 'ASCII emoticons, matched case-sensitively.'));
  lines.push('');
  lines.push(emitTable('sent_spans', tables.span, 'Terms starting with a non-ASCII byte: Chinese and emoji.'));
  lines.push('');
  lines.push('/* First code points of sent_spans, ascending. */');
  lines.push(`static const struct sent_span_run sent_span_runs[${Math.max(index.length, 1)}] = {`);
  for (let i = 0; i < index.length; i += 4) {
    const row = index.slice(i, i + 4).map((r) => `{0x${r.cp.toString(16)}, ${r.first}, ${r.count}}`);
    lines.push('    ' + row.join(', ') + ',');
  }
  lines.push('};');
  lines.push('');
  lines.push('#endif');
  return lines.join('\n') + '\n';
}

function main() {
  const check = process.argv.includes('--check');
  const b = build();
  const text = render(b);
  if (check) {
    const old = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
    if (old !== text) {
      process.stderr.write('build_sentiment: src/sentiment_lexicon.h is out of date; run node tools/build_sentiment.js\n');
      process.exit(1);
    }
    process.stdout.write('build_sentiment: src/sentiment_lexicon.h is up to date\n');
    return;
  }
  fs.writeFileSync(OUT, text);
  process.stdout.write(`build_sentiment: wrote ${path.relative(ROOT, OUT)}: ` +
    `${b.tables.word.length} words, ${b.tables.emoticon.length} emoticons, ` +
    `${b.tables.span.length} spans in ${b.index.length} runs\n`);
}

main();
