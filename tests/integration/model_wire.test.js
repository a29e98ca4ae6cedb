'use strict';
// Stories of model servers we have never seen, speaking their protocols as
// documented rather than as our fakes usually do: OpenAI-compatible
// servers (vLLM, llama.cpp, LiteLLM, OpenRouter) with their comments,
// CRLF, "data:" without a space, usage-only chunks and errors in the
// middle of a stream; Anthropic Messages with every event type of its
// streaming docs (thinking blocks, pings, unknown events); Ollama's NDJSON
// with its done_reason values and without prompt_eval_count for a cached prompt. In each, Ann gets the right answer (or the
// route's fallback) and the call is counted once, as the server reported it.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startModelStack, streamed, calls } = require('../lib/model-stack');

const TOOL = 'chorus.tool("get_weather", { description = "weather in a city", parameters = { type = "object", properties = { city = { type = "string" } } } }, function(args) return { city = args.city, temp = 21 } end)';

// Models "main" (the provider under test) and "backup" (OpenAI), a
// fallback route "safe" over them, and persona aiko (tests/lib/model-stack.js).
function startWireStack(provider, opts = {}) {
  return startModelStack(provider, { ...opts, apiKey: 'sk-wire' });
}

const chunk = (delta, finish = null, extra = {}) => ({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }], ...extra });

