#!/usr/bin/env node
/*
 * Headless Chromium test of the built-in chat page.
 *
 *   CHORUS_URL   chat page URL of a running chorusd (default http://127.0.0.1:8080/)
 *   SCREENSHOT   where to save a PNG of the page (default ./chat.png)
 *   CHROMIUM     browser binary (default /usr/bin/chromium)
 *
 * Prints TAP ("ok N - ..." / "not ok N - ...", then "1..N"); exits 1 on any failure.
 * Needs the npm package playwright-core (see tests/package.json).
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const CHAT_URL = process.env.CHORUS_URL || 'http://127.0.0.1:8080/';
const SCREENSHOT = process.env.SCREENSHOT || path.resolve('chat.png');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const REPLY_TIMEOUT_MS = 15000;
const STEP_TIMEOUT_MS = 10000;
const OVERALL_TIMEOUT_MS = 90000;

let count = 0;
let failed = 0;

function report(ok, name, detail) {
  count += 1;
  if (!ok) failed += 1;
  console.log(`${ok ? 'ok' : 'not ok'} ${count} - ${name}`);
  if (detail) {
    // eslint-disable-next-line no-control-regex
    const plain = String(detail).replace(/\u001b\[[0-9;]*m/g, '').trimEnd();
    for (const line of plain.split('\n')) console.log(`# ${line}`);
  }
}

/* Run one check; later checks that depend on it are reported as failed too. */
let blocked = null;
async function step(name, fn) {
  if (blocked) {
    report(false, name, `not run: earlier step failed (${blocked})`);
    return undefined;
  }
  try {
    const value = await fn();
    report(true, name);
    return value;
  } catch (err) {
    report(false, name, err && err.message ? err.message : String(err));
    blocked = name;
    return undefined;
  }
}

function check(ok, name, detail) {
  report(!!ok, name, ok ? null : detail);
}

let userDataDir = null;

async function main() {
  const base = new URL(CHAT_URL);
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-chat-test-'));
  const requests = [];
  const sockets = [];
  const consoleErrors = [];
  let context;

  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 900, height: 680 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);

    const page = context.pages()[0] || (await context.newPage());
    page.on('request', (req) => requests.push(req.url()));
    page.on('websocket', (ws) => sockets.push(ws.url()));
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));

    const loaded = await step('chat page loads', async () => {
      const res = await page.goto(CHAT_URL, { waitUntil: 'load' });
      if (!res) throw new Error('no response');
      if (res.status() !== 200) throw new Error(`HTTP ${res.status()} for ${CHAT_URL}`);
      return true;
    });

    await step('status reads "connected"', async () => {
      await page.waitForFunction(
        () => {
          const s = document.querySelector('#status');
          return s && s.textContent.trim() === 'connected';
        },
        null,
        { timeout: STEP_TIMEOUT_MS }
      );
    });

    const sentId = await step('typing "Hello there" and pressing Enter shows own message', async () => {
      await page.fill('#input', 'Hello there');
      await page.press('#input', 'Enter');
      const mine = page.locator('#messages .msg.me').last();
      await mine.waitFor({ state: 'visible' });
      const text = (await mine.locator('.text').textContent()) || '';
      if (text !== 'Hello there') throw new Error(`own bubble text is ${JSON.stringify(text)}`);
      const left = await page.inputValue('#input');
      if (left !== '') throw new Error(`input not cleared: ${JSON.stringify(left)}`);
      const id = await mine.getAttribute('data-id');
      if (!id) throw new Error('own message has no data-id');
      return id;
    });

    await step('a persona reply with text arrives within 15 s', async () => {
      const handle = await page.waitForFunction(
        () => {
          for (const b of document.querySelectorAll('#messages .msg.bot')) {
            const t = b.querySelector('.bubble');
            if (t && t.textContent.trim() !== '') {
              return { replyTo: b.getAttribute('data-reply-to'), text: t.textContent };
            }
          }
          return null;
        },
        null,
        { timeout: REPLY_TIMEOUT_MS }
      );
      const reply = await handle.jsonValue();
      if (reply.replyTo !== sentId) {
        throw new Error(`data-reply-to is ${JSON.stringify(reply.replyTo)}, expected ${JSON.stringify(sentId)}`);
      }
      console.log(`# reply: ${JSON.stringify(reply.text.slice(0, 200))}`);
    });

    /* The rest only needs the page itself: a screenshot helps most when a step above failed. */
    if (loaded) blocked = null;

    await step(`screenshot saved to ${SCREENSHOT}`, async () => {
      await page.waitForTimeout(300); /* let the bubble animation finish */
      await page.screenshot({ path: SCREENSHOT });
      if (!fs.statSync(SCREENSHOT).size) throw new Error('empty screenshot');
    });

    await step('page fits a phone-width viewport without horizontal scrolling', async () => {
      await page.setViewportSize({ width: 360, height: 640 });
      await page.waitForTimeout(100);
      const dims = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
      }));
      if (dims.scroll > dims.client) {
        throw new Error(`scrollWidth ${dims.scroll} > clientWidth ${dims.client}`);
      }
    });

    if (!loaded) {
      report(false, 'page loaded no external resources', 'not run: the page did not load');
      report(false, 'page opened a websocket to the same host', 'not run: the page did not load');
      report(false, 'no console errors', 'not run: the page did not load');
      return;
    }

    const foreign = requests.filter((u) => {
      const url = new URL(u);
      if (url.protocol === 'data:' || url.protocol === 'blob:') return false;
      return url.origin !== base.origin;
    });
    const foreignWs = sockets.filter((u) => new URL(u).host !== base.host);
    check(
      requests.length > 0 && foreign.length === 0 && foreignWs.length === 0,
      'page loaded no external resources',
      requests.length === 0 ? 'no requests were recorded' : foreign.concat(foreignWs).join('\n')
    );
    check(sockets.length > 0, 'page opened a websocket to the same host', sockets.join('\n') || 'none');
    check(consoleErrors.length === 0, 'no console errors', consoleErrors.join('\n'));
  } catch (err) {
    report(false, 'browser session', err && err.stack ? err.stack : String(err));
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

const watchdog = setTimeout(() => {
  report(false, 'test finished in time', `still running after ${OVERALL_TIMEOUT_MS / 1000} s`);
  console.log(`1..${count}`);
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1);
}, OVERALL_TIMEOUT_MS);

main().then(() => {
  clearTimeout(watchdog);
  console.log(`1..${count}`);
  console.error(`browser: ${count - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});
