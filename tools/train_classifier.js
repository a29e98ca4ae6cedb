#!/usr/bin/env node
'use strict';
// train_classifier.js - train the message difficulty classifier.
//
// Usage: node tools/train_classifier.js [--verbose]
//
// Reads data/difficulty.tsv, trains an L2-regularised logistic regression
// and writes two generated files:
//   src/classifier_weights.h         weights used by src/classifier.c
//   tests/unit/classifier_expect.h   sample texts with the probabilities
//                                    this script computes, so the unit test
//                                    can check that C and JS agree.
// Node 20, no npm packages. The output is deterministic: same data, same
// weights.
//
// Data: one example per line, `label<TAB>text`, label "easy" or "hard".
// In text, \n is a newline, \t a tab and \\ a backslash. Lines starting
// with '#' are comments, except that the line "# held-out" marks the split:
// every example after it is held out (used only to report accuracy), every
// example before it is training data.
//
// Features (src/classifier.c computes exactly the same; change both or
// neither). The text is taken as UTF-8 bytes, cut to its first 4096 bytes,
// and ASCII A-Z is lowercased; other bytes, invalid UTF-8 and NUL included,
// pass through unchanged.
//   - Words are runs of "word bytes": ASCII letters and digits, and every
//     byte >= 0x80 (so accented and CJK text stays inside words). Any other
//     byte separates words.
//   - Hashed features, each a 32-bit FNV-1a hash folded into 2^14 buckets
//     as (h ^ (h >> 14)) & 16383:
//       unigram  FNV-1a of 'W' followed by the word's bytes
//       bigram   FNV-1a of 'B', the previous unigram hash and this one
//                (each as 4 little-endian bytes); before the first word the
//                previous hash is that of the empty word, FNV-1a("W"), so
//                the first word also yields a "starts with" feature
//       trigram  FNV-1a of 'C' and three consecutive bytes, for every
//                position of the (cut, lowercased) text
//     With m hashed features in all, each occurrence adds 1/sqrt(m) to its
//     bucket, so the score does not grow with the length of the text.
//   - Dense features, over the same bytes:
//       log(1 + bytes) / 8
//       log(1 + ASCII digits) / 4
//       log(1 + '?' count) / 2
//       log(1 + count of code characters {}();=[]) / 3
//   p(hard) = 1 / (1 + exp(-(bias + dense . wd + sum of bucket weights)))
//
// Training: mini-batch gradient descent on the mean log loss plus
// (LAMBDA/2)|w|^2 (the bias is not penalised), weights starting at zero,
// examples shuffled each epoch by a PRNG with a fixed seed, a fixed number
// of epochs. Probabilities are then computed with the weights rounded to
// float, as the C code stores them, so the accuracies printed here are the
// ones the C code gets.
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DATA = path.join(ROOT, 'data', 'difficulty.tsv');
const WEIGHTS_H = path.join(ROOT, 'src', 'classifier_weights.h');
const EXPECT_H = path.join(ROOT, 'tests', 'unit', 'classifier_expect.h');

const MAX_BYTES = 4096;
const NBUCKETS = 16384;
const NDENSE = 4;
const FNV_OFFSET = 2166136261;
const FNV_PRIME = 16777619;

const SEED = 1;
const EPOCHS = 60;
const BATCH = 8;
const LR = 0.5;
const LAMBDA = 1e-5;
const NEXPECT = 50;

const verbose = process.argv.includes('--verbose');

// ------------------------------------------------------------ features

function fnv(h, byte) {
  return Math.imul(h ^ byte, FNV_PRIME) >>> 0;
}

function fnvU32(h, v) {
  h = fnv(h, v & 255);
  h = fnv(h, (v >>> 8) & 255);
  h = fnv(h, (v >>> 16) & 255);
  return fnv(h, (v >>> 24) & 255);
}

function bucketOf(h) {
  return ((h >>> 14) ^ h) & (NBUCKETS - 1);
}

