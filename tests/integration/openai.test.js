'use strict';
// What chorusd sends to an OpenAI-compatible model, and what the user sees
// when the model misbehaves: every failure becomes the persona's apology,
// delivered as a normal message.

const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack, AIKO } = require('../lib/stack');
const { lastUserText } = require('../lib/fake-openai');
const { freePort } = require('../lib/util');

test('the model request has the right shape: endpoint, key, model, system prompt, current text', async () => {
  const stack = await startStack();
  const ann = await stack.user('Ann');

  ann.say('lobby', 'what is the weather like?', 'w1');
  await ann.replyTo('w1');

  const reqs = stack.fake.requests;
  assert.equal(reqs.length, 1, `expected one request to the model, got ${reqs.map((r) => `${r.method} ${r.path}`)}`);
  const req = reqs[0];
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/v1/chat/completions');
  assert.equal(req.headers.authorization, 'Bearer sk-test-123');
  assert.match(req.headers['content-type'] || '', /^application\/json/);
  assert.ok(req.body, `the body must be JSON, got ${req.rawBody.toString('utf8').slice(0, 200)}`);
  assert.equal(req.body.model, 'gpt-test');
  assert.ok(Array.isArray(req.body.messages), 'messages must be an array');
  assert.equal(req.body.messages.length, 2);
  assert.equal(req.body.messages[0].role, 'system');
  assert.equal(typeof req.body.messages[0].content, 'string');
  assert.ok(req.body.messages[0].content.startsWith(AIKO.prompt), `system content must start with the persona prompt verbatim, got ${JSON.stringify(req.body.messages[0].content)}`);
  assert.deepEqual(req.body.messages[1], { ...req.body.messages[1], role: 'user', content: 'what is the weather like?' });
});

test('later turns carry the earlier conversation, oldest first and verbatim', async () => {
  const stack = await startStack();
  stack.fake.respond = (req) => {
    const said = lastUserText(req);
    if (said === 'my name is Ann') return { content: 'Nice to meet you, Ann! 🌸' };
    if (said === 'I like tea') return { content: 'Tea is lovely.\nGreen or black?' };
    return undefined;
  };
  const ann = await stack.user('Ann');

  ann.say('lobby', 'my name is Ann', 't1');
  assert.equal((await ann.replyTo('t1')).text, 'Nice to meet you, Ann! 🌸');
  ann.say('lobby', 'I like tea', 't2');
  assert.equal((await ann.replyTo('t2')).text, 'Tea is lovely.\nGreen or black?');
  ann.say('lobby', 'what is my name?', 't3');
  await ann.replyTo('t3');

  const third = stack.fake.chatRequests()[2].body.messages;
  assert.equal(third[0].role, 'system');
  assert.deepEqual(third.slice(1).map((m) => ({ role: m.role, content: m.content })), [
    { role: 'user', content: 'my name is Ann' },
    { role: 'assistant', content: 'Nice to meet you, Ann! 🌸' },
    { role: 'user', content: 'I like tea' },
    { role: 'assistant', content: 'Tea is lovely.\nGreen or black?' },
    { role: 'user', content: 'what is my name?' },
  ]);
});

// One story per kind of model failure. After each failure the model recovers
// and the next message is answered normally.
const failures = [
  ['the model is rate limited (HTTP 429)', () => ({ status: 429, headers: { 'retry-after': '1' } })],
  ['the model has an internal error (HTTP 500)', () => ({ status: 500 })],
  ['the model answers with malformed JSON', () => ({ raw: '{"id":"x","choices":[{"message":{"content":"unfinished' })],
  ['the model answers 200 with JSON that has no choices', () => ({ body: { id: 'x', object: 'chat.completion', choices: [] } })],
  ['the model hangs up without answering', () => ({ hangUp: true })],
];

