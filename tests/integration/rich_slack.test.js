'use strict';
// The quiz card on Slack: Block Kit blocks (a section for the text, the
// title and question, fields, an image, the footer, an actions block of
// buttons) with a readable text fallback; a press of one of its buttons
// reaches the plugin, whose ephemeral answer goes to the response_url.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startSlackStack } = require('../lib/slack-stack');
const { writePlugins } = require('../lib/plugins');
const { luaString } = require('../lib/util');
const { RICH_PLUGINS } = require('../lib/rich-plugin');

async function slackWithQuiz() {
  const dir = writePlugins(RICH_PLUGINS);
  return startSlackStack({ configExtra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 300, deadline_ms = 5000 }` });
}

test('a quiz card arrives on Slack as blocks with buttons, and its text is the readable fallback', async () => {
  const { fake } = await slackWithQuiz();
  fake.userMessage({ text: '!quiz' });
  const post = await fake.waitForPost((p) => Array.isArray(p.body.blocks));
  const blocks = post.body.blocks;
  assert.deepEqual(blocks.map((b) => b.type), ['section', 'section', 'section', 'image', 'context', 'actions', 'actions']);
  assert.equal(blocks[0].text.text, 'Round 1 for <@U0ANN>', 'the mention works inside blocks');
  assert.equal(blocks[1].text.text, '*<https://example.com/quiz|Capital cities>*\nWhat is the capital of Norway?');
  assert.deepEqual(blocks[2].fields.map((f) => f.text), ['*Round*\n1', '*Score*\n0']);
  assert.equal(blocks[3].image_url, 'https://example.com/norway.png');
  const buttons = blocks[5].elements;
  assert.deepEqual(buttons.map((b) => [b.text.text, b.action_id, b.style]),
    [['Oslo', 'quiz:oslo', undefined], ['Bergen', 'quiz:bergen', undefined], ['Tromsø', 'quiz:tromso', 'primary'],
      ['Give up', 'quiz:giveup', 'danger'], ['Hint', 'quiz:hint', undefined]]);
  assert.equal(blocks[6].elements[0].url, 'https://example.com/rules');
  assert.match(post.text, /^Round 1 for <@U0ANN>\nCapital cities\nhttps:\/\/example.com\/quiz\nWhat is the capital of Norway\?\nRound: 1\nScore: 0\n/);
  assert.match(post.text, /\[Oslo\] \[Bergen\] \[Tromsø\] \[Give up\] \[Hint\]\n\[Rules: https:\/\/example.com\/rules\]$/);
  assert.deepEqual(fake.violations, []);
});

test('pressing a card\'s button on Slack reaches the plugin, which answers only the presser through the response_url', async () => {
  const { fake } = await slackWithQuiz();
  fake.userMessage({ text: '!quiz' });
  const post = await fake.waitForPost((p) => Array.isArray(p.body.blocks));
  const oslo = post.body.blocks[5].elements[0];
  fake.buttonPress({ message_ts: post.ts, action_id: oslo.action_id, value: oslo.value, block_id: post.body.blocks[5].block_id });
  const r = await fake.waitForResponse((x) => x.path.startsWith('/actions/'));
  assert.equal(r.body.response_type, 'ephemeral');
  assert.equal(r.body.replace_original, false, 'the card stays');
  assert.equal(r.body.text, `Right, ann: Oslo (on message ${post.ts})`);
  assert.deepEqual(fake.violations, []);
});

test('an old-style action button (not ours) still runs as a command', async () => {
  const { fake } = await slackWithQuiz();
  fake.buttonPress({ value: '!whoami' });
  const r = await fake.waitForResponse((x) => x.path.startsWith('/actions/'));
  assert.equal(r.body.text, 'you are &lt;@U0ANN&gt;', 'a plain reply is escaped: the mention shows as text');
});
