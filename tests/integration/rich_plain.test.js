'use strict';
// The quiz card where the platform has no cards: on IRC it is readable
// lines of text (title, link, question, "name: value" fields, the image's
// URL, the footer, then the buttons as [label] and [label: url]); on
// Telegram the same lines with the buttons as an inline keyboard, whose
// presses reach the plugin. mention() gives the nick on IRC and the name
// on Telegram. And the poll example of docs/plugins.md passes its tests.
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { test, trackChild } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { startNgircd } = require('../lib/ircd');
const { ircUser } = require('../lib/irc-client');
const { startTelegramStack, replyTo } = require('../lib/telegram-stack');
const { startOneBotStack, replyTo: oneBotReplyTo } = require('../lib/onebot-stack');
const { startFakeMattermost } = require('../lib/fake-mattermost');
const { after } = require('../lib/tap');
const { writePlugins } = require('../lib/plugins');
const { luaString } = require('../lib/util');
const { RICH_PLUGINS } = require('../lib/rich-plugin');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const KIT = process.env.CHORUS_TEST ? path.resolve(process.env.CHORUS_TEST) : path.join(SRCDIR, 'src', 'chorus-test');
const PLUGINS_CONF = () => `plugins_dir ${luaString(writePlugins(RICH_PLUGINS))}\nskills { cpu_ms = 300, deadline_ms = 5000 }`;

const CARD_LINES = (who) => [
  `Round 1 for ${who}`,
  'Capital cities',
  'https://example.com/quiz',
  'What is the capital of Norway?',
  'Round: 1',
  'Score: 0',
  'https://example.com/norway.png',
  '3 rounds',
  '[Oslo] [Bergen] [Tromsø] [Give up] [Hint]',
  '[Rules: https://example.com/rules]',
];

test('on IRC the card is lines of text, and mention() is the nick', { timeout: 30000 }, async () => {
  const ircd = await startNgircd();
  const ann = await ircUser(ircd, 'ann');
  await ann.join('#lobby');
  await startStack({ configOptions: { extra: `irc { url = env("IRC_URL"), nick = "chorus", channels = { "#lobby" }, burst = 20 }\n${PLUGINS_CONF()}` },
    env: { IRC_URL: ircd.url } });
  await ann.waitMember('#lobby', 'chorus');
  ann.say('#lobby', '!quiz');
  await ann.waitMessage((m) => m.nick === 'chorus' && m.params[1] === '[Rules: https://example.com/rules]', { timeoutMs: 15000 });
  const lines = ann.messages((m) => m.nick === 'chorus').map((m) => m.params[1]);
  assert.deepEqual(lines, CARD_LINES('ann'));
});

test('on Telegram the card is lines of text over an inline keyboard, and a press reaches the plugin', async () => {
  const { fake } = await startTelegramStack({ configExtra: PLUGINS_CONF() });
  const ann = fake.user({ first_name: 'Ann', username: 'ann_reads' });
  const m = fake.userSays(ann, fake.privateChat(ann), '/quiz');
  const card = await replyTo(fake, m);
  assert.equal(card.text, CARD_LINES('Ann').slice(0, 8).join('\n'), 'mention() is the name; the buttons are not text');
  assert.deepEqual(card.reply_markup.inline_keyboard, [
    [{ text: 'Oslo', callback_data: 'quiz:oslo' }, { text: 'Bergen', callback_data: 'quiz:bergen' }, { text: 'Tromsø', callback_data: 'quiz:tromso' },
      { text: 'Give up', callback_data: 'quiz:giveup' }, { text: 'Hint', callback_data: 'quiz:hint' }],
    [{ text: 'Rules', url: 'https://example.com/rules' }],
  ]);
  const press = fake.pressButton(ann, card, 'quiz:oslo');
  const answer = await fake.waitForSent((s) => s.text.startsWith('Right'));
  assert.equal(answer.text, `Right, Ann: Oslo (on message ${card.message_id})`);
  assert.equal(answer.reply_to, card.message_id, 'the answer quotes the card');
  assert.deepEqual(fake.callbackAnswers.map((a) => a.id), [press.callback_query.id], 'the press was answered, so its spinner stops');
  const eph = fake.userSays(ann, fake.privateChat(ann), '/secret');
  assert.equal((await replyTo(fake, eph)).text, 'only you can see this', 'ephemeral needs nothing where it cannot be');
  assert.deepEqual(fake.violations, []);
});

test('on OneBot the card is text and mention() is an at segment; on Mattermost mention() is @username', async () => {
  const { fake } = await startOneBotStack({ configExtra: PLUGINS_CONF() });
  const ann = fake.user({ nickname: 'Ann' });
  const card = await oneBotReplyTo(fake, fake.privateMessage(ann, '!quiz'));
  assert.deepEqual(card.segments.slice(1, 3), [{ type: 'text', data: { text: 'Round 1 for ' } }, { type: 'at', data: { qq: String(ann.user_id) } }]);
  assert.equal(card.text, `Round 1 for \n${CARD_LINES('Ann').slice(1).join('\n')}`,
    'the at segment stands where the mention was; the rest is the card as text');

  const mm = await startFakeMattermost({ token: 'mm-rich-token-0123456789abcdef' });
  after(() => mm.close());
  const { chorus } = await startStack({
    configOptions: { extra: `mattermost { url = env("MATTERMOST_URL"), token = env("MATTERMOST_TOKEN"), retry_ms = 50 }\n${PLUGINS_CONF()}` },
    env: { MATTERMOST_URL: mm.url, MATTERMOST_TOKEN: 'mm-rich-token-0123456789abcdef' }, waitReady: false,
  });
  await mm.waitForHello(10000);
  await chorus.waitForLog(/mattermost: connected \(session /, 10000);   // it has read the hello
  mm.userPost({ message: '!whoami' });
  const post = await mm.waitForPost((p) => p.message.startsWith('you are'));
  assert.equal(post.message, 'you are @ann');
});

test('the poll example of docs/plugins.md passes its tests under chorus-test', { timeout: 60000 }, async () => {
  const proc = trackChild(spawn(KIT, ['docs/examples/plugins/poll'], { cwd: SRCDIR, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const code = await new Promise((resolve) => proc.once('close', resolve));
  assert.equal(code, 0, out);
  assert.match(out, /^# 3 passed, 0 failed$/m);
});
