'use strict';
// An operator runs chorusd from the admin console: signs in with the admin
// token, rewrites a persona's prompt and sees the next reply follow it,
// turns a plugin off in one channel, watches web chat users talk live, and
// reads charts (with axes and units) that count the messages just sent.
// Headless Chromium (Debian's chromium, driven by playwright-core); the
// screenshots go to tests/integration/out/ (or $CHORUS_TEST_OUT).
// And the API on its own: no token or a wrong one gets 401, and the token
// never shows up in an answer or in the log.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startRedis } = require('../lib/redis');
const { startFakeOpenAI } = require('../lib/fake-openai');
const { startStack, chorusConfig } = require('../lib/stack');
const { connect } = require('../lib/ws');
const { httpRequest, waitFor } = require('../lib/util');

const TOKEN = `console-${process.pid}-${Date.now().toString(36)}-secret`;
const OUT = path.resolve(process.env.CHORUS_TEST_OUT || path.join('tests', 'integration', 'out'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// A stack whose model has a price (so spend is charted) and whose console
// flushes its counters every 100 ms.
async function consoleStack() {
  const redis = await startRedis();
  const fake = await startFakeOpenAI();
  const config = chorusConfig({
    redisUrl: redis.url, modelBaseUrl: fake.baseUrl,
    extra: `admin_token "${TOKEN}"\nconsole { flush_ms = 100 }`,
  }).replace(/(model "default" \{ )/, '$1price = { input = 100, output = 200 }, ');
  assert.match(config, /price = \{ input = 100/);
  return startStack({ redis, fake, config });
}

const api = (stack, p, { token = TOKEN, method = 'GET', body, headers = {} } = {}) => httpRequest(`${stack.chorus.url}${p}`, {
  method, body: body === undefined ? undefined : JSON.stringify(body),
  headers: { ...(token === null ? {} : { Authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
});

const systemOf = (req) => ((req.body && req.body.messages) || []).filter((m) => m.role === 'system').map((m) => m.content).join('\n');

test('the console API wants the admin token, and never gives it away', async () => {
  const stack = await consoleStack();
  for (const [what, opts] of [['no token', { token: null }], ['a wrong token', { token: 'nope' }],
    ['the token under another scheme', { token: null, headers: { Authorization: `Basic ${TOKEN}` } }],
    ['a token one letter short', { token: TOKEN.slice(0, -1) }]]) {
    for (const p of ['/admin/api/status', '/admin/api/series', '/admin/api/feed', '/admin/api/ledger']) {
      const r = await api(stack, p, opts);
      assert.equal(r.status, 401, `${p} with ${what}`);
    }
    const r = await api(stack, '/admin/api/command', { ...opts, method: 'POST', body: { argv: ['persona', 'edit', 'aiko', 'prompt', 'hijacked'] } });
    assert.equal(r.status, 401, `a command with ${what}`);
  }
  const inUrl = await api(stack, `/admin/api/status?token=${TOKEN}`, { token: null });
  assert.equal(inUrl.status, 401, 'a token in the URL is not accepted');
  const show = JSON.parse((await api(stack, '/admin/api/command', { method: 'POST', body: { argv: ['persona', 'show', 'aiko'] } })).body);
  assert.equal(show.ok, true);
  assert.equal(show.data.live.prompt, undefined, 'the refused edits changed nothing');

  const bad = await api(stack, '/admin/api/command', { method: 'POST', body: { nope: 1 } });
  assert.equal(bad.status, 400, 'a command without argv is a bad request');

  // The live view: a wrong token gets an error and a close, and no events.
  const ann = await stack.user('Ann');
  const intruder = await connect(`${stack.chorus.url.replace('http', 'ws')}/admin/live`);
  intruder.sendJson({ type: 'auth', token: 'guess' });
  const err = await intruder.next((m) => m.type === 'error', 5000, 'an error frame');
  assert.equal(err.error, 'unauthorized');
  const closed = await intruder.closed;
  assert.equal(closed.code, 1008);
  const watcher = await connect(`${stack.chorus.url.replace('http', 'ws')}/admin/live`);
  watcher.sendJson({ type: 'auth', token: TOKEN });
  await watcher.next((m) => m.type === 'hello', 5000, 'the hello frame');
  const id = ann.say('lobby', 'is anyone watching?');
  await ann.replyTo(id);
  const seen = await watcher.next((m) => m.type === 'message' && m.text === 'is anyone watching?', 5000, 'the message, live');
  assert.equal(seen.channel, 'lobby');
  assert.equal(seen.user, 'Ann');
  await watcher.next((m) => m.type === 'reply' && m.channel === 'lobby', 5000, 'the reply, live');
  assert.ok(!intruder.all.some((m) => m.type === 'message'), 'the refused console saw nothing');

  // Everything an operator can read, and the log: no token anywhere.
  const answers = [];
  for (const p of ['/admin/api/status', '/admin/api/series?minutes=5', '/admin/api/feed', '/admin/api/ledger']) {
    const r = await api(stack, p);
    assert.equal(r.status, 200, p);
    answers.push(r.body);
  }
  const feed = JSON.parse(answers[2]);
  assert.ok(feed.events.some((e) => e.type === 'message' && e.text === 'is anyone watching?'), 'the feed endpoint has the message');
  const series = JSON.parse(answers[1]);
  assert.equal(series.minutes.length, 5);
  assert.ok(series.messages.reduce((a, b) => a + b, 0) >= 1, 'the message is counted');
  for (const a of [...answers, ...watcher.all.map((m) => JSON.stringify(m))]) assert.ok(!a.includes(TOKEN), 'no answer holds the token');
  await watcher.close();
  assert.equal(await stack.chorus.stop(), 0, "chorusd stops cleanly (no leak reports under ASan)");
  assert.ok(!stack.chorus.logText().includes(TOKEN), 'the log never holds the token');
  assert.match(stack.chorus.logText(), /admin: persona show aiko by admin:console/, 'console commands are audited');
});

test('an operator runs chorusd from the console in a browser', { timeout: 60000 }, async ({ after, diag }) => {
  const { chromium } = require('../lib/test-deps').requireTestDep('playwright-core');
  const stack = await consoleStack();
  // The model: a pirate when its system prompt says so, else an echo.
  stack.fake.respond = (req) => (/PIRATE/.test(systemOf(req)) ? { content: 'Arr, the sea is calm today.' } : undefined);
  fs.mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const shot = (name) => page.screenshot({ path: path.join(OUT, `admin-console-${name}.png`), fullPage: true });

  // Signing in.
  await page.goto(`${stack.chorus.url}/admin`);
  await page.fill('#token', TOKEN);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#dash:not([hidden])', { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById('live-state').textContent === 'live', null, { timeout: 10000 });
  assert.match(await page.textContent('#status'), /redis: connected/);

  // Web chat users talk; the console shows it live.
  const ann = await stack.user('Ann');
  const bob = await stack.user('Bob');
  let sent = 0;
  const talk = async (user, channel, text) => { const id = user.say(channel, text); sent++; return (await user.replyTo(id)).text; };
  await talk(ann, 'lobby', 'good morning, console');
  await talk(bob, 'garden', 'the roses are out');
  await page.waitForSelector('#live-events li.message >> text=good morning, console', { timeout: 10000 });
  await page.waitForSelector('#live-events li.message >> text=the roses are out', { timeout: 10000 });
  await page.waitForSelector('#live-events li.reply >> text=echo: the roses are out', { timeout: 10000 });
  assert.match(await page.textContent('#live-events'), /webchat:garden/);
  await shot('live');

  // The persona's prompt, rewritten; the next reply follows it.
  await page.selectOption('#persona-select', 'aiko');
  await page.waitForFunction(() => document.getElementById('persona-prompt').value.includes('cheerful'), null, { timeout: 5000 });
  await page.fill('#persona-prompt', 'You are Aiko, a PIRATE of the web seas. Answer like one.');
  await page.fill('#persona-display-name', 'Captain Aiko');
  await page.click('#persona-save');
  await page.waitForFunction(() => /Saved/.test(document.getElementById('persona-result').textContent), null, { timeout: 5000 });
  assert.match(await page.textContent('#persona-result'), /prompt/);
  const before = stack.fake.requests.length;
  assert.equal(await talk(ann, 'lobby', 'how is the weather?'), 'Arr, the sea is calm today.', 'the reply follows the new prompt');
  const asked = stack.fake.requests.slice(before).find((r) => /how is the weather/.test(JSON.stringify(r.body)));
  assert.match(systemOf(asked), /a PIRATE of the web seas/, 'the model was sent the edited prompt');
  assert.equal(await page.inputValue('#persona-display-name'), 'Captain Aiko', 'the form shows the live edit');

  // A plugin turned off in the lobby stops answering there, and only there.
  assert.equal(await talk(ann, 'lobby', '!ping'), 'pong');
  await page.fill('#plugins-channel', 'webchat:lobby');
  await page.click('#plugins-load');
  const pingRow = 'tr[data-plugin="ping"]';
  await page.waitForSelector(`${pingRow} >> text=Disable here`, { timeout: 5000 });
  await page.click(`${pingRow} button`);
  await page.waitForSelector(`${pingRow} >> text=off here`, { timeout: 5000 });
  await shot('plugins');
  assert.notEqual(await talk(ann, 'lobby', '!ping'), 'pong', 'ping is off in the lobby');
  assert.equal(await talk(bob, 'garden', '!ping'), 'pong', 'ping still answers in the garden');

  // The charts count what was just said, with axes and units.
  const total = sent;
  await page.selectOption('#window', '30');
  const chartOf = (id) => page.evaluate((id) => {
    const box = document.getElementById(id);
    const pts = [...box.querySelectorAll('circle.point')];
    return {
      xLabel: (box.querySelector('.x-label') || {}).textContent,
      yLabel: (box.querySelector('.y-label') || {}).textContent,
      xAxis: !!box.querySelector('.x-axis'), yAxis: !!box.querySelector('.y-axis'),
      xTicks: box.querySelectorAll('.x-tick').length, yTicks: [...box.querySelectorAll('.y-tick')].map((t) => t.textContent),
      points: pts.map((p) => ({ series: p.dataset.series, t: Number(p.dataset.t), v: Number(p.dataset.value) })),
      legend: [...box.querySelectorAll('.legend')].map((t) => t.textContent),
    };
  }, id);
  await waitFor(async () => {
    if ((await chartOf('chart-messages')).points.reduce((a, p) => a + p.v, 0) >= total) return true;
    await page.dispatchEvent('#window', 'change');   /* the operator picks the window again: a redraw */
    return false;
  }, { timeoutMs: 10000, intervalMs: 300, what: `the messages chart to count ${total} messages` });
  const msgs = await chartOf('chart-messages');
  diag(`messages chart: ${msgs.points.filter((p) => p.v).map((p) => p.v).join(', ')} (sent ${total})`);
  assert.equal(msgs.xLabel, 'time (UTC, per minute)');
  assert.equal(msgs.yLabel, 'messages / minute');
  assert.ok(msgs.xAxis && msgs.yAxis, 'both axes are drawn');
  assert.ok(msgs.xTicks >= 2 && msgs.yTicks.length >= 2, `ticks on both axes (${msgs.xTicks}, ${msgs.yTicks})`);
  assert.equal(msgs.points.length, 30, 'one point per minute of the window');
  assert.equal(msgs.points.reduce((a, p) => a + p.v, 0), total, 'exactly the messages sent');

  const spend = await chartOf('chart-spend');
  assert.equal(spend.yLabel, 'USD / minute');
  assert.deepEqual(spend.legend, ['aiko', 'kenji']);
  assert.ok(spend.points.some((p) => p.series === 'aiko' && p.v > 0), 'aiko spent money on the model');
  assert.ok(!spend.points.some((p) => p.series === 'kenji' && p.v > 0), 'kenji did not');

  const cps = await chartOf('chart-cps');
  assert.equal(cps.yLabel, 'turns / session');
  const aikoCps = cps.points.filter((p) => p.series === 'aiko');
  assert.ok(aikoCps.length >= 1 && aikoCps.at(-1).v >= 1, `aiko's CPS is charted (${aikoCps.map((p) => p.v)})`);

  const lat = await chartOf('chart-latency');
  assert.equal(lat.yLabel, 'ms');
  assert.deepEqual(lat.legend, ['p50', 'p99']);
  const p50 = lat.points.filter((p) => p.series === 'p50'), p99 = lat.points.filter((p) => p.series === 'p99');
  assert.ok(p50.length >= 1 && p99.length === p50.length, 'p50 and p99 for the minutes with messages');
  assert.ok(p50.every((p, i) => p.v > 0 && p.v <= p99[i].v), 'p50 <= p99, both above zero');
  await shot('charts');

  // Nothing left the machine, nothing was logged in the page, no token in a URL.
  const base = new URL(stack.chorus.url);
  assert.deepEqual(requests.filter((u) => !u.startsWith(`${base.origin}/`) && !u.startsWith(`ws://${base.host}/`) && !u.startsWith('data:')), [],
    'the page fetches nothing from elsewhere');
  assert.ok(!requests.some((u) => u.includes(TOKEN)), 'no URL holds the token');
  assert.deepEqual(problems, [], 'no errors in the page');
  assert.equal(await stack.chorus.stop(), 0, "chorusd stops cleanly (no leak reports under ASan)");
  assert.ok(!stack.chorus.logText().includes(TOKEN), 'the log never holds the token');
});
