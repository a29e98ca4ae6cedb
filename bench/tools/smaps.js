'use strict';
// bench/tools/smaps.js - where a process's resident memory is, from
// /proc/PID/smaps: each mapped file (the binary, each shared library), the
// heap, thread stacks and other anonymous memory, largest first. The benches
// print it with --smaps just before they stop a bot.
const fs = require('node:fs');
const path = require('node:path');

// RSS in kB of PID by mapping, as [[name, kB], ...] largest first, plus the total.
function smapsSummary(pid) {
  let text;
  try { text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8'); } catch { return null; }
  const groups = new Map();
  let name = null;
  let total = 0;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const p = head[1];
      if (!p) name = 'anonymous (malloc arenas, mmap)';
      else if (p.startsWith('[stack')) name = '[stack]';
      else if (p.startsWith('[')) name = p;
      else name = path.basename(p);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && name) {
      groups.set(name, (groups.get(name) || 0) + Number(rss[1]));
      total += Number(rss[1]);
    }
  }
  return { total, groups: [...groups].sort((a, b) => b[1] - a[1]) };
}

// Print PID's summary under LABEL: the total, then every mapping of at least MINKB.
function printSmaps(label, pid, minKb = 100) {
  const s = smapsSummary(pid);
  if (!s) { console.log(`${label}: /proc/${pid}/smaps unreadable`); return; }
  const rest = s.groups.filter(([, kb]) => kb < minKb).reduce((a, [, kb]) => a + kb, 0);
  console.log(`${label} RSS ${(s.total / 1024).toFixed(1)} MB: `
    + s.groups.filter(([, kb]) => kb >= minKb).map(([n, kb]) => `${n} ${(kb / 1024).toFixed(2)}`).join(', ')
    + `, others ${(rest / 1024).toFixed(2)}`);
}

module.exports = { smapsSummary, printSmaps };
