'use strict';
// Web chat, the happy paths: people talk to a persona over /ws, the answers
// come back to everyone in the channel, in order, once each, and the
// conversation is remembered in Redis.

const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack, personaKey, historyKey, KENJI, AIKO } = require('../lib/stack');
const { lastUserText, startFakeOpenAI } = require('../lib/fake-openai');

const isTyping = (m) => m.type === 'typing';

test('Ann says hello in the lobby and Aiko answers her (no subprotocol)', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  assert.equal(ann.ws.protocol, '', 'no subprotocol was offered, so none may be chosen');

  ann.say('lobby', 'hello', 'c1');
  const reply = await ann.replyTo('c1');

  assert.deepEqual(
    { type: reply.type, channel: reply.channel, persona: reply.persona, text: reply.text, reply_to: reply.reply_to },
    { type: 'message', channel: 'lobby', persona: 'aiko', text: 'echo: hello', reply_to: 'c1' },
  );
  // Before the answer Ann may see "typing" notices for the lobby, and nothing else.
  const before = ann.received().slice(0, ann.received().indexOf(reply));
  for (const m of before) {
    assert.deepEqual({ type: m.type, channel: m.channel }, { type: 'typing', channel: 'lobby' }, `unexpected message before the reply: ${JSON.stringify(m)}`);
  }
});

test('Ben connects with the "chorus" subprotocol and the server agrees to it', async () => {
  const stack = await startStack();
  const ben = await stack.user('Ben', { protocol: 'chorus' });
  assert.equal(ben.ws.protocol, 'chorus', 'the server must echo the offered subprotocol in Sec-WebSocket-Protocol');

  ben.say('lobby', 'good morning', 'b1');
  const reply = await ben.replyTo('b1');
  assert.equal(reply.text, 'echo: good morning');
  assert.equal(reply.persona, 'aiko');
});

test('after Aiko answers, both turns of the talk are stored in Redis, oldest first', async () => {
  const stack = await startStack({ configOptions: { prefix: 'story:' } });
  const ann = await stack.user('Ann');

  ann.say('lobby', 'hello', 'c1');
  await ann.replyTo('c1');

  // No persona was chosen for the lobby, so the default one (aiko) answered.
  assert.equal(await stack.redis.cmd('GET', personaKey('lobby', 'story:')), null);
  const history = await stack.history('lobby', 'aiko');
  assert.equal(history.length, 2, `expected 2 turns in ${historyKey('lobby', 'aiko', 'story:')}, got ${JSON.stringify(history)}`);
  assert.deepEqual(history.map((h) => ({ role: h.role, content: h.content })), [
    { role: 'user', content: 'hello' },
    { role: 'assistant', content: 'echo: hello' },
  ]);

  ann.say('lobby', 'how are you?', 'c2');
  await ann.replyTo('c2');
  const later = await stack.history('lobby', 'aiko');
  assert.deepEqual(later.map((h) => h.content), ['hello', 'echo: hello', 'how are you?', 'echo: how are you?']);

  // The configured prefix is used: nothing was written under the default one.
  assert.equal(await stack.redis.cmd('EXISTS', historyKey('lobby', 'aiko', 'chorus:')), 0);
});

test('three quick messages in one channel are answered in the order they were sent', async () => {
  const stack = await startStack();
  // The first question is the slowest for the model: if chorusd handled the
  // channel's messages concurrently, the answers would come back reversed.
  const slowness = { one: 600, two: 300, three: 0 };
  stack.fake.respond = (req) => ({ delayMs: slowness[lastUserText(req)] || 0 });
  const ann = await stack.user('Ann');

  ann.say('lobby', 'one', 'q1');
  ann.say('lobby', 'two', 'q2');
  ann.say('lobby', 'three', 'q3');
  await ann.replyTo('q3', 15000);

  const replies = ann.received().filter((m) => m.type === 'message');
  assert.deepEqual(replies.map((m) => [m.reply_to, m.text]), [
    ['q1', 'echo: one'],
    ['q2', 'echo: two'],
    ['q3', 'echo: three'],
  ]);

  // Handled one after another: when "two" went to the model, "one" had been
  // answered and was part of the conversation.
  const asked = stack.fake.chatRequests().map((r) => lastUserText(r));
  assert.deepEqual(asked, ['one', 'two', 'three']);
  const second = stack.fake.chatRequests()[1].body.messages.slice(1).map((m) => [m.role, m.content]);
  assert.deepEqual(second, [['user', 'one'], ['assistant', 'echo: one'], ['user', 'two']]);
});

