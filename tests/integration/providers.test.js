'use strict';
// Stories of the three wire protocols: OpenAI Chat Completions (SSE),
// Anthropic Messages (named SSE events) and Ollama native (NDJSON), each
// against its fake server. Streamed answers reach a web chat client as
// deltas, then one message; tool calls are assembled from fragments; cut,
// malformed and silent streams become errors the router falls back on;
// rate limits are waited out; accounting matches what each fake reported.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startModelStack, streamed, lastUser, calls } = require('../lib/model-stack');

const PROVIDERS = ['openai', 'anthropic', 'ollama'];
const TOOL = 'chorus.tool("get_weather", { description = "weather in a city", parameters = { type = "object", properties = { city = { type = "string" } } } }, function(args) return { city = args.city, temp = 21 } end)';
const PLAIN = 'chorus.hear("^plain ", function(msg) local a, err, kind = chorus.model.chat { route = "main", messages = { { role = "system", content = "Be plain." }, { role = "user", content = msg.text } } } msg:reply(a and a.text or ("failed: " .. kind)) end)';

// Models "main" (the provider under test) and "backup" (OpenAI), a
// fallback route "safe" over them, persona aiko, and the plain skill
// (tests/lib/model-stack.js).
function startProviderStack(provider, { plugins = {}, logLevel = 'info', ...opts } = {}) {
  return startModelStack(provider, { ...opts, logLevel, apiKey: 'sk-secret-777',
    plugins: { plain: { init: PLAIN, manifest: { model: true } }, ...plugins } });
}

