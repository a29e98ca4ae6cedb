'use strict';
// Stories of a Telegram bot configured with format = "markdown": the
// model's Markdown (code, code blocks, **bold**) reaches people as
// Telegram's MarkdownV2, with every character MarkdownV2 reserves
// (_ * [ ] ( ) ~ ` > # + - = | { } . ! and the backslash) escaped outside
// the entities and only ` and \ inside code, so Telegram never refuses the
// formatting; a reply past 4096 UTF-16 units is split without cutting an
// entity or an escape in two. The fake Bot API parses MarkdownV2 as
// Telegram does and refuses what Telegram would refuse.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startTelegramStack, replyTo } = require('../lib/telegram-stack');
const { parseMarkdownV2 } = require('../lib/fake-telegram');

const MARKDOWN = 'format = "markdown"';

test('Ann\'s answer with Markdown and every reserved character arrives as MarkdownV2, escaped, with its entities', async () => {
  const { fake, chorus } = await startTelegramStack({ telegramExtra: MARKDOWN });
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  const said = 'prices (1.5!) are [up] by +3 - 2 = 1 #ad {x|y} ~z_ > 4 * 2 \\ done. ' +
    '**bold_one.** and `x_y*z \\ q` then\n```js\nconst a = b.c("(`)");\n```\nend!';
  const m = fake.userSays(ann, dm, said);
  const reply = await replyTo(fake, m);
  assert.equal(reply.parse_mode, 'MarkdownV2');
  const plain = 'echo: prices (1.5!) are [up] by +3 - 2 = 1 #ad {x|y} ~z_ > 4 * 2 \\ done. ' +
    'bold_one. and x_y*z \\ q then\nconst a = b.c("(`)");\n\nend!';
  assert.equal(reply.text, plain, 'what Telegram shows: the characters as typed, the markup gone');
  const at = (s) => reply.text.indexOf(s);
  assert.deepEqual(reply.entities, [
    { type: 'bold', offset: at('bold_one.'), length: 'bold_one.'.length },
    { type: 'code', offset: at('x_y*z'), length: 'x_y*z \\ q'.length },
    { type: 'pre', offset: at('const a'), length: 'const a = b.c("(`)");\n'.length, language: 'js' },
  ]);
  // What was sent, read independently of the fake's parser: outside the
  // entities every reserved character has its backslash.
  const head = reply.raw.slice(0, reply.raw.indexOf('*bold'));
  assert.equal(head, 'echo: prices \\(1\\.5\\!\\) are \\[up\\] by \\+3 \\- 2 \\= 1 \\#ad \\{x\\|y\\} \\~z\\_ \\> 4 \\* 2 \\\\ done\\. ');
  assert.ok(reply.raw.includes('*bold\\_one\\.*'), 'escaped inside bold too');
  assert.ok(reply.raw.includes('`x_y*z \\\\ q`'), 'in code only \\ (and `) is escaped');
  assert.ok(reply.raw.includes('```js\nconst a = b.c("(\\`)");\n```'), 'in a code block only ` (and \\) is escaped');
  assert.ok(!chorus.logText().includes('refused the formatting'), 'Telegram never refused it');
  assert.deepEqual(fake.violations, []);
});

test('Markdown that does not close is sent as escaped text, not as a broken entity', async () => {
  const { fake, chorus } = await startTelegramStack({ telegramExtra: MARKDOWN });
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  for (const said of ['an open ``` fence with no end', 'a lone ` tick', '**bold never closed', '** **']) {
    const reply = await replyTo(fake, fake.userSays(ann, dm, said));
    assert.equal(reply.parse_mode, 'MarkdownV2', said);
    assert.equal(reply.text, `echo: ${said}`, `"${said}" shows as typed`);
  }
  assert.ok(!chorus.logText().includes('refused the formatting'));
});

