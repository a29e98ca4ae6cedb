'use strict';
// Stories of long-term recall: Ann tells Aiko her cat's name, talks about
// everything else for two hundred turns, and asks again; the fact comes back
// from the channel's vectors in Redis (the model's request shows it), and the
// preview says why. "forget me" takes her vectors too. When the embedding
// server is down Aiko still answers, without recall. The Ollama dialect and
// the offline local model recall as well.
const path = require('node:path');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test } = require('../lib/tap');
const { startRedis } = require('../lib/redis');
const { startFakeOpenAI } = require('../lib/fake-openai');
const { startFakeEmbeddings } = require('../lib/fake-embeddings');
const { startChorusd } = require('../lib/chorusd');
const { openUser } = require('../lib/stack');
const { tempDir, luaString } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');
const DIM = 64;
const FACT = 'my cat is called Miso and she sleeps on the piano';
const QUESTION = 'what is my cat called again?';

function chorusctl(socket, ...args) {
  return new Promise((resolve) => {
    execFile(CHORUSCTL, ['--socket', socket, ...args], { timeout: 5000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

// Two hundred turns about anything but the cat.
const TOPICS = ['the weather turned cold and windy', 'the train to work was late again', 'I cooked lentil soup for dinner',
  'we watched a film about sailors', 'my brother bought a new bicycle', 'the library opens early on Mondays',
  'I planted tomatoes in the garden', 'the football match ended in a draw', 'my laptop battery is dying',
  'coffee prices went up this month'];
const filler = (i) => `${TOPICS[i % TOPICS.length]}, number ${i}`;

async function startRecall({ embedding = 'openai', persona = '' } = {}) {
  const redis = await startRedis();
  const fake = await startFakeOpenAI();
  fake.respond = (req) => (req.body.messages[0].content.startsWith('Summarize') ? { content: 'They chatted about daily life.' } : { content: 'I see.' });
  const emb = await startFakeEmbeddings({ dim: DIM, apiKey: 'emb-key' });
  const q = luaString;
  const socket = path.join(tempDir('chorus-admin'), 'admin.sock');
  const embModel = {
    openai: `model "embed" { provider = "openai", base_url = ${q(emb.baseUrl)}, api_key = "emb-key", model = "text-embedding-3-small", timeout_ms = 2000, connect_timeout_ms = 500 }`,
    ollama: `model "embed" { provider = "ollama", base_url = ${q(emb.ollamaUrl)}, model = "nomic-embed-text", timeout_ms = 2000 }`,
    local: '',
  }[embedding];
  const config = [
    'listen "127.0.0.1:0"',
    `admin_socket ${q(socket)}`,
    `redis ${q(redis.url)} { reconnect_min_ms = 20, reconnect_max_ms = 200 }`,
    `model "default" { provider = "openai", base_url = ${q(fake.baseUrl)}, model = "gpt-test" }`,
    embModel,
    `persona "aiko" { prompt = "You are Aiko.", history_turns = 8, embedding_model = ${q(embedding === 'local' ? 'local' : 'embed')}, recall = { k = 3, min_score = 0.3 } ${persona} }`,
  ].join('\n');
  const chorus = await startChorusd({ config });
  return { redis, fake, emb, chorus, socket, user: (name) => openUser(chorus.wsUrl, name) };
}

// The system message of the newest chat request (not a summary's).
const lastSystem = (fake) => fake.requests.filter((r) => !r.body.messages[0].content.startsWith('Summarize')).at(-1).body.messages[0].content;
const recalledPart = (system) => (system.split('Recalled from long ago in this conversation')[1] || '');

async function waitValue(fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const KEY = (part) => `chorus:{webchat:den}:recall:aiko:${part}`;

test('a fact said 200 turns ago comes back for a related question', async () => {
  const s = await startRecall();
  const ann = await s.user('Ann');
  await ann.replyTo(ann.say('den', FACT));
  for (let i = 0; i < 200; i++) await ann.replyTo(ann.say('den', filler(i)));
  await ann.replyTo(ann.say('den', QUESTION));

  const messages = s.fake.requests.filter((r) => !r.body.messages[0].content.startsWith('Summarize')).at(-1).body.messages;
  assert.equal(messages.at(-1).content, QUESTION);
  assert.ok(!messages.slice(1).some((m) => m.content.includes('Miso')), 'the fact is long out of the recent turns');
  const recalled = recalledPart(messages[0].content);
  assert.match(recalled, /- Ann: my cat is called Miso and she sleeps on the piano/, `the fact is recalled:\n${messages[0].content}`);
  assert.ok(!/number 1\d\d/.test(recalled), 'unrelated turns are not');

  // The question went to the embedding server, with its key, as OpenAI's API takes it.
  const asked = await s.emb.waitForRequest((r) => r.body.input && r.body.input.includes(QUESTION));
  assert.equal(asked.path, '/v1/embeddings');
  assert.equal(asked.body.model, 'text-embedding-3-small');
  assert.equal(asked.headers.authorization, 'Bearer emb-key');

  // Redis holds one record of DIM bytes per stored turn, beside the turns.
  const n = await waitValue(async () => { const l = await s.redis.cmd('LLEN', KEY('turns')); return l >= 404 && l; });
  assert.equal(n, 2 * 202, 'every turn of both sides is kept');
  assert.equal(await s.redis.cmd('STRLEN', KEY('vec')), n * DIM, 'int8 records, DIM bytes each');
  assert.equal(await s.redis.cmd('HGET', KEY('meta'), 'dim'), String(DIM));

  // The preview shows the recalled turn and its score, without calling the chat model.
  // (A summary of the older turns may still be asked for meanwhile: only chat calls count.)
  const chatCalls = () => s.fake.requests.filter((r) => !r.body.messages[0].content.startsWith('Summarize')).length;
  const chats = chatCalls();
  const preview = await chorusctl(s.socket, 'persona', 'preview', 'aiko', '--channel', 'webchat:den', 'does my cat Miso like music?');
  assert.equal(preview.code, 0, preview.stderr);
  assert.match(preview.stdout, /--- recalled turns \(embed\)\n {2}#0 user Ann \(cosine 0\.\d+\): my cat is called Miso/);
  assert.match(preview.stdout, /Recalled from long ago in this conversation/);
  const json = JSON.parse((await chorusctl(s.socket, '--json', 'persona', 'preview', 'aiko', '--channel', 'webchat:den', 'does my cat Miso like music?')).stdout);
  const hit = json.recall[0];
  assert.equal(hit.content, FACT);
  assert.ok(hit.score > 0.3 && hit.score <= 1, `a cosine score (${hit.score})`);
  assert.equal(chatCalls(), chats, 'the preview called no chat model');
});

test('forget me removes Ann\'s turns and their vectors, and leaves Ben\'s', async () => {
  const s = await startRecall();
  const ann = await s.user('Ann');
  const ben = await s.user('Ben');
  await ann.replyTo(ann.say('den', 'my secret word is xylophone-42'));
  await ben.replyTo(ben.say('den', 'Ben likes the trumpet'));
  for (let i = 0; i < 3; i++) await ann.replyTo(ann.say('den', filler(i)));
  await waitValue(async () => (await s.redis.cmd('LLEN', KEY('turns'))) === 10);
  const gen = await s.redis.cmd('HGET', KEY('meta'), 'gen');
  const annId = JSON.parse((await s.redis.cmd('LRANGE', KEY('turns'), '0', '0'))[0]).user;

  const reply = await ann.replyTo(ann.say('den', 'forget me'));
  assert.match(reply.text, /forgotten what I knew about you/);
  const turns = (await s.redis.cmd('LRANGE', KEY('turns'), '0', '-1')).map((t) => JSON.parse(t));
  assert.deepEqual(turns.map((t) => t.content), ['Ben likes the trumpet', 'I see.'], 'only Ben\'s turn and its answer stay');
  assert.equal(await s.redis.cmd('STRLEN', KEY('vec')), 2 * DIM, 'and only their two records');
  assert.notEqual(await s.redis.cmd('HGET', KEY('meta'), 'gen'), gen, 'the generation moved, so cached copies are read again');
  for (const key of await s.redis.cmd('KEYS', '*recall*')) {
    const type = await s.redis.cmd('TYPE', key);
    const dump = type === 'list' ? (await s.redis.cmd('LRANGE', key, '0', '-1')).join('\n') : type === 'hash' ? (await s.redis.cmd('HGETALL', key)).join('\n') : '';
    assert.ok(!dump.includes('xylophone-42') && !dump.includes(annId), `${key} still holds Ann`);
  }
  // Recall after forgetting works on what is left (the copy in chorusd was refreshed).
  await ben.replyTo(ben.say('den', 'what instrument do I like, the trumpet?'));
  assert.doesNotMatch(recalledPart(lastSystem(s.fake)), /xylophone/);
});

test('with the embedding server down the persona still answers, without recall', async () => {
  const s = await startRecall();
  const ann = await s.user('Ann');
  await ann.replyTo(ann.say('den', FACT));
  for (let i = 0; i < 12; i++) await ann.replyTo(ann.say('den', filler(i)));
  await ann.replyTo(ann.say('den', QUESTION));
  assert.match(recalledPart(lastSystem(s.fake)), /Miso/, 'recall works while the server is up');

  s.emb.respond = () => ({ status: 503, body: { error: { message: 'overloaded', type: 'server_error' } } });
  const answered = await ann.replyTo(ann.say('den', 'and what is my cat called?'));
  assert.equal(answered.text, 'I see.', 'the reply is not lost');
  assert.ok(!lastSystem(s.fake).includes('Recalled from long ago'), 'no recall this time');
  await s.chorus.waitForLog(/recall for persona aiko: the embedding server answered HTTP 503/, 3000);

  await s.emb.close();   // refused connections, not just errors
  const again = await ann.replyTo(ann.say('den', 'tell me about my cat'));
  assert.equal(again.text, 'I see.');
  await s.chorus.waitForLog(/recall for persona aiko: the embedding server did not answer/, 3000);
});

test('the Ollama dialect recalls too', async () => {
  const s = await startRecall({ embedding: 'ollama' });
  const ann = await s.user('Ann');
  await ann.replyTo(ann.say('den', FACT));
  for (let i = 0; i < 12; i++) await ann.replyTo(ann.say('den', filler(i)));
  await ann.replyTo(ann.say('den', QUESTION));
  assert.match(recalledPart(lastSystem(s.fake)), /- Ann: my cat is called Miso/);
  const req = await s.emb.waitForRequest((r) => r.path === '/api/embed');
  assert.equal(req.body.model, 'nomic-embed-text');
  assert.ok(!s.emb.requests.some((r) => r.path === '/v1/embeddings'), 'only the Ollama route was used');
});

test('the offline local model recalls with no embedding server at all', async () => {
  const s = await startRecall({ embedding: 'local' });
  const ann = await s.user('Ann');
  await ann.replyTo(ann.say('den', FACT));
  for (let i = 0; i < 12; i++) await ann.replyTo(ann.say('den', filler(i)));
  await ann.replyTo(ann.say('den', QUESTION));
  assert.match(recalledPart(lastSystem(s.fake)), /- Ann: my cat is called Miso/);
  assert.equal(s.emb.requests.length, 0, 'no network call for embeddings');
  assert.equal(await s.redis.cmd('HGET', KEY('meta'), 'dim'), '256');
});
