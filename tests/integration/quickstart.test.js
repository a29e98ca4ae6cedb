'use strict';
// The newcomer's path: the README's example config, as shipped. With no
// OpenAI variables it answers offline; with OPENAI_BASE_URL, OPENAI_API_KEY
// and OPENAI_MODEL it asks that server, in the documented request shape.
const path = require('node:path');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { test } = require('../lib/tap');
const { startRedis } = require('../lib/redis');
const { startFakeOpenAI } = require('../lib/fake-openai');
const { startChorusd } = require('../lib/chorusd');
const { openUser, readHistory } = require('../lib/stack');
const { httpGet, tempDir } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const EXAMPLE = fs.readFileSync(path.join(SRCDIR, 'contrib', 'chorus.conf.lua'), 'utf8');
const NO_OPENAI = { OPENAI_BASE_URL: null, OPENAI_API_KEY: null, OPENAI_MODEL: null };

async function startExample(redis, env) {
  return startChorusd({
    config: EXAMPLE.replace(/^admin_socket .*$/m, ''),
    env: { CHORUS_LISTEN: '127.0.0.1:0', CHORUS_REDIS_URL: redis.url, XDG_RUNTIME_DIR: tempDir('chorus-run'), ...NO_OPENAI, ...env },
  });
}

test('with no key and no network, Aiko answers from the offline local model and remembers', async () => {
  const redis = await startRedis();
  const chorus = await startExample(redis, {});
  const page = await httpGet(`${chorus.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.body, /<html/i);
  const ann = await openUser(chorus.wsUrl, 'Ann');
  const reply = await ann.replyTo(ann.say('lobby', 'Hello! My name is Ann.'));
  assert.equal(reply.persona, 'aiko');
  assert.ok(reply.text.length > 0);
  const again = await ann.replyTo(ann.say('lobby', 'hi again'));
  assert.match(again.text, /Ann/, 'the offline model greets Ann by the name she gave');
  const turns = await readHistory(redis, 'lobby', 'aiko');
  assert.deepEqual(turns.map((t) => t.role), ['user', 'assistant', 'user', 'assistant']);
  assert.equal(turns[0].content, 'Hello! My name is Ann.');
});

test('with OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL, the reply is that server\'s answer', async () => {
  const redis = await startRedis();
  const fake = await startFakeOpenAI();
  const chorus = await startExample(redis, { OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: 'sk-quickstart-42', OPENAI_MODEL: 'tiny-model' });
  const ann = await openUser(chorus.wsUrl, 'Ann');
  const reply = await ann.replyTo(ann.say('lobby', 'What is Chorus?'));
  assert.equal(reply.text, 'echo: What is Chorus?');
  const req = fake.chatRequests().at(-1);
  assert.equal(req.method, 'POST');
  assert.match(req.path, /\/chat\/completions$/);
  assert.equal(req.headers.authorization, 'Bearer sk-quickstart-42');
  assert.equal(req.body.model, 'tiny-model');
  assert.equal(req.body.messages[0].role, 'system');
  assert.ok(req.body.messages[0].content.startsWith('You are Aiko'), 'the persona prompt comes first, verbatim');
  assert.deepEqual(req.body.messages.at(-1), { role: 'user', content: 'What is Chorus?' });
  assert.ok(!chorus.logText().includes('sk-quickstart-42'), 'the key is not logged');
});

test('without OPENAI_MODEL the example config picks a sensible default model', async () => {
  const redis = await startRedis();
  const fake = await startFakeOpenAI();
  const chorus = await startExample(redis, { OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: 'sk-x-1234' });
  const ann = await openUser(chorus.wsUrl, 'Ann');
  await ann.replyTo(ann.say('lobby', 'hello'));
  assert.equal(fake.chatRequests().at(-1).body.model, 'gpt-4o-mini');
});