function lower(c) {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function isWordByte(c) {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || c >= 0x80;
}

function isCodeByte(c) {
  return c === 0x7b || c === 0x7d || c === 0x28 || c === 0x29 || c === 0x3b ||
    c === 0x3d || c === 0x5b || c === 0x5d;   // { } ( ) ; = [ ]
}

const EMPTY_WORD = fnv(FNV_OFFSET, 0x57);     // 'W'
const TRI_START = fnv(FNV_OFFSET, 0x43);      // 'C'
const BI_START = fnv(FNV_OFFSET, 0x42);       // 'B'

// The bucket of every hashed feature in the order the C code visits them,
// and the dense vector.
function features(buf) {
  const n = Math.min(buf.length, MAX_BYTES);
  const buckets = [];
  let prev = EMPTY_WORD, word = 0, inWord = false;
  let c0 = 0, c1 = 0, digits = 0, quest = 0, code = 0;

  const endWord = () => {
    buckets.push(bucketOf(word));
    buckets.push(bucketOf(fnvU32(fnvU32(BI_START, prev), word)));
    prev = word;
    inWord = false;
  };
  for (let i = 0; i < n; i++) {
    const c = lower(buf[i]);
    if (i >= 2) buckets.push(bucketOf(fnv(fnv(fnv(TRI_START, c0), c1), c)));
    if (isWordByte(c)) {
      if (!inWord) {
        word = EMPTY_WORD;
        inWord = true;
      }
      word = fnv(word, c);
    } else if (inWord) {
      endWord();
    }
    if (c >= 48 && c <= 57) digits++;
    else if (c === 0x3f) quest++;
    else if (isCodeByte(c)) code++;
    c0 = c1;
    c1 = c;
  }
  if (inWord) endWord();
  const dense = [Math.log1p(n) / 8, Math.log1p(digits) / 4, Math.log1p(quest) / 2, Math.log1p(code) / 3];
  return { buckets, dense };
}

// The sparse vector for training: distinct buckets with summed values.
function sparse(buckets) {
  const m = new Map();
  const v = buckets.length ? 1 / Math.sqrt(buckets.length) : 0;
  for (const b of buckets) m.set(b, (m.get(b) || 0) + v);
  const idx = Int32Array.from(m.keys());
  const val = Float64Array.from(m.values());
  return { idx, val };
}

function sigmoid(z) {
  return 1 / (1 + Math.exp(-z));
}

// The probability exactly as src/classifier.c computes it: float weights,
// summed in double in stream order.
function predict(model, f) {
  let z = model.bias;
  for (let k = 0; k < NDENSE; k++) z += model.dense[k] * f.dense[k];
  if (f.buckets.length) {
    let sum = 0;
    for (const b of f.buckets) sum += model.w[b];
    z += sum / Math.sqrt(f.buckets.length);
  }
  return sigmoid(z);
}

// ---------------------------------------------------------------- data

function unescape(s) {
  return s.replace(/\\(.)/g, (m, c) => (c === 'n' ? '\n' : c === 't' ? '\t' : c === '\\' ? '\\' : m));
}

function load(file) {
  const train = [], test = [];
  let dest = train;
  fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (line === '# held-out') {
      dest = test;
      return;
    }
    if (line === '' || line[0] === '#') return;
    const tab = line.indexOf('\t');
    const label = line.slice(0, tab);
    if (tab < 0 || (label !== 'easy' && label !== 'hard')) {
      throw new Error(`${file}:${i + 1}: expected easy|hard<TAB>text`);
    }
    const text = unescape(line.slice(tab + 1));
    const buf = Buffer.from(text, 'utf8');
    dest.push({ y: label === 'hard' ? 1 : 0, text, buf, f: features(buf) });
  });
  return { train, test };
}

// --------------------------------------------------------------- train

