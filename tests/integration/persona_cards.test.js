'use strict';
// Stories of character cards: someone brings the cards they already have
// (a V2 PNG, a V3 PNG with both chunks, a CHARX, plain JSON), the persona
// greets each channel once with the card's first message, the model gets
// the card's parts in the documented order with its lorebook's entries
// where they belong, cards round-trip through export and import, and
// hostile cards are refused with the field named.
const path = require('node:path');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test } = require('../lib/tap');
const { startRedis } = require('../lib/redis');
const { startFakeOpenAI } = require('../lib/fake-openai');
const { startChorusd, checkConfig } = require('../lib/chorusd');
const { openUser } = require('../lib/stack');
const { tempDir, luaString } = require('../lib/util');
const { cardJson, pngCard, charx } = require('../lib/cards');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');

function chorusctl(socket, ...args) {
  return new Promise((resolve) => {
    execFile(CHORUSCTL, ['--socket', socket, ...args], { timeout: 5000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

// Aiko's card: every field, macros, and a lorebook with an entry at each position.
const AIKO = cardJson({
  name: 'Aiko',
  description: '{{char}} is a barista in a small cafe in Kyoto.',
  personality: 'warm, curious, a little shy',
  scenario: '{{user}} walks into the cafe on a rainy evening.',
  first_mes: 'Welcome in, {{user}}! Sit anywhere you like.',
  mes_example: '<START>\n{{user}}: What do you recommend?\n{{char}}: The hojicha latte, always.\n<START>\n{{user}}: Busy day?\n{{char}}: Never too busy for you.',
  system_prompt: 'You are {{char}}. {{original}}',
  post_history_instructions: 'Reply as {{char}} in two sentences at most.',
  creator_notes: 'SECRET-CREATOR-NOTE never sent',
  alternate_greetings: ['Oh, hello again!'],
  tags: ['cafe', 'slice of life'],
  character_book: {
    name: 'Kyoto',
    scan_depth: 2,
    entries: [
      { keys: ['dragon'], content: 'LORE-BEFORE: a dragon sleeps under the cafe.', insertion_order: 1, position: 'before_char', enabled: true },
      { keys: ['matcha'], content: 'LORE-AFTER: matcha comes from Uji.', insertion_order: 2, position: 'after_char', enabled: true },
      { keys: ['rain'], content: 'LORE-DEPTH: it has rained for {{char}} all week.', insertion_order: 3, enabled: true, extensions: { position: 4, depth: 1, role: 0 } },
      { keys: ['nothing-says-this'], content: 'LORE-NEVER', insertion_order: 4, enabled: true },
    ],
  },
}, 'chara_card_v2');

async function startCards({ extra = '', files = {} } = {}) {
  const redis = await startRedis();
  const fake = await startFakeOpenAI();
  const q = luaString;
  const socket = path.join(tempDir('chorus-admin'), 'admin.sock');
  const config = [
    'listen "127.0.0.1:0"',
    `admin_socket ${q(socket)}`,
    `redis ${q(redis.url)} { reconnect_min_ms = 20, reconnect_max_ms = 200 }`,
    `model "default" { provider = "openai", base_url = ${q(fake.baseUrl)}, model = "gpt-test" }`,
    'persona "aiko" { card = "cards/aiko.png" }',
    extra,
  ].join('\n');
  const chorus = await startChorusd({ config, files: { 'cards/aiko.png': pngCard({ chara: AIKO }), ...files } });
  return { redis, fake, chorus, socket, user: (name) => openUser(chorus.wsUrl, name) };
}

const lastChat = (fake) => fake.requests.filter((r) => !r.body.messages[0].content.startsWith('Summarize')).at(-1).body.messages;

test('a V2 PNG card: the persona greets the channel once, and the model gets the card in the documented order', async () => {
  const s = await startCards();
  const ann = await s.user('Ann');
  const id = ann.say('cafe', 'hello! is the dragon awake? it is raining and I want matcha');
  const greeting = await ann.replyTo(id);
  assert.equal(greeting.text, 'Welcome in, Ann! Sit anywhere you like.', 'first_mes, {{user}} replaced');
  const answer = await ann.replyTo(id);
  assert.match(answer.text, /^echo: hello!/, 'then the answer');

  const m = lastChat(s.fake);
  const roles = m.map((x) => x.role);
  assert.deepEqual(roles, ['system', 'system', 'assistant', 'system', 'user', 'system'],
    'system, examples, the greeting, the depth-1 entry, the message, post-history instructions');
  const sys = m[0].content;
  const order = [
    'You are Aiko. Write Aiko\'s next reply in a chat between Aiko and Ann. Stay in character.',
    'LORE-BEFORE: a dragon sleeps under the cafe.',
    'Aiko is a barista in a small cafe in Kyoto.',
    'Aiko\'s personality: warm, curious, a little shy',
    'Scenario: Ann walks into the cafe on a rainy evening.',
    'LORE-AFTER: matcha comes from Uji.',
    'You are talking with Ann.',
  ];
  let at = -1;
  for (const part of order) {
    const i = sys.indexOf(part);
    assert.ok(i > at, `"${part}" comes next in the system message:\n${sys}`);
    at = i;
  }
  assert.ok(sys.startsWith(order[0]), 'the card\'s system prompt first, {{original}} and {{char}} replaced');
  assert.match(m[1].content, /^Example dialogue/);
  assert.match(m[1].content, /Ann: What do you recommend\?\nAiko: The hojicha latte, always\.\n\nAnn: Busy day\?/);
  assert.equal(m[2].content, 'Welcome in, Ann! Sit anywhere you like.');
  assert.equal(m[3].content, 'LORE-DEPTH: it has rained for Aiko all week.', 'the depth entry, just before the last message');
  assert.equal(m[4].content, 'hello! is the dragon awake? it is raining and I want matcha');
  assert.equal(m[5].content, 'Reply as Aiko in two sentences at most.', 'post-history instructions come last');
  const wire = JSON.stringify(m);
  assert.ok(!wire.includes('SECRET-CREATOR-NOTE'), 'creator notes are never sent');
  assert.ok(!wire.includes('LORE-NEVER'), 'an entry whose key was not said stays out');

  const again = ann.say('cafe', 'thanks, just tea today');
  const second = await ann.replyTo(again);
  assert.match(second.text, /^echo: thanks/, 'no second greeting in the same channel');
  const m2 = lastChat(s.fake);
  assert.deepEqual(m2.slice(2, 5).map((x) => x.content), ['Welcome in, Ann! Sit anywhere you like.',
    'hello! is the dragon awake? it is raining and I want matcha', answer.text], 'the greeting is part of the history');
  assert.ok(m2[0].content.includes('LORE-AFTER'), 'matcha is in the previous message (the echo): within scan depth 2');
  await ann.replyTo(ann.say('cafe', 'see you'));
  assert.ok(!lastChat(s.fake)[0].content.includes('LORE-AFTER'), 'three messages on, past the scan depth, the entry is gone');

  const bob = await s.user('Bob');
  const other = bob.say('garden', 'hi');
  assert.equal((await bob.replyTo(other)).text, 'Welcome in, Bob! Sit anywhere you like.', 'another channel is greeted too');
});

test('a V3 PNG with both chunks (ccv3 wins), a CHARX and a JSON card, with config keys over the card', async () => {
  const v3 = cardJson({ name: 'Kenji', description: 'KENJI-V3 a librarian.' });
  const stale = cardJson({ name: 'Old Kenji', description: 'STALE-V2' }, 'chara_card_v2');
  const s = await startCards({
    extra: [
      'persona "kenji" { card = "cards/kenji.png" }',
      'persona "mika" { card = "cards/mika.charx", scenario = "CONFIG-SCENARIO wins over the card" }',
      'persona "ren" { card = "cards/ren.json", prompt = "CONFIG-PROMPT You are Ren." }',
    ].join('\n'),
    files: {
      'cards/kenji.png': pngCard({ chara: stale, ccv3: v3 }),
      'cards/mika.charx': charx(cardJson({ name: 'Mika', description: 'MIKA-CHARX', scenario: 'card scenario' })),
      'cards/ren.json': JSON.stringify(cardJson({ name: 'Ren', system_prompt: 'CARD-PROMPT', description: 'REN-JSON' }, 'chara_card_v2')),
    },
  });
  const ann = await s.user('Ann');
  for (const [persona, want, not] of [['kenji', /KENJI-V3/, /STALE-V2/], ['mika', /MIKA-CHARX[\s\S]*Scenario: CONFIG-SCENARIO/, /card scenario/],
    ['ren', /^CONFIG-PROMPT You are Ren\.[\s\S]*REN-JSON/, /CARD-PROMPT/]]) {
    const use = await chorusctl(s.socket, 'persona', 'use', persona, '--channel', `webchat:${persona}-room`);
    assert.equal(use.code, 0, use.stderr);
    await ann.replyTo(ann.say(`${persona}-room`, 'hi'));
    const sys = lastChat(s.fake)[0].content;
    assert.match(sys, want, `${persona}: ${sys}`);
    assert.doesNotMatch(sys, not);
  }
});

test('hostile cards in the config are refused with the field named', async () => {
  const cases = [
    [Buffer.from(JSON.stringify({ spec: 'chara_card_v9', data: { name: 'x' } })), /spec: "chara_card_v9"/],
    [Buffer.from(JSON.stringify({ spec: 'chara_card_v2', data: { description: 'x' } })), /data\.name: missing/],
    [pngCard({ chara: 'eyJ!!!not base64' }), /chara: broken base64/],
    [charx(null, { bomb: 20 << 20, claim: 100 }), /card\.json: inflates beyond/],
    [Buffer.alloc(9 << 20, 32), /over the 8388608-byte limit/],
  ];
  for (const [bytes, why] of cases) {
    const r = await checkConfig('persona "bad" { card = "bad.card" }\n', { files: { 'bad.card': bytes } });
    assert.notEqual(r.code, 0, 'refused');
    assert.match(r.stderr, why);
    assert.match(r.stderr, /:1: persona "bad": card /, 'with FILE:LINE and the persona');
  }
});

test('chorusctl imports a card file, the channel uses it at once, export gives the same card back, and preview shows the prompt', async () => {
  const s = await startCards();
  const dir = tempDir('cards');
  const file = path.join(dir, 'yuki.png');
  const yuki = cardJson({
    name: 'Yuki Mori', description: 'YUKI a snow spirit.', first_mes: 'Brr, hello {{user}}.', tags: ['snow'],
    character_book: { entries: [{ keys: ['snow'], content: 'SNOW-LORE: it never melts.', enabled: true, insertion_order: 1 }] },
    extensions: { chub: { id: 7 } },
  });
  require('node:fs').writeFileSync(file, pngCard({ ccv3: yuki }));
  const imp = await chorusctl(s.socket, 'persona', 'import', file);
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stdout, /Imported "Yuki Mori" as persona yuki-mori/);
  assert.equal((await chorusctl(s.socket, 'persona', 'use', 'yuki-mori', '--channel', 'webchat:igloo')).code, 0);
  const ann = await s.user('Ann');
  const id = ann.say('igloo', 'is there snow?');
  assert.equal((await ann.replyTo(id)).text, 'Brr, hello Ann.');
  await ann.replyTo(id);
  assert.match(lastChat(s.fake)[0].content, /YUKI a snow spirit\.[\s\S]*/);
  assert.match(lastChat(s.fake)[0].content, /SNOW-LORE/);

  const exp = await chorusctl(s.socket, 'persona', 'export', 'yuki-mori');
  assert.equal(exp.code, 0, exp.stderr);
  const card = JSON.parse(exp.stdout);
  assert.equal(card.spec, 'chara_card_v3');
  for (const k of ['name', 'description', 'first_mes', 'tags', 'character_book', 'extensions']) {
    assert.deepEqual(card.data[k], yuki.data[k], `${k} round-trips`);
  }
  const back = path.join(dir, 'back.json');
  require('node:fs').writeFileSync(back, exp.stdout);
  const again = await chorusctl(s.socket, 'persona', 'import', back, '--name', 'yuki2');
  assert.equal(again.code, 0, again.stderr);
  const exp2 = JSON.parse((await chorusctl(s.socket, 'persona', 'export', 'yuki2')).stdout);
  assert.deepEqual(exp2, card, 'export, import, export: the same card');
  const cfgExp = JSON.parse((await chorusctl(s.socket, 'persona', 'export', 'aiko')).stdout);
  assert.equal(cfgExp.data.description, AIKO.data.description, 'a config persona exports its card too');

  const hostile = path.join(dir, 'bad.json');
  require('node:fs').writeFileSync(hostile, JSON.stringify({ spec: 'chara_card_v2', data: { name: '' } }));
  const bad = await chorusctl(s.socket, 'persona', 'import', hostile);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /data\.name: missing/);

  const calls = s.fake.requests.length;
  const pv = await chorusctl(s.socket, 'persona', 'preview', 'aiko', '--channel', 'webchat:nowhere', 'tell me about the dragon');
  assert.equal(pv.code, 0, pv.stderr);
  assert.match(pv.stdout, /--- system\nYou are Aiko\./);
  assert.match(pv.stdout, /Kyoto \/ dragon \(before_char, \d+ tokens\): key "dragon" in the message/);
  assert.match(pv.stdout, /--- user\ntell me about the dragon\n--- system\nReply as Aiko/);
  assert.match(pv.stdout, /about \d+ tokens of a 3000-token budget/);
  const pvJson = JSON.parse((await chorusctl(s.socket, '--json', 'persona', 'preview', 'yuki-mori', '--channel', 'webchat:igloo', 'more snow')).stdout);
  assert.ok(pvJson.messages.some((m) => m.content === 'is there snow?'), 'the channel history is in the preview');
  assert.equal(s.fake.requests.length, calls, 'the preview calls no model');
});

test('a card pasted in chat by someone without the admin role is refused, and nothing is stored', async () => {
  const s = await startCards();
  const guest = await s.user('Guest');
  const card = JSON.stringify(cardJson({ name: 'Chat Card', description: 'CHAT-PASTED  two spaces' }));
  const id = guest.say('ops', `!chorus persona import --name pasted ${card}`);
  assert.match((await guest.replyTo(id)).text, /"persona import \[--name NAME\] CARD-JSON" needs the admin role/);
  assert.equal(await s.redis.cmd('EXISTS', 'chorus:card:pasted'), 0);
  assert.doesNotMatch(s.fake.requests.map((r) => JSON.stringify(r.body)).join(''), /CHAT-PASTED/, 'the card never reached a model');
});