test('a slow answer in one channel does not hold up another channel', async () => {
  const stack = await startStack();
  stack.fake.respond = (req) => (lastUserText(req) === 'a long question' ? { delayMs: 3000 } : undefined);
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');

  ann.say('slow-room', 'a long question', 'a1');
  await stack.fake.waitForRequest((r) => lastUserText(r) === 'a long question');
  const askedAt = Date.now();
  ben.say('fast-room', 'a short question', 'b1');

  const benReply = await ben.replyTo('b1', 2000);
  assert.equal(benReply.text, 'echo: a short question');
  assert.ok(Date.now() - askedAt < 2000, 'Ben waited for Ann\'s slow answer');
  assert.equal(ann.answersTo('a1').length, 0, 'Ann\'s slow answer cannot have arrived yet');

  const annReply = await ann.replyTo('a1', 6000);
  assert.equal(annReply.text, 'echo: a long question');
});

test('everyone in the lobby hears the answer; people in other channels do not', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');
  const cat = await stack.user('Cat');

  ben.join('lobby');
  cat.join('garden');
  // A websocket handles its frames in order: once the pong is back, the joins are done.
  await ben.ws.ping();
  await cat.ws.ping();

  ann.say('lobby', 'is anyone here?', 'a1');
  const annHears = await ann.replyTo('a1');
  const benHears = await ben.replyTo('a1');
  assert.equal(benHears.text, annHears.text);
  assert.equal(benHears.channel, 'lobby');

  // Ann has spoken in the lobby, so she hears answers to Ben too.
  ben.say('lobby', 'I am!', 'b1');
  await ben.replyTo('b1');
  const annHearsBen = await ann.replyTo('b1');
  assert.equal(annHearsBen.text, 'echo: I am!');

  // Cat talks in the garden and only hears the garden.
  cat.say('garden', 'hello flowers', 'g1');
  await cat.replyTo('g1');
  ann.say('lobby', 'bye', 'a2');
  await ann.replyTo('a2');
  await ben.replyTo('a2');
  assert.deepEqual(cat.received().filter((m) => m.channel !== 'garden'), [], 'Cat heard another channel');
  assert.deepEqual(ann.received().filter((m) => m.channel !== 'lobby'), [], 'Ann heard another channel');
  assert.deepEqual(ben.received().filter((m) => m.channel !== 'lobby'), [], 'Ben heard another channel');
});

test('every accepted message gets exactly one answer', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');
  ben.join('lobby');
  await ben.ws.ping();

  const ids = [];
  for (let i = 1; i <= 5; i++) ids.push(ann.say('lobby', `message number ${i}`, `n${i}`));
  for (const id of ids) await ann.replyTo(id);
  // One more round trip: any duplicate of the five would be delivered before its answer.
  ann.say('lobby', 'last one', 'n6');
  await ann.replyTo('n6');
  await ben.replyTo('n6');

  for (const user of [ann, ben]) {
    for (const id of [...ids, 'n6']) {
      const answers = user.answersTo(id);
      assert.equal(answers.length, 1, `${user.name} got ${answers.length} answers to ${id}: ${JSON.stringify(answers)}`);
      assert.equal(answers[0].type, 'message');
    }
  }
  assert.equal(stack.fake.chatRequests().length, 6, 'each message is sent to the model once');
});

test('switching the lobby to Kenji in Redis changes who answers and starts a separate memory', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');

  ann.say('lobby', 'hi Aiko', 'c1');
  assert.equal((await ann.replyTo('c1')).persona, 'aiko');

  await stack.redis.cmd('SET', personaKey('lobby'), 'kenji');
  ann.say('lobby', 'hi Kenji', 'c2');
  const reply = await ann.replyTo('c2');
  assert.equal(reply.persona, 'kenji');
  assert.equal(reply.text, 'echo: hi Kenji');

  const req = stack.fake.chatRequests().at(-1);
  assert.equal(req.body.messages[0].role, 'system');
  assert.ok(req.body.messages[0].content.startsWith(KENJI.prompt), `Kenji's system prompt should start with his prompt, got ${JSON.stringify(req.body.messages[0].content)}`);
  assert.deepEqual(req.body.messages.slice(1).map((m) => [m.role, m.content]), [['user', 'hi Kenji']], 'Kenji must not see Aiko\'s conversation');

  const kenjiMemory = await stack.history('lobby', 'kenji');
  assert.deepEqual(kenjiMemory.map((h) => [h.role, h.content]), [['user', 'hi Kenji'], ['assistant', 'echo: hi Kenji']]);
  const aikoMemory = await stack.history('lobby', 'aiko');
  assert.deepEqual(aikoMemory.map((h) => [h.role, h.content]), [['user', 'hi Aiko'], ['assistant', 'echo: hi Aiko']]);

  // Back to Aiko: she still remembers her own talk.
  await stack.redis.cmd('DEL', personaKey('lobby'));
  ann.say('lobby', 'back again', 'c3');
  assert.equal((await ann.replyTo('c3')).persona, 'aiko');
  const last = stack.fake.chatRequests().at(-1);
  assert.ok(last.body.messages[0].content.startsWith(AIKO.prompt));
  assert.deepEqual(last.body.messages.slice(1).map((m) => m.content), ['hi Aiko', 'echo: hi Aiko', 'back again']);
});

