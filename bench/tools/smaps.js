'use strict';
// bench/tools/smaps.js - where a process's resident memory is, from
// /proc/PID/smaps: each mapped file (the binary, each shared library), the
// heap, thread stacks and other anonymous memory, largest first. The benches
// print it with --smaps just before they stop a bot.
const fs = require('node:fs');
const path = require('node:path');

// RSS in kB of PID by mapping, as [[name, kB, dirty kB], ...] largest first,
// plus the total; dirty is the private dirty part (written: heap, stacks, a
// library's relocated data), the rest is clean file pages (code, read-only
// data) that any other process using the same file shares.
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
    const field = /^(Rss|Private_Dirty):\s+(\d+) kB/.exec(line);
    if (field && name) {
      const g = groups.get(name) || [0, 0];
      g[field[1] === 'Rss' ? 0 : 1] += Number(field[2]);
      groups.set(name, g);
      if (field[1] === 'Rss') total += Number(field[2]);
    }
  }
  const list = [...groups].map(([n, [rss, dirty]]) => [n, rss, dirty]);
  return { total, dirty: list.reduce((a, g) => a + g[2], 0), groups: list.sort((a, b) => b[1] - a[1]) };
}

// Print PID's summary under LABEL: the total, then every mapping of at least
// MINKB as "name RSS MB (dirty MB)".
function printSmaps(label, pid, minKb = 100) {
  const s = smapsSummary(pid);
  if (!s) { console.log(`${label}: /proc/${pid}/smaps unreadable`); return; }
  const rest = s.groups.filter(([, kb]) => kb < minKb).reduce((a, [, kb]) => a + kb, 0);
  const mb = (kb) => (kb / 1024).toFixed(2);
  console.log(`${label} RSS ${(s.total / 1024).toFixed(1)} MB (private dirty ${mb(s.dirty)}): `
    + s.groups.filter(([, kb]) => kb >= minKb).map(([n, kb, d]) => `${n} ${mb(kb)} (${mb(d)})`).join(', ')
    + `, others ${(rest / 1024).toFixed(2)}`);
}

// PID's private resident memory in kB (RssAnon in /proc/PID/status: heap,
// stacks, written library data; not the clean file pages of its binary and
// libraries, which every process running the same files shares).
function rssAnonKb(pid) {
  try {
    const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

module.exports = { smapsSummary, printSmaps, rssAnonKb };
