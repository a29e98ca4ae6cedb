'use strict';
// The quiz card in the web chat: the reply frame carries the card (embed
// and buttons) beside its text, a press of a button is a "button" frame
// that reaches the plugin, and the ephemeral answer goes only to the one
// who pressed; the page (web/chat.js) draws the card.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { writePlugins } = require('../lib/plugins');
const { luaString } = require('../lib/util');
const { RICH_PLUGINS } = require('../lib/rich-plugin');

async function webchatWithQuiz() {
  const dir = writePlugins(RICH_PLUGINS);
  return startStack({ configOptions: { extra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 300, deadline_ms = 5000 }` } });
}

test('the quiz card arrives over the websocket as a card with its buttons', async () => {
  const stack = await webchatWithQuiz();
  const ann = await stack.user('Ann');
  const id = ann.say('lobby', '!quiz');
  const reply = await ann.replyTo(id);
  assert.equal(reply.text, 'Round 1 for @Ann', 'mention() is @name in the web chat');
  assert.match(reply.id, /^w\d+$/, 'the frame names its message, so a press can point at it');
  assert.equal(reply.card.embed.title, 'Capital cities');
  assert.deepEqual(reply.card.embed.fields, [{ name: 'Round', value: '1', inline: true }, { name: 'Score', value: '0', inline: true }]);
  assert.equal(reply.card.embed.image, 'https://example.com/norway.png');
  assert.deepEqual(reply.card.buttons.map((row) => row.map((b) => b.id || b.url)),
    [['quiz:oslo', 'quiz:bergen', 'quiz:tromso', 'quiz:giveup', 'quiz:hint'], ['https://example.com/rules']]);
  assert.equal(reply.ephemeral, undefined);
});

test('Ann presses a button; the plugin answers her alone, and Ben in the same channel sees nothing of it', async () => {
  const stack = await webchatWithQuiz();
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');
  ben.join('lobby');
  const card = await ann.replyTo(ann.say('lobby', '!quiz'));
  await ben.ws.next((m) => m.type === 'message' && m.id === card.id, 5000, 'the card, for Ben too');
  ann.ws.sendJson({ type: 'button', id: 'press-1', channel: 'lobby', user: { id: ann.id, name: 'Ann' }, button: 'quiz:oslo', message: card.id });
  const answer = await ann.replyTo('press-1');
  assert.equal(answer.text, `Right, Ann: Oslo (on message ${card.id})`);
  assert.equal(answer.ephemeral, true);
  // The channel answers in order: once Ben has his own answer, Ann's would have come before it.
  assert.equal((await ben.replyTo(ben.say('lobby', '!whoami'))).text, 'you are @Ben');
  assert.deepEqual(ben.answersTo('press-1'), [], 'Ben did not get Ann\'s ephemeral answer');
  ann.ws.sendJson({ type: 'button', id: 'press-2', channel: 'lobby', user: { id: ann.id, name: 'Ann' } });
  const err = await ann.nextError();
  assert.deepEqual({ error: err.error, reply_to: err.reply_to }, { error: 'missing_field', reply_to: 'press-2' }, 'a press without a button id is refused');
});

test('in the chat page (headless Chromium) the card is drawn with its buttons, and a click gets Ann her answer', { timeout: 60000 }, async () => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const { chromium } = require('../lib/test-deps').requireTestDep('playwright-core');
  const stack = await webchatWithQuiz();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-rich-page-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, viewport: { width: 900, height: 680 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  });
  try {
    context.setDefaultTimeout(15000);
    const page = context.pages()[0] || await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.chorus.url}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector('#status').textContent.trim() === 'connected');
    await page.fill('#input', '!quiz');
    await page.press('#input', 'Enter');
    const card = page.locator('#messages .msg.bot .card').last();
    await card.waitFor({ state: 'visible' });
    assert.equal(await card.locator('.card-title').textContent(), 'Capital cities');
    assert.equal(await card.locator('.card-title').getAttribute('href'), 'https://example.com/quiz');
    assert.deepEqual(await card.locator('.card-field dt').allTextContents(), ['Round', 'Score']);
    assert.deepEqual(await card.locator('button.card-button').allTextContents(), ['Oslo', 'Bergen', 'Tromsø', 'Give up', 'Hint']);
    assert.equal(await card.locator('a.card-button').getAttribute('href'), 'https://example.com/rules');
    await card.locator('button.card-button', { hasText: 'Oslo' }).click();
    const answer = page.locator('#messages .msg.bot.ephemeral').last();
    await answer.waitFor({ state: 'visible' });
    assert.match(await answer.locator('.bubble').textContent(), /^Right, .*: Oslo \(on message w\d+\)$/);
    assert.doesNotMatch(await answer.locator('.meta').textContent(), /someone else/, 'the answer to my press is to me');
    assert.deepEqual(errors, []);
    if (process.env.RICH_SCREENSHOT) await page.screenshot({ path: process.env.RICH_SCREENSHOT });
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
