// The admin console: status, persona editing, plugins per channel, live
// conversations and charts, from /admin/api/* and /admin/live with the
// admin token (a Bearer header; the first websocket frame). No libraries,
// no CDN: the charts are plain SVG drawn here.
'use strict';
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
let token = sessionStorage.getItem('chorus-admin-token') || '';
let status = null;
let live = null;
let liveRetry = 500;
let chartTimer = null;

async function api(path, body) {
  const opts = { headers: { Authorization: `Bearer ${token}` } };
  if (body !== undefined) {
    opts.method = 'POST';
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  if (res.status === 401) throw new Error('wrong token');
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

// One operator command (the same table as chat and chorusctl).
async function command(...argv) {
  const answer = await api('/admin/api/command', { argv });
  if (!answer.ok) throw new Error(answer.text);
  return answer;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/* ---- charts ---- */

// A round step for about N ticks up to MAX.
function niceStep(max, n) {
  const raw = max / n, mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

function fmt(v, step) {
  const digits = step >= 1 ? 0 : Math.min(8, Math.ceil(-Math.log10(step)));
  return v.toFixed(digits);
}

const hhmm = (t) => new Date(t * 1000).toISOString().slice(11, 16);
const COLORS = ['#3b3f8f', '#e4572e', '#29a36a', '#f2a541', '#7b2cbf', '#0096c7'];

// A line chart with axes, ticks and units: XS are unix seconds; each
// series is { name, values (numbers or null) }.
function lineChart(box, { xs, series, unit, integer }) {
  const W = 640, H = 240, L = 70, R = 26, T = 14, B = 46;
  const pw = W - L - R, ph = H - T - B;
  const all = series.flatMap((s) => s.values).filter((v) => v !== null);
  let max = Math.max(0, ...all);
  if (max === 0) max = integer ? 1 : 1;
  const step = integer ? Math.max(1, Math.ceil(niceStep(max, 4))) : niceStep(max, 4);
  const top = Math.ceil(max / step) * step;
  const x = (i) => L + (xs.length > 1 ? (i / (xs.length - 1)) * pw : pw / 2);
  const y = (v) => T + ph - (v / top) * ph;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${unit} over time` });
  // Axes.
  root.appendChild(svg('line', { class: 'axis x-axis', x1: L, y1: T + ph, x2: L + pw, y2: T + ph }));
  root.appendChild(svg('line', { class: 'axis y-axis', x1: L, y1: T, x2: L, y2: T + ph }));
  for (let v = 0; v <= top + step / 2; v += step) {
    root.appendChild(svg('line', { class: 'grid', x1: L, y1: y(v), x2: L + pw, y2: y(v) }));
    root.appendChild(svg('text', { class: 'tick y-tick', x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v, step)));
  }
  const every = Math.max(1, Math.ceil(xs.length / 6));
  xs.forEach((t, i) => {
    if ((xs.length - 1 - i) % every) return;
    root.appendChild(svg('line', { class: 'axis', x1: x(i), y1: T + ph, x2: x(i), y2: T + ph + 4 }));
    root.appendChild(svg('text', { class: 'tick x-tick', x: x(i), y: T + ph + 17, 'text-anchor': 'middle' }, hhmm(t)));
  });
  root.appendChild(svg('text', { class: 'axis-label x-label', x: L + pw / 2, y: H - 6, 'text-anchor': 'middle' }, 'time (UTC, per minute)'));
  root.appendChild(svg('text', { class: 'axis-label y-label', x: 12, y: T + ph / 2, 'text-anchor': 'middle',
    transform: `rotate(-90 12 ${T + ph / 2})` }, unit));
  // Lines and points.
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length];
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null) return;
      d += `${d && s.values[i - 1] !== null && i > 0 ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    if (d) root.appendChild(svg('path', { class: 'line', d, stroke: color, 'data-series': s.name }));
    s.values.forEach((v, i) => {
      if (v === null) return;
      const c = svg('circle', { class: 'point', cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.5, fill: color,
        'data-series': s.name, 'data-t': xs[i], 'data-value': v });
      c.appendChild(svg('title', {}, `${s.name} ${hhmm(xs[i])}: ${integer ? v : v.toPrecision(4)} ${unit}`));
      root.appendChild(c);
    });
  });
  // Legend.
  series.forEach((s, k) => {
    const lx = L + 8 + k * 110;
    root.appendChild(svg('rect', { class: 'legend-swatch', x: lx, y: T, width: 10, height: 10, fill: COLORS[k % COLORS.length] }));
    root.appendChild(svg('text', { class: 'legend', x: lx + 14, y: T + 9 }, s.name));
  });
  box.replaceChildren(root);
}

async function loadCharts() {
  const minutes = Number($('window').value);
  const s = await api(`/admin/api/series?minutes=${minutes}`);
  const names = Object.keys(s.personas).sort();
  lineChart($('chart-messages'), { xs: s.minutes, unit: 'messages / minute', integer: true,
    series: [{ name: 'messages', values: s.messages }] });
  lineChart($('chart-spend'), { xs: s.minutes, unit: `${s.currency} / minute`,
    series: names.map((n) => ({ name: n, values: s.personas[n].spend_micro.map((v) => v / 1e6) })) });
  lineChart($('chart-cps'), { xs: s.minutes, unit: 'turns / session',
    series: names.map((n) => ({ name: n, values: s.personas[n].cps })) });
  lineChart($('chart-latency'), { xs: s.minutes, unit: 'ms',
    series: [{ name: 'p50', values: s.latency_p50_ms }, { name: 'p99', values: s.latency_p99_ms }] });
}

// Redraw soon (live events come in bursts: one redraw for a burst).
function chartsSoon() {
  if (chartTimer) return;
  chartTimer = setTimeout(() => { chartTimer = null; loadCharts().catch(() => {}); }, 1500);
}

/* ---- the ledger (daily) ---- */

function ledgerChart(rows) {
  const days = [...new Set(rows.map((r) => r.day))].sort();
  const sum = (day, key) => rows.filter((r) => r.day === day).reduce((a, r) => a + r[key], 0) / 1e6;
  const max = Math.max(0.000001, ...days.map((d) => Math.max(sum(d, 'cost_micro'), sum(d, 'value_micro'))));
  const w = 600, h = 200, bw = w / Math.max(days.length, 1);
  const root = svg('svg', { viewBox: `0 0 ${w} ${h + 20}` });
  days.forEach((d, i) => {
    [['cost_micro', 'bar-cost', 0], ['value_micro', 'bar-value', 1]].forEach(([key, cls, k]) => {
      const v = sum(d, key), bh = (v / max) * h;
      const r = svg('rect', { x: i * bw + 4 + k * (bw / 2 - 4), y: h - bh, width: bw / 2 - 6, height: bh, class: cls });
      r.appendChild(svg('title', {}, `${d} ${key === 'cost_micro' ? 'cost' : 'value'} ${v.toFixed(4)}`));
      root.appendChild(r);
    });
    root.appendChild(svg('text', { x: i * bw + 4, y: h + 15, 'font-size': 11 }, d.slice(5)));
  });
  $('chart').replaceChildren(root);
}

async function loadLedger() {
  const ledger = await api('/admin/api/ledger');
  ledgerChart(ledger.rows);
  $('ledger').tBodies[0].replaceChildren(...ledger.rows.map((r) => {
    const tr = el('tr');
    for (const v of [r.day, r.persona, r.conversations, r.cps.toFixed(1), r.active_users, (r.cost_micro / 1e6).toFixed(6),
      (r.value_micro / 1e6).toFixed(2) + ' ' + r.currency, (r.share_micro / 1e6).toFixed(2)]) tr.appendChild(el('td', '', v));
    return tr;
  }));
}

/* ---- personas ---- */

async function showPersona(name) {
  const { data } = await command('persona', 'show', name);
  const eff = { ...data, ...data.live };
  $('persona-display-name').value = eff.display_name || '';
  $('persona-model').value = eff.model || '';
  $('persona-prompt').value = eff.prompt || '';
  $('persona-form').dataset.loaded = JSON.stringify({ display_name: eff.display_name, model: eff.model, prompt: eff.prompt });
}

async function savePersona() {
  const name = $('persona-select').value;
  const before = JSON.parse($('persona-form').dataset.loaded || '{}');
  const now = { display_name: $('persona-display-name').value, model: $('persona-model').value, prompt: $('persona-prompt').value };
  const changed = Object.keys(now).filter((k) => now[k] !== before[k] && now[k].trim() !== '');
  if (!changed.length) return 'Nothing changed.';
  for (const field of changed) await command('persona', 'edit', name, field, now[field]);
  await showPersona(name);
  return `Saved ${changed.join(', ')} of ${name}; the next reply uses it.`;
}

/* ---- plugins per channel ---- */

async function showPlugins() {
  const channel = $('plugins-channel').value.trim();
  const { data } = await command('plugins', 'list', '--channel', channel);
  $('plugins').tBodies[0].replaceChildren(...data.plugins.map((p) => {
    const tr = el('tr');
    tr.dataset.plugin = p.name;
    tr.appendChild(el('td', '', p.name));
    tr.appendChild(el('td', p.enabled ? 'on' : 'off', p.disabled_everywhere ? 'off everywhere' : p.disabled_here ? 'off here' : 'on'));
    const td = el('td');
    const b = el('button', 'toggle', p.enabled ? 'Disable here' : 'Enable here');
    b.type = 'button';
    b.dataset.plugin = p.name;
    b.dataset.action = p.enabled ? 'disable' : 'enable';
    td.appendChild(b);
    tr.appendChild(td);
    return tr;
  }));
}

/* ---- live conversations ---- */

function addEvent(ev) {
  const li = el('li', `event ${ev.type}`);
  li.appendChild(el('time', '', new Date(ev.ts * 1000).toISOString().slice(11, 19)));
  li.appendChild(el('span', 'where', `${ev.platform}:${ev.channel}`));
  li.appendChild(el('span', 'who', ev.type === 'reply' ? `${ev.persona} (persona)` : ev.user));
  li.appendChild(el('span', 'text', ev.text));
  const list = $('live-events');
  list.appendChild(li);
  while (list.children.length > 200) list.firstChild.remove();
  li.scrollIntoView({ block: 'nearest' });
}

function connectLive() {
  if (live) return;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/admin/live`;
  const ws = new WebSocket(url);
  live = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === 'hello') {
      liveRetry = 500;
      $('live-state').textContent = 'live';
      $('live-events').replaceChildren();
      m.events.forEach(addEvent);
    } else if (m.type === 'error') {
      $('live-state').textContent = m.error;
    } else {
      addEvent(m);
      chartsSoon();
    }
  };
  ws.onclose = () => {
    live = null;
    if (!token) return;
    if ($('live-state').textContent === 'live') $('live-state').textContent = 'reconnecting';
    setTimeout(connectLive, liveRetry);
    liveRetry = Math.min(liveRetry * 2, 10000);
  };
}

/* ---- sign in ---- */

async function load() {
  status = await api('/admin/api/status');
  $('status').textContent = `chorusd ${status.version}, up ${Math.round(status.uptime_s)} s\n` +
    `redis: ${status.redis.connected ? 'connected' : 'DOWN ' + status.redis.error}\n` +
    status.platforms.map((p) => `${p.name}: ${p.ready ? 'ready' : 'NOT READY'}, ${p.connections} connections`).join('\n');
  $('personas').replaceChildren(...status.personas.map((p) => el('li', '', p)));
  $('persona-select').replaceChildren(...status.personas.map((p) => { const o = el('option', '', p); o.value = p; return o; }));
  $('models').replaceChildren(...status.models.map((m) => { const o = el('option'); o.value = m; return o; }));
  $('login').hidden = true; $('dash').hidden = false; $('signout').hidden = false; $('state').textContent = 'signed in';
  connectLive();
  await Promise.all([showPersona($('persona-select').value), loadCharts(), loadLedger()]);
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token').value;
  load().then(() => sessionStorage.setItem('chorus-admin-token', token))
    .catch((err) => { $('login-error').textContent = err.message; });
});
$('signout').addEventListener('click', () => {
  sessionStorage.removeItem('chorus-admin-token');
  token = '';
  if (live) live.close();
  location.reload();
});
$('persona-select').addEventListener('change', () => {
  $('persona-result').textContent = '';
  showPersona($('persona-select').value).catch((err) => { $('persona-result').textContent = err.message; });
});
$('persona-form').addEventListener('submit', (e) => {
  e.preventDefault();
  savePersona().then((t) => { $('persona-result').textContent = t; }).catch((err) => { $('persona-result').textContent = err.message; });
});
$('plugins-form').addEventListener('submit', (e) => {
  e.preventDefault();
  $('plugins-result').textContent = '';
  showPlugins().catch((err) => { $('plugins-result').textContent = err.message; });
});
$('plugins').addEventListener('click', (e) => {
  const b = e.target.closest('button.toggle');
  if (!b) return;
  const channel = $('plugins-channel').value.trim();
  command('plugins', b.dataset.action, b.dataset.plugin, '--channel', channel)
    .then(() => { $('plugins-result').textContent = `${b.dataset.plugin} ${b.dataset.action}d in ${channel}.`; return showPlugins(); })
    .catch((err) => { $('plugins-result').textContent = err.message; });
});
$('window').addEventListener('change', () => { loadCharts().catch(() => {}); });
setInterval(() => { if (token && !$('dash').hidden) loadCharts().catch(() => {}); }, 30000);
if (token) load().catch(() => {});