test('a long Markdown answer is split at 4096 UTF-16 units without cutting a code block, bold or an escape', async () => {
  const { fake, chorus } = await startTelegramStack({ telegramExtra: MARKDOWN });
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  // Dots and brackets double in length once escaped; the code block
  // (about 1200 units) starts before unit 4096 and ends after it; the
  // emoji are two UTF-16 units each.
  const prose = [];
  for (let i = 0; i < 34; i++) prose.push(`Line ${i}: a.b (c) [d] e-f g=h 1+1 #${i} {i} j|k l! 😀 **strong ${i}.** and \`x_${i}\`, more text here.`);
  const code = [];
  for (let i = 0; i < 30; i++) code.push(`    value_${i} = compute(${i}) * [${i}] # note \`${i}\``);
  const tail = [];
  for (let i = 0; i < 12; i++) tail.push(`Tail ${i}: done (really) **yes.** 🎉`);
  const said = `${prose.join('\n')}\n\`\`\`python\n${code.join('\n')}\n\`\`\`\n${tail.join('\n')}`;
  const m = fake.userSays(ann, dm, said);
  const first = await replyTo(fake, m);
  await fake.waitForSent((s) => s.chat_id === dm.id && /Tail 11: done \(really\) yes\. 🎉$/.test(s.text));
  const pieces = fake.sent.filter((s) => s.chat_id === dm.id);
  assert.ok(pieces.length >= 2, `split (${pieces.length} pieces)`);
  assert.equal(pieces[0], first);
  for (const p of pieces) {
    assert.equal(p.parse_mode, 'MarkdownV2', 'every piece as MarkdownV2');
    assert.ok(p.text.length <= 4096, `a piece of ${p.text.length} units`);
    assert.deepEqual(parseMarkdownV2(p.raw).text, p.text);
  }
  assert.ok(!chorus.logText().includes('refused the formatting'), 'no piece was refused and sent plain');
  // Every line of code is inside a pre entity of the piece it went in,
  // and every bold part is bold.
  for (const line of code) {
    const p = pieces.find((x) => x.text.includes(line));
    assert.ok(p, `"${line}" was sent`);
    const at = p.text.indexOf(line);
    assert.ok((p.entities || []).some((e) => e.type === 'pre' && e.offset <= at && at + line.length <= e.offset + e.length),
      `"${line}" is in a code block`);
  }
  for (const word of [...prose.map((_, i) => `strong ${i}.`), 'yes.']) {
    const p = pieces.find((x) => x.text.includes(word));
    const at = p.text.indexOf(word);
    assert.ok((p.entities || []).some((e) => e.type === 'bold' && e.offset <= at && at + word.length <= e.offset + e.length), `"${word}" is bold`);
  }
  const norm = (s) => s.replace(/\s+/g, ' ').trim();
  const expected = `echo: ${said}`.replace(/\*\*/g, '').replace(/```python\n/, '').replace(/\n```\n/, '\n\n').replace(/`(x_\d+)`/g, '$1');
  assert.equal(norm(pieces.map((p) => p.text).join('\n')), norm(expected), 'nothing lost or doubled');
  assert.deepEqual(fake.violations, []);
});

test('a code block longer than a message is closed at the cut and opened again, language and all, in the next', async () => {
  const { fake, chorus } = await startTelegramStack({ telegramExtra: MARKDOWN });
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  const code = [];
  for (let i = 0; i < 200; i++) code.push(`  step_${i}(a.b, [${i}]) # \`tick\` and \\ back`);
  const said = `Here it is:\n\`\`\`sh\n${code.join('\n')}\n\`\`\`\nThat is all (really).`;
  const m = fake.userSays(ann, dm, said);
  await replyTo(fake, m);
  await fake.waitForSent((s) => s.chat_id === dm.id && s.text.endsWith('That is all (really).'));
  const pieces = fake.sent.filter((s) => s.chat_id === dm.id);
  assert.ok(pieces.length >= 3, `${said.length} characters of code in ${pieces.length} pieces`);
  for (const p of pieces) {
    assert.equal(p.parse_mode, 'MarkdownV2');
    assert.ok(p.text.length <= 4096, `a piece of ${p.text.length} units`);
  }
  assert.ok(!chorus.logText().includes('refused the formatting'));
  for (const line of code) {
    const p = pieces.find((x) => x.text.includes(`${line}\n`));
    assert.ok(p, `"${line}" was sent whole, indent and all`);
    const at = p.text.indexOf(line);
    const pre = (p.entities || []).find((e) => e.type === 'pre' && e.offset <= at && at + line.length <= e.offset + e.length);
    assert.ok(pre, `"${line}" is in a code block`);
    assert.equal(pre.language, 'sh', 'the language goes on in every piece');
  }
  assert.equal(pieces.filter((p) => p.text.includes(code[0])).length, 1, 'no line twice');
  assert.equal(pieces.map((p) => p.text).join('').split('step_').length - 1, code.length, 'every line once');
  assert.deepEqual(fake.violations, []);
});