for (const provider of PROVIDERS) {
  test(`${provider}: a streaming client sees the answer grow word by word, then one final message`, async () => {
    const s = await startProviderStack(provider);
    s.fake.respond = () => ({ content: 'Hello Ann, nice to see you again 🌸', chunkDelayMs: 5 });
    const ann = await s.user('Ann');
    const { final, deltas, before } = await streamed(ann, 'hi there');
    assert.equal(final.text, 'Hello Ann, nice to see you again 🌸');
    assert.ok(deltas.length >= 5, `several deltas, got ${deltas.length}`);
    assert.equal(deltas.map((d) => d.text).join(''), final.text, 'the deltas add up to the final text');
    assert.ok(before, 'the deltas come before the message');
    const req = s.fake.chatRequests()[0];
    assert.ok(provider === 'ollama' ? req.body.stream !== false : req.body.stream === true, 'the model was asked to stream');
    if (provider === 'openai') {
      assert.deepEqual(req.body.stream_options, { include_usage: true });
      assert.equal(req.headers.authorization, 'Bearer sk-secret-777');
    }
    if (provider === 'anthropic') {
      assert.equal(req.path, '/v1/messages');
      assert.equal(req.headers['x-api-key'], 'sk-secret-777');
      assert.equal(req.headers['anthropic-version'], '2023-06-01');
      assert.match(req.body.system, /^You are Aiko\./, 'the system prompt moved out of the messages');
      assert.ok(req.body.messages.every((m) => m.role !== 'system'));
      assert.ok(req.body.max_tokens > 0, 'max_tokens is required by the API');
    }
    if (provider === 'ollama') assert.equal(req.path, '/api/chat');
  });

  test(`${provider}: a call that does not stream gets the whole answer in one body`, async () => {
    const s = await startProviderStack(provider);
    s.fake.respond = (req) => ({ content: `whole: ${lastUser(req)}` });
    const ann = await s.user('Ann');
    assert.equal((await ann.replyTo(ann.say('lobby', 'plain question'))).text, 'whole: plain question');
    const req = s.fake.chatRequests()[0];
    assert.ok(provider === 'openai' || provider === 'ollama' ? req.body.stream === false : req.body.stream === undefined, `no stream asked: ${JSON.stringify(req.body.stream)}`);
  });

  test(`${provider}: a tool call streamed in fragments is assembled, run, and its result goes back`, async () => {
    const s = await startProviderStack(provider, { model: ', capabilities = { "tools", "streaming" }', plugins: { weather: { init: TOOL } } });
    s.fake.respond = (req) => {
      const last = req.body.messages.at(-1);
      const result = last.role === 'tool' ? last.content
        : Array.isArray(last.content) && last.content[0].type === 'tool_result' ? last.content[0].content : null;
      if (result) return { content: `It is ${JSON.parse(result).temp} degrees in ${JSON.parse(result).city}.` };
      return { toolCalls: [{ id: 'call_w1', name: 'get_weather', arguments: '{"city":"Paris"}' }] };
    };
    const ann = await s.user('Ann');
    const { final } = await streamed(ann, 'weather in Paris?');
    assert.equal(final.text, 'It is 21 degrees in Paris.');
    const first = s.fake.chatRequests()[0].body;
    const offered = provider === 'anthropic' ? first.tools[0] : first.tools[0].function;
    assert.equal(offered.name, 'get_weather', 'the tool was offered');
    if (provider === 'anthropic') {
      assert.deepEqual(first.tools[0].input_schema.properties, { city: { type: 'string' } }, 'parameters became input_schema');
      const second = s.fake.chatRequests()[1].body.messages;
      assert.equal(second.at(-2).content.at(-1).type, 'tool_use');
      assert.deepEqual(second.at(-2).content.at(-1).input, { city: 'Paris' });
      assert.equal(second.at(-1).content[0].tool_use_id, 'call_w1');
    }
  });

  test(`${provider}: a stream cut short falls back to the next model of the route`, async () => {
    const s = await startProviderStack(provider, { persona: 'safe' });
    const ann = await s.user('Ann');
    s.fake.respond = () => ({ content: 'this answer will never finish properly', cut: true, cutAfter: 3 });
    assert.equal((await streamed(ann, 'first')).final.text, 'backup: first');
    s.fake.respond = () => ({ content: 'this answer breaks off', cut: 'reset', cutAfter: 3 });
    assert.equal((await streamed(ann, 'second')).final.text, 'backup: second');
    const rows = await calls(s.redis);
    assert.deepEqual(rows.map((r) => `${r.model}:${r.status}`), ['main:cut', 'backup:ok', 'main:cut', 'backup:ok']);
  });

  test(`${provider}: a malformed stream chunk is a clear error, and the user gets the apology`, async () => {
    const s = await startProviderStack(provider, { logLevel: 'debug' });
    s.fake.respond = () => ({ content: 'good words then garbage', malformed: true });
    const ann = await s.user('Ann');
    assert.equal((await streamed(ann, 'hello')).final.text, 'Sorry!');
    await s.chorus.waitForLog(/malformed (stream chunk|stream line|content_block_delta event)/, 2000);
    const rows = await calls(s.redis);
    assert.ok(rows.length >= 1 && rows.every((r) => r.status === 'malformed'), JSON.stringify(rows.map((r) => r.status)));
  });

  test(`${provider}: accounting records the usage the fake reported for a streamed answer`, async () => {
    const s = await startProviderStack(provider);
    s.fake.respond = () => ({ content: 'counted words', tokens: { input: 1234, output: 56 } });
    const ann = await s.user('Ann');
    await streamed(ann, 'count me');
    const [row] = await calls(s.redis);
    assert.deepEqual([row.model, row.provider, row.status, row.tokens_in, row.tokens_out], ['main', provider, 'ok', '1234', '56']);
    assert.equal(row.cost_micro, '1346', '1234 x 1 + 56 x 2 per million = 1346 micro-units');
    assert.ok(Number(row.ttft_ms) > 0 && Number(row.ttft_ms) <= Number(row.latency_ms), `ttft ${row.ttft_ms} within latency ${row.latency_ms}`);
  });

  test(`${provider}: a model that sends nothing within first_token_timeout_ms times out and the route falls back`, async () => {
    const s = await startProviderStack(provider, { persona: 'safe', model: ', first_token_timeout_ms = 300' });
    s.fake.respond = () => ({ firstChunkDelayMs: 4000 });
    const ann = await s.user('Ann');
    const t0 = Date.now();
    assert.equal((await streamed(ann, 'anyone?')).final.text, 'backup: anyone?');
    assert.ok(Date.now() - t0 < 2500, `fell back after ${Date.now() - t0} ms, not after the 5 s total timeout`);
    const rows = await calls(s.redis);
    assert.equal(rows[0].status, 'timeout');
  });
}

test('openai: tool calls that all reuse index 0 are told apart by id', async () => {
  const s = await startProviderStack('openai', { model: ', capabilities = { "tools", "streaming" }', plugins: { weather: { init: TOOL } } });
  s.fake.respond = (req) => {
    const tools = req.body.messages.filter((m) => m.role === 'tool');
    if (tools.length) return { content: tools.map((t) => JSON.parse(t.content).city).join(' and ') };
    return { reuseIndex: true, toolCalls: [{ id: 'a', name: 'get_weather', arguments: '{"city":"Oslo"}' }, { id: 'b', name: 'get_weather', arguments: '{"city":"Rome"}' }] };
  };
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'two cities')).final.text, 'Oslo and Rome');
  const second = s.fake.chatRequests()[1].body.messages;
  assert.deepEqual(second.at(-3).tool_calls.map((c) => [c.id, c.function.arguments]), [['a', '{"city":"Oslo"}'], ['b', '{"city":"Rome"}']]);
});

