'use strict';
// Long-term recall over 100,000 stored turns: starts a redis-server on a
// free port and runs bench/bench_recall against it (the binary from the
// build folder: $BENCH_RECALL_BIN, else ./bench/bench_recall).
//
//   make bench-recall                     # 100,000 turns
//   make bench-recall BENCH_FLAGS=--smoke # 5,000 turns, for CI
//
// It prints the Redis bytes per stored turn, the latency of a recall (the
// first one reads every vector; the next only new ones) and the cost of
// the search alone, and fails if a planted fact is not found.
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startRedis } = require('../../tests/lib/redis');

async function main() {
  const bin = process.env.BENCH_RECALL_BIN || path.resolve('bench', 'bench_recall');
  const redis = await startRedis();
  await redis.cmd('CONFIG', 'SET', 'save', '');
  const code = await new Promise((resolve) => {
    const child = spawn(bin, ['--redis', redis.url, ...process.argv.slice(2)], { stdio: 'inherit' });
    child.on('error', (e) => { console.error(`bench recall: ${bin}: ${e.message} (run it with make bench-recall)`); resolve(1); });
    child.on('exit', (c) => resolve(c === null ? 1 : c));
  });
  await redis.stop();
  process.exit(code);
}

main().catch((err) => { console.error(err); process.exit(1); });
