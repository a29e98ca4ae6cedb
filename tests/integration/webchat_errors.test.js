'use strict';
// Web chat, the unhappy paths: every kind of bad input gets its error code,
// and the socket stays usable afterwards (proved by a good message that is
// answered). Nothing rejected ever reaches the model.

const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { lastUserText } = require('../lib/fake-openai');
const { OP } = require('../lib/ws');

function errorShape(m) {
  return { type: m.type, error: m.error, reply_to: m.reply_to };
}

// After an error, the same socket still works.
async function stillChatting(user, id = 'ok-after') {
  user.say('lobby', 'is this one fine?', id);
  const reply = await user.replyTo(id);
  assert.equal(reply.text, 'echo: is this one fine?');
}

test('Ann types something that is not JSON: bad_json, and she can keep chatting', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');

  ann.ws.sendText('hello? {this is not json');
  const err = await ann.nextError();
  assert.deepEqual(errorShape(err), { type: 'error', error: 'bad_json', reply_to: null });

  await stillChatting(ann);
  assert.equal(stack.fake.chatRequests().length, 1, 'only the good message went to the model');
});

const missingFieldCases = [
  ['no id', { type: 'message', channel: 'lobby', user: { id: 'u1', name: 'Ann' }, text: 'hi' }, null],
  ['no channel', { type: 'message', id: 'm-ch', user: { id: 'u1', name: 'Ann' }, text: 'hi' }, 'm-ch'],
  ['no text', { type: 'message', id: 'm-tx', channel: 'lobby', user: { id: 'u1', name: 'Ann' } }, 'm-tx'],
  ['no user', { type: 'message', id: 'm-us', channel: 'lobby', text: 'hi' }, 'm-us'],
  ['text is a number', { type: 'message', id: 'm-tn', channel: 'lobby', user: { id: 'u1', name: 'Ann' }, text: 42 }, 'm-tn'],
  ['channel is a number', { type: 'message', id: 'm-cn', channel: 7, user: { id: 'u1', name: 'Ann' }, text: 'hi' }, 'm-cn'],
  ['user is a string', { type: 'message', id: 'm-ustr', channel: 'lobby', user: 'Ann', text: 'hi' }, 'm-ustr'],
  ['text is null', { type: 'message', id: 'm-tnull', channel: 'lobby', user: { id: 'u1', name: 'Ann' }, text: null }, 'm-tnull'],
];

test('messages with a missing or wrongly typed field get missing_field, with reply_to when the id is known', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');

  for (const [what, msg, replyTo] of missingFieldCases) {
    ann.ws.sendJson(msg);
    const err = await ann.nextError();
    assert.deepEqual(errorShape(err), { type: 'error', error: 'missing_field', reply_to: replyTo }, `case "${what}"`);
  }
  await stillChatting(ann);
  assert.deepEqual(stack.fake.chatRequests().map(lastUserText), ['is this one fine?'], 'rejected messages must not reach the model');
});

test('4,001 ASCII characters are too_long; the socket stays open', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');

  ann.say('lobby', 'a'.repeat(4001), 'long1');
  const err = await ann.nextError();
  assert.deepEqual(errorShape(err), { type: 'error', error: 'too_long', reply_to: 'long1' });
  await stillChatting(ann);
  assert.equal(stack.fake.chatRequests().length, 1);
});

test('exactly 4,000 characters are accepted, counted as code points: ASCII, emoji and CJK', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  const texts = {
    ascii: 'a'.repeat(4000),
    emoji: '😀'.repeat(4000), // 16,000 bytes, 8,000 UTF-16 units, 4,000 code points
    cjk: '漢'.repeat(4000), // 12,000 bytes
  };
  for (const [kind, text] of Object.entries(texts)) {
    assert.equal([...text].length, 4000);
    ann.say('lobby', text, `max-${kind}`);
    const reply = await ann.replyTo(`max-${kind}`);
    assert.equal(reply.type, 'message', `${kind}: ${JSON.stringify(reply).slice(0, 200)}`);
    assert.equal(reply.text, `echo: ${text}`, `${kind}: the answer should echo the text back unchanged`);
  }
  assert.deepEqual(stack.fake.chatRequests().map(lastUserText), Object.values(texts));

  // One emoji more is too long.
  ann.say('lobby', '😀'.repeat(4001), 'over-emoji');
  assert.deepEqual(errorShape(await ann.nextError()), { type: 'error', error: 'too_long', reply_to: 'over-emoji' });
  await stillChatting(ann);
});