test('a persona on the built-in local model answers without calling the network model', async () => {
  const fake = await startFakeOpenAI();
  const stack = await startStack({
    fake,
    configOptions: {
      personas: [AIKO, { ...KENJI, model: 'offline' }],
      extra: 'model "offline" { provider = "local" }',
    },
  });
  // Personas are checked against models after the whole file is read, so the
  // model may be defined after the persona that uses it.
  await stack.redis.cmd('SET', personaKey('library'), 'kenji');
  const ann = await stack.user('Ann');
  ann.say('library', 'hello, who are you?', 'k1');
  const reply = await ann.replyTo('k1');
  assert.equal(reply.persona, 'kenji');
  assert.equal(typeof reply.text, 'string');
  assert.ok(reply.text.length > 0, 'the local model says something');
  assert.notEqual(reply.text, KENJI.apology);
  assert.equal(fake.chatRequests().length, 0, 'the local model must not call the HTTP model');
});

test('each channel has its own memory', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');

  ann.say('lobby', 'my cat is called Miso', 'l1');
  await ann.replyTo('l1');
  ann.say('garden', 'what is my cat called?', 'g1');
  await ann.replyTo('g1');

  const gardenReq = stack.fake.chatRequests().at(-1);
  assert.deepEqual(gardenReq.body.messages.slice(1).map((m) => m.content), ['what is my cat called?']);
  assert.deepEqual((await stack.history('garden')).map((h) => h.content), ['what is my cat called?', 'echo: what is my cat called?']);
  assert.deepEqual((await stack.history('lobby')).map((h) => h.content), ['my cat is called Miso', 'echo: my cat is called Miso']);
});

test('Japanese, accents and emoji travel unchanged to the model, back to the user and into Redis', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  const text = 'こんにちは、アイコ！ café ☕ 🌸👩‍👩‍👧 "quotes" \\ back\nslash';

  ann.say('lobby', text, 'u1');
  const reply = await ann.replyTo('u1');
  assert.equal(reply.text, `echo: ${text}`);
  assert.equal(lastUserText(stack.fake.chatRequests()[0]), text);
  assert.deepEqual((await stack.history('lobby')).map((h) => h.content), [text, `echo: ${text}`]);
});

test('a message sent in several websocket fragments, split inside a character, is understood', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  const bytes = Buffer.from(JSON.stringify({ type: 'message', id: 'f1', channel: 'lobby', user: { id: 'u-ann', name: 'Ann' }, text: 'fragmented 🌸 hello' }), 'utf8');
  const flower = bytes.indexOf(Buffer.from('🌸'));
  // Cut the 4-byte flower in the middle, and once more elsewhere.
  ann.ws.sendFragments([bytes.subarray(0, flower + 2), bytes.subarray(flower + 2, flower + 10), bytes.subarray(flower + 10)]);
  const reply = await ann.replyTo('f1');
  assert.equal(reply.text, 'echo: fragmented 🌸 hello');
});

test('a browser-style ping gets a pong while the chat is idle', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  assert.equal(await ann.ws.ping('still there?'), 'still there?');
  ann.say('lobby', 'and now a message', 'p1');
  await ann.replyTo('p1');
});

test('when Ann leaves with a close frame, the server answers it', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  ann.say('lobby', 'see you', 'x1');
  await ann.replyTo('x1');
  const { code } = await ann.ws.close(1000, 'bye');
  assert.equal(code, 1000);
  // The server is fine afterwards.
  const ben = await stack.user('Ben');
  ben.say('lobby', 'anyone?', 'y1');
  await ben.replyTo('y1');
  assert.equal(typing(ben).every((m) => m.channel === 'lobby'), true);
});

function typing(user) { return user.received().filter(isTyping); }