test('openai: a server with CRLF lines, "data:" without a space, comments and event lines is read like any other', async () => {
  const s = await startWireStack('openai');
  s.fake.respond = () => ({
    events: [
      ': OPENROUTER PROCESSING\r\n\r\n',
      `data:${JSON.stringify(chunk({ role: 'assistant' }))}\r\n\r\n`,
      `event: message\r\ndata: ${JSON.stringify(chunk({ content: 'Hello' }))}\r\n\r\n`,
      ': keep-alive\r\n\r\n',
      `data: ${JSON.stringify(chunk({}))}\r\n\r\n`,
      `data:${JSON.stringify(chunk({ content: ' there' }))}\r\n\r\n`,
      `data: ${JSON.stringify(chunk({}, 'stop'))}\r\n\r\n`,
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 11, completion_tokens: 2, total_tokens: 13 } })}\r\n\r\n`,
      'data: [DONE]\r\n\r\n',
    ],
  });
  const ann = await s.user('Ann');
  const { final, deltas } = await streamed(ann, 'hi');
  assert.equal(final.text, 'Hello there');
  assert.equal(deltas.map((d) => d.text).join(''), 'Hello there');
  const [row] = await calls(s.redis);
  assert.deepEqual([row.status, row.tokens_in, row.tokens_out, row.cost_micro], ['ok', '11', '2', '15']);
});

test('openai: a usage chunk with "choices": null (as some vLLM versions send) still counts the tokens', async () => {
  const s = await startWireStack('openai', { persona: 'safe' });
  s.fake.respond = () => ({
    events: [
      chunk({ role: 'assistant', content: '' }), chunk({ content: 'counted' }), chunk({}, 'stop'),
      { id: 'c', object: 'chat.completion.chunk', choices: null, usage: { prompt_tokens: 40, completion_tokens: 3 } },
      'data: [DONE]\n\n',
    ],
  });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'hi')).final.text, 'counted');
  const rows = await calls(s.redis);
  assert.deepEqual(rows.map((r) => [r.model, r.status, r.tokens_in, r.tokens_out]), [['main', 'ok', '40', '3']]);
});

test('openai: bytes after [DONE] are ignored, and a stream without [DONE] that gave its finish reason is whole', async () => {
  const s = await startWireStack('openai', { persona: 'safe' });
  s.fake.respond = () => ({ events: [chunk({ content: 'done here' }), chunk({}, 'stop'), 'data: [DONE]\n\n', chunk({ content: ' and more' }), 'data: [DONE]\n\n'] });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'one')).final.text, 'done here');
  s.fake.respond = () => ({ events: [chunk({ content: 'no done' }), chunk({}, 'length', { usage: { prompt_tokens: 5, completion_tokens: 7 } })] });
  assert.equal((await streamed(ann, 'two')).final.text, 'no done');
  const rows = await calls(s.redis);
  assert.deepEqual(rows.map((r) => [r.model, r.status]), [['main', 'ok'], ['main', 'ok']]);
  assert.deepEqual([rows[1].tokens_in, rows[1].tokens_out], ['5', '7']);
});

test('openai: an error object in the middle of a stream falls back, and the failed try costs nothing', async () => {
  const s = await startWireStack('openai', { persona: 'safe' });
  s.fake.respond = () => ({ events: [chunk({ content: 'half' }), { error: { message: 'upstream overloaded', type: 'server_error', code: 503 } }] });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'hi')).final.text, 'backup: hi');
  const rows = await calls(s.redis);
  assert.deepEqual(rows.map((r) => [r.model, r.status, r.cost_micro]), [['main', 'server', '0'], ['backup', 'ok', '0']]);
});

test('openai: a multi-byte character cut between two stream chunks arrives whole, not as two U+FFFD', async () => {
  const s = await startWireStack('openai');
  const head = Buffer.from('data: {"choices":[{"index":0,"delta":{"content":"caf', 'utf8');
  s.fake.respond = () => ({
    events: [
      Buffer.concat([head, Buffer.from([0xc3]), Buffer.from('"},"finish_reason":null}]}\n\n')]),
      Buffer.concat([Buffer.from('data: {"choices":[{"index":0,"delta":{"content":"'), Buffer.from([0xa9]), Buffer.from(' \xe2\x82', 'latin1'), Buffer.from('"},"finish_reason":null}]}\n\n')]),
      Buffer.concat([Buffer.from('data: {"choices":[{"index":0,"delta":{"content":"'), Buffer.from([0xac]), Buffer.from(' ok"},"finish_reason":"stop"}]}\n\n')]),
      'data: [DONE]\n\n',
    ],
  });
  const ann = await s.user('Ann');
  const { final, deltas } = await streamed(ann, 'price?');
  assert.equal(final.text, 'caf\u00e9 \u20ac ok');
  assert.equal(deltas.map((d) => d.text).join(''), 'caf\u00e9 \u20ac ok', 'no delta carries half a character');
});

test('openai: a 200 answer that is an HTML page or empty is an error the route falls back on, not a hang', async () => {
  const s = await startWireStack('openai', { persona: 'safe' });
  s.fake.respond = () => ({ raw: '<html><body><h1>502 Bad Gateway</h1></body></html>', headers: { 'content-type': 'text/html' } });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'html')).final.text, 'backup: html');
  s.fake.respond = () => ({ events: [] });
  assert.equal((await streamed(ann, 'empty')).final.text, 'backup: empty');
  const rows = (await calls(s.redis)).filter((r) => r.model === 'main');
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => r.status !== 'ok' && r.cost_micro === '0'), JSON.stringify(rows));
});

test('openai: a server that stops sending in the middle of an answer is timed out and the route falls back', async () => {
  const s = await startWireStack('openai', { persona: 'safe', model: ', timeout_ms = 800' });
  s.fake.respond = () => ({ events: [chunk({ content: 'thinking' }), 20000, chunk({}, 'stop'), 'data: [DONE]\n\n'] });
  const ann = await s.user('Ann');
  const t0 = Date.now();
  assert.equal((await streamed(ann, 'slow')).final.text, 'backup: slow');
  assert.ok(Date.now() - t0 < 4000, `fell back after ${Date.now() - t0} ms`);
  assert.equal((await calls(s.redis))[0].status, 'timeout');
});

test('openai: 503 and 529 are retried, a success after them is charged once, and 502 every time falls back', async () => {
  const s = await startWireStack('openai', { persona: 'safe', route: 'route "safe" { kind = "fallback", models = { "main", "backup" }, retries = 2, backoff_ms = 10 }' });
  let n = 0;
  s.fake.respond = () => (++n === 1 ? { status: 503 } : n === 2 ? { status: 529 } : { content: 'third try', tokens: { input: 100, output: 10 } });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'hi')).final.text, 'third try');
  let rows = await calls(s.redis);
  assert.deepEqual(rows.map((r) => [r.status, r.cost_micro]), [['server', '0'], ['rate_limit', '0'], ['ok', '120']]);
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  const usage = await s.redis.cmd('HGETALL', `chorus:usage:${day}:aiko`);
  const u = {};
  for (let i = 0; i < usage.length; i += 2) u[usage[i]] = usage[i + 1];
  assert.equal(u['cost_micro:main'], '120', 'the day is charged for the one answer, not for the failed tries');
  assert.equal(u['tokens_in:main'], '100');
  s.fake.respond = () => ({ status: 502 });
  assert.equal((await streamed(ann, 'again')).final.text, 'backup: again');
  rows = (await calls(s.redis)).slice(3);
  assert.deepEqual(rows.map((r) => [r.model, r.status]), [['main', 'server'], ['main', 'server'], ['main', 'server'], ['backup', 'ok']]);
});

test('openai: a whole answer with "content": null and tool calls runs the tool', async () => {
  const s = await startWireStack('openai', { model: ', capabilities = { "tools" }', plugins: { weather: { init: TOOL } } });
  s.fake.respond = (req) => {
    const tools = req.body.messages.filter((m) => m.role === 'tool');
    if (tools.length) return { content: `it is ${JSON.parse(tools[0].content).temp} in ${JSON.parse(tools[0].content).city}` };
    return { body: { id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] }, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 9, completion_tokens: 4 } } };
  };
  const ann = await s.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'weather?'))).text, 'it is 21 in Oslo');
});

test('openai: a tool call from a server that reports no usage is counted as the estimate of its name and arguments, not as free', async () => {
  const s = await startWireStack('openai', { model: ', capabilities = { "tools" }', plugins: { weather: { init: TOOL } } });
  s.fake.respond = (req) => {
    const tools = req.body.messages.filter((m) => m.role === 'tool');
    if (tools.length) return { body: { id: 'y', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'mild' }, finish_reason: 'stop' }] } };
    return { body: { id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] }, finish_reason: 'tool_calls' }] } };
  };
  const ann = await s.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'weather?'))).text, 'mild');
  const [asked, answered] = await calls(s.redis);
  // "get_weather" (11 bytes) is 3 tokens, '{"city":"Oslo"}' (15 bytes) 4; "mild" 1.
  assert.deepEqual([asked.tokens_out, asked.tokens_out_estimated, answered.tokens_out, answered.tokens_out_estimated], ['7', '1', '1', '1']);
});

test('openai: tool-call deltas split across chunks (id only in the first, arguments in pieces) and a name-less usage chunk', async () => {
  const s = await startWireStack('openai', { model: ', capabilities = { "tools", "streaming" }', plugins: { weather: { init: TOOL } } });
  s.fake.respond = (req) => {
    const tools = req.body.messages.filter((m) => m.role === 'tool');
    if (tools.length) return { content: `got ${JSON.parse(tools[0].content).city}` };
    const tc = (o) => chunk({ tool_calls: [o] });
    return {
      events: [
        chunk({ role: 'assistant', content: null }),
        tc({ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }),
        tc({ index: 0, function: { arguments: '{"ci' } }),
        tc({ index: 0, function: { arguments: 'ty": "Li' } }),
        tc({ index: 0, function: { arguments: 'ma"}' } }),
        chunk({}, 'tool_calls'),
        { id: 'c', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } },
        'data: [DONE]\n\n',
      ],
    };
  };
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'weather?')).final.text, 'got Lima');
  const second = s.fake.chatRequests()[1].body.messages;
  assert.deepEqual(second.at(-2).tool_calls.map((c) => [c.id, c.function.name, c.function.arguments]), [['call_1', 'get_weather', '{"city": "Lima"}']]);
});

test('openai: a server that stamps a new id on every chunk of one tool call (same index): one call, as the index says, under its first id', async () => {
  const s = await startWireStack('openai', { model: ', capabilities = { "tools", "streaming" }', plugins: { weather: { init: TOOL } } });
  s.fake.respond = (req) => {
    const tools = req.body.messages.filter((m) => m.role === 'tool');
    if (tools.length) return { content: tools.map((t) => `got ${JSON.parse(t.content).city}`).join(', ') };
    const tc = (o) => chunk({ tool_calls: [o] });
    // OpenAI's streaming docs: "index" identifies the call; the id comes
    // with its first chunk. This server sends a fresh id with every piece,
    // some with the name again.
    return {
      events: [
        chunk({ role: 'assistant', content: null }),
        tc({ index: 0, id: 'call_a1', type: 'function', function: { name: 'get_weather', arguments: '' } }),
        tc({ index: 0, id: 'call_a2', type: 'function', function: { arguments: '{"ci' } }),
        tc({ index: 0, id: 'call_a3', type: 'function', function: { name: 'get_weather', arguments: 'ty": "Qu' } }),
        tc({ index: 0, id: 'call_a4', type: 'function', function: { arguments: 'ito"}' } }),
        chunk({}, 'tool_calls'),
        'data: [DONE]\n\n',
      ],
    };
  };
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'weather?')).final.text, 'got Quito');
  const second = s.fake.chatRequests()[1].body.messages;
  assert.deepEqual(second.at(-2).tool_calls.map((c) => [c.id, c.function.name, c.function.arguments]), [['call_a1', 'get_weather', '{"city": "Quito"}']]);
  assert.equal(second.filter((m) => m.role === 'tool').length, 1, 'the tool ran once');
});

test('anthropic: every event type of the streaming docs, a thinking block and an unknown event; usage from message_start + message_delta', async () => {
  const s = await startWireStack('anthropic');
  s.fake.respond = () => ({
    events: [
      { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'm-1', stop_reason: null, stop_sequence: null, usage: { input_tokens: 25, output_tokens: 1 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let me think about greetings.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'ping' },
      { type: 'future_event_type', whatever: { x: 1 } },
      'event: another_new_one\ndata: {"type": "another_new_one"}\n\n',
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hello' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: ', Ann' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 15 } },
      { type: 'message_stop' },
    ],
  });
  const ann = await s.user('Ann');
  const { final, deltas } = await streamed(ann, 'hi');
  assert.equal(final.text, 'Hello, Ann', 'the thinking is not the answer');
  assert.equal(deltas.map((d) => d.text).join(''), 'Hello, Ann');
  const [row] = await calls(s.redis);
  assert.deepEqual([row.status, row.tokens_in, row.tokens_out, row.cost_micro], ['ok', '25', '15', '55']);
});

test('anthropic: a tool_use block streamed as input_json_delta after a text block runs the tool', async () => {
  const s = await startWireStack('anthropic', { model: ', capabilities = { "tools", "streaming" }', plugins: { weather: { init: TOOL } } });
  s.fake.respond = (req) => {
    const results = req.body.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).filter((b) => b.type === 'tool_result');
    if (results.length) return { content: 'done' };
    return {
      events: [
        { type: 'message_start', message: { id: 'msg_2', type: 'message', role: 'assistant', content: [], model: 'm-1', usage: { input_tokens: 10, output_tokens: 1 } } },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking.' } },
        { type: 'content_block_stop', index: 0 },
        { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city": "Ber' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: 'n"}' } },
        { type: 'content_block_stop', index: 1 },
        { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 30 } },
        { type: 'message_stop' },
      ],
    };
  };
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'weather?')).final.text, 'done');
  const second = s.fake.chatRequests()[1].body.messages;
  const use = second.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).find((b) => b.type === 'tool_use');
  assert.deepEqual([use.id, use.name, use.input], ['toolu_1', 'get_weather', { city: 'Bern' }]);
});

test('anthropic: an overloaded_error event mid-stream and a 529 are retried; the answer is charged once', async () => {
  const s = await startWireStack('anthropic', { persona: 'safe', route: 'route "safe" { kind = "fallback", models = { "main", "backup" }, retries = 2, backoff_ms = 10 }' });
  let n = 0;
  s.fake.respond = () => (++n === 1
    ? { events: [
      { type: 'message_start', message: { id: 'm', type: 'message', role: 'assistant', content: [], usage: { input_tokens: 50, output_tokens: 1 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hal' } },
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    ] }
    : n === 2 ? { status: 529 } : { content: 'whole', tokens: { input: 50, output: 5 } });
  const ann = await s.user('Ann');
  const { final, deltas } = await streamed(ann, 'hi');
  assert.equal(final.text, 'whole');
  assert.equal(deltas.map((d) => d.text).join(''), 'Hal', 'the retry said something else, so it was not streamed after the broken try');
  const rows = await calls(s.redis);
  assert.deepEqual(rows.map((r) => [r.status, r.cost_micro]), [['rate_limit', '0'], ['rate_limit', '0'], ['ok', '60']]);
});

test('openai: a stream that breaks and is retried does not show its first words twice', async () => {
  const s = await startWireStack('openai', { persona: 'safe', route: 'route "safe" { kind = "fallback", models = { "main", "backup" }, retries = 1, backoff_ms = 10 }' });
  let n = 0;
  s.fake.respond = () => (++n === 1
    ? { events: [chunk({ content: 'Hello' }), chunk({ content: ' there' }), { error: { message: 'worker died', type: 'server_error' } }] }
    : { events: [chunk({ content: 'Hello' }), chunk({ content: ' there,' }), chunk({ content: ' Ann' }), chunk({}, 'stop'), 'data: [DONE]\n\n'] });
  const ann = await s.user('Ann');
  const { final, deltas } = await streamed(ann, 'hi');
  assert.equal(final.text, 'Hello there, Ann');
  assert.equal(deltas.map((d) => d.text).join(''), 'Hello there, Ann', 'the retry picks up where the broken stream left off');
  assert.deepEqual((await calls(s.redis)).map((r) => r.status), ['server', 'ok']);
});

test('ollama: done:false pieces then done:true with eval counts; done_reason "length" keeps the answer', async () => {
  const s = await startWireStack('ollama');
  const piece = (content) => ({ model: 'm-1', created_at: '2025-01-01T00:00:00Z', message: { role: 'assistant', content }, done: false });
  s.fake.respond = () => ({
    events: [piece('Once'), piece(' upon'), piece(' a'),
      { model: 'm-1', created_at: '2025-01-01T00:00:01Z', message: { role: 'assistant', content: '' }, done: true, done_reason: 'length', total_duration: 5, load_duration: 1, prompt_eval_count: 26, prompt_eval_duration: 1, eval_count: 3, eval_duration: 1 }],
  });
  const ann = await s.user('Ann');
  const { final } = await streamed(ann, 'story');
  assert.equal(final.text, 'Once upon a');
  const [row] = await calls(s.redis);
  assert.deepEqual([row.status, row.tokens_in, row.tokens_out, row.cost_micro], ['ok', '26', '3', '32']);
});

// The estimate lib/tokens.h documents: a CJK character is one token, any
// other run of bytes its length / 4 rounded up, and 4 per message.
function estimateMessages(messages) {
  const cjk = (cp) => (cp >= 0x3040 && cp <= 0x30ff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xac00 && cp <= 0xd7af) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xff00 && cp <= 0xffef) || (cp >= 0x20000 && cp <= 0x2fa1f);
  let total = 0;
  for (const m of messages) {
    let other = 0;
    for (const ch of typeof m.content === 'string' ? m.content : '') {
      if (cjk(ch.codePointAt(0))) { total += Math.ceil(other / 4) + 1; other = 0; } else other += Buffer.byteLength(ch);
    }
    total += Math.ceil(other / 4) + 4;
  }
  return total;
}

test('ollama: Ann asks the same thing twice and the second answer comes from a cached prompt without prompt_eval_count: the prompt is estimated and marked so, not counted as free', async () => {
  const s = await startWireStack('ollama');
  const done = (extra) => ({ model: 'm-1', created_at: '2025-01-01T00:00:01Z', message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', eval_count: 2, ...extra });
  const piece = { model: 'm-1', created_at: '2025-01-01T00:00:00Z', message: { role: 'assistant', content: 'Tea, please' }, done: false };
  let n = 0;
  // Ollama before mid-2024 (ollama/ollama#2068, #3427; fixed by #5371) leaves prompt_eval_count
  // out of the last line when the prompt came from its cache.
  s.fake.respond = () => ({ events: [piece, ++n === 1 ? done({ prompt_eval_count: 31, prompt_eval_duration: 9 }) : done({})] });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'what do you drink?')).final.text, 'Tea, please');
  assert.equal((await streamed(ann, 'what do you drink?')).final.text, 'Tea, please');
  const [first, second] = await calls(s.redis);
  assert.deepEqual([first.tokens_in, first.tokens_out, first.cost_micro, first.tokens_in_estimated], ['31', '2', '35', undefined], 'counted by Ollama');
  const sentPrompt = s.fake.chatRequests().at(-1).body.messages;
  const est = estimateMessages(sentPrompt);
  assert.ok(est > 0);
  assert.deepEqual([second.status, second.tokens_in, second.tokens_out, second.cost_micro, second.tokens_in_estimated],
    ['ok', String(est), '2', String(est + 4), '1'], 'the prompt as budgets estimate it, marked estimated');
});

test('openai: a compatible server that ignores stream_options.include_usage sends no usage: the prompt and the answer are estimated and marked so, not counted as free', async () => {
  const s = await startWireStack('openai');
  // Older vLLM and llama.cpp servers stream the answer and [DONE], and no usage chunk.
  s.fake.respond = () => ({
    events: [
      `data: ${JSON.stringify(chunk({ role: 'assistant', content: 'Hello' }))}\n\n`,
      `data: ${JSON.stringify(chunk({ content: ' there' }))}\n\n`,
      `data: ${JSON.stringify(chunk({}, 'stop'))}\n\n`,
      'data: [DONE]\n\n',
    ],
  });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'hi')).final.text, 'Hello there');
  const [row] = await calls(s.redis);
  const est = estimateMessages(s.fake.chatRequests().at(-1).body.messages);
  assert.ok(est > 0);
  // "Hello there": 11 bytes, no CJK: 3 tokens; the price is 1 per token in and 2 per token out.
  assert.deepEqual([row.status, row.tokens_in, row.tokens_out, row.cost_micro, row.tokens_in_estimated, row.tokens_out_estimated],
    ['ok', String(est), '3', String(est + 6), '1', '1']);
});

test('ollama: an {"error"} line mid-stream falls back; CRLF line endings are read', async () => {
  const s = await startWireStack('ollama', { persona: 'safe' });
  s.fake.respond = () => ({ events: ['{"model":"m-1","message":{"role":"assistant","content":"par"},"done":false}\r\n', '{"error":"an error was encountered while running the model: unexpected EOF"}\r\n'] });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'one')).final.text, 'backup: one');
  s.fake.respond = () => ({ events: ['{"model":"m-1","message":{"role":"assistant","content":"fine"},"done":false}\r\n', '{"model":"m-1","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":4,"eval_count":1}\r\n'] });
  assert.equal((await streamed(ann, 'two')).final.text, 'fine');
  assert.deepEqual((await calls(s.redis)).map((r) => [r.model, r.status]), [['main', 'server'], ['backup', 'ok'], ['main', 'ok']]);
});

test('openai: the error words of other servers are understood: llama.cpp\'s context size, a numeric code mid-stream, a quota error sent with 200', async () => {
  const s = await startWireStack('openai', { persona: 'safe', route: 'route "safe" { kind = "fallback", models = { "main", "backup" }, retries = 2, backoff_ms = 10 }' });
  const ann = await s.user('Ann');
  const sent = () => s.fake.chatRequests().length;
  let before = sent();
  s.fake.respond = () => ({ status: 400, body: { error: { code: 400, message: 'request (4476 tokens) exceeds the available context size (4096 tokens), try increasing it', type: 'exceed_context_size_error', n_prompt_tokens: 4476, n_ctx: 4096 } } });
  assert.equal((await streamed(ann, 'long')).final.text, 'backup: long');
  assert.equal(sent() - before, 1, 'a prompt too long for the context is not retried');
  before = sent();
  let n = 0;
  s.fake.respond = () => (++n === 1 ? { events: [chunk({ content: 'x' }), { id: 'c', object: 'chat.completion.chunk', error: { code: 429, message: 'Rate limit exceeded: free-models-per-min' }, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] }] } : { content: 'after the limit' });
  assert.equal((await streamed(ann, 'busy')).final.text, 'after the limit');
  before = sent();
  s.fake.respond = () => ({ body: { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } } });
  assert.equal((await ann.replyTo(ann.say('lobby', 'broke'))).text, 'backup: broke');
  assert.equal(sent() - before, 1, 'an exhausted quota is never retried, even when it comes with 200');
  const st = (await calls(s.redis)).filter((r) => r.model === 'main').map((r) => r.status);
  assert.deepEqual(st, ['context_length', 'rate_limit', 'ok', 'quota']);
});

test('anthropic: a billing_error (402) is an exhausted quota, not retried', async () => {
  const s = await startWireStack('anthropic', { persona: 'safe', route: 'route "safe" { kind = "fallback", models = { "main", "backup" }, retries = 2, backoff_ms = 10 }' });
  s.fake.respond = () => ({ status: 402, errorType: 'billing_error', message: 'Billing error' });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'pay')).final.text, 'backup: pay');
  assert.equal(s.fake.chatRequests().length, 1);
  assert.deepEqual((await calls(s.redis)).map((r) => [r.model, r.status]), [['main', 'quota'], ['backup', 'ok']]);
});

test('openai: a reasoning model that spends its whole budget thinking sends no empty reply: the route falls back, and the tokens it spent are still charged', async () => {
  const s = await startWireStack('openai', { persona: 'safe' });
  s.fake.respond = () => ({
    events: [chunk({ role: 'assistant', content: '' }), chunk({ reasoning_content: 'Let me think' }), chunk({ content: null, reasoning_content: ' some more' }),
      chunk({}, 'length'), { id: 'c', choices: [], usage: { prompt_tokens: 5, completion_tokens: 100 } }, 'data: [DONE]\n\n'],
  });
  const ann = await s.user('Ann');
  const { final, deltas } = await streamed(ann, 'think');
  assert.equal(final.text, 'backup: think');
  assert.equal(deltas.map((d) => d.text).join(''), 'backup: think', 'the reasoning is never shown');
  const rows = await calls(s.redis);
  assert.deepEqual(rows.map((r) => [r.model, r.status, r.tokens_out, r.cost_micro]), [['main', 'ok', '100', '205'], ['backup', 'ok', rows[1].tokens_out, '0']]);
});

test('openai: a refusal (content null, refusal text) is the model\'s answer, whole or streamed', async () => {
  const s = await startWireStack('openai', { persona: 'safe' });
  s.fake.respond = () => ({ body: { id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: 'I cannot help with that.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 6 } } });
  const ann = await s.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'refuse'))).text, 'I cannot help with that.');
  s.fake.respond = () => ({ events: [chunk({ role: 'assistant', content: null, refusal: '' }), chunk({ refusal: 'I cannot' }), chunk({ refusal: ' help with that.' }), chunk({}, 'stop'), 'data: [DONE]\n\n'] });
  assert.equal((await streamed(ann, 'refuse again')).final.text, 'I cannot help with that.');
  assert.deepEqual((await calls(s.redis)).map((r) => [r.model, r.status]), [['main', 'ok'], ['main', 'ok']]);
});

test('anthropic: cache tokens from message_start still count when message_delta repeats the input count without them', async () => {
  const s = await startWireStack('anthropic');
  s.fake.respond = () => ({
    events: [
      { type: 'message_start', message: { id: 'm', type: 'message', role: 'assistant', content: [], usage: { input_tokens: 10, cache_creation_input_tokens: 5, cache_read_input_tokens: 1000, output_tokens: 1 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'cached' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 10, cache_creation_input_tokens: null, cache_read_input_tokens: null, output_tokens: 20 } },
      { type: 'message_stop' },
    ],
  });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'hi')).final.text, 'cached');
  const [row] = await calls(s.redis);
  assert.deepEqual([row.tokens_in, row.tokens_out], ['1015', '20'], 'input 10 + cache writes 5 + cache reads 1000');
});

test('openai: a server that ignores "stream": true and sends one JSON body is answered from that body', async () => {
  const s = await startWireStack('openai');
  s.fake.respond = () => ({ body: { id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'one body' }, finish_reason: 'stop' }], usage: { prompt_tokens: 8, completion_tokens: 2 } } });
  const ann = await s.user('Ann');
  assert.equal((await streamed(ann, 'hi')).final.text, 'one body');
  const [row] = await calls(s.redis);
  assert.deepEqual([row.status, row.tokens_in, row.tokens_out], ['ok', '8', '2']);
});

test('anthropic: a whole message with a thinking block answers with its text only', async () => {
  const s = await startWireStack('anthropic');
  s.fake.respond = () => ({ body: { id: 'msg', type: 'message', role: 'assistant', model: 'm-1', content: [{ type: 'thinking', thinking: 'private musings', signature: 'sig' }, { type: 'redacted_thinking', data: 'xyz' }, { type: 'text', text: 'Public answer.' }], stop_reason: 'end_turn', usage: { input_tokens: 12, output_tokens: 40 } } });
  const ann = await s.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'hi'))).text, 'Public answer.');
  const [row] = await calls(s.redis);
  assert.deepEqual([row.status, row.tokens_in, row.tokens_out], ['ok', '12', '40']);
});