// mulberry32: a small seeded PRNG, so the shuffles are reproducible.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function train(examples) {
  const rand = prng(SEED);
  const w = new Float64Array(NBUCKETS);
  const wd = new Float64Array(NDENSE);
  let bias = 0;
  const xs = examples.map((e) => ({ y: e.y, dense: e.f.dense, ...sparse(e.f.buckets) }));
  const order = xs.map((_, i) => i);
  const gw = new Float64Array(NBUCKETS);
  const touched = [];

  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const lr = LR / (1 + epoch / 20);
    for (let s = 0; s < order.length; s += BATCH) {
      const batch = order.slice(s, s + BATCH);
      const gd = new Float64Array(NDENSE);
      let gb = 0;
      touched.length = 0;
      for (const i of batch) {
        const x = xs[i];
        let z = bias;
        for (let k = 0; k < NDENSE; k++) z += wd[k] * x.dense[k];
        for (let k = 0; k < x.idx.length; k++) z += w[x.idx[k]] * x.val[k];
        const err = sigmoid(z) - x.y;
        gb += err;
        for (let k = 0; k < NDENSE; k++) gd[k] += err * x.dense[k];
        for (let k = 0; k < x.idx.length; k++) {
          if (gw[x.idx[k]] === 0) touched.push(x.idx[k]);
          gw[x.idx[k]] += err * x.val[k];
        }
      }
      const step = lr / batch.length;
      const decay = 1 - lr * LAMBDA;
      for (let k = 0; k < NBUCKETS; k++) w[k] *= decay;
      for (const k of touched) {
        w[k] -= step * gw[k];
        gw[k] = 0;
      }
      for (let k = 0; k < NDENSE; k++) wd[k] = wd[k] * decay - step * gd[k];
      bias -= step * gb;
    }
  }
  // Round to float: that is what the C code stores and computes with.
  return {
    bias: Math.fround(bias),
    dense: Array.from(wd, Math.fround),
    w: Float64Array.from(w, Math.fround),
  };
}

function evaluate(model, examples) {
  let right = 0, loss = 0;
  const wrong = [];
  for (const e of examples) {
    const p = predict(model, e.f);
    if ((p >= 0.5 ? 1 : 0) === e.y) right++;
    else wrong.push([p, e]);
    loss -= Math.log(Math.max(1e-12, e.y ? p : 1 - p));
  }
  return { acc: right / examples.length, loss: loss / examples.length, wrong };
}

// -------------------------------------------------------------- output

// The shortest decimal that reads back as the same float.
function floatLiteral(f) {
  if (f === 0) return '0';
  for (let p = 1; p <= 9; p++) {
    const s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) return (s.includes('.') || s.includes('e') ? s : s + '.0') + 'f';
  }
  throw new Error('unreachable');
}

// A C string literal for arbitrary bytes: printable ASCII as is, the rest
// as three-digit octal escapes (which never swallow a following digit).
// '?' is escaped so no trigraph can form.
function cString(buf) {
  const parts = [];
  let cur = '';
  for (const c of buf) {
    if (c === 0x22 || c === 0x5c || c === 0x3f) cur += '\\' + String.fromCharCode(c);
    else if (c >= 0x20 && c < 0x7f) cur += String.fromCharCode(c);
    else cur += '\\' + c.toString(8).padStart(3, '0');
    if (cur.length >= 64) {
      parts.push('"' + cur + '"');
      cur = '';
    }
  }
  if (cur.length || !parts.length) parts.push('"' + cur + '"');
  return parts.join('\n     ');
}

function writeWeights(model, stats) {
  const out = [];
  out.push('/* classifier_weights.h - GENERATED by tools/train_classifier.js from');
  out.push(' * data/difficulty.tsv; do not edit. Regenerate with:');
  out.push(' *');
  out.push(' *     node tools/train_classifier.js');
  out.push(' *');
  out.push(' * Logistic regression weights for src/classifier.c; the features are');
  out.push(' * described at the top of the training script.');
  out.push(` * ${stats.ntrain} training examples, accuracy ${stats.train.toFixed(4)};`);
  out.push(` * ${stats.ntest} held-out examples, accuracy ${stats.test.toFixed(4)}. */`);
  out.push('#ifndef CHORUS_CLASSIFIER_WEIGHTS_H');
  out.push('#define CHORUS_CLASSIFIER_WEIGHTS_H');
  out.push('');
  out.push(`#define CLASSIFIER_BUCKETS ${NBUCKETS}`);
  out.push(`#define CLASSIFIER_DENSE ${NDENSE}`);
  out.push('');
  out.push(`static const float classifier_bias = ${floatLiteral(model.bias)};`);
  out.push('');
  out.push('/* log length, digits, question marks, code characters */');
  out.push(`static const float classifier_dense[CLASSIFIER_DENSE] = {`);
  out.push('    ' + model.dense.map(floatLiteral).join(', '));
  out.push('};');
  out.push('');
  out.push('static const float classifier_weights[CLASSIFIER_BUCKETS] = {');
  for (let i = 0; i < NBUCKETS; i += 8) {
    const row = Array.from(model.w.subarray(i, i + 8), floatLiteral);
    out.push('    ' + row.join(', ') + ',');
  }
  out.push('};');
  out.push('');
  out.push('#endif');
  fs.writeFileSync(WEIGHTS_H, out.join('\n') + '\n');
}