test('a 100 KB message (a 64-bit length frame) is too_long and does not break the socket', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  ann.say('lobby', 'z'.repeat(100000), 'huge');
  const err = await ann.nextError();
  assert.equal(err.error, 'too_long');
  // A frame this big may be refused before it is parsed, so the id may be unknown.
  assert.ok(err.reply_to === 'huge' || err.reply_to === null, `reply_to should be "huge" or null, got ${JSON.stringify(err.reply_to)}`);
  await stillChatting(ann);
  assert.equal(stack.fake.chatRequests().length, 1);
});

test('a text frame with invalid UTF-8 bytes gets bad_utf8 and the socket stays open', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');

  const bad = Buffer.concat([
    Buffer.from('{"type":"message","id":"u8","channel":"lobby","user":{"id":"u1","name":"Ann"},"text":"caf', 'utf8'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('"}', 'utf8'),
  ]);
  ann.ws.sendRaw(bad, { opcode: OP.TEXT });
  const err = await ann.nextError();
  assert.equal(err.error, 'bad_utf8');
  assert.ok(err.reply_to === null, `reply_to should be null for a frame that could not be read, got ${JSON.stringify(err.reply_to)}`);

  // An overlong encoding and a lone surrogate are invalid UTF-8 too.
  for (const junk of [[0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
    ann.ws.sendRaw(Buffer.concat([Buffer.from('{"text":"', 'utf8'), Buffer.from(junk), Buffer.from('"}', 'utf8')]));
    assert.equal((await ann.nextError()).error, 'bad_utf8', `bytes ${Buffer.from(junk).toString('hex')}`);
  }

  await stillChatting(ann);
  assert.equal(stack.fake.chatRequests().length, 1, 'invalid UTF-8 must never reach the model');
});

test('invalid UTF-8 split across fragments is caught too', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  const start = Buffer.from('{"type":"message","id":"u9","channel":"lobby","user":{"id":"u1","name":"Ann"},"text":"x', 'utf8');
  // 0xe6 0xbc starts a 3-byte character; the next fragment does not finish it.
  ann.ws.sendFragments([Buffer.concat([start, Buffer.from([0xe6, 0xbc])]), Buffer.from('"}', 'utf8')]);
  assert.equal((await ann.nextError()).error, 'bad_utf8');
  await stillChatting(ann);
});

test('an unknown message type gets unsupported', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');

  ann.ws.sendJson({ type: 'dance', id: 'd1', channel: 'lobby' });
  assert.deepEqual(errorShape(await ann.nextError()), { type: 'error', error: 'unsupported', reply_to: 'd1' });

  ann.ws.sendJson({ type: 'teleport' });
  assert.deepEqual(errorShape(await ann.nextError()), { type: 'error', error: 'unsupported', reply_to: null });

  await stillChatting(ann);
});

test('each bad message gets exactly one error, and errors go only to the sender', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');
  ben.join('lobby');
  await ben.ws.ping();

  ann.say('lobby', 'hi', 'first');
  await ann.replyTo('first');
  await ben.replyTo('first');

  ann.ws.sendText('not json');
  ann.say('lobby', 'x'.repeat(4001), 'too-long');
  ann.ws.sendJson({ type: 'dance', id: 'd2' });
  ann.say('lobby', 'after the errors', 'fine');
  await ann.replyTo('fine');
  await ben.replyTo('fine');

  const errors = ann.received().filter((m) => m.type === 'error');
  assert.deepEqual(errors.map((m) => m.error), ['bad_json', 'too_long', 'unsupported']);
  assert.deepEqual(ben.received().filter((m) => m.type === 'error'), [], 'Ben must not see Ann\'s errors');
  assert.equal(ann.answersTo('too-long').length, 1);
});
