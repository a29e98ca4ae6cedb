'use strict';
// The admin page in headless Chromium: a wrong token is refused, the right
// one shows status, personas and the ledger chart. Prints TAP.
//   CHORUS_URL=http://127.0.0.1:PORT/ ADMIN_TOKEN=... node tests/browser/admin.test.js
const { chromium } = require('playwright-core');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

let n = 0, failed = 0;
const ok = (cond, name, diag) => { n++; if (cond) console.log(`ok ${n} - ${name}`); else { failed++; console.log(`not ok ${n} - ${name}${diag ? `\n# ${diag}` : ''}`); } };

(async () => {
  const base = process.env.CHORUS_URL || 'http://127.0.0.1:8080/';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-admin-browser-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const timer = setTimeout(() => { console.log('not ok - the admin test timed out'); process.exit(1); }, 60000);
  try {
    const page = await ctx.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error' && !/401/.test(m.text())) errors.push(m.text()); });
    await page.goto(new URL('admin', base).href);
    ok(await page.isVisible('#login'), 'the page asks for the admin token');
    await page.fill('#token', 'wrong-token');
    await page.click('button[type=submit]');
    await page.waitForFunction(() => document.getElementById('login-error').textContent.length > 0, null, { timeout: 10000 });
    ok((await page.textContent('#login-error')).includes('wrong token'), 'a wrong token is refused');
    await page.fill('#token', process.env.ADMIN_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('#dash:not([hidden])', { timeout: 10000 });
    ok((await page.textContent('#status')).includes('redis: connected'), 'status shows Redis connected');
    ok((await page.textContent('#personas')).includes('aiko'), 'personas are listed');
    await page.waitForSelector('#chart svg rect', { state: 'attached', timeout: 10000 });
    ok((await page.$$('#ledger tbody tr')).length >= 1, 'the ledger table has a row');
    await page.screenshot({ path: process.env.SCREENSHOT || path.join(__dirname, 'admin.png'), fullPage: true });
    ok(errors.length === 0, 'no console errors', errors.join(' | '));
  } catch (err) {
    ok(false, 'the admin page works', String(err && err.stack || err).split('\n').join('\n# '));
  } finally {
    clearTimeout(timer);
    await ctx.close();
  }
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
})();