// Odd inputs the unit test also checks: text is repeated `repeat` times.
const EDGE = [
  { text: Buffer.alloc(0), repeat: 1 },
  { text: Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0x68, 0x69]), repeat: 1 },
  { text: Buffer.from('a\0b\0c\0 what?\0', 'latin1'), repeat: 1 },
  { text: Buffer.from('\xe4\xbd\xa0\xe5\xa5', 'latin1'), repeat: 1 },
  { text: Buffer.from('for (i = 0; i < n; i++) { sum += a[i]; } ', 'latin1'), repeat: 200 },
  { text: Buffer.from('Hello THERE, Friend! ', 'latin1'), repeat: 300 },
];

function writeExpect(model, test) {
  const out = [];
  out.push('/* classifier_expect.h - GENERATED by tools/train_classifier.js; do not');
  out.push(' * edit. Regenerate with: node tools/train_classifier.js');
  out.push(' *');
  out.push(' * Texts with the probability of "hard" the training script computes for');
  out.push(' * them, for tests/unit/test_classifier.c to compare with the C code:');
  out.push(` * ${NEXPECT} held-out examples from data/difficulty.tsv, then a few odd inputs`);
  out.push(' * (given as a text repeated `repeat` times). */');
  out.push('#ifndef CHORUS_CLASSIFIER_EXPECT_H');
  out.push('#define CHORUS_CLASSIFIER_EXPECT_H');
  out.push('#include <stddef.h>');
  out.push('');
  out.push('struct classifier_expect {');
  out.push('    const char *text;');
  out.push('    size_t len;');
  out.push('    int repeat;');
  out.push('    double prob;');
  out.push('};');
  out.push('');
  out.push('static const struct classifier_expect classifier_expect[] = {');
  const emit = (buf, repeat) => {
    const full = Buffer.concat(Array(repeat).fill(buf));
    const p = predict(model, features(full));
    out.push(`    {${cString(buf)},\n     ${buf.length}, ${repeat}, ${p.toFixed(10)}},`);
  };
  for (let i = 0; i < NEXPECT; i++) {
    emit(test[Math.floor((i * test.length) / NEXPECT)].buf, 1);
  }
  for (const e of EDGE) emit(e.text, e.repeat);
  out.push('};');
  out.push('');
  out.push(`#define CLASSIFIER_EXPECT_HELDOUT ${NEXPECT}`);
  out.push('#define CLASSIFIER_EXPECT_COUNT (sizeof classifier_expect / sizeof classifier_expect[0])');
  out.push('');
  out.push('#endif');
  fs.writeFileSync(EXPECT_H, out.join('\n') + '\n');
}

// ---------------------------------------------------------------- main

function main() {
  const { train: trainSet, test } = load(DATA);
  if (!trainSet.length || test.length < NEXPECT) throw new Error(`${DATA}: too few examples`);
  const count = (xs, y) => xs.filter((e) => e.y === y).length;
  console.log(`data: ${trainSet.length} training (${count(trainSet, 0)} easy, ${count(trainSet, 1)} hard), ` +
    `${test.length} held-out (${count(test, 0)} easy, ${count(test, 1)} hard)`);
  const model = train(trainSet);
  const tr = evaluate(model, trainSet);
  const te = evaluate(model, test);
  console.log(`train accuracy:    ${tr.acc.toFixed(4)}  (log loss ${tr.loss.toFixed(4)})`);
  console.log(`held-out accuracy: ${te.acc.toFixed(4)}  (log loss ${te.loss.toFixed(4)})`);
  if (verbose) {
    for (const [p, e] of te.wrong) {
      console.log(`  wrong: p(hard)=${p.toFixed(3)} ${e.y ? 'hard' : 'easy'}: ${JSON.stringify(e.text.slice(0, 100))}`);
    }
  }
  writeWeights(model, { ntrain: trainSet.length, ntest: test.length, train: tr.acc, test: te.acc });
  writeExpect(model, test);
  console.log(`wrote ${path.relative(ROOT, WEIGHTS_H)} and ${path.relative(ROOT, EXPECT_H)}`);
}

main();