test('openai: a 429 with x-ratelimit-reset-requests is waited out on a streamed call', async () => {
  const s = await startProviderStack('openai', { route: 'route "safe" { kind = "fallback", models = { "main", "backup" }, retries = 2, backoff_ms = 10 }', persona: 'safe' });
  let n = 0;
  s.fake.respond = () => (++n === 1 ? { status: 429, headers: { 'x-ratelimit-reset-requests': '1s', 'x-ratelimit-reset-tokens': '120ms' } } : { content: 'after the wait' });
  const ann = await s.user('Ann');
  const t0 = Date.now();
  assert.equal((await streamed(ann, 'hi')).final.text, 'after the wait');
  assert.ok(Date.now() - t0 >= 450, `waited ${Date.now() - t0} ms for the 1 s reset (jitter down to half)`);
  assert.equal(s.backup.chatRequests().length, 0, 'no fallback was needed');
});

test('anthropic: 429 with retry-after is retried after the wait; 529 overloaded is retried; a spend limit is not', async () => {
  const s = await startProviderStack('anthropic', { route: 'route "safe" { kind = "fallback", models = { "main", "backup" }, retries = 2, backoff_ms = 10 }', persona: 'safe' });
  let n = 0;
  s.fake.respond = () => (++n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : n === 2 ? { status: 529 } : { content: 'third time lucky' });
  const ann = await s.user('Ann');
  const t0 = Date.now();
  assert.equal((await streamed(ann, 'hi')).final.text, 'third time lucky');
  assert.ok(Date.now() - t0 >= 450, 'it waited for retry-after');
  s.fake.respond = () => ({ status: 429, errorType: 'rate_limit_error', message: 'You have reached your spend limit (enforced_spend_limit_reached)' });
  const before = s.fake.chatRequests().length;
  assert.equal((await streamed(ann, 'again')).final.text, 'backup: again');
  assert.equal(s.fake.chatRequests().length - before, 1, 'a spend limit is never retried');
  s.fake.respond = () => ({ status: 400, message: 'Your credit balance is too low to access the Anthropic API.' });
  assert.equal((await streamed(ann, 'credit')).final.text, 'backup: credit');
  s.fake.respond = () => ({ status: 400, message: 'prompt is too long: 210000 tokens > 200000 maximum' });
  assert.equal((await streamed(ann, 'long')).final.text, 'backup: long');
  const st = (await calls(s.redis)).filter((r) => r.model === 'main').map((r) => r.status);
  assert.deepEqual(st, ['rate_limit', 'rate_limit', 'ok', 'quota', 'quota', 'context_length']);
});

test('anthropic: an error event in the middle of a stream is classified (overloaded: retried)', async () => {
  const s = await startProviderStack('anthropic', { route: 'route "safe" { kind = "fallback", models = { "main", "backup" }, retries = 1, backoff_ms = 10 }', persona: 'safe' });
  let n = 0;
  s.fake.respond = () => (++n === 1 ? { content: 'half an answer', streamError: 'overloaded_error' } : { content: 'whole answer' });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'hi')).final.text, 'whole answer');
  assert.deepEqual((await calls(s.redis)).map((r) => r.status), ['rate_limit', 'ok']);
});

test('ollama: an error line in the stream and an unknown model are errors, not hangs', async () => {
  const s = await startProviderStack('ollama', { persona: 'safe' });
  s.fake.respond = () => ({ content: 'some words', streamError: 'the runner crashed' });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'one')).final.text, 'backup: one');
  s.fake.respond = () => ({ status: 404, message: 'model "m-1" not found, try pulling it first' });
  assert.equal((await streamed(ann, 'two')).final.text, 'backup: two');
  assert.deepEqual((await calls(s.redis)).filter((r) => r.model === 'main').map((r) => r.status), ['server', 'bad_request']);
});

test('the API keys of every provider stay out of the logs at debug level', async () => {
  for (const provider of PROVIDERS) {
    const s = await startProviderStack(provider, { logLevel: 'debug' });
    s.fake.respond = () => ({ status: 401, message: 'invalid x-api-key sk-secret-777' });
    const ann = await s.user('Ann');
    await streamed(ann, 'hello');
    assert.equal(await s.chorus.stop('SIGTERM'), 0);
    assert.ok(!s.chorus.logText().includes('sk-secret-777'), `${provider}: the key leaked into the logs`);
  }
});
