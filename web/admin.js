// The admin page: status, personas and the ledger, from /admin/api/*
// with the admin token as a Bearer token. No libraries, no CDN.
'use strict';
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('chorus-admin-token') || '';

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (res.status === 401) throw new Error('wrong token');
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function chart(rows) {
  const days = [...new Set(rows.map((r) => r.day))].sort();
  const sum = (day, key) => rows.filter((r) => r.day === day).reduce((a, r) => a + r[key], 0) / 1e6;
  const max = Math.max(0.000001, ...days.map((d) => Math.max(sum(d, 'cost_micro'), sum(d, 'value_micro'))));
  const w = 600, h = 200, bw = w / Math.max(days.length, 1);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h + 20}`);
  days.forEach((d, i) => {
    [['cost_micro', 'bar-cost', 0], ['value_micro', 'bar-value', 1]].forEach(([key, cls, k]) => {
      const v = sum(d, key), bh = (v / max) * h;
      const r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', i * bw + 4 + k * (bw / 2 - 4)); r.setAttribute('y', h - bh);
      r.setAttribute('width', bw / 2 - 6); r.setAttribute('height', bh); r.setAttribute('class', cls);
      const t = document.createElementNS(ns, 'title'); t.textContent = `${d} ${key === 'cost_micro' ? 'cost' : 'value'} ${v.toFixed(4)}`;
      r.appendChild(t); svg.appendChild(r);
    });
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', i * bw + 4); label.setAttribute('y', h + 15); label.setAttribute('font-size', '11');
    label.textContent = d.slice(5); svg.appendChild(label);
  });
  $('chart').replaceChildren(svg);
}

async function load() {
  const status = await api('/admin/api/status');
  $('status').textContent = `chorusd ${status.version}, up ${Math.round(status.uptime_s)} s\n` +
    `redis: ${status.redis.connected ? 'connected' : 'DOWN ' + status.redis.error}\n` +
    status.platforms.map((p) => `${p.name}: ${p.ready ? 'ready' : 'NOT READY'}, ${p.connections} connections`).join('\n');
  $('personas').replaceChildren(...status.personas.map((p) => { const li = document.createElement('li'); li.textContent = p; return li; }));
  const ledger = await api('/admin/api/ledger');
  chart(ledger.rows);
  $('ledger').tBodies[0].replaceChildren(...ledger.rows.map((r) => {
    const tr = document.createElement('tr');
    for (const v of [r.day, r.persona, r.conversations, r.cps.toFixed(1), r.active_users, (r.cost_micro / 1e6).toFixed(6),
      (r.value_micro / 1e6).toFixed(2) + ' ' + r.currency, (r.share_micro / 1e6).toFixed(2)]) {
      const td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
    }
    return tr;
  }));
  $('login').hidden = true; $('dash').hidden = false; $('state').textContent = 'signed in';
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token').value;
  load().then(() => sessionStorage.setItem('chorus-admin-token', token))
    .catch((err) => { $('login-error').textContent = err.message; });
});
if (token) load().catch(() => {});