for (const [story, failure] of failures) {
  test(`when ${story}, Ann gets Aiko's apology as a normal message`, async () => {
    const stack = await startStack();
    let broken = true;
    stack.fake.respond = () => (broken ? failure() : undefined);
    const ann = await stack.user('Ann');

    ann.say('lobby', 'are you there?', 'f1');
    const reply = await ann.replyTo('f1', 8000);
    assert.deepEqual(
      { type: reply.type, channel: reply.channel, persona: reply.persona, text: reply.text },
      { type: 'message', channel: 'lobby', persona: 'aiko', text: AIKO.apology },
    );
    assert.deepEqual(ann.received().filter((m) => m.type === 'error'), [], 'a model failure is not a protocol error');

    broken = false;
    ann.say('lobby', 'and now?', 'f2');
    assert.equal((await ann.replyTo('f2', 8000)).text, 'echo: and now?');
    assert.equal(ann.answersTo('f1').length, 1, 'exactly one answer to the failed message');
  });
}

test('when the model is too slow, Ann gets the apology once the model timeout passes', async () => {
  const stack = await startStack({ configOptions: { modelTimeoutMs: 700 } });
  stack.fake.respond = () => ({ delayMs: 15000 });
  const ann = await stack.user('Ann');

  const sentAt = Date.now();
  ann.say('lobby', 'take your time', 's1');
  const reply = await ann.replyTo('s1', 6000);
  const waited = Date.now() - sentAt;
  assert.equal(reply.text, AIKO.apology);
  assert.ok(waited >= 600, `the apology came after ${waited} ms, before the 700 ms timeout could have passed`);
  assert.equal(reply.type, 'message');
});

test('when nothing listens at the model address, Ann gets the apology', async () => {
  const fakePort = await freePort();
  const stack = await startStack({
    fake: { baseUrl: `http://127.0.0.1:${fakePort}/v1`, chatRequests: () => [], respond: null },
  });
  const ann = await stack.user('Ann');
  ann.say('lobby', 'hello?', 'r1');
  const reply = await ann.replyTo('r1', 8000);
  assert.equal(reply.text, AIKO.apology);
  assert.equal(reply.persona, 'aiko');
});

test('invalid UTF-8 from the model never reaches the user: each bad byte becomes U+FFFD', async () => {
  const stack = await startStack();
  stack.fake.respond = () => ({
    raw: Buffer.concat([
      Buffer.from('{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"caf', 'utf8'),
      Buffer.from([0xff]),
      Buffer.from(' ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}', 'utf8'),
    ]),
  });
  const ann = await stack.user('Ann');

  ann.say('lobby', 'say something odd', 'x1');
  const reply = await ann.replyTo('x1');
  // (The websocket client also fails the test if the frame itself is not valid UTF-8.)
  assert.equal(reply.text, 'caf\uFFFD ok');

  // What is remembered is valid UTF-8 as well.
  const history = await stack.history('lobby');
  assert.equal(history.length, 2);
  assert.equal(history[1].content, 'caf\uFFFD ok');
});

test('the API key never shows up in the logs, even at debug level and when the model refuses it', async () => {
  const stack = await startStack({ configOptions: { logLevel: 'debug', apiKey: 'sk-test-123-very-secret' } });
  let refuse = true;
  stack.fake.respond = () => (refuse ? { status: 401, body: { error: { message: 'Incorrect API key provided: sk-test-123-very-secret', type: 'invalid_request_error' } } } : undefined);
  const ann = await stack.user('Ann');

  ann.say('lobby', 'hello', 'k1');
  assert.equal((await ann.replyTo('k1', 8000)).text, AIKO.apology);
  refuse = false;
  ann.say('lobby', 'hello again', 'k2');
  await ann.replyTo('k2');
  assert.equal(stack.fake.chatRequests()[0].headers.authorization, 'Bearer sk-test-123-very-secret');

  assert.equal(await stack.chorus.stop('SIGTERM'), 0);
  const logs = stack.chorus.logText();
  assert.ok(logs.length > 0, 'debug logging should say something');
  assert.ok(!logs.includes('very-secret'), `the API key leaked into stderr:\n${logs.split('\n').filter((l) => l.includes('very-secret')).join('\n')}`);
});
